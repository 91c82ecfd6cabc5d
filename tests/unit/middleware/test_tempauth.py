import io
import json
import time

import pytest

from swiftlike.exceptions import ConfigError
from swiftlike.middleware import tempauth
from swiftlike.middleware.tempauth import (User, filter_factory, parse_users, sign_token,
                                           user_groups, verify_token)
from swiftlike.middleware.tempauth_acl import acl_allows, parse_acl, referrer_allowed

SECRET = b'cluster secret'


def test_sign_and_verify_round_trip():
    expires = time.time() + 60
    token = sign_token(SECRET, 'AUTH', 'test', 'tester', ['test:tester', 'AUTH_test'], expires)
    assert token.startswith('AUTH_tk')
    assert verify_token(SECRET, 'AUTH', token) == ('test', 'tester', ['test:tester', 'AUTH_test'],
                                                   int(expires))


def test_expired_token_rejected():
    token = sign_token(SECRET, 'AUTH', 'a', 'u', [], 1000)
    assert verify_token(SECRET, 'AUTH', token, now=999) is not None
    assert verify_token(SECRET, 'AUTH', token, now=1000) is None
    assert verify_token(SECRET, 'AUTH', token) is None


@pytest.mark.parametrize('mangle', [
    lambda t: t[:-1] + ('0' if t[-1] != '0' else '1'),        # signature
    lambda t: t.replace('AUTH_tk', 'AUTH_tk' + 'A', 1),        # payload
    lambda t: t.replace('AUTH_', 'OTHER_', 1),                 # prefix
    lambda t: t.split('.')[0],                                 # no signature
    lambda t: '',
    lambda t: 'AUTH_tk\xff.\xfe',
    lambda t: 'AUTH_tk' + 'x' * 5000,
])
def test_tampered_tokens_rejected(mangle):
    token = sign_token(SECRET, 'AUTH', 'a', 'u', ['a:u'], time.time() + 60)
    assert verify_token(SECRET, 'AUTH', mangle(token)) is None


def test_other_secret_rejected():
    token = sign_token(b'other', 'AUTH', 'a', 'u', ['a:u'], time.time() + 60)
    assert verify_token(SECRET, 'AUTH', token) is None


def test_signature_covers_groups():
    token = sign_token(SECRET, 'AUTH', 'a', 'u', ['a:u'], time.time() + 60)
    payload, _, sig = token[len('AUTH_tk'):].rpartition('.')
    forged_payload = tempauth._b64(json.dumps(['a', 'u', ['.reseller_admin'], 9999999999]).encode())
    assert verify_token(SECRET, 'AUTH', 'AUTH_tk%s.%s' % (forged_payload, sig)) is None


def test_parse_users():
    users, rest = parse_users({'user_test_tester': 'testing .admin',
                               'user_admin_admin': 'admin .admin .reseller_admin',
                               'user_t_plain': 'k',
                               'user64_dGVzdF94_dV95': 'k2 svc',
                               'token_life': '5'})
    assert rest == {'token_life': '5'}
    assert users['test:tester'] == User('test', 'tester', 'testing', ('.admin',))
    assert users['test_x:u_y'].groups == ('svc',)
    assert user_groups(users['test:tester'], 'AUTH') == ['test', 'test:tester', 'AUTH_test']
    assert user_groups(users['test:tester'], ['AUTH_', 'SERVICE']) == [
        'test', 'test:tester', 'AUTH_test', 'SERVICE_test']
    assert user_groups(users['t:plain'], 'AUTH') == ['t', 't:plain']
    assert '.reseller_admin' in user_groups(users['admin:admin'], 'AUTH')
    assert 'svc' in user_groups(users['test_x:u_y'], 'AUTH')
    for bad in ({'user_noaccount': 'k'}, {'user_a_b': ''}, {'user_a_b': 'k .superuser'},
                {'user64_!!_x': 'k'}):
        with pytest.raises(ConfigError):
            parse_users(bad)


def test_acl_parsing_and_checks():
    parsed = parse_acl('.r:*, test:tester3 ,other,.rlistings')
    assert parsed == (['*'], ['test:tester3', 'other', '.rlistings'])
    assert acl_allows(parsed, ['test:tester3', 'test'], '')
    assert acl_allows(parsed, ['other:x', 'other'], '')
    assert acl_allows(parse_acl('.r:*'), [], '', listing=False)
    assert not acl_allows(parse_acl('.r:*'), [], '', listing=True)
    assert not acl_allows(parse_acl('.r:*'), [], '', referrers=False)
    assert not acl_allows(parse_acl(''), ['a:b', 'a'], '')
    assert referrer_allowed('http://www.example.com/page', ['.example.com'])
    assert referrer_allowed('http://example.com/', ['.example.com'])
    assert not referrer_allowed('http://evil.com/', ['.example.com'])
    assert not referrer_allowed('http://www.example.com/', ['*', '-www.example.com'])


class Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, environ, start_response):
        self.calls.append(environ)
        start_response('204 No Content', [])
        return [b'']


def run(app, path, method='GET', headers=None):
    environ = {'PATH_INFO': path, 'REQUEST_METHOD': method, 'wsgi.input': io.BytesIO(b''),
               'wsgi.url_scheme': 'http', 'HTTP_HOST': 'proxy.example:8080'}
    for key, value in (headers or {}).items():
        environ['HTTP_' + key.upper().replace('-', '_')] = value
    out = {}

    def start_response(status, hdrs, exc_info=None):
        out['status'] = int(status.split()[0])
        out['headers'] = dict(hdrs)
    body = b''.join(app(environ, start_response))
    return out['status'], out['headers'], body, environ


