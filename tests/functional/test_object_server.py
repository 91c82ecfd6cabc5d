"""The real object server process over HTTP (see storage_fixtures.py)."""
import hashlib
import http.client
import http.server
import json
import os
import socket
import threading
import time
from urllib.parse import quote

import pytest

from swiftlike.hashing import hash_path
from swiftlike.timestamp import Timestamp
from tests.functional.storage_fixtures import (free_port, server_factory,  # noqa: F401
                                              start_server, storage_conf_text)


class Receiver:
    """A real HTTP server standing in for a container server: records requests."""

    def __init__(self, status=201):
        self.requests = []
        self.status = status
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _any(self):
                length = int(self.headers.get('Content-Length') or 0)
                body = self.rfile.read(length) if length else b''
                owner.requests.append((self.command, self.path, dict(self.headers), body))
                self.send_response(owner.status)
                self.send_header('Content-Length', '0')
                self.end_headers()

            do_PUT = do_DELETE = do_POST = _any

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count, deadline=30.0):
        """The requests once `count` have come: a PUT or DELETE waits only
        container_update_timeout for its updates, then they go on in the
        background (slow on a loaded machine), so the answer may come first."""
        end = time.monotonic() + deadline
        while len(self.requests) < count and time.monotonic() < end:
            time.sleep(0.02)
        return list(self.requests)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    recv = Receiver()
    yield recv
    recv.close()


@pytest.fixture(scope='module')
def devices(tmp_path_factory):
    path = tmp_path_factory.mktemp('objsrv') / 'devices'
    (path / 'sda').mkdir(parents=True)
    return str(path)


@pytest.fixture(scope='module')
def server(devices):
    # One server for the module (tests use distinct object names): starting
    # a process per test would dominate the run time.
    srv = start_server('object', storage_conf_text('object', devices, workers=1,
                                                   container_update_timeout=3),
                       workdir=os.path.dirname(devices))
    yield srv
    srv.stop()


def test_server_factory_fixture(server_factory, tmp_path):  # noqa: F811
    (tmp_path / 'dev' / 'sda').mkdir(parents=True)
    srv = server_factory('object', storage_conf_text('object', str(tmp_path / 'dev'), workers=0))
    assert srv.request('HEAD', '/sda/0/a/c/o')[0] == 404
    srv.stop()
    assert srv.proc.poll() is not None


def ts():
    return Timestamp.now().internal


def put(server, path, body=b'data', headers=None):
    hdrs = {'X-Timestamp': ts(), 'Content-Type': 'text/plain'}
    hdrs.update(headers or {})
    return server.request('PUT', path, hdrs, body)


def test_put_get_head_delete(server):
    status, headers, _ = put(server, '/sda/3/a/c/o', b'hello', {'X-Object-Meta-Fruit': 'kiwi'})
    assert status == 201
    assert headers['etag'] == hashlib.md5(b'hello').hexdigest()
    status, headers, body = server.request('GET', '/sda/3/a/c/o')
    assert (status, body) == (200, b'hello')
    assert headers['x-object-meta-fruit'] == 'kiwi'
    status, headers, body = server.request('HEAD', '/sda/3/a/c/o')
    assert status == 200 and headers['content-length'] == '5'
    status, _, _ = server.request('DELETE', '/sda/3/a/c/o', {'X-Timestamp': ts()})
    assert status == 204
    status, headers, _ = server.request('GET', '/sda/3/a/c/o')
    assert status == 404 and 'x-backend-timestamp' in headers


def test_chunked_put_and_ranges(server):
    conn = http.client.HTTPConnection(server.ip, server.port, timeout=10)
    body = os.urandom(200000)
    conn.request('PUT', '/sda/3/a/c/big', body=iter([body[:70000], body[70000:]]),
                 headers={'X-Timestamp': ts(), 'Content-Type': 'app/x'}, encode_chunked=True)
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 201
    conn.close()
    status, headers, got = server.request('GET', '/sda/3/a/c/big')
    assert got == body
    status, headers, got = server.request('GET', '/sda/3/a/c/big', {'Range': 'bytes=10-19'})
    assert status == 206 and got == body[10:20]
    status, headers, got = server.request('GET', '/sda/3/a/c/big',
                                          {'Range': 'bytes=0-1,-2'})
    assert status == 206 and headers['content-type'].startswith('multipart/byteranges')
    assert body[:2] in got and body[-2:] in got
    status, headers, _ = server.request('GET', '/sda/3/a/c/big', {'Range': 'bytes=999999-'})
    assert status == 416 and headers['content-range'] == 'bytes */200000'


