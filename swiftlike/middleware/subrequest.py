"""Subrequests a middleware sends to the rest of the pipeline (the app below it).

make_environ() builds a fresh WSGI environ from the client request's: the
identity the auth middleware established (token, REMOTE_USER and the
swiftlike auth keys) is carried over, so the proxy applies the requester's
rights (ACLs) to every subrequest; nothing else of the client's request is.
The environ is tagged with the middleware's name under SOURCE_KEY for the
access log.

call() runs one and captures its answer as a SubResponse (status, headers,
body iterator). Bodies stream: read() is for small answers (listings) only.
"""
import io
from urllib.parse import quote, urlencode

from swiftlike.constraints import is_decimal
from swiftlike.http import status_line
from swiftlike.paths import str_to_wsgi, wsgi_to_str

from swiftlike.middleware.environ_keys import (AUTHORIZE_KEY, FEATURES_KEY, OWNER_KEY,  # noqa: F401
                                               SOURCE_KEY, TXN_KEY)

# The client request's environ keys every subrequest keeps: server and
# transport facts, and the transaction id.
TRANSPORT_KEYS = (
    'SERVER_NAME', 'SERVER_PORT', 'SERVER_PROTOCOL', 'REMOTE_ADDR', 'HTTP_HOST',
    'wsgi.version', 'wsgi.url_scheme', 'wsgi.errors', 'wsgi.multithread',
    'wsgi.multiprocess', 'wsgi.run_once', TXN_KEY,
)
# ... and those that carry who sent it and what the auth middleware decided
# about it (make_environ's default: the subrequest acts as the requester).
IDENTITY_KEYS = (
    'REMOTE_USER', 'HTTP_X_AUTH_TOKEN', 'HTTP_X_STORAGE_TOKEN', 'HTTP_REFERER',
    'HTTP_USER_AGENT', 'HTTP_X_FORWARDED_FOR', AUTHORIZE_KEY, OWNER_KEY, FEATURES_KEY,
)
CARRIED_KEYS = TRANSPORT_KEYS + IDENTITY_KEYS


def object_names(path):
    """'/v1/a/c/o' (WSGI) -> (account, container, obj) as real str, or None."""
    parts = path.split('/', 4)
    if len(parts) != 5 or parts[0] or not all(parts[1:]):
        return None
    try:
        return tuple(wsgi_to_str(p) for p in parts[2:])
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None


def path_account(path_info):
    """The account segment of a WSGI '/v1/<account>/...' path ('' if none)."""
    parts = path_info.split('/', 3)
    return parts[2] if len(parts) > 2 else ''


def object_path(account, container, obj=None):
    """'/v1/<account>/<container>[/<obj>]' as a WSGI string (names are real str)."""
    parts = [account, container] + ([obj] if obj is not None else [])
    return str_to_wsgi('/v1/' + '/'.join(parts))


def make_environ(environ, method, path, query=None, headers=None, source=None,
                 carried=CARRIED_KEYS):
    """A subrequest environ: `path` is a WSGI string ('/v1/a/c[/o]'),
    `query` a {name: str} dict (or a ready query string), `headers` a
    {Header-Name: value} dict added as HTTP_* keys; `carried` the client
    environ's keys it keeps (TRANSPORT_KEYS for one without the requester's
    identity).

    The auth middleware judged ownership for the client's path; a subrequest
    to another account drops that verdict, so the proxy asks the auth
    middleware again (as for a cross-account copy)."""
    env = {key: environ[key] for key in carried if key in environ}
    if path_account(path) != path_account(environ.get('PATH_INFO', '')):
        env.pop(OWNER_KEY, None)
    if FEATURES_KEY in env:
        env[FEATURES_KEY] = set(env[FEATURES_KEY])
    if isinstance(query, dict):
        query = urlencode([(k, v.encode('utf-8')) for k, v in query.items()],
                          quote_via=quote)
    env.update({
        'REQUEST_METHOD': method,
        'SCRIPT_NAME': '',
        'PATH_INFO': path,
        'QUERY_STRING': query or '',
        'CONTENT_LENGTH': '0',
        'wsgi.input': io.BytesIO(b''),
    })
    env.setdefault('SERVER_NAME', 'localhost')
    env.setdefault('SERVER_PORT', '80')
    env.setdefault('SERVER_PROTOCOL', 'HTTP/1.1')
    env.setdefault('wsgi.url_scheme', 'http')
    env.setdefault('wsgi.version', (1, 0))
    env.setdefault('wsgi.errors', io.StringIO())
    for name, value in (headers or {}).items():
        key = name.upper().replace('-', '_')
        if key not in ('CONTENT_TYPE', 'CONTENT_LENGTH'):
            key = 'HTTP_' + key
        env[key] = value
    if source:
        env[SOURCE_KEY] = source
    return env


