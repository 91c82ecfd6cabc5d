"""ObjectVersioning's PUT against a scripted backend: the moment where a
concurrent write's pointer is already newer is arranged, not raced for."""
import io

import pytest

from swiftlike.middleware import versioning_core as core
from swiftlike.middleware.versioning_objects import ObjectVersioning


class Backend:
    """Answers by (method, container): HEAD of the object 404 (nothing there
    yet), the version's PUT 201, and the pointer's PUT `pointer_status`."""

    def __init__(self, pointer_status):
        self.pointer_status = pointer_status
        self.calls = []

    def __call__(self, env, start_response):
        method, path = env['REQUEST_METHOD'], env['PATH_INFO']
        self.calls.append((method, path))
        if method == 'PUT':
            env['wsgi.input'].read()
        if method == 'PUT' and core.hidden_container('c') in path:
            start_response('201 Created', [('Etag', '"%s"' % ('a' * 32)),
                                           ('Content-Length', '0')])
        elif method == 'PUT':
            status = {201: '201 Created', 202: '202 Accepted', 503: '503 Service Unavailable',
                      409: '409 Conflict'}[self.pointer_status]
            start_response(status, [('Content-Length', '0')])
        else:
            start_response('404 Not Found', [('Content-Length', '0')])
        return [b'']


def _put(backend):
    env = {'REQUEST_METHOD': 'PUT', 'PATH_INFO': '/v1/AUTH_a/c/o', 'QUERY_STRING': '',
           'CONTENT_LENGTH': '4', 'CONTENT_TYPE': 'text/plain', 'wsgi.input': io.BytesIO(b'body'),
           'SERVER_NAME': 'localhost', 'SERVER_PORT': '80', 'wsgi.url_scheme': 'http',
           'HTTP_HOST': 'localhost'}
    return ObjectVersioning(backend, env, 'AUTH_a', 'c', 'o', True).put()


@pytest.mark.parametrize('pointer_status', [201, 202])
def test_a_put_whose_pointer_was_overtaken_still_keeps_its_version(pointer_status):
    # 202: the object servers hold a newer pointer (a concurrent write that
    # overtook this one is current); this write's version is stored, so the
    # client gets 201 and its version id, as the last writer winning means.
    backend = Backend(pointer_status)
    reply = _put(backend)
    assert reply.status == 201
    assert any(k == core.VERSION_ID_HEADER for k, _v in reply.headers)
    assert [m for m, _p in backend.calls].count('PUT') == 2


def test_a_pointer_that_cannot_be_written_is_a_503_that_says_why():
    from swiftlike.exceptions import ServiceUnavailable
    with pytest.raises(ServiceUnavailable) as err:
        _put(Backend(503))
    assert '503 from the object servers' in str(err.value)
