"""Account ACLs, service tokens and reseller admins through the real proxy.

The ACL tests work on AUTH_test2 (owner test2:tester2) and grant to
test:tester3, and put the ACL back to none afterwards, so other tests of the
session see the accounts as they were."""
import json

import pytest

from tests.functional.proxy_helpers import Api, raw, unique

ACL = 'X-Account-Access-Control'


@pytest.fixture(scope='module')
def owner(cluster):
    return Api(cluster, 'test2:tester2')


@pytest.fixture(scope='module')
def grantee(cluster):
    return Api(cluster, 'test:tester3')


@pytest.fixture(autouse=True)
def no_acl_left(owner):
    yield
    assert owner.request('POST', headers={ACL: '{}'})[0] == 204


def on(api, target, method, path='', headers=None, body=None):
    """`api`'s user acting on `target`'s account."""
    hdrs = {'X-Auth-Token': api.token}
    hdrs.update(headers or {})
    return raw(target.host, target.port, method, target.account_path + path, hdrs, body)


def set_acl(owner, acl):
    status, _h, body = owner.request('POST', headers={ACL: json.dumps(acl)})
    assert status == 204, body


def test_info_says_account_acls(owner):
    status, _h, body = raw(owner.host, owner.port, 'GET', '/info')
    assert status == 200 and json.loads(body)['tempauth'] == {'account_acls': True}


def test_owner_sets_and_sees_canonical_acl(owner):
    status, h, _b = owner.request('POST', headers={
        ACL: '{"read-only": ["test:tester3"], "admin": []}'})
    assert status == 204 and ACL.lower() not in h
    status, h, _b = owner.request('HEAD')
    assert status == 204
    assert h[ACL.lower()] == '{"admin":[],"read-only":["test:tester3"]}'
    assert not any('sysmeta' in k for k in h)
    owner.request('POST', headers={ACL: ''})        # an empty value removes it too
    assert ACL.lower() not in owner.request('HEAD')[1]


@pytest.mark.parametrize('value', [
    'invalid', '[]', '{"admin": "test:tester3"}', '{"admin": [1, 2]}', '{"owner": []}',
    '{"admin": [null]}', '[' * 2000 + ']' * 2000, '{"admin": ["\xff"]}', '"read-only"',
])
def test_hostile_acls_are_400_and_change_nothing(owner, grantee, value):
    set_acl(owner, {'read-only': ['test:tester3']})
    for path in ('', '/' + unique()):
        status, h, body = owner.request('POST', path, headers={ACL: value})
        assert status == 400, (value[:20], body)
        assert b'X-Account-Access-Control invalid' in body and ACL.lower() not in h
    assert owner.request('HEAD')[1][ACL.lower()] == '{"read-only":["test:tester3"]}'
    assert on(grantee, owner, 'HEAD')[0] == 204


def test_oversized_acl_is_refused_not_500(owner):
    acl = {'admin': ['%s' % (c * 1024) for c in 'abcdefghi']}
    status, _h, _b = owner.request('POST', headers={ACL: json.dumps(acl)})
    assert status == 400
    acl = {'admin': ['%s' % (c * 1024) for c in 'abcdef']}
    assert owner.request('POST', headers={ACL: json.dumps(acl)})[0] == 204
    assert json.loads(owner.request('HEAD')[1][ACL.lower()]) == acl


def test_clients_cannot_write_the_sysmeta_directly(owner, grantee):
    status, _h, _b = owner.request('POST', headers={
        'X-Account-Sysmeta-Core-Access-Control': '{"admin":["test:tester3"]}'})
    assert status == 204
    assert on(grantee, owner, 'HEAD')[0] == 403
    assert ACL.lower() not in owner.request('HEAD')[1]


