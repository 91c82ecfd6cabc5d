"""tempauth with a fake proxy below it: account ACLs, service tokens, reseller
admins, the realm of 401s, and hostile X-Account-Access-Control values."""
import io
import json

import pytest

from swiftlike.exceptions import ConfigError
from swiftlike.middleware.tempauth import filter_factory, parse_prefixes
from swiftlike.middleware.tempauth_acl import (account_acl_level, format_account_acl,
                                               parse_account_acl)
from swiftlike.middleware.toolkit import (AUTHORIZE_KEY, INFO_REQUEST_KEY, OWNER_KEY,
                                          RESELLER_REQUEST_KEY, split_account_path)

SYSMETA_ENV = 'HTTP_X_ACCOUNT_SYSMETA_CORE_ACCESS_CONTROL'


class FakeProxy:
    """Answers like the proxy as far as auth is concerned: account_info
    subrequests from `sysmeta`, container ACLs from `acls` (asking the hook the
    way the controllers do), and account answers carrying the sysmeta."""

    def __init__(self):
        self.sysmeta = {}       # account -> {key: value}
        self.acls = {}          # (account, container) -> (read, write)
        self.calls = []
        self.info_requests = 0

    def __call__(self, env, start_response):
        account, container, obj = split_account_path(env['PATH_INFO']) or (None, None, None)
        stored = [('X-Account-Sysmeta-' + k, v) for k, v in self.sysmeta.get(account, {}).items()]
        if env.get(INFO_REQUEST_KEY):
            self.info_requests += 1
            start_response('204 No Content', stored)
            return [b'']
        self.calls.append(env)
        hook = env.get(AUTHORIZE_KEY)
        if container and hook and not env.get(OWNER_KEY):
            read, write = self.acls.get((account, container), ('', ''))
            denied = hook(env, read, write, obj is not None)
            if denied:
                start_response(denied[0], [('Content-Length', '0')])
                return [b'']
        start_response('204 No Content', stored if container is None else [])
        return [b'']


USERS = {'user_test_tester': 'testing .admin', 'user_test_tester3': 'testing3',
         'user_test2_tester2': 'testing2 .admin', 'user_test5_tester5': 'testing5 service',
         'user_admin_admin': 'admin .reseller_admin'}


def make(**extra):
    conf = {'token_secret': 'shh', 'reseller_prefix': 'AUTH, SERVICE',
            'SERVICE_require_group': 'service'}
    conf.update(USERS)
    conf.update(extra)
    proxy = FakeProxy()
    return filter_factory(conf)(proxy), proxy


def run(app, path, method='GET', headers=None):
    env = {'PATH_INFO': path, 'REQUEST_METHOD': method, 'wsgi.input': io.BytesIO(b''),
           'wsgi.url_scheme': 'http', 'HTTP_HOST': 'proxy:8080'}
    for key, value in (headers or {}).items():
        env['HTTP_' + key.upper().replace('-', '_')] = value
    out = {}

    def start_response(status, hdrs, exc_info=None):
        out['status'] = int(status.split()[0])
        out['headers'] = hdrs
    body = b''.join(app(env, start_response))
    return out['status'], dict(out['headers']), body, env


def token(app, user):
    key = {'test:tester': 'testing', 'test:tester3': 'testing3', 'test2:tester2': 'testing2',
           'test5:tester5': 'testing5', 'admin:admin': 'admin'}[user]
    status, headers, _b, _e = run(app, '/auth/v1.0', headers={'X-Auth-User': user,
                                                             'X-Auth-Key': key})
    assert status == 200
    return headers['X-Auth-Token']


@pytest.fixture
def setup():
    app, proxy = make()
    tokens = {u: token(app, u) for u in ('test:tester', 'test:tester3', 'test2:tester2',
                                         'test5:tester5', 'admin:admin')}
    return app, proxy, tokens


def as_user(app, tokens, user, path, method='GET', headers=None):
    hdrs = dict(headers or {})
    if user:
        hdrs['X-Auth-Token'] = tokens[user]
    return run(app, path, method, hdrs)


# -- parsing ------------------------------------------------------------------------

@pytest.mark.parametrize('text, expected', [
    ('', {}), ('  ', {}), ('{}', {}),
    ('{"admin": ["a:b"], "read-only": [], "read-write": ["c"]}',
     {'admin': ['a:b'], 'read-only': [], 'read-write': ['c']}),
    ('{"read-only": ["\\u00e9t\\u00e9"]}', {'read-only': ['\u00e9t\u00e9']}),
])
def test_parse_account_acl_valid(text, expected):
    assert parse_account_acl(text) == expected


