"""The only module that imports webob: requests, responses and status helpers."""
from webob import Request, Response  # noqa: F401  (re-exported)
from webob.byterange import Range  # noqa: F401
from webob.exc import status_map

STATUS_REASONS = {code: cls.title for code, cls in status_map.items()}
STATUS_REASONS.setdefault(499, 'Client Disconnect')


def status_line(code):
    return '%d %s' % (code, STATUS_REASONS.get(code, 'Unknown'))


def make_response(status, body=b'', headers=None, content_type=None, request=None):
    """A Response with a plain-text reason body (never a traceback)."""
    if isinstance(body, str):
        body = body.encode('utf-8')
    resp = Response(status=status_line(status), body=body, request=request)
    if headers:
        for k, v in headers.items():
            resp.headers[k] = str(v)
    if content_type:
        resp.content_type = content_type
    elif body:
        resp.content_type = 'text/plain'
        resp.charset = 'utf-8'
    else:
        resp.headers.pop('Content-Type', None)
    return resp


class EmptyResponse:
    """A bodiless answer (201, 202, 204, ...) as a bare WSGI callable: the
    status and headers only, without a webob Response's per-request objects.
    For the hot bodiless storage requests (object DELETE, container rows)."""

    def __init__(self, status, headers=None):
        self.status_int = status
        self.headers = headers or {}

    def __call__(self, environ, start_response):
        header_list = [(k, str(v)) for k, v in self.headers.items()]
        header_list.append(('Content-Length', '0'))
        start_response(status_line(self.status_int), header_list)
        return []


def is_success(status):
    return 200 <= status < 300


def is_client_error(status):
    return 400 <= status < 500


def is_server_error(status):
    return 500 <= status < 600


def client_content_type(environ):
    """The Content-Type the client sent, or None (eventlet fills CONTENT_TYPE
    with a default when the header is absent; its raw header list tells)."""
    raw = environ.get('headers_raw')
    if raw is not None and not any(k.lower() == 'content-type' for k, _v in raw):
        return None
    return environ.get('CONTENT_TYPE') or None