def test_container_update_sent(server, receiver):
    status, _, _ = put(server, '/sda/3/a/c/upd', b'abc', {
        'X-Container-Host': '127.0.0.1:%d' % receiver.port, 'X-Container-Device': 'sdc',
        'X-Container-Partition': '7', 'X-Trans-Id': 'tx-func-1'})
    assert status == 201
    [(method, path, headers, _)] = receiver.wait_for(1)
    assert (method, path) == ('PUT', '/sdc/7/a/c/upd')
    assert headers['X-Size'] == '3'
    assert headers['X-Etag'] == hashlib.md5(b'abc').hexdigest()
    assert headers['X-Content-Type'] == 'text/plain'
    assert headers['X-Trans-Id'] == 'tx-func-1'
    assert headers['X-Timestamp']
    status, _, _ = server.request('DELETE', '/sda/3/a/c/upd', {
        'X-Timestamp': ts(), 'X-Container-Host': '127.0.0.1:%d' % receiver.port,
        'X-Container-Device': 'sdc', 'X-Container-Partition': '7'})
    assert status == 204
    assert receiver.wait_for(2)[-1][:2] == ('DELETE', '/sdc/7/a/c/upd')


def test_async_pending_when_container_down(server, receiver, devices):
    down = free_port()
    timestamp = ts()
    status, _, _ = put(server, '/sda/3/a/c/pending', b'abc', {
        'X-Timestamp': timestamp,
        'X-Container-Host': '127.0.0.1:%d,127.0.0.1:%d' % (receiver.port, down),
        'X-Container-Device': 'sdb,sdc', 'X-Container-Partition': '7'})
    assert status == 201
    assert len(receiver.wait_for(1)) == 1  # the live replica got it
    name_hash = hash_path('a', 'c', 'pending')
    path = os.path.join(devices, 'sda', 'async_pending', name_hash[-3:],
                        '%s-%s' % (name_hash, timestamp))
    deadline = time.time() + 10
    while not os.path.exists(path) and time.time() < deadline:
        time.sleep(0.05)
    with open(path) as f:
        record = json.load(f)
    assert record['op'] == 'PUT'
    assert (record['account'], record['container'], record['obj']) == ('a', 'c', 'pending')
    assert record['container_nodes'] == [['127.0.0.1:%d' % down, 'sdc']]
    assert record['partition'] == 7
    assert record['headers']['X-Size'] == '3'


def test_expirer_queue_entry(server, receiver):
    delete_at = int(time.time()) + 86400 * 3
    status, _, _ = put(server, '/sda/3/a/c/exp', b'abc', {
        'X-Delete-At': str(delete_at),
        'X-Delete-At-Host': '127.0.0.1:%d' % receiver.port, 'X-Delete-At-Device': 'sdd',
        'X-Delete-At-Partition': '2'})
    assert status == 201
    [(method, path, headers, _)] = receiver.wait_for(1)
    container = delete_at // 86400 * 86400
    assert method == 'PUT'
    assert path == '/sdd/2/.expiring_objects/%d/%d-a/c/exp' % (container, delete_at)


def test_short_body_not_committed(server, devices):
    sock = socket.create_connection((server.ip, server.port))
    sock.sendall(b'PUT /sda/3/a/c/cut HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n'
                 b'Content-Type: text/plain\r\nX-Timestamp: ' + ts().encode() +
                 b'\r\n\r\n' + b'x' * 10)
    sock.close()
    time.sleep(0.3)
    status, _, _ = server.request('GET', '/sda/3/a/c/cut')
    assert status == 404
    cut_dir = os.path.join(devices, 'sda', 'objects', '3', hash_path('a', 'c', 'cut')[-3:])
    assert not os.path.exists(cut_dir)


