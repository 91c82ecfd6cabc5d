"""Server-side copy (Swift's `copy`), as a proxy middleware.

`COPY /v1/<a>/<c>/<o>` with `Destination: <c2>/<o2>` (and optionally
`Destination-Account: <a2>`), or `PUT /v1/<a2>/<c2>/<o2>` with
`X-Copy-From: <c>/<o>` (and optionally `X-Copy-From-Account: <a>`), become two
requests through the rest of the pipeline, with the requester's identity:

1. a GET of the source. Everything below this middleware serves it as it
   would serve a client (the dlo middleware concatenates a manifest's
   segments, ...). The client's `Range` and conditional headers
   (`If-Match`, `If-None-Match`, `If-Modified-Since`, `If-Unmodified-Since`,
   `X-Newest`) and the query parameters `multipart-manifest=get`,
   `symlink=get` and `version-id` apply to it. A source that cannot be read is
   the answer (404, 401/403, 304, 412, 416, ...): the destination is judged only
   once the source could be read, as in Swift;
2. a PUT of the destination whose body streams from the source's (never held
   whole), with the source's metadata (copy_rules.py) merged under the
   client's. Its answer is the client's, with `X-Copied-From`,
   `X-Copied-From-Account` and `X-Copied-From-Last-Modified` on a 201.

The quota middlewares (below this one) see an ordinary PUT with a
Content-Length. Without this middleware the proxy has no COPY verb and
refuses X-Copy-From (swiftlike/proxy/unsupported.py).
"""
import dataclasses
from urllib.parse import parse_qsl, quote, urlencode

from swiftlike.config import is_true
from swiftlike.constraints import MAX_FILE_SIZE, is_decimal
from swiftlike.exceptions import (BadRequest, PreconditionFailed, RequestEntityTooLarge,
                                  ServiceUnavailable, SwiftlikeError)
from swiftlike.http import client_content_type, make_response
from swiftlike.middleware import info
from swiftlike.middleware.copy_rules import (
    account_header, copied_headers, is_fresh, sink_query, source_etag_is_content, source_query,
    split_copy_path)
from swiftlike.middleware.filters import make_filter_factory
from swiftlike.middleware.subrequest import call, make_environ, object_path, path_account
from swiftlike.middleware.toolkit import OWNER_KEY, SOURCE_KEY, mark_feature, split_account_path
from swiftlike.paths import wsgi_to_str

SOURCE = 'SSC'
# Client headers that apply to the source GET (and not to the PUT).
SOURCE_HEADERS = ('Range', 'If-Match', 'If-None-Match', 'If-Modified-Since',
                  'If-Unmodified-Since', 'If-Range', 'X-Newest')
# Environ keys of the client request the destination PUT does not keep.
_DROPPED = tuple('HTTP_' + h.upper().replace('-', '_') for h in SOURCE_HEADERS + (
    'X-Copy-From', 'X-Copy-From-Account', 'Destination', 'Destination-Account',
    'X-Fresh-Metadata', 'Transfer-Encoding', 'ETag', 'Expect', 'Content-Length')) + (
    'headers_raw', 'CONTENT_LENGTH', 'CONTENT_TYPE')
# A failed source's answer shows the client these headers of it (and its reason).
_ERROR_HEADERS = ('content-type', 'www-authenticate', 'content-range', 'retry-after')


@dataclasses.dataclass
class Conf:
    pass


class SourceBody:
    """`read(size)` over the source GET's streamed answer (the PUT's
    wsgi.input): exactly `length` bytes, or everything when the length is not
    known. A source that fails or ends early is a SwiftlikeError, so the PUT
    fails instead of storing a short object."""

    def __init__(self, resp, length):
        self.resp = resp
        self.length = length
        self.chunks = iter(resp)
        self.buffer = b''
        self.got = 0

    def read(self, size=-1):
        if not self.buffer:
            try:
                chunk = next(self.chunks, None)
            except SwiftlikeError as err:
                raise ServiceUnavailable('Copy source: reading failed after %d bytes: %s'
                                         % (self.got, err.reason or err.http_status))
            except (OSError, ValueError) as err:
                raise ServiceUnavailable('Copy source: reading failed after %d bytes: %s'
                                         % (self.got, err))
            if chunk is None:
                if self.length is not None and self.got < self.length:
                    raise ServiceUnavailable('Copy source ended after %d of %d bytes'
                                             % (self.got, self.length))
                return b''
            self.buffer = chunk
        if size is None or size < 0:
            size = len(self.buffer)
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        self.got += len(data)
        return data

    def close(self):
        self.resp.close()


