import json

import pytest

from swiftlike.account import server
from tests.unit.db.helpers import call, make_conf


@pytest.fixture
def app(tmp_path):
    return server.App(make_conf(server.Conf, str(tmp_path)))


def ts(n):
    return '%010d.00000' % n


def put_account(app, t=1, headers=None, account='a'):
    h = {'X-Timestamp': ts(t)}
    h.update(headers or {})
    return call(app, 'PUT', '/sda/1/%s' % account, h)


def put_row(app, name, put=2, delete=0, count=0, used=0, account='a', extra=None):
    h = {'X-Put-Timestamp': ts(put), 'X-Delete-Timestamp': ts(delete),
         'X-Object-Count': str(count), 'X-Bytes-Used': str(used), 'X-Timestamp': ts(put)}
    h.update(extra or {})
    return call(app, 'PUT', '/sda/1/%s/%s' % (account, name), h)


def test_module_convention():
    assert server.CONF_SECTION == 'account-server'
    assert issubclass(server.Conf, server.DBServerConf)


def test_put_head(app):
    assert put_account(app)[0] == 201
    assert put_account(app, t=2)[0] == 202
    status, headers, _ = call(app, 'HEAD', '/sda/1/a')
    assert status == 204
    assert headers['X-Account-Container-Count'] == '0'
    assert headers['X-PUT-Timestamp'] == ts(2)


def test_container_rows_and_stats(app):
    assert put_row(app, 'c1')[0] == 404          # no account yet
    put_account(app)
    assert put_row(app, 'c1', count=3, used=30)[0] == 201
    assert put_row(app, 'c2', count=1, used=5)[0] == 201
    assert put_row(app, 'c1', count=4, used=40)[0] == 201   # a later report
    headers = call(app, 'HEAD', '/sda/1/a')[1]
    assert headers['X-Account-Container-Count'] == '2'
    assert headers['X-Account-Object-Count'] == '5'
    assert headers['X-Account-Bytes-Used'] == '45'
    # c2 deleted (empty at delete time)
    assert put_row(app, 'c2', put=2, delete=3)[0] == 204
    headers, body = call(app, 'GET', '/sda/1/a', query='format=json')[1:]
    assert headers['X-Account-Container-Count'] == '1'
    assert headers['X-Account-Object-Count'] == '4'
    items = json.loads(body)
    assert items == [{'name': 'c1', 'count': 4, 'bytes': 40,
                      'last_modified': '1970-01-01T00:00:02.000000', 'storage_policy': 'default'}]
    # an older report of c2's put does not undelete it
    put_row(app, 'c2', put=2, delete=0)
    assert call(app, 'GET', '/sda/1/a')[2] == b'c1\n'
    put_row(app, 'c2', put=4, delete=0, count=0)
    assert call(app, 'GET', '/sda/1/a')[2] == b'c1\nc2\n'


def test_listing_params_and_formats(app):
    put_account(app)
    for name in ('a-1', 'a-2', 'b-1', 'c'):
        put_row(app, name)
    get = lambda q: call(app, 'GET', '/sda/1/a', query=q)[2].decode().splitlines()
    assert get('delimiter=-') == ['a-', 'b-', 'c']
    assert get('prefix=a-') == ['a-1', 'a-2']
    assert get('marker=a-2&limit=1') == ['b-1']
    assert get('reverse=yes&end_marker=a-2') == ['c', 'b-1']
    body = call(app, 'GET', '/sda/1/a', query='format=json&delimiter=-')[2]
    assert json.loads(body)[0] == {'subdir': 'a-'}
    body = call(app, 'GET', '/sda/1/a', query='format=xml')[2]
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<account name="a">')
    assert b'<container><name>a-1</name><count>0</count><bytes>0</bytes>' in body
    assert call(app, 'GET', '/sda/1/a', query='limit=10001')[0] == 412
    assert call(app, 'GET', '/sda/1/a', query='format=csv')[0] == 400