def test_read_only(owner, grantee):
    c = owner.put_container(headers={'X-Container-Read': 'nobody'})
    owner.put_object(c, 'o', b'hello')
    # (Temp-URL keys are owner-only too, but refused while TempURL is absent:
    # tests/unit/proxy/test_owner_headers.py covers hiding them.)
    owner.request('POST', headers={'X-Account-Meta-Color': 'red'})
    assert on(grantee, owner, 'GET')[0] == 403
    assert on(grantee, owner, 'GET', '/%s/o' % c)[0] == 403
    set_acl(owner, {'read-only': ['test:tester3']})
    status, h, body = on(grantee, owner, 'GET')
    assert status == 200 and c.encode() in body.split(b'\n')
    assert h['x-account-meta-color'] == 'red'
    assert ACL.lower() not in h
    status, h, body = on(grantee, owner, 'GET', '/' + c)
    assert status == 200 and body == b'o\n' and 'x-container-read' not in h
    assert on(grantee, owner, 'GET', '/%s/o' % c)[2] == b'hello'
    for method, path in (('POST', ''), ('PUT', '/' + unique()), ('POST', '/' + c),
                         ('DELETE', '/' + c), ('PUT', '/%s/new' % c), ('DELETE', '/%s/o' % c),
                         ('POST', '/%s/o' % c), ('PUT', ''), ('DELETE', '')):
        assert on(grantee, owner, method, path, {'Content-Length': '0'}, b'')[0] == 403, \
            (method, path)


def test_read_write(owner, grantee):
    c = owner.put_container(headers={'X-Container-Read': 'nobody',
                                     'X-Container-Sync-Key': 'sync'})
    set_acl(owner, {'read-write': ['test:tester3']})
    assert on(grantee, owner, 'HEAD')[0] == 204
    assert on(grantee, owner, 'POST', '', {'X-Account-Meta-X': '1'})[0] == 403
    mine = unique()
    assert on(grantee, owner, 'PUT', '/' + mine)[0] == 201
    assert on(grantee, owner, 'PUT', '/%s/o' % c, {}, b'rw')[0] == 201
    assert owner.request('GET', '/%s/o' % c)[2] == b'rw'
    # Metadata yes; who may access the container no (silently ignored), and
    # the owner-only headers stay hidden.
    status, _h, _b = on(grantee, owner, 'POST', '/' + c, {
        'X-Container-Meta-Color': 'blue', 'X-Container-Read': '.r:*',
        'X-Container-Write': 'test', 'X-Container-Sync-Key': 'stolen'})
    assert status == 204
    status, h, _b = on(grantee, owner, 'HEAD', '/' + c)
    assert h['x-container-meta-color'] == 'blue'
    assert not ({'x-container-read', 'x-container-sync-key'} & set(h))
    h = owner.request('HEAD', '/' + c)[1]
    assert h['x-container-read'] == 'nobody' and h['x-container-sync-key'] == 'sync'
    assert 'x-container-write' not in h
    assert on(grantee, owner, 'DELETE', '/%s/o' % c)[0] == 204
    assert on(grantee, owner, 'DELETE', '/' + mine)[0] == 204
    assert on(grantee, owner, 'DELETE', '')[0] == 403


def test_admin(owner, grantee):
    set_acl(owner, {'admin': ['test:tester3']})
    status, h, _b = on(grantee, owner, 'HEAD')
    assert status == 204 and json.loads(h[ACL.lower()]) == {'admin': ['test:tester3']}
    c = unique()
    assert on(grantee, owner, 'PUT', '/' + c, {'X-Container-Read': 'test2'})[0] == 201
    assert owner.request('HEAD', '/' + c)[1]['x-container-read'] == 'test2'
    assert on(grantee, owner, 'HEAD', '/' + c)[1]['x-container-read'] == 'test2'
    assert on(grantee, owner, 'DELETE', '/' + c)[0] == 204
    # Not the account itself, as for its owner.
    assert on(grantee, owner, 'PUT', '')[0] == 403
    assert on(grantee, owner, 'DELETE', '')[0] == 403
    # And can give up its own access.
    assert on(grantee, owner, 'POST', '', {ACL: '{}'})[0] == 204
    assert on(grantee, owner, 'HEAD')[0] == 403


def test_grant_to_a_whole_account_and_to_others_only(owner, grantee, cluster):
    set_acl(owner, {'read-only': ['test']})
    assert on(grantee, owner, 'HEAD')[0] == 204
    assert on(Api(cluster, 'test:tester'), owner, 'HEAD')[0] == 204
    assert on(Api(cluster, 'test5:tester5'), owner, 'HEAD')[0] == 403
    status, h, _b = raw(owner.host, owner.port, 'HEAD', owner.account_path)
    assert status == 401