@pytest.mark.parametrize('text, reason', [
    ('invalid', 'not valid JSON'),
    ('{"admin": ["a"]', 'not valid JSON'),
    ('[]', 'JSON object'),
    ('"admin"', 'JSON object'),
    ('null', 'JSON object'),
    ('{"admin": "a"}', 'must be a list'),
    ('{"admin": {"a": 1}}', 'must be a list'),
    ('{"admin": [1]}', 'must be strings'),
    ('{"admin": [null]}', 'must be strings'),
    ('{"admin": [["a"]]}', 'must be strings'),
    ('{"admin": [NaN]}', 'must be strings'),
    ('{"admin": [true]}', 'must be strings'),
    ('{"superuser": ["a"]}', 'not recognized'),
    ('{"admin": [], "x": []}', 'not recognized'),
    ('{"admin": [' + '1' * 5000 + ']}', 'not valid JSON'),
    ('[' * 4000 + ']' * 4000, 'nested too deeply'),
    ('{"admin": ' + '[' * 4000 + ']' * 4000 + '}', 'nested too deeply'),
])
def test_parse_account_acl_hostile(text, reason):
    with pytest.raises(ValueError) as err:
        parse_account_acl(text)
    assert reason in str(err.value)


def test_format_and_levels():
    acl = {'read-only': ['x'], 'admin': ['a:b', '\u00e9']}
    assert format_account_acl(acl) == '{"admin":["a:b","\\u00e9"],"read-only":["x"]}'
    assert account_acl_level(acl, ['a', 'a:b']) == 'admin'
    assert account_acl_level({'read-write': ['a'], 'read-only': ['a']}, ['a']) == 'read-write'
    assert account_acl_level(acl, ['x']) == 'read-only'
    assert account_acl_level(acl, ['y']) is None
    assert account_acl_level({'read-only': ['']}, ['']) is None


# -- setting and showing the account ACL ----------------------------------------------

def test_owner_sets_acl_as_canonical_sysmeta(setup):
    app, proxy, tokens = setup
    acl = '{"read-only": ["test:tester3"],  "admin": []}'
    status, _h, _b, env = as_user(app, tokens, 'test:tester', '/v1/AUTH_test', 'POST',
                                  {'X-Account-Access-Control': acl})
    assert status == 204
    assert env[SYSMETA_ENV] == '{"admin":[],"read-only":["test:tester3"]}'
    assert 'HTTP_X_ACCOUNT_ACCESS_CONTROL' not in env
    # An empty ACL removes the metadata (an empty value).
    env = as_user(app, tokens, 'test:tester', '/v1/AUTH_test', 'POST',
                  {'X-Account-Access-Control': '{}'})[3]
    assert env[SYSMETA_ENV] == ''


@pytest.mark.parametrize('value', [
    'invalid', '{"admin": "test:tester3"}', '{"admin": [1]}', '{"bogus": []}', '[]',
    '[' * 3000 + ']' * 3000, '{"admin": ["\xff\xfe"]}', '\x00',
])
def test_bad_acl_is_400_and_never_reaches_the_proxy(setup, value):
    app, proxy, tokens = setup
    for path in ('/v1/AUTH_test', '/v1/AUTH_test/c'):
        status, _h, body, _env = as_user(app, tokens, 'test:tester', path, 'POST',
                                         {'X-Account-Access-Control': value})
        assert status == 400 and body.startswith(b'X-Account-Access-Control invalid: ')
        assert len(body) < 300
    assert proxy.calls == []


def test_acl_header_below_account_level_is_dropped(setup):
    app, proxy, tokens = setup
    env = as_user(app, tokens, 'test:tester', '/v1/AUTH_test/c', 'POST',
                  {'X-Account-Access-Control': '{"admin": ["x"]}'})[3]
    assert proxy.calls and SYSMETA_ENV not in env
    assert 'HTTP_X_ACCOUNT_ACCESS_CONTROL' not in env


def test_only_owners_and_acl_admins_see_the_acl(setup):
    app, proxy, tokens = setup
    proxy.sysmeta['AUTH_test'] = {'Core-Access-Control':
                                  '{"admin":["test2:tester2"],"read-only":["test:tester3"]}'}
    status, h, _b, _e = as_user(app, tokens, 'test:tester', '/v1/AUTH_test', 'HEAD')
    assert status == 204
    assert h['X-Account-Access-Control'] == \
        '{"admin":["test2:tester2"],"read-only":["test:tester3"]}'
    assert not any('sysmeta' in k.lower() for k in h)
    status, h, _b, env = as_user(app, tokens, 'test2:tester2', '/v1/AUTH_test', 'GET')
    assert status == 204 and env[OWNER_KEY] is True and 'X-Account-Access-Control' in h
    status, h, _b, env = as_user(app, tokens, 'test:tester3', '/v1/AUTH_test', 'GET')
    assert status == 204 and not env.get(OWNER_KEY)
    assert 'X-Account-Access-Control' not in h and not any('sysmeta' in k.lower() for k in h)


