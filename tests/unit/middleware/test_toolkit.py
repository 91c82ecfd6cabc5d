import io

import pytest

from swiftlike.middleware import toolkit
from swiftlike.middleware.toolkit import (INFO_CACHE_KEY, INFO_REQUEST_KEY, SOURCE_KEY,
                                          TXN_KEY, account_info, call_app, info_from_headers,
                                          split_account_path, subrequest_env)


@pytest.mark.parametrize('path, expected', [
    ('/v1/AUTH_a', ('AUTH_a', None, None)),
    ('/v1/AUTH_a/', ('AUTH_a', None, None)),
    ('/v1.0/AUTH_a/c', ('AUTH_a', 'c', None)),
    ('/v1/AUTH_a/c/', ('AUTH_a', 'c', None)),
    ('/v1/AUTH_a/c/o/with/slashes', ('AUTH_a', 'c', 'o/with/slashes')),
    ('/v1', None),
    ('/v1/', None),
    ('/v2/AUTH_a', None),
    ('v1/AUTH_a', None),
    ('', None),
    ('/v1/AUTH_a//o', None),
    ('/info', None),
])
def test_split_account_path(path, expected):
    assert split_account_path(path) == expected


def test_subrequest_env_carries_no_client_headers():
    parent = {'REQUEST_METHOD': 'POST', 'PATH_INFO': '/v1/AUTH_a/c', 'HTTP_X_AUTH_TOKEN': 't',
              'HTTP_HOST': 'h:1', 'REMOTE_USER': 'a,a:u', 'wsgi.url_scheme': 'https',
              TXN_KEY: 'tx1', 'wsgi.input': io.BytesIO(b'body'), 'QUERY_STRING': 'x=1',
              'swiftlike.owner': True}
    sub = subrequest_env(parent, 'HEAD', '/v1/AUTH_b', 'feature', {'X-Newest': 'true'})
    assert sub['REQUEST_METHOD'] == 'HEAD' and sub['PATH_INFO'] == '/v1/AUTH_b'
    assert sub[TXN_KEY] == 'tx1' and sub['HTTP_HOST'] == 'h:1'
    assert sub[SOURCE_KEY] == 'feature' and sub['HTTP_X_NEWEST'] == 'true'
    assert sub['wsgi.input'].read() == b'' and sub['QUERY_STRING'] == ''
    for key in ('HTTP_X_AUTH_TOKEN', 'REMOTE_USER', 'swiftlike.owner'):
        assert key not in sub


class Body:
    def __init__(self, chunks):
        self.chunks = chunks
        self.closed = False

    def __iter__(self):
        return iter(self.chunks)

    def close(self):
        self.closed = True


def test_call_app_collects_and_closes():
    body = Body([b'a', b'b'])

    def app(env, start_response):
        start_response('201 Created', [('X-A', '1')])
        return body
    assert call_app(app, {}) == (201, [('X-A', '1')], b'ab')
    assert body.closed


def test_info_from_headers():
    info = info_from_headers(204, [('X-Account-Container-Count', '3'),
                                   ('X-Account-Object-Count', 'junk'),
                                   ('x-account-bytes-used', '10'),
                                   ('X-Account-Meta-Color', 'red'),
                                   ('X-Account-Sysmeta-Core-Access-Control', '{}'),
                                   ('Content-Length', '0')])
    assert info == {'status': 204, 'container_count': 3, 'object_count': 0, 'bytes': 10,
                    'meta': {'color': 'red'}, 'sysmeta': {'core-access-control': '{}'}}


class AccountHeads:
    def __init__(self, status='204 No Content'):
        self.seen = []
        self.status = status

    def __call__(self, env, start_response):
        self.seen.append(env)
        start_response(self.status, [('X-Account-Sysmeta-Feature', env['PATH_INFO'])])
        return [b'']


def test_account_info_one_subrequest_per_account_per_request():
    app = AccountHeads()
    env = {'PATH_INFO': '/v1/AUTH_a/c/o', 'REQUEST_METHOD': 'PUT', TXN_KEY: 'tx'}
    first = account_info(env, app, source='me')
    assert account_info(env, app) is first
    assert first['sysmeta'] == {'feature': '/v1/AUTH_a'}
    other = account_info(env, app, 'AUTH_b')
    assert other['sysmeta'] == {'feature': '/v1/AUTH_b'}
    assert len(app.seen) == 2
    sub = app.seen[0]
    assert sub['REQUEST_METHOD'] == 'HEAD' and sub[INFO_REQUEST_KEY] is True
    assert sub[SOURCE_KEY] == 'me' and sub[TXN_KEY] == 'tx'
    assert set(env[INFO_CACHE_KEY]) == {'AUTH_a', 'AUTH_b'}


def test_account_info_of_missing_account_and_bad_path():
    app = AccountHeads('404 Not Found')
    info = account_info({'PATH_INFO': '/v1/AUTH_a'}, app)
    assert info['status'] == 404
    with pytest.raises(ValueError):
        account_info({'PATH_INFO': '/info'}, app)


def test_keys_are_distinct():
    names = [getattr(toolkit, n) for n in dir(toolkit) if n.endswith('_KEY')]
    assert len(names) == len(set(names)) and all(n.startswith('swiftlike.') for n in names)
