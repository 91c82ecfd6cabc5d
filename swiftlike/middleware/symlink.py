"""Symlinks (Swift's symlink middleware).

`PUT` with `X-Symlink-Target: <container>/<object>` (URL-quoted UTF-8; and
`X-Symlink-Target-Account` for another account) and an empty body writes a
link: a zero-byte object whose system metadata names the target (see
symlink_rules). With `X-Symlink-Target-Etag` the link is static: the target
must exist with that ETag when the link is written (409 otherwise) and when
it is read.

A GET or HEAD of a link answers for its target (followed through links up to
`symloop_max` of them, then 409), with `Content-Location` naming it; the
If-* and Range headers apply to the target. `?symlink=get` reads the link
itself, with its target in `X-Symlink-Target*` headers. A POST to a link
changes the link's metadata and answers 307 with the target as `Location`;
a DELETE removes the link only. A copy of a link copies its target (the copy
middleware's GET of the source is followed here), or the link itself with
`?symlink=get` (its stored state is written again, see _keep_link).

Every request for a target is a subrequest through the app below with the
requester's identity, so the target container's ACLs decide (a link into
another account needs read access there). This middleware sits right above
the proxy app, below dlo/slo/versioned_writes: they see the target's answer
and expand large objects as if the target had been asked for.

Container listings show a link's target as `symlink_path` (and `symlink_etag`
/ `symlink_bytes` for static links), from the parameters the link's
container update carries (symlink_listing).
"""
import dataclasses
from urllib.parse import parse_qsl

from swiftlike.constraints import is_decimal
from swiftlike.exceptions import BadRequest, Conflict, ServiceUnavailable, SwiftlikeError
from swiftlike.http import client_content_type, make_response, status_line
from swiftlike.middleware import info, symlink_listing
from swiftlike.middleware.filters import make_filter_factory
from swiftlike.middleware.subrequest import call, make_environ, object_path
from swiftlike.middleware.symlink_rules import (LINK_CONTENT_TYPE, Link, link_from_headers,
                                                listing_params, normalize_etag, parse_account,
                                                parse_target)
from swiftlike.middleware import symlink_rules as rules
from swiftlike.middleware.toolkit import mark_feature, split_account_path
from swiftlike.paths import str_to_wsgi, wsgi_to_str

SOURCE = 'SYM'
FEATURE = 'symlink'
# The client headers a read of a target carries on.
READ_HEADERS = ('HTTP_RANGE', 'HTTP_IF_MATCH', 'HTTP_IF_NONE_MATCH', 'HTTP_IF_MODIFIED_SINCE',
                'HTTP_IF_UNMODIFIED_SINCE', 'HTTP_IF_RANGE', 'HTTP_X_NEWEST')
# Answers to a GET/HEAD that still say whether the object is a link.
OBJECT_ANSWERS = (200, 206, 304, 412, 416)
# Where the link's listing parameters travel: the listing override the object
# servers send in their container update instead of the stored Content-Type
# (a later POST with another type keeps the parameters).
OVERRIDE_TYPE_KEY = 'HTTP_X_OBJECT_SYSMETA_CONTAINER_UPDATE_OVERRIDE_CONTENT_TYPE'
OVERRIDE_ETAG_KEY = 'HTTP_X_OBJECT_SYSMETA_CONTAINER_UPDATE_OVERRIDE_ETAG'
# The system metadata a link's write sets itself (a copied link's own is replaced).
SYSMETA_PREFIXES = ('HTTP_X_OBJECT_SYSMETA_SYMLINK_',
                    'HTTP_X_OBJECT_SYSMETA_CONTAINER_UPDATE_OVERRIDE_')
# The ETag of a link's (empty) body.
EMPTY_ETAG = 'd41d8cd98f00b204e9800998ecf8427e'
# A container listing is read whole to be rewritten; larger is passed on as is.
MAX_LISTING_BYTES = 64 * 1024 * 1024
POST_REASON = ('The requested POST was applied to a symlink. POST directly to the target '
               'to apply requested metadata.')


