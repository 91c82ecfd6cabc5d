"""Keeps internal headers on the inside.

Clients may not send backend headers (X-Backend-*), system metadata
(X-{Account,Container,Object}-Sysmeta-*, X-Object-Transient-Sysmeta-*), the
container/account/expirer update targets or a write timestamp; and never see
backend headers or system metadata in responses.
"""
import dataclasses

from swiftlike.middleware.filters import make_filter_factory
from swiftlike.middleware.toolkit import RESERVED_NAMES_KEY

_INTERNAL_REQUEST_HEADERS = frozenset(
    'HTTP_X_%s' % name for name in (
        'TIMESTAMP', 'CONTAINER_HOST', 'CONTAINER_DEVICE', 'CONTAINER_PARTITION',
        'ACCOUNT_HOST', 'ACCOUNT_DEVICE', 'ACCOUNT_PARTITION',
        'DELETE_AT_HOST', 'DELETE_AT_DEVICE', 'DELETE_AT_PARTITION', 'DELETE_AT_CONTAINER',
        'SIZE', 'ETAG', 'CONTENT_TYPE', 'PUT_TIMESTAMP', 'DELETE_TIMESTAMP',
        'OBJECT_COUNT', 'BYTES_USED', 'ACCOUNT_OVERRIDE_DELETED', 'TRANS_ID'))


def is_internal_environ_key(key):
    """True for WSGI environ keys of headers a client may not send."""
    if not key.startswith('HTTP_X_'):
        return False
    if key.startswith('HTTP_X_BACKEND_') or key in _INTERNAL_REQUEST_HEADERS:
        return True
    return '_SYSMETA_' in key


def is_internal_response_header(name):
    lname = name.lower()
    if lname.startswith('x-backend-'):
        return True
    return lname.startswith('x-') and '-sysmeta-' in lname


def strip_request(environ):
    for key in [k for k in environ if k.startswith('HTTP_X_')]:
        if is_internal_environ_key(key):
            del environ[key]


def filter_response_headers(headers):
    return [(k, v) for k, v in headers if not is_internal_response_header(k)]


@dataclasses.dataclass
class Conf:
    pass


class GateKeeper:
    def __init__(self, app, conf):
        self.app = app

    def __call__(self, environ, start_response):
        strip_request(environ)
        # Reserved (NUL-holding) names are for middlewares' own subrequests;
        # the proxy refuses a client's NUL anyway (412).
        environ.pop(RESERVED_NAMES_KEY, None)

        def filtered_start_response(status, headers, exc_info=None):
            return start_response(status, filter_response_headers(headers), exc_info)
        return self.app(environ, filtered_start_response)


filter_factory = make_filter_factory(GateKeeper, Conf)