@pytest.fixture
def auth():
    make = filter_factory({'use': 'x', 'token_secret': 'shh', 'token_life': '100',
                           'user_test_tester': 'testing .admin', 'user_test_plain': 'p',
                           'user_admin_admin': 'admin .reseller_admin'})
    inner = Recorder()
    return make(inner), inner


def login(app, user, key):
    status, headers, _b, _e = run(app, '/auth/v1.0', headers={'X-Auth-User': user,
                                                             'X-Auth-Key': key})
    assert status == 200
    return headers


def test_auth_endpoint(auth):
    app, _inner = auth
    headers = login(app, 'test:tester', 'testing')
    assert headers['X-Storage-Url'] == 'http://proxy.example:8080/v1/AUTH_test'
    assert headers['X-Auth-Token-Expires'] == '100'
    assert run(app, '/auth/v1.0', headers={'X-Auth-User': 'test:tester',
                                           'X-Auth-Key': 'nope'})[0] == 401
    assert run(app, '/auth/v1.0')[0] == 401


def test_owner_stranger_and_reseller(auth):
    app, inner = auth
    token = login(app, 'test:tester', 'testing')['X-Auth-Token']
    assert run(app, '/v1/AUTH_test/c', headers={'X-Auth-Token': token})[0] == 204
    assert inner.calls[-1]['swiftlike.owner'] is True
    assert run(app, '/v1/AUTH_other', headers={'X-Auth-Token': token})[0] == 403
    assert run(app, '/v1/AUTH_test', 'PUT', headers={'X-Auth-Token': token})[0] == 403
    assert run(app, '/v1/AUTH_test')[0] == 401
    # A stranger at container level is passed on with an authorize hook.
    plain = login(app, 'test:plain', 'p')['X-Auth-Token']
    calls = len(inner.calls)
    assert run(app, '/v1/AUTH_test/c/o', headers={'X-Auth-Token': plain})[0] == 204
    env = inner.calls[calls]
    assert 'swiftlike.owner' not in env
    assert env['swiftlike.authorize'](env, '', '', True) == ('403 Forbidden', 'Access denied')
    assert env['swiftlike.authorize'](env, 'test:plain', '', True) is None
    admin = login(app, 'admin:admin', 'admin')['X-Auth-Token']
    assert run(app, '/v1/AUTH_anyone', 'PUT', headers={'X-Auth-Token': admin})[0] == 204


def test_a_remembered_token_still_expires(auth, monkeypatch):
    # A verified token is remembered (no HMAC each request), until it expires.
    app, inner = auth
    token = login(app, 'test:tester', 'testing')['X-Auth-Token']
    assert run(app, '/v1/AUTH_test/c', headers={'X-Auth-Token': token})[0] == 204
    groups = inner.calls[-1]['REMOTE_USER']
    assert run(app, '/v1/AUTH_test/c', headers={'X-Auth-Token': token})[0] == 204
    assert inner.calls[-1]['REMOTE_USER'] == groups
    # The remembered groups are the caller's own copy: a service token's extra
    # groups, added to them once, are not kept for the next request.
    service = login(app, 'test:plain', 'p')['X-Auth-Token']
    run(app, '/v1/AUTH_test/c', headers={'X-Auth-Token': token, 'X-Service-Token': service})
    assert 'test:plain' in inner.calls[-1]['REMOTE_USER']
    run(app, '/v1/AUTH_test/c', headers={'X-Auth-Token': token})
    assert inner.calls[-1]['REMOTE_USER'] == groups
    later = time.time() + 101   # token_life is 100 s
    monkeypatch.setattr('swiftlike.middleware.tempauth.time.time', lambda: later)
    assert run(app, '/v1/AUTH_test/c', headers={'X-Auth-Token': token})[0] == 401
    # A tampered token is never taken for a remembered one.
    monkeypatch.undo()
    assert run(app, '/v1/AUTH_test/c', headers={'X-Auth-Token': token[:-1] + 'x'})[0] == 401


def test_removed_user_token_stops_working(auth):
    app, _inner = auth
    token = login(app, 'test:tester', 'testing')['X-Auth-Token']
    make = filter_factory({'token_secret': 'shh', 'user_test_other': 'x .admin'})
    app2 = make(Recorder())
    assert run(app2, '/v1/AUTH_test', headers={'X-Auth-Token': token})[0] == 401


def test_authorization_settled_before_auth_is_left_alone(auth):
    """A middleware before tempauth (TempURL, FormPost) that authorised a
    request by its own rule: tempauth neither refuses it nor replaces the hook."""
    from swiftlike.middleware.toolkit import override_authorization

    app, inner = auth

    def signed_only(env, read_acl='', write_acl='', is_object=False):
        return None if env['PATH_INFO'] == '/v1/AUTH_test/c/o' else ('401 Unauthorized', 'no')

    class Before:
        def __call__(self, env, start_response):
            override_authorization(env, signed_only)
            return app(env, start_response)

    status, _h, _b, env = run(Before(), '/v1/AUTH_test/c/o')
    assert status == 204
    assert inner.calls[-1]['swiftlike.authorize'] is signed_only
    assert 'swiftlike.owner' not in inner.calls[-1]
    # Without the override the same anonymous request is refused by tempauth.
    assert run(app, '/v1/AUTH_test')[0] == 401