def test_corrupt_object_cut_short_and_quarantined(server, devices):
    put(server, '/sda/3/a/c/bad', b'0123456789' * 10000)
    name_hash = hash_path('a', 'c', 'bad')
    obj_dir = os.path.join(devices, 'sda', 'objects', '3', name_hash[-3:], name_hash)
    [data] = [os.path.join(obj_dir, f) for f in os.listdir(obj_dir)]
    with open(data, 'r+b') as f:
        f.seek(99990)
        f.write(b'X')
    conn = http.client.HTTPConnection(server.ip, server.port, timeout=10)
    conn.request('GET', '/sda/3/a/c/bad')
    resp = conn.getresponse()
    assert resp.status == 200
    with pytest.raises(http.client.IncompleteRead):
        resp.read()
    conn.close()
    status, _, _ = server.request('GET', '/sda/3/a/c/bad')
    assert status == 404
    assert os.listdir(os.path.join(devices, 'sda', 'quarantined', 'objects'))


@pytest.mark.parametrize('path,status', [
    ('/sda/3/a/c/%ff%fe', 400),
    ('/sda/x/a/c/o', 400),
    ('/sda/3/a/c', 400),
    ('/../3/a/c/o', 400),
    ('/sda/3/a/c/' + 'o' * 1025, 400),
    ('/nodev/3/a/c/o', 507),
])
def test_hostile_paths(server, path, status):
    got, _, body = put(server, path, b'x')
    assert got == status, body
    assert server.request('GET', path)[0] == status


def test_dotdot_object_names_are_opaque(server, devices):
    for name in ('../../../etc/x', '%2e%2e/%2e%2e/y', '..'):
        assert put(server, '/sda/3/a/c/' + name, name.encode())[0] == 201
        assert server.request('GET', '/sda/3/a/c/' + name)[2] == name.encode()
    assert set(os.listdir(os.path.join(devices, 'sda'))) <= {
        'objects', 'tmp', 'async_pending', 'quarantined'}
    # nothing named after the path tricks exists anywhere (only hashes are used)
    for _root, dirs, files in os.walk(os.path.dirname(devices)):
        assert not {'x', 'y', 'etc', '..'} & set(dirs + files)


def test_replicate(server):
    put(server, '/sda/5/a/c/o', b'x')
    status, _, body = server.request('REPLICATE', '/sda/5')
    hashes = json.loads(body)
    assert status == 200 and list(hashes) == [hash_path('a', 'c', 'o')[-3:]]
    assert server.request('REPLICATE', '/sda/5/zzz')[0] == 400


def test_superseded_files_removed(server, devices):
    for body in (b'one', b'two', b'three'):
        assert put(server, '/sda/3/a/c/again', body)[0] == 201
    server.request('POST', '/sda/3/a/c/again', {'X-Timestamp': ts(), 'X-Object-Meta-X': '1'})
    name_hash = hash_path('a', 'c', 'again')
    obj_dir = os.path.join(devices, 'sda', 'objects', '3', name_hash[-3:], name_hash)
    deadline = time.time() + 10
    while len(os.listdir(obj_dir)) != 2 and time.time() < deadline:
        time.sleep(0.05)
    names = sorted(os.listdir(obj_dir))
    assert [n.rsplit('.', 1)[1] for n in names] == ['data', 'meta']
    assert server.request('GET', '/sda/3/a/c/again')[2] == b'three'


def test_utf8_names_and_metadata_round_trip(server):
    from urllib.parse import quote
    path = quote('/sda/3/a/c/caf\u00e9 \u4e2d/x')
    conn = http.client.HTTPConnection(server.ip, server.port, timeout=10)
    conn.putrequest('PUT', path)
    for key, value in (('X-Timestamp', ts()), ('Content-Type', 'text/plain'),
                       ('Content-Length', '2')):
        conn.putheader(key, value)
    conn.putheader('X-Object-Meta-Name', '\u00e9t\u00e9'.encode('utf-8'))
    conn.endheaders(b'hi')
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 201
    conn.request('GET', path)
    resp = conn.getresponse()
    assert resp.read() == b'hi'
    raw = [v for k, v in resp.msg.raw_items() if k.lower() == 'x-object-meta-name'][0]
    assert raw.encode('latin-1').decode('utf-8') == '\u00e9t\u00e9'
    conn.close()


def test_chunked_put_cut_short_not_committed(server):
    sock = socket.create_connection((server.ip, server.port))
    sock.sendall(b'PUT /sda/3/a/c/cutchunked HTTP/1.1\r\nHost: x\r\n'
                 b'Transfer-Encoding: chunked\r\nContent-Type: text/plain\r\n'
                 b'X-Timestamp: ' + ts().encode() + b'\r\n\r\n5\r\nhello\r\n10\r\nabc')
    sock.close()
    time.sleep(0.3)
    assert server.request('GET', '/sda/3/a/c/cutchunked')[0] == 404


