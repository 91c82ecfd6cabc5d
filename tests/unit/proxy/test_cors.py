"""CORS rules (pure)."""
import pytest

from swiftlike.proxy import cors

VERBS = ('GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'COPY', 'OPTIONS')


def settings(allow='', max_age='', expose=''):
    meta = {}
    if allow:
        meta['access-control-allow-origin'] = allow
    if max_age:
        meta['access-control-max-age'] = max_age
    if expose:
        meta['access-control-expose-headers'] = expose
    return cors.container_cors(meta)


@pytest.mark.parametrize('allow,proxy,origin,method,status,allowed_origin', [
    ('*', [], 'http://m.com', 'GET', 200, '*'),
    ('http://a.com http://m.com', [], 'http://m.com', 'PUT', 200, 'http://m.com'),
    ('http://secret.com', [], 'http://m.com', 'GET', 401, None),
    ('', ['http://m.com'], 'http://m.com', 'GET', 200, 'http://m.com'),
    ('*', [], 'http://m.com', None, 401, None),          # no requested method
    ('*', [], 'http://m.com', 'PATCH', 401, None),       # a method we do not have
    ('', [], 'http://m.com', 'GET', 401, None),
])
def test_preflight(allow, proxy, origin, method, status, allowed_origin):
    got, headers = cors.preflight(origin, method, 'X-Foo, x-foo, X-Bar', settings(allow, '60'),
                                  proxy, VERBS)
    headers = dict(headers)
    assert got == status
    assert headers.get('Access-Control-Allow-Origin') == allowed_origin
    if status == 200:
        assert headers['Access-Control-Allow-Headers'] == 'X-Foo, X-Bar'
        assert headers['Access-Control-Max-Age'] == '60'


def test_actual_response_headers():
    response = [('Content-Type', 'text/plain'), ('X-Object-Meta-Color', 'red')]
    extra = dict(cors.response_headers('http://m.com', settings('*', expose='X-Custom'), [],
                                       True, ['X-Proxy-Wide'], response))
    assert extra['Access-Control-Allow-Origin'] == '*'
    exposed = extra['Access-Control-Expose-Headers'].split(', ')
    assert {'x-object-meta-color', 'x-custom', 'x-proxy-wide', 'etag'} <= set(exposed)
    assert len(exposed) == len(set(exposed))
    # strict: a foreign origin gets nothing; lenient: its own origin back
    assert cors.response_headers('http://m.com', settings('http://s.com'), [], True, [],
                                 response) == []
    lenient = dict(cors.response_headers('http://m.com', settings('http://s.com'), [], False,
                                         [], response))
    assert lenient['Access-Control-Allow-Origin'] == 'http://m.com'
    assert cors.response_headers('', settings('*'), [], True, [], response) == []