class ServerSideCopy:
    def __init__(self, app, conf):
        self.app = app
        self.conf = conf
        info.register('copy')

    def __call__(self, env, start_response):
        mark_feature(env, 'copy')
        method = env.get('REQUEST_METHOD')
        parts = split_account_path(env.get('PATH_INFO', ''))
        if parts is None or parts[2] is None:
            return self.app(env, start_response)
        if method == 'OPTIONS':
            return self.app(env, _allow_copy(start_response))
        if method == 'PUT' and 'HTTP_X_COPY_FROM' in env:
            if not env['HTTP_X_COPY_FROM'].strip():
                del env['HTTP_X_COPY_FROM']     # an empty one asks for no copy
                return self.app(env, start_response)
        elif method != 'COPY':
            return self.app(env, start_response)
        try:
            account = wsgi_to_str(parts[0])
        except UnicodeError:
            return self.app(env, start_response)    # the proxy refuses the path
        try:
            return self.copy(env, start_response, method, account)
        except SwiftlikeError as err:
            return make_response(err.http_status, err.reason, err.headers)(env, start_response)

    # -- the copy ---------------------------------------------------------------------

    def copy(self, env, start_response, method, path_acct):
        """The source's and the destination's paths from the request's path
        and headers (path_acct: its account as real str); then the GET of
        the source and the PUT of the destination."""
        if method == 'COPY':
            dest = env.get('HTTP_DESTINATION')
            if not dest:
                raise PreconditionFailed('Destination header required')
            dest_container, dest_obj = split_copy_path(dest, 'Destination')
            dest_acct = env.get('HTTP_DESTINATION_ACCOUNT')
            dest_acct = account_header(dest_acct, 'Destination-Account') \
                if dest_acct is not None else path_acct
            source_path = env['PATH_INFO']
            src_acct = path_acct
            dest_path = object_path(dest_acct, dest_container, dest_obj)
        else:
            if env.get('CONTENT_LENGTH') not in (None, '', '0') or \
                    env.get('HTTP_TRANSFER_ENCODING'):
                raise BadRequest('A copy request must have an empty body')
            src_container, src_obj = split_copy_path(env['HTTP_X_COPY_FROM'], 'X-Copy-From')
            src_acct = env.get('HTTP_X_COPY_FROM_ACCOUNT')
            src_acct = account_header(src_acct, 'X-Copy-From-Account') \
                if src_acct is not None else path_acct
            source_path = object_path(src_acct, src_container, src_obj)
            dest_path = env['PATH_INFO']
        query = dict(parse_qsl(env.get('QUERY_STRING', ''), keep_blank_values=True))
        source = self.open_source(env, source_path, query)
        if not isinstance(source, tuple):
            return source(env, start_response)      # the source's failure
        resp, length = source
        try:
            put_env = self.sink_environ(env, dest_path, query, resp, length)
            answer = call(self.app, put_env)
        except BaseException:
            resp.close()
            raise
        try:
            body = _small_body(answer) if answer.status != 201 else b''
        finally:
            resp.close()
            answer.close()
        headers = [(k, v) for k, v in answer.header_list if k.lower() != 'content-length']
        headers.append(('Content-Length', str(len(body))))
        if answer.status == 201:
            headers.extend(_copied_from(source_path, src_acct, resp.headers))
        start_response(answer.status_line, headers)
        return [body]

    def open_source(self, env, source_path, query):
        """(SubResponse, length or None) of the source GET, or the reply for a
        source that cannot be copied."""
        headers = {}
        for name in SOURCE_HEADERS:
            value = env.get('HTTP_' + name.upper().replace('-', '_'))
            if value is not None:
                headers[name] = value
        sub = make_environ(env, 'GET', source_path, urlencode(source_query(query)), headers,
                           SOURCE)
        resp = call(self.app, sub)
        status = resp.status
        if status // 100 != 2:
            return _source_failure(resp)
        if status not in (200, 206):
            resp.close()
            raise ServiceUnavailable('Copy source: unexpected status %d' % status)
        if resp.headers.get('content-type', '').lower().startswith('multipart/byteranges'):
            resp.close()
            raise BadRequest('A copy takes a single byte range of its source')
        length = resp.headers.get('content-length')
        if length is not None:
            if not is_decimal(length.strip()):
                resp.close()
                raise ServiceUnavailable('Copy source: bad Content-Length')
            length = int(length)
            if length > MAX_FILE_SIZE:
                resp.close()
                raise RequestEntityTooLarge('Copy source is larger than %d bytes' % MAX_FILE_SIZE)
        return resp, length

    def sink_environ(self, env, dest_path, query, resp, length):
        """The destination PUT: the client's request (its identity, metadata,
        X-Delete-At, ...) over the source's copied headers, with the source's
        body as its input."""
        put = dict(env)
        client_type = client_content_type(env)
        for key in _DROPPED:
            put.pop(key, None)
        put.update({'REQUEST_METHOD': 'PUT', 'PATH_INFO': dest_path, 'SCRIPT_NAME': '',
                    'QUERY_STRING': sink_query(query, resp.headers),
                    'wsgi.input': SourceBody(resp, length), SOURCE_KEY: SOURCE})
        if path_account(dest_path) != path_account(env.get('PATH_INFO', '')):
            # Ownership was judged for the client's path; the proxy asks again.
            put.pop(OWNER_KEY, None)
        if length is None:
            put['HTTP_TRANSFER_ENCODING'] = 'chunked'
        else:
            put['CONTENT_LENGTH'] = str(length)
        manifest_get = query.get('multipart-manifest') == 'get'
        etag_is_content = source_etag_is_content(resp.status, resp.headers, manifest_get)
        for name, value in copied_headers(resp.header_list, is_fresh(env), manifest_get,
                                          etag_is_content):
            key = 'HTTP_' + name.upper().replace('-', '_')
            if key not in put:
                put[key] = value
        if client_type is not None:
            put['CONTENT_TYPE'] = client_type
        elif 'content-type' in resp.headers and \
                not is_true(env.get('HTTP_X_DETECT_CONTENT_TYPE')):
            put['CONTENT_TYPE'] = resp.headers['content-type']
        return put


