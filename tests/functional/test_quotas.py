"""Container and account quotas through a real cluster."""
import pytest

from tests.functional.proxy_helpers import Api


@pytest.fixture(scope='module')
def api(cluster):
    return Api(cluster)


@pytest.fixture(scope='module')
def admin(cluster):
    return Api(cluster, user='admin:admin')


def test_container_quotas(api):
    c = api.put_container(headers={'X-Container-Meta-Quota-Bytes': '10',
                                   'X-Container-Meta-Quota-Count': '2'})
    api.put_object(c, 'a', b'12345')
    status, _h, body = api.request('PUT', '/%s/b' % c, body=b'123456')
    assert (status, body) == (413, b'Upload exceeds quota.')
    api.put_object(c, 'b', b'12345')
    # the container now holds 2 objects, 10 bytes: nothing more, not even a copy
    assert api.request('PUT', '/%s/c' % c, body=b'')[0] == 413
    assert api.request('COPY', '/%s/a' % c, {'Destination': '%s/d' % c})[0] == 413
    assert api.request('POST', '/' + c, {'X-Container-Meta-Quota-Bytes': 'ten'})[0] == 400
    assert api.request('POST', '/' + c, {'X-Container-Meta-Quota-Count': ''})[0] == 204
    assert api.request('POST', '/' + c, {'X-Container-Meta-Quota-Bytes': ''})[0] == 204
    assert api.request('PUT', '/%s/c' % c, body=b'x' * 100)[0] == 201


def test_account_quotas_are_for_reseller_admins(api, admin):
    account_path = api.account_path
    assert api.request('POST', '', {'X-Account-Quota-Bytes': '1'})[0] == 403
    assert api.request('POST', '', {'X-Account-Meta-Quota-Bytes': '1'})[0] == 403

    def on_account(method, headers):
        from tests.functional.proxy_helpers import raw
        return raw(admin.host, admin.port, method, account_path,
                   dict(headers, **{'X-Auth-Token': admin.token}))
    assert on_account('POST', {'X-Account-Quota-Bytes': 'x'})[0] == 400
    used = int(api.request('HEAD', '')[1]['x-account-bytes-used'])
    assert on_account('POST', {'X-Account-Quota-Bytes': str(used)})[0] == 204
    try:
        assert api.request('HEAD', '')[1]['x-account-quota-bytes'] == str(used)
        c = api.put_container()
        status, _h, body = api.request('PUT', '/%s/o' % c, body=b'x')
        assert (status, body) == (413, b'Upload exceeds quota.')
    finally:
        assert on_account('POST', {'X-Remove-Account-Quota-Bytes': 'x'})[0] == 204
    assert 'x-account-quota-bytes' not in api.request('HEAD', '')[1]