def test_realm_of_401s(owner):
    for path in (owner.account_path, owner.account_path + '/c/o',
                 '/v1/AUTH_haxx%22%0AContent-Length%3A%2014%0A%0A%3Cb%3EHello'):
        status, h, _b = raw(owner.host, owner.port, 'GET', path)
        assert status == 401
        assert h['www-authenticate'] == 'Swift realm="%s"' % path.split('/')[2]
    status, h, _b = raw(owner.host, owner.port, 'GET', owner.account_path,
                        {'X-Auth-Token': 'AUTH_tkforged.0'})
    assert status == 401 and h['www-authenticate'] == 'Swift realm="AUTH_test2"'


def test_anonymous_options(owner):
    for path in ('', '/c', '/c/o'):
        assert raw(owner.host, owner.port, 'OPTIONS', owner.account_path + path)[0] == 200


# -- service tokens --------------------------------------------------------------------

def service_path(api, path=''):
    return api.account_path.replace('/AUTH_', '/SERVICE_', 1) + path


def test_service_account_needs_user_and_service_tokens(cluster):
    user = Api(cluster, 'test:tester')
    service = Api(cluster, 'test5:tester5')
    both = {'X-Auth-Token': user.token, 'X-Service-Token': service.token}
    c = unique()
    steps = [('POST', '', 204), ('HEAD', '', 204), ('PUT', '/' + c, 201),
             ('PUT', '/%s/o' % c, 201), ('GET', '/%s/o' % c, 200), ('POST', '/%s/o' % c, 202),
             ('GET', '/' + c, 200), ('OPTIONS', '/' + c, 200)]
    denied = [{'X-Auth-Token': user.token}, {'X-Auth-Token': service.token},
              {'X-Auth-Token': service.token, 'X-Service-Token': service.token},
              {'X-Auth-Token': user.token, 'X-Service-Token': user.token},
              {'X-Auth-Token': user.token, 'X-Service-Token': 'AUTH_tkjunk.0'},
              {'X-Service-Token': service.token}]
    for method, path, expected in steps:
        for headers in denied:
            status = raw(user.host, user.port, method, service_path(user, path),
                         dict(headers, **{'Content-Length': '0'}), b'')[0]
            if method == 'OPTIONS':
                assert status == 200
            else:
                assert status in (401, 403), (method, path, headers.keys())
        status, _h, body = raw(user.host, user.port, method, service_path(user, path),
                               dict(both, **{'Content-Length': '1'}), b'x')
        assert status == expected, (method, path, body)
    for method, path in (('DELETE', '/%s/o' % c), ('DELETE', '/' + c)):
        assert raw(user.host, user.port, method, service_path(user, path), both)[0] == 204
    # The account itself stays a reseller admin's.
    for method in ('PUT', 'DELETE'):
        assert raw(user.host, user.port, method, service_path(user), both)[0] == 403


# -- reseller admins ---------------------------------------------------------------------

def test_reseller_admin_manages_any_account(cluster, owner):
    admin = Api(cluster, 'admin:admin')
    set_acl(owner, {'read-only': ['test:tester3']})
    status, h, _b = on(admin, owner, 'HEAD')
    assert status == 204 and h[ACL.lower()] == '{"read-only":["test:tester3"]}'
    assert on(admin, owner, 'POST', '', {ACL: '{"read-write":["test:tester3"]}'})[0] == 204
    assert owner.request('HEAD')[1][ACL.lower()] == '{"read-write":["test:tester3"]}'
    account = '/v1/AUTH_%s' % unique('acct')
    hdrs = {'X-Auth-Token': admin.token}
    assert raw(admin.host, admin.port, 'PUT', account, dict(hdrs, **{ACL: '{"admin":["x"]}'}))[0] \
        in (201, 202)
    status, h, _b = raw(admin.host, admin.port, 'HEAD', account, hdrs)
    assert status == 204 and h[ACL.lower()] == '{"admin":["x"]}'
    assert raw(admin.host, admin.port, 'DELETE', account, hdrs)[0] == 204
    assert raw(admin.host, admin.port, 'HEAD', service_path(owner), hdrs)[0] == 204