def test_delete_marks_deleted_and_put_recreates(app):
    assert call(app, 'DELETE', '/sda/1/a', {'X-Timestamp': ts(2)})[0] == 404
    put_account(app, headers={'X-Account-Meta-Color': 'red'})
    put_row(app, 'c1')
    assert call(app, 'DELETE', '/sda/1/a', {'X-Timestamp': ts(3)})[0] == 204
    for method in ('HEAD', 'GET'):
        status, headers, _ = call(app, method, '/sda/1/a')
        assert status == 404 and headers['X-Account-Status'] == 'Deleted'
    assert call(app, 'POST', '/sda/1/a', {'X-Timestamp': ts(4)})[0] == 404
    assert put_row(app, 'c2')[0] == 404
    assert put_row(app, 'c2', extra={'X-Account-Override-Deleted': 'yes'})[0] == 201
    assert call(app, 'DELETE', '/sda/1/a', {'X-Timestamp': ts(4)})[0] == 404
    assert put_account(app, t=2)[0] == 409        # older than the delete
    assert put_account(app, t=5)[0] == 201        # recreated
    status, headers, _ = call(app, 'HEAD', '/sda/1/a')
    assert status == 204 and 'X-Account-Status' not in headers


def test_metadata(app):
    put_account(app, headers={'X-Account-Meta-A': '1'})
    assert call(app, 'POST', '/sda/1/a', {'X-Timestamp': ts(3), 'X-Account-Meta-B': '2',
                                          'X-Account-Meta-A': ''})[0] == 204
    headers = call(app, 'HEAD', '/sda/1/a')[1]
    assert headers['X-Account-Meta-B'] == '2' and 'X-Account-Meta-A' not in headers
    assert call(app, 'POST', '/sda/1/a', {'X-Timestamp': ts(4),
                                          'X-Account-Meta-X': 'v' * 257})[0] == 400


@pytest.mark.parametrize('method,path,headers,status', [
    ('PUT', '/sda/1/a', {}, 400),
    ('PUT', '/sda/1/a', {'X-Timestamp': '-5'}, 400),
    ('PUT', '/sda/p/a', {'X-Timestamp': '1'}, 400),
    ('PUT', '/nodev/1/a', {'X-Timestamp': '1'}, 507),
    ('PUT', '/sda/1/' + 'a' * 257, {'X-Timestamp': '1'}, 400),
    ('PUT', '/sda/1/a/c', {'X-Put-Timestamp': 'x', 'X-Delete-Timestamp': '0',
                           'X-Object-Count': '0', 'X-Bytes-Used': '0'}, 400),
    ('PUT', '/sda/1/a/c', {'X-Put-Timestamp': '1', 'X-Delete-Timestamp': '0',
                           'X-Object-Count': 'many', 'X-Bytes-Used': '0'}, 400),
    ('PUT', '/sda/1/a/c', {'X-Put-Timestamp': '1', 'X-Delete-Timestamp': '0',
                           'X-Object-Count': '0'}, 400),
    ('PUT', '/sda/1/a/c/o', {'X-Timestamp': '1'}, 400),
    ('DELETE', '/sda/1/a', {}, 400),
    ('DELETE', '/sda/1/a/c', {'X-Timestamp': '1'}, 405),
    ('POST', '/sda/1/a', {}, 400),
    ('GET', '/sda/1/a/c', {}, 400),
    ('GET', '/sda/1', {}, 400),
    ('OPTIONS', '/sda/1/a', {}, 405),
])
def test_hostile_requests(app, method, path, headers, status):
    put_account(app)
    got, _, body = call(app, method, path, headers)
    assert got == status and body


def test_bad_utf8_account(app):
    status = call(app, 'PUT', '/sda/1/a\xff', {'X-Timestamp': ts(1)}, quote_path=False)[0]
    assert status == 400


def test_auto_create_prefix(app):
    assert put_row(app, 'c', account='.expiring')[0] == 201
    assert call(app, 'GET', '/sda/1/.expiring')[2] == b'c\n'


def test_replicate_is_routed_to_the_db_receiver(app):
    assert call(app, 'REPLICATE', '/sda/1/' + 'a' * 32, {'X-Replication-Op': 'bogus'})[0] == 400