def _small_body(resp):
    """An error answer's reason (empty when it is not a short one)."""
    try:
        return resp.read(65536)
    except (ValueError, SwiftlikeError, OSError):
        return b''


def _source_failure(resp):
    """The reply for a source GET that did not succeed: its status and
    reason (a server error is a 503)."""
    body = _small_body(resp)
    headers = {k: resp.headers[k] for k in _ERROR_HEADERS if k in resp.headers}
    status = resp.status
    if status >= 500:
        return make_response(503, 'Copy source: status %d' % status)
    if status == 304 or not body:
        body = b'' if status == 304 else ('Copy source: status %d' % status).encode()
        headers.pop('content-type', None)
    return make_response(status, body, headers)


def _copied_from(source_path, src_acct, source_headers):
    """X-Copied-From* headers of a copy's 201 (as Swift: always the account)."""
    parts = split_account_path(source_path)
    name = wsgi_to_str('%s/%s' % (parts[1], parts[2]))
    out = [('X-Copied-From', quote(name.encode('utf-8'), safe='/')),
           ('X-Copied-From-Account', quote(src_acct.encode('utf-8'), safe=''))]
    if source_headers.get('last-modified'):
        out.append(('X-Copied-From-Last-Modified', source_headers['last-modified']))
    if source_headers.get('x-object-version-id'):
        out.append(('X-Copied-From-Version-Id', source_headers['x-object-version-id']))
    return out


def _allow_copy(start_response):
    """An object's OPTIONS answer lists COPY among the allowed methods."""
    def wrapped(status, headers, exc_info=None):
        if status.startswith('2'):
            headers = [(k, v + ', COPY' if k.lower() == 'allow' and 'COPY' not in v else v)
                       for k, v in headers]
        return start_response(status, headers, exc_info)
    return wrapped


filter_factory = make_filter_factory(ServerSideCopy, Conf)