def test_empty_or_garbage_stored_acl_shows_nothing_and_grants_nothing(setup):
    app, proxy, tokens = setup
    for stored in ('{}', 'garbage', '{"admin": "test:tester3"}'):
        proxy.sysmeta['AUTH_test'] = {'Core-Access-Control': stored}
        status, h, _b, _e = as_user(app, tokens, 'test:tester', '/v1/AUTH_test')
        assert status == 204 and 'X-Account-Access-Control' not in h
        assert as_user(app, tokens, 'test:tester3', '/v1/AUTH_test')[0] == 403


# -- what each level grants ------------------------------------------------------------

def grant(proxy, level, who='test:tester3', account='AUTH_test'):
    proxy.sysmeta[account] = {'Core-Access-Control': json.dumps({level: [who]})}


@pytest.mark.parametrize('level, allowed', [
    (None, set()),
    ('read-only', {('GET', ''), ('HEAD', ''), ('GET', '/c'), ('HEAD', '/c'), ('GET', '/c/o'),
                   ('HEAD', '/c/o')}),
    ('read-write', {('GET', ''), ('HEAD', ''), ('GET', '/c'), ('HEAD', '/c'), ('PUT', '/c'),
                    ('POST', '/c'), ('DELETE', '/c'), ('GET', '/c/o'), ('HEAD', '/c/o'),
                    ('PUT', '/c/o'), ('POST', '/c/o'), ('DELETE', '/c/o'), ('COPY', '/c/o')}),
    ('admin', {('GET', ''), ('HEAD', ''), ('POST', ''), ('GET', '/c'), ('HEAD', '/c'),
               ('PUT', '/c'), ('POST', '/c'), ('DELETE', '/c'), ('GET', '/c/o'),
               ('HEAD', '/c/o'), ('PUT', '/c/o'), ('POST', '/c/o'), ('DELETE', '/c/o'),
               ('COPY', '/c/o')}),
])
def test_account_acl_levels(setup, level, allowed):
    app, proxy, tokens = setup
    if level:
        grant(proxy, level)
    for method in ('GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'COPY', 'OPTIONS'):
        for suffix in ('', '/c', '/c/o'):
            if method == 'COPY' and suffix != '/c/o':
                continue
            status, _h, _b, env = as_user(app, tokens, 'test:tester3', '/v1/AUTH_test' + suffix,
                                          method)
            if method == 'OPTIONS' or (method, suffix) in allowed:
                assert status == 204, (level, method, suffix)
            else:
                assert status == 403, (level, method, suffix)
            if status == 204 and method != 'OPTIONS':
                assert bool(env.get(OWNER_KEY)) == (level == 'admin'), (level, method, suffix)


def test_acl_names_users_and_accounts_never_anonymous(setup):
    app, proxy, tokens = setup
    grant(proxy, 'read-only', 'test')          # every user of account test
    assert as_user(app, tokens, 'test:tester3', '/v1/AUTH_test/c/o')[0] == 204
    assert as_user(app, tokens, 'test2:tester2', '/v1/AUTH_test/c/o')[0] == 403
    proxy.sysmeta['AUTH_test'] = {'Core-Access-Control': '{"read-only": [""]}'}
    lookups = proxy.info_requests
    status, h, _b, _e = as_user(app, tokens, None, '/v1/AUTH_test')
    assert status == 401 and proxy.info_requests == lookups   # none for anonymous


def test_container_acl_is_asked_before_the_account_acl(setup):
    app, proxy, tokens = setup
    proxy.acls[('AUTH_test', 'c')] = ('test:tester3', '')
    assert as_user(app, tokens, 'test:tester3', '/v1/AUTH_test/c/o')[0] == 204
    assert proxy.info_requests == 0
    assert as_user(app, tokens, 'test:tester3', '/v1/AUTH_test/c/o', 'PUT')[0] == 403
    assert proxy.info_requests == 1


def test_one_account_lookup_per_request(setup):
    app, proxy, tokens = setup
    grant(proxy, 'read-only')
    status, _h, _b, env = as_user(app, tokens, 'test:tester3', '/v1/AUTH_test/c')
    assert status == 204
    hook = env[AUTHORIZE_KEY]
    assert hook(env, '', '', False) is None and hook(dict(env), '', '', False) is None
    assert proxy.info_requests == 1


def test_hook_judges_the_path_it_is_given(setup):
    """A caller asking about another account (a copy's source) gets that
    account's answer, not the one the request's owner flag implies."""
    app, proxy, tokens = setup
    status, _h, _b, env = as_user(app, tokens, 'test:tester', '/v1/AUTH_test/c/o', 'PUT')
    assert status == 204 and env[OWNER_KEY] is True
    other = dict(env, PATH_INFO='/v1/AUTH_test2/c/o', REQUEST_METHOD='GET')
    assert env[AUTHORIZE_KEY](other, '', '', True) == ('403 Forbidden', 'Access denied')
    assert env[AUTHORIZE_KEY](dict(other, PATH_INFO='/v1/OTHER_x/c/o'), '', '', True)[0] \
        .startswith('403')
    grant(proxy, 'read-only', 'test:tester', 'AUTH_test2')
    other.pop('swiftlike.info_cache')     # a new request
    assert env[AUTHORIZE_KEY](other, '', '', True) is None


# -- owners, reseller admins, service tokens --------------------------------------------

def test_owner_cannot_create_or_delete_own_account_acl_admin_neither(setup):
    app, proxy, tokens = setup
    grant(proxy, 'admin')
    for user in ('test:tester', 'test:tester3'):
        for method in ('PUT', 'DELETE'):
            assert as_user(app, tokens, user, '/v1/AUTH_test', method)[0] == 403


def test_reseller_admin(setup):
    app, proxy, tokens = setup
    for path in ('/v1/AUTH_test', '/v1/AUTH_new', '/v1/SERVICE_test/c/o'):
        for method in ('PUT', 'POST', 'GET', 'DELETE'):
            status, _h, _b, env = as_user(app, tokens, 'admin:admin', path, method)
            assert status == 204 and env[OWNER_KEY] and env[RESELLER_REQUEST_KEY]
    # Not an account of ours (nor a hidden one), nor the bare prefix.
    assert as_user(app, tokens, 'admin:admin', '/v1/OTHER_x')[0] == 403
    assert as_user(app, tokens, 'admin:admin', '/v1/.expiring_objects/123')[0] == 403
    assert as_user(app, tokens, 'admin:admin', '/v1/AUTH_')[0] == 403


def test_service_account_needs_a_service_token(setup):
    app, proxy, tokens = setup
    user, service = tokens['test:tester'], tokens['test5:tester5']
    for path in ('/v1/SERVICE_test', '/v1/SERVICE_test/c', '/v1/SERVICE_test/c/o'):
        assert run(app, path, 'POST', {'X-Auth-Token': user})[0] == 403
        status, _h, _b, env = run(app, path, 'POST', {'X-Auth-Token': user,
                                                      'X-Service-Token': service})
        assert status == 204 and env[OWNER_KEY] is True
        assert env['REMOTE_USER'].split(',')[:2] == ['test', 'test:tester']
        # The service user alone, or as both tokens, owns nothing there.
        assert run(app, path, 'POST', {'X-Auth-Token': service})[0] == 403
        assert run(app, path, 'POST', {'X-Auth-Token': service,
                                       'X-Service-Token': service})[0] == 403
        # A service token without a user token is nobody.
        assert run(app, path, 'POST', {'X-Service-Token': service})[0] == 401
        # A user token is not a service token.
        assert run(app, path, 'POST', {'X-Auth-Token': user, 'X-Service-Token': user})[0] == 403
        assert run(app, path, 'OPTIONS', {'X-Auth-Token': user})[0] == 204
    # The account PUT/DELETE stays a reseller admin's, tokens or not.
    for method in ('PUT', 'DELETE'):
        assert run(app, '/v1/SERVICE_test', method, {'X-Auth-Token': user,
                                                      'X-Service-Token': service})[0] == 403
    # The user's own AUTH_ account needs no service token.
    assert run(app, '/v1/AUTH_test', 'POST', {'X-Auth-Token': user})[0] == 204


@pytest.mark.parametrize('bad', ['garbage', 'AUTH_tk', 'AUTH_tkx.y', 'AUTH_tk' + 'A' * 5000,
                                 '\xff' * 100, 'SERVICE_tk' + 'x' * 10])
def test_bad_service_tokens_are_ignored(setup, bad):
    app, proxy, tokens = setup
    status, _h, _b, env = run(app, '/v1/SERVICE_test/c', 'PUT',
                              {'X-Auth-Token': tokens['test:tester'], 'X-Service-Token': bad})
    assert status == 403
    status, _h, _b, env = run(app, '/v1/AUTH_test/c', 'PUT',
                              {'X-Auth-Token': tokens['test:tester'], 'X-Service-Token': bad})
    assert status == 204


def test_tokens_not_ours_are_anonymous_ours_invalid_are_401(setup):
    app, proxy, tokens = setup
    proxy.acls[('AUTH_test', 'pub')] = ('.r:*', '')
    assert run(app, '/v1/AUTH_test/pub/o', 'GET', {'X-Auth-Token': 'garbage'})[0] == 204
    assert run(app, '/v1/AUTH_test/pub/o', 'GET', {'X-Auth-Token': 'AUTH_tkbad'})[0] == 401
    assert run(app, '/v1/AUTH_test/pub', 'GET', {'X-Auth-Token': 'garbage'})[0] == 401


def test_anonymous_options_allowed_on_our_accounts_only(setup):
    app, proxy, tokens = setup
    for path in ('/v1/AUTH_test', '/v1/SERVICE_x/c', '/v1/AUTH_test/c/o'):
        assert run(app, path, 'OPTIONS')[0] == 204
    assert run(app, '/v1/OTHER_test', 'OPTIONS')[0] == 401


# -- 401s name the account ----------------------------------------------------------------

@pytest.mark.parametrize('path, realm', [
    ('/v1/AUTH_test', 'AUTH_test'),
    ('/v1/AUTH_test/c/o', 'AUTH_test'),
    ('/v1/AUTH_haxx"\nContent-Length: 14\n\n<b>Hello',
     'AUTH_haxx%22%0AContent-Length%3A%2014%0A%0A%3Cb%3EHello'),
    ('/v1/AUTH_\xc3\xa9t\xc3\xa9', 'AUTH_%C3%A9t%C3%A9'),
    ('/v1/OTHER_x', 'OTHER_x'),
])
def test_401_realm_is_the_quoted_account(setup, path, realm):
    app, proxy, tokens = setup
    status, h, _b, _e = run(app, path)
    assert status == 401 and h['Www-Authenticate'] == 'Swift realm="%s"' % realm
    status, h, _b, _e = run(app, path, headers={'X-Auth-Token': 'AUTH_tkforged.00'})
    assert status == 401 and h['Www-Authenticate'] == 'Swift realm="%s"' % realm


def test_401_from_below_gets_the_realm_too(setup):
    app, proxy, tokens = setup
    status, h, _b, _e = run(app, '/v1/AUTH_test/c')   # the fake proxy's hook call denies
    assert status == 401 and h['Www-Authenticate'] == 'Swift realm="AUTH_test"'
    status, h, _b, _e = run(app, '/v1', 'PUT')
    assert status == 204 and proxy.calls[-1][AUTHORIZE_KEY]


# -- config ---------------------------------------------------------------------------------

def test_prefix_lists():
    assert parse_prefixes('AUTH') == ['AUTH_']
    assert parse_prefixes('AUTH_, SERVICE') == ['AUTH_', 'SERVICE_']
    assert parse_prefixes('AUTH SERVICE_ x.y-z') == ['AUTH_', 'SERVICE_', 'x.y-z_']
    for bad in ('', ' , ', '_', "''", 'A/B', 'AUTH, AUTH_', 'a b\xe9'):
        with pytest.raises(ValueError):
            parse_prefixes(bad)


@pytest.mark.parametrize('extra, message', [
    ({'reseller_prefix': 'AUTH/'}, 'reseller_prefix'),
    ({'reseller_prefix': ''}, 'reseller_prefix'),
    ({'OTHER_require_group': 'x'}, 'names no reseller prefix'),
    ({'SERVICE_require_group': ''}, 'one group name'),
    ({'SERVICE_require_group': 'a b'}, 'one group name'),
    ({'SERVICE_require_group': 'a,b'}, 'one group name'),
])
def test_config_errors(extra, message):
    with pytest.raises(ConfigError) as err:
        make(**extra)
    assert message in str(err.value)


def test_require_group_keys_are_case_insensitive():
    factory = filter_factory({'reseller_prefix': 'AUTH, SERVICE', 'service_require_group': 's',
                              'token_secret': 'x'})
    assert factory.require_groups == {'SERVICE_': 's'}
    assert factory.conf.reseller_prefixes == ['AUTH_', 'SERVICE_']