def test_bad_headers_over_http(server):
    status, _, body = put(server, '/sda/3/a/c/h', b'x', {'X-Timestamp': 'yesterday'})
    assert status == 400 and b'X-Timestamp' in body
    status, _, body = server.request('PUT', '/sda/3/a/c/h', {
        'X-Timestamp': ts(), 'Content-Type': 'x/y', 'Content-Length': 'ten'}, None)
    assert status == 400
    status, _, body = put(server, '/sda/3/a/c/h', b'x', {'X-Object-Meta-Big': 'v' * 300})
    assert status == 400 and b'Metadata value' in body


def test_updates_reach_a_real_container_server(server, server_factory, tmp_path):  # noqa: F811
    cdevs = tmp_path / 'cdevices'
    (cdevs / 'sdc').mkdir(parents=True)
    csrv = server_factory('container', storage_conf_text('container', str(cdevs), workers=0))
    assert csrv.request('PUT', '/sdc/4/acct/cont', {'X-Timestamp': ts()})[0] == 201
    delete_at = int(time.time()) + 86400
    target = {'X-Container-Host': csrv.host, 'X-Container-Device': 'sdc',
              'X-Container-Partition': '4'}
    headers = dict(target, **{'X-Delete-At': str(delete_at),
                              'X-Delete-At-Host': csrv.host, 'X-Delete-At-Device': 'sdc',
                              'X-Delete-At-Partition': '9'})
    assert put(server, '/sda/3/acct/cont/real', b'12345', headers)[0] == 201
    status, _, body = csrv.request('GET', '/sdc/4/acct/cont?format=json')
    [row] = json.loads(body)
    assert (row['name'], row['bytes'], row['hash']) == \
        ('real', 5, hashlib.md5(b'12345').hexdigest())
    queue = '/sdc/9/.expiring_objects/%d?format=json' % (delete_at // 86400 * 86400)
    status, _, body = csrv.request('GET', queue)
    assert [r['name'] for r in json.loads(body)] == ['%d-acct/cont/real' % delete_at]
    assert server.request('DELETE', '/sda/3/acct/cont/real',
                          dict(target, **{'X-Timestamp': ts()}))[0] == 204
    status, _, body = csrv.request('GET', '/sdc/4/acct/cont?format=json')
    assert json.loads(body) == []


def test_concurrent_updates_to_one_container_all_land(server, devices,
                                                       server_factory, tmp_path):  # noqa: F811
    # Updates that meet one in flight go together in an UPDATE (or alone):
    # either way every row lands, and no async_pending is left.
    cdevs = tmp_path / 'cdevices'
    (cdevs / 'sdc').mkdir(parents=True)
    csrv = server_factory('container', storage_conf_text('container', str(cdevs), workers=0))
    assert csrv.request('PUT', '/sdc/4/acct/many', {'X-Timestamp': ts()})[0] == 201
    target = {'X-Container-Host': csrv.host, 'X-Container-Device': 'sdc',
              'X-Container-Partition': '4'}
    names = ['o%02d-\u00e9' % i for i in range(40)]
    results = {}

    def write(name, method):
        path = quote('/sda/3/acct/many/' + name)
        if method == 'PUT':
            results[name, method] = put(server, path, name.encode('utf-8'), target)[0]
        else:
            results[name, method] = server.request('DELETE', path,
                                                   dict(target, **{'X-Timestamp': ts()}))[0]

    for method, chosen in (('PUT', names), ('DELETE', names[::2])):
        threads = [threading.Thread(target=write, args=(name, method)) for name in chosen]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert set(results.values()) == {201, 204}
    status, headers, body = csrv.request('GET', '/sdc/4/acct/many?format=json')
    assert sorted((r['name'], r['bytes']) for r in json.loads(body)) == [
        (name, len(name.encode('utf-8'))) for name in names[1::2]]
    assert headers['x-container-object-count'] == '20'
    for root, _dirs, files in os.walk(os.path.join(devices, 'sda', 'async_pending')):
        for name in files:
            with open(os.path.join(root, name)) as f:
                assert json.load(f)['container'] != 'many'