@dataclasses.dataclass
class Conf:
    # Links followed for one request before it fails with 409.
    symloop_max: int = 2

    def validate(self):
        if self.symloop_max < 1:
            raise ValueError('symloop_max must be at least 1')


def _environ_key(header):
    return 'HTTP_' + header.upper().replace('-', '_')


def _set_content_type(environ, value):
    """Give the request a Content-Type as if the client had sent it."""
    environ['CONTENT_TYPE'] = value
    raw = environ.get('headers_raw')
    if raw is not None:
        environ['headers_raw'] = tuple(raw) + (('Content-Type', value),)


def _unquoted_etag(value):
    value = (value or '').strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value


def effective_etag(headers):
    """The ETag a static link to this object (headers: {lower: value}) names:
    the ETag a static link it is itself demands, else its own."""
    return headers.get(rules.ETAG_SYSMETA.lower()) or _unquoted_etag(headers.get('etag'))


def effective_size(headers):
    """The size a static link to this object records (a static link's
    recorded size; a static large object's whole size; else its length)."""
    for name in (rules.BYTES_SYSMETA.lower(), 'x-object-sysmeta-slo-size', 'content-length'):
        value = headers.get(name)
        if value is not None and is_decimal(value):
            return int(value)
    return 0


class Symlink:
    def __init__(self, app, conf):
        self.app = app
        self.conf = conf
        info.register('symlink', symloop_max=conf.symloop_max, static_links=True)

    def __call__(self, environ, start_response):
        mark_feature(environ, FEATURE)
        parts = split_account_path(environ.get('PATH_INFO', ''))
        if parts is None or parts[1] is None:
            return self.app(environ, start_response)
        account, container, obj = parts
        method = environ.get('REQUEST_METHOD')
        try:
            if obj is None:
                if method == 'GET':
                    return self.listing(environ, start_response, account)
                return self.app(environ, start_response)
            try:
                names = tuple(wsgi_to_str(p) for p in (account, container, obj))
            except UnicodeError:
                return self.app(environ, start_response)   # the proxy's 412
            query = dict(parse_qsl(environ.get('QUERY_STRING', ''), keep_blank_values=True))
            link_itself = query.get('symlink') == 'get'
            if method in ('PUT', 'POST'):
                rules.check_content_type(client_content_type(environ))
            if method in ('GET', 'HEAD'):
                if link_itself:
                    return self.read_link(environ, start_response)
                return self.follow(environ, start_response, names[0])
            if method == 'PUT':
                return self.put(environ, start_response, names)
            if method == 'POST':
                return self.post(environ, start_response, names[0])
            return self.app(environ, start_response)
        except SwiftlikeError as err:
            # The one place this middleware's errors become answers.
            return make_response(err.http_status, err.reason, err.headers)(
                environ, start_response)

    # -- reads ----------------------------------------------------------------

    def read_link(self, environ, start_response):
        """?symlink=get: the link itself, its target under client names."""
        resp = call(self.app, environ)
        if link_from_headers(resp.headers) is None:
            return resp.respond(start_response)
        return resp.respond(start_response, rules.client_headers(resp.header_list))

    def follow(self, environ, start_response, account):
        resp = call(self.app, environ)
        link = link_from_headers(resp.headers) if resp.status in OBJECT_ANSWERS else None
        if link is None:
            return resp.respond(start_response)
        resp.discard()
        return self._follow(environ, start_response, account, link)

    def _follow(self, environ, start_response, account, link):
        """Read through `link` (in `account`) and the links it leads to."""
        method = environ['REQUEST_METHOD']
        headers = {key: environ[key] for key in READ_HEADERS if key in environ}
        headers = {key[5:].replace('_', '-'): value for key, value in headers.items()}
        hops = 0
        while True:
            hops += 1
            if hops > self.conf.symloop_max:
                raise Conflict('Too many levels of symbolic links, maximum allowed is %d'
                               % self.conf.symloop_max)
            target_account = link.account or account
            location = {'Content-Location': link.location(account)}
            resp = self._request(environ, method, target_account, link,
                                 _target_query(environ.get('QUERY_STRING', '')), headers)
            if resp.status not in OBJECT_ANSWERS:
                return self._pass(resp, start_response, location)
            if link.etag is not None and effective_etag(resp.headers) != link.etag:
                resp.discard()
                raise Conflict("Object Etag %r does not match X-Symlink-Target-Etag header %r"
                               % (effective_etag(resp.headers), link.etag), location)
            following = link_from_headers(resp.headers)
            if following is None:
                return self._pass(resp, start_response, location)
            resp.discard()
            link, account = following, target_account

    def _request(self, environ, method, account, link, query='', headers=None):
        env = make_environ(environ, method, object_path(account, link.container, link.obj),
                           query, headers, source=SOURCE)
        return call(self.app, env)

    @staticmethod
    def _pass(resp, start_response, extra):
        names = {k.lower() for k in extra}
        header_list = [(k, v) for k, v in resp.header_list if k.lower() not in names]
        return resp.respond(start_response, header_list + list(extra.items()))

    # -- writes ---------------------------------------------------------------

    def put(self, environ, start_response, names):
        value = environ.get('HTTP_X_SYMLINK_TARGET')
        if value is not None and value.strip():
            self._prepare_link(environ, names, value, False)
        elif environ.get(_environ_key(rules.TARGET_SYSMETA)):
            self._keep_link(environ, names)
        return self.app(environ, start_response)

    def _keep_link(self, environ, names):
        """A middleware above (a copy of a link itself, a version of one)
        writes a link's stored state again: kept as it is (a static link is
        not checked again), except that a client's X-Symlink-Target-Account
        re-points it (and is checked as a new link would be); the listing
        parameters follow the Content-Type the write ends up with."""
        stored = {k[5:].replace('_', '-').lower(): v for k, v in environ.items()
                  if k.startswith('HTTP_X_OBJECT_SYSMETA_SYMLINK_')}
        link = link_from_headers(stored)
        if link is None:
            raise BadRequest('The symlink state written is not valid')
        account_value = environ.get('HTTP_X_SYMLINK_TARGET_ACCOUNT')
        if account_value is not None and account_value.strip():
            environ['HTTP_X_SYMLINK_TARGET'] = str_to_wsgi(link.quoted_target)
            if link.etag is not None:
                environ.setdefault('HTTP_X_SYMLINK_TARGET_ETAG', link.etag)
            return self._prepare_link(environ, names, environ['HTTP_X_SYMLINK_TARGET'], True)
        if not client_content_type(environ):
            _set_content_type(environ, LINK_CONTENT_TYPE)
        environ[OVERRIDE_TYPE_KEY] = client_content_type(environ) + listing_params(link)

    def _prepare_link(self, environ, names, value, copying):
        """Check a link PUT and turn it into the write of a link object."""
        account, container, obj = names
        target_container, target_obj = parse_target(value)
        target_account = parse_account(environ.get('HTTP_X_SYMLINK_TARGET_ACCOUNT'))
        if (target_account or account, target_container, target_obj) == names:
            raise BadRequest('Symlink cannot target itself')
        if not copying:
            self._check_empty_body(environ)
        link = Link(target_container, target_obj, target_account)
        # Whatever a copy brought along of another object's state goes.
        for key in [k for k in environ if k.startswith(SYSMETA_PREFIXES)]:
            del environ[key]
        etag_value = environ.get('HTTP_X_SYMLINK_TARGET_ETAG')
        if etag_value is not None and etag_value.strip():
            link, target_headers = self._validate_static(environ, account, link,
                                                         normalize_etag(etag_value))
            slo_etag = _unquoted_etag(target_headers.get('x-object-sysmeta-slo-etag'))
            if slo_etag and ';' not in slo_etag:
                # As Swift lists a static link to a static large object: the
                # large object's ETag beside the link's own (the slo
                # middleware shows it as `slo_etag`).
                environ[OVERRIDE_ETAG_KEY] = '%s; slo_etag=%s' % (EMPTY_ETAG, slo_etag)
            if not client_content_type(environ):
                _set_content_type(environ, target_headers.get('content-type', LINK_CONTENT_TYPE))
        if not client_content_type(environ):
            _set_content_type(environ, LINK_CONTENT_TYPE)
        for header, stored in link.sysmeta().items():
            environ[_environ_key(header)] = str_to_wsgi(stored)
        environ[OVERRIDE_TYPE_KEY] = client_content_type(environ) + listing_params(link)

    @staticmethod
    def _check_empty_body(environ):
        length = environ.get('CONTENT_LENGTH')
        chunked = 'chunked' in environ.get('HTTP_TRANSFER_ENCODING', '').lower()
        if chunked:
            if environ['wsgi.input'].read(1):
                raise BadRequest('Symlink requests require a zero byte body')
            environ.pop('HTTP_TRANSFER_ENCODING', None)
            environ['CONTENT_LENGTH'] = '0'
        elif length not in (None, '', '0'):
            raise BadRequest('Symlink requests require a zero byte body')

    def _validate_static(self, environ, account, link, etag):
        """A static link: the target must be there with `etag`.
        (the link with etag and size set, the target's headers)."""
        location = {'Content-Location': link.location(account)}
        resp = self._request(environ, 'HEAD', link.account or account, link)
        resp.discard()
        if resp.status == 404:
            raise Conflict('X-Symlink-Target does not exist', location)
        if resp.status in (401, 403):
            raise _status_error(resp.status, 'Access to the X-Symlink-Target was denied',
                                location)
        if resp.status >= 500:
            raise ServiceUnavailable('X-Symlink-Target could not be read', location)
        if not 200 <= resp.status < 300:
            raise Conflict('X-Symlink-Target could not be read (status %d)' % resp.status,
                           location)
        found = effective_etag(resp.headers)
        if found != etag:
            raise Conflict("Object Etag %r does not match X-Symlink-Target-Etag header %r"
                           % (found, etag), location)
        return dataclasses.replace(link, etag=etag, size=effective_size(resp.headers)), \
            resp.headers

    def post(self, environ, start_response, account):
        value = environ.get('HTTP_X_SYMLINK_TARGET')
        if value is not None and value.strip():
            raise BadRequest('A PUT request is required to set a symlink target')
        resp = call(self.app, environ)
        if not 200 <= resp.status < 300:
            return resp.respond(start_response)
        # The object servers answer a POST with the object's system metadata.
        link = link_from_headers(resp.headers)
        if link is None:
            return resp.respond(start_response)
        resp.discard()
        headers = {'Location': link.location(account)}
        if link.etag is not None:
            headers[rules.ETAG_HEADER] = link.etag
        # Not through webob: it would make Location absolute (Swift sends the path).
        body = POST_REASON.encode('ascii')
        start_response(status_line(307), list(headers.items()) + [
            ('Content-Type', 'text/plain; charset=UTF-8'), ('Content-Length', str(len(body)))])
        return [body if environ['REQUEST_METHOD'] != 'HEAD' else b'']

    # -- listings -------------------------------------------------------------

    def listing(self, environ, start_response, account):
        resp = call(self.app, environ)
        ctype = resp.headers.get('content-type', '')
        if resp.status != 200 or not ctype.startswith(('application/json', 'application/xml',
                                                       'text/xml')):
            return resp.respond(start_response)
        try:
            body = resp.read(MAX_LISTING_BYTES)
        except ValueError:
            raise ServiceUnavailable('Container listing too large to show symlinks')
        body = symlink_listing.rewrite(body, ctype, wsgi_to_str(account))
        header_list = [(k, v) for k, v in resp.header_list if k.lower() != 'content-length']
        header_list.append(('Content-Length', str(len(body))))
        start_response(resp.status_line, header_list)
        return [body]


def _status_error(status, reason, headers):
    err = SwiftlikeError(reason, headers)
    err.http_status = status
    return err


filter_factory = make_filter_factory(Symlink, Conf)


def _target_query(query_string):
    """The query a link's target is read with: the client's, less version-id
    (it named a version of the link, read by object_versioning below)."""
    if 'version-id' not in query_string:
        return query_string
    return '&'.join(p for p in query_string.split('&')
                    if p.split('=', 1)[0] != 'version-id')
