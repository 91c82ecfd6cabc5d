"""Real container and account server processes over HTTP."""
import json
import os
import threading

from swiftlike.hashing import hash_path
from tests.functional.db_server_fixtures import db_servers, free_port  # noqa: F401

T = '%010d.00000'


def account_headers(account_server, part=3):
    return {'X-Account-Host': account_server.host, 'X-Account-Device': 'sda',
            'X-Account-Partition': str(part)}


def test_container_reports_to_account(db_servers):
    acct = db_servers('account')
    cont = db_servers('container', workers=2)
    assert acct.request('PUT', '/sda/3/AUTH_x', {'X-Timestamp': T % 1})[0] == 201
    headers = dict(account_headers(acct), **{'X-Timestamp': T % 2})
    assert cont.request('PUT', '/sda/1/AUTH_x/photos', headers)[0] == 201
    for i in range(3):
        status = cont.request('PUT', '/sda/1/AUTH_x/photos/p%d.jpg' % i,
                              {'X-Timestamp': T % (3 + i), 'X-Size': '100',
                               'X-Content-Type': 'image/jpeg', 'X-Etag': 'e%d' % i})[0]
        assert status == 201
    status, hdrs, body = cont.request('GET', '/sda/1/AUTH_x/photos', query='format=json')
    assert status == 200 and hdrs['x-container-object-count'] == '3'
    assert [i['name'] for i in json.loads(body)] == ['p0.jpg', 'p1.jpg', 'p2.jpg']
    # the container PUT reported (put timestamp, zero objects) to the account
    status, hdrs, body = acct.request('GET', '/sda/3/AUTH_x', query='format=json')
    assert status == 200 and hdrs['x-account-container-count'] == '1'
    assert json.loads(body)[0]['name'] == 'photos'
    # a second PUT (202) reports the current stats
    assert cont.request('PUT', '/sda/1/AUTH_x/photos',
                        dict(account_headers(acct), **{'X-Timestamp': T % 9}))[0] == 202
    hdrs = acct.request('HEAD', '/sda/3/AUTH_x')[1]
    assert hdrs['x-account-object-count'] == '3' and hdrs['x-account-bytes-used'] == '300'
    # empty it, delete it: the account hears of the delete
    for i in range(3):
        assert cont.request('DELETE', '/sda/1/AUTH_x/photos/p%d.jpg' % i,
                            {'X-Timestamp': T % 10})[0] == 204
    assert cont.request('DELETE', '/sda/1/AUTH_x/photos',
                        dict(account_headers(acct), **{'X-Timestamp': T % 11}))[0] == 204
    assert cont.request('HEAD', '/sda/1/AUTH_x/photos')[0] == 404
    hdrs = acct.request('HEAD', '/sda/3/AUTH_x')[1]
    assert hdrs['x-account-container-count'] == '0'
    assert acct.request('GET', '/sda/3/AUTH_x')[0] == 204


def test_account_missing_is_404_and_down_is_async(db_servers, tmp_path):
    acct = db_servers('account')
    cont = db_servers('container')
    status, _, body = cont.request('PUT', '/sda/1/nobody/c',
                                   dict(account_headers(acct), **{'X-Timestamp': T % 1}))
    assert status == 404 and b'Account' in body
    # the account server is down: the PUT still succeeds, an async record waits
    down = {'X-Account-Host': '127.0.0.1:%d' % free_port(), 'X-Account-Device': 'sda',
            'X-Account-Partition': '5', 'X-Timestamp': T % 2}
    assert cont.request('PUT', '/sda/1/AUTH_y/c', down)[0] == 201
    digest = hash_path('AUTH_y', 'c')
    async_dir = os.path.join(cont.devices, 'sda', 'async_pending_containers', digest[-3:])
    files = os.listdir(async_dir)
    assert files == ['%s-%s' % (digest, T % 2)]
    with open(os.path.join(async_dir, files[0])) as f:
        record = json.load(f)
    assert record['account_partition'] == 5 and record['container'] == 'c'
    assert record['headers']['X-Put-Timestamp'] == T % 2


def test_200_concurrent_object_updates(db_servers):
    cont = db_servers('container', workers=2)
    assert cont.request('PUT', '/sda/1/a/c', {'X-Timestamp': T % 1})[0] == 201
    statuses = []

    def put(i):
        statuses.append(cont.request('PUT', '/sda/1/a/c/o%03d' % i,
                                     {'X-Timestamp': T % (2 + i), 'X-Size': str(i),
                                      'X-Content-Type': 't', 'X-Etag': 'e'})[0])
    threads = [threading.Thread(target=put, args=(i,)) for i in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [201] * 200
    status, hdrs, body = cont.request('GET', '/sda/1/a/c')
    assert hdrs['x-container-object-count'] == '200'
    assert hdrs['x-container-bytes-used'] == str(sum(range(200)))
    assert body.decode().split() == ['o%03d' % i for i in range(200)]
    assert 'Traceback' not in cont.log()


def test_hostile_requests_over_http(db_servers):
    cont = db_servers('container')
    acct = db_servers('account')
    cont.request('PUT', '/sda/1/a/c', {'X-Timestamp': T % 1})
    for server, method, path, headers, query, status in [
            (cont, 'PUT', '/sda/1/a/c2', {'X-Timestamp': 'never'}, '', 400),
            (cont, 'PUT', '/sda/x/a/c2', {'X-Timestamp': T % 1}, '', 400),
            (cont, 'PUT', '/sdz/1/a/c2', {'X-Timestamp': T % 1}, '', 507),
            (cont, 'GET', '/sda/1/a/c', {}, 'limit=10001', 412),
            (cont, 'GET', '/sda/1/a/c', {}, 'marker=%FF', 400),
            (cont, 'GET', '/sda/1/a/c', {}, 'format=html', 400),
            (cont, 'PUT', '/sda/1/a/c/' + 'o' * 1025, {'X-Timestamp': T % 2, 'X-Size': '0',
                                                      'X-Content-Type': 't', 'X-Etag': 'e'},
             '', 400),
            (acct, 'PUT', '/sda/1/' + 'a' * 257, {'X-Timestamp': T % 1}, '', 400),
            (acct, 'PUT', '/sda/1/a/c', {'X-Put-Timestamp': T % 1}, '', 400),
            (acct, 'GET', '/sda/1/nobody', {}, '', 404)]:
        got, _, body = server.request(method, path, headers, query)
        assert (path, got) == (path, status) and body
    # raw invalid UTF-8 in the path
    import http.client
    conn = http.client.HTTPConnection('127.0.0.1', cont.port, timeout=10)
    conn.request('PUT', '/sda/1/a/c/%FF%FE', headers={'X-Timestamp': T % 2, 'X-Size': '0',
                                                      'X-Content-Type': 't', 'X-Etag': 'e'})
    assert conn.getresponse().status == 400
    conn.close()
    assert 'Traceback' not in cont.log() and 'Traceback' not in acct.log()