class SubResponse:
    """A subrequest's answer: `status` (int), `headers` ({lower-case name:
    value}), `header_list` (as sent) and the body, streamed by iterating
    (once) and released by close()."""

    def __init__(self, status, header_list, body_iter, first=None):
        self.status = status
        self.header_list = header_list
        self.headers = {k.lower(): v for k, v in header_list}
        self._body = body_iter
        self._first = first
        self._it = None
        self._closed = False

    def __iter__(self):
        if self._it is None:
            self._it = iter(self._body)
        if self._first:
            first, self._first = self._first, None
            yield first
        for chunk in self._it:
            if chunk:
                yield chunk

    def read(self, limit=None):
        """The whole body (for small answers); ValueError past `limit` bytes."""
        parts, size = [], 0
        try:
            for chunk in self:
                size += len(chunk)
                if limit is not None and size > limit:
                    raise ValueError('subrequest body larger than %d bytes' % limit)
                parts.append(chunk)
        finally:
            self.close()
        return b''.join(parts)

    def discard(self, limit=65536):
        """Done with this answer: read a small rest (so a backend connection
        can be reused), then close."""
        length = self.headers.get('content-length', '')
        try:
            if is_decimal(length) and int(length) <= limit:
                for _chunk in self:
                    pass
        except Exception:  # noqa: BLE001 - unread and closed either way
            pass
        finally:
            self.close()

    def close(self):
        if not self._closed:
            self._closed = True
            close = getattr(self._body, 'close', None)
            if close:
                close()

    @property
    def status_line(self):
        return status_line(self.status)

    def respond(self, start_response, header_list=None):
        """Pass this answer on to the client as it is (or with other headers)."""
        start_response(self.status_line, self.header_list if header_list is None
                       else header_list)
        return _Passed(self)


class _Passed:
    def __init__(self, sub):
        self.sub = sub

    def __iter__(self):
        return iter(self.sub)

    def close(self):
        self.sub.close()


class BodyInput:
    """`read(size)` over an iterable of byte chunks (a subrequest's streamed
    answer, a segment stream): the wsgi.input of a PUT that copies it. A read
    returns at most what one chunk has left; b'' at the end. close() closes
    the iterable."""

    def __init__(self, chunks):
        self.source = chunks
        self.chunks = iter(chunks)
        self.buffer = b''

    def read(self, size=-1):
        while not self.buffer:
            chunk = next(self.chunks, None)
            if chunk is None:
                return b''
            self.buffer = chunk
        if size is None or size < 0:
            size = len(self.buffer)
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def close(self):
        close = getattr(self.source, 'close', None)
        if close:
            close()


def call(app, environ):
    """Run a subrequest through `app`; its answer as a SubResponse.

    When the app is a middleware that passed on a SubResponse of its own
    untouched (SubResponse.respond with its own headers), that SubResponse
    is the answer: a GET through the middlewares that each look at an
    answer (slo, dlo, symlink, versioning, append) is captured once, and
    its body goes through one iterator, not one per middleware."""
    captured = {}

    def start_response(status, headers, exc_info=None):
        captured['status'] = status
        captured['headers'] = headers
        return lambda data: None

    body = app(environ, start_response)
    if type(body) is _Passed and captured.get('headers') is body.sub.header_list:
        return body.sub
    first = None
    if 'status' not in captured:
        # An app may call start_response when its body is first iterated.
        it = iter(body)
        first = next(it, b'')
        body = _Resumed(it, body)
    if 'status' not in captured:
        # An app that answered nothing at all: a server error, as a client would see it.
        return SubResponse(500, [], _Resumed(iter(()), body))
    status = int(captured['status'].split(' ', 1)[0])
    return SubResponse(status, list(captured['headers']), body, first)


class _Resumed:
    def __init__(self, it, original):
        self.it = it
        self.original = original

    def __iter__(self):
        return self.it

    def close(self):
        close = getattr(self.original, 'close', None)
        if close:
            close()
