"""Conditional/range GETs, REPLICATE, updates and hostile inputs (both backends)."""
import email.utils
import glob
import json
import os
import socket
import time

import pytest

from swiftlike.hashing import hash_path
from swiftlike.obj.backend import hashes_fingerprint
from swiftlike.obj.replication_protocol import FINGERPRINT_HEADER
from swiftlike.obj.suffix_hashes import agreed_since

P = '/sda/1/a/c/o'


def test_conditional_get(obj):
    etag = obj.put(P, b'hello').headers['ETag']
    assert obj.req('GET', P, {'If-Match': '"%s"' % etag}).status_int == 200
    resp = obj.req('GET', P, {'If-Match': '"nope"'})
    assert resp.status_int == 412 and resp.headers['ETag'] == etag
    resp = obj.req('GET', P, {'If-None-Match': etag})
    assert resp.status_int == 304 and resp.body == b''
    assert obj.req('HEAD', P, {'If-None-Match': '*'}).status_int == 304
    future = email.utils.formatdate(time.time() + 3600, usegmt=True)
    past = email.utils.formatdate(time.time() - 3600, usegmt=True)
    assert obj.req('GET', P, {'If-Modified-Since': future}).status_int == 304
    assert obj.req('GET', P, {'If-Modified-Since': past}).status_int == 200
    assert obj.req('GET', P, {'If-Unmodified-Since': past}).status_int == 412
    assert obj.req('GET', P, {'If-Unmodified-Since': future}).status_int == 200


def test_ranges(obj):
    obj.put(P, b'0123456789', {'Content-Type': 'text/digits'})
    resp = obj.req('GET', P, {'Range': 'bytes=-3'})
    assert resp.status_int == 206 and resp.body == b'789'
    resp = obj.req('GET', P, {'Range': 'bytes=0-1,8-'})
    assert resp.status_int == 206
    ctype = resp.headers['Content-Type']
    assert ctype.startswith('multipart/byteranges; boundary=')
    boundary = ctype.split('boundary=')[1]
    assert len(resp.body) == int(resp.headers['Content-Length'])
    parts = resp.body.split(b'--' + boundary.encode())
    assert b'Content-Range: bytes 0-1/10\r\n\r\n01\r\n' in parts[1]
    assert b'Content-Type: text/digits' in parts[1]
    assert b'Content-Range: bytes 8-9/10\r\n\r\n89\r\n' in parts[2]
    assert parts[3] == b'--\r\n'
    resp = obj.req('GET', P, {'Range': 'bytes=10-'})
    assert resp.status_int == 416 and resp.headers['Content-Range'] == 'bytes */10'
    resp = obj.req('GET', P, {'Range': 'bytes=zz'})
    assert resp.status_int == 200 and resp.body == b'0123456789'
    resp = obj.req('GET', P, {'Range': 'bytes=0-1', 'If-Range': '"other"'})
    assert resp.status_int == 200
    resp = obj.req('HEAD', P, {'Range': 'bytes=0-1'})
    assert resp.status_int == 200


def test_replicate(obj):
    obj.put('/sda/4/a/c/o1', b'x')
    obj.put('/sda/4/a/c/o2', b'y')
    resp = obj.req('REPLICATE', '/sda/4')
    assert resp.status_int == 200
    hashes = json.loads(resp.body)
    assert set(hashes) == {hash_path('a', 'c', 'o1')[-3:], hash_path('a', 'c', 'o2')[-3:]}
    suffix = hash_path('a', 'c', 'o1')[-3:]
    # A write changes its suffix's hash; recalculating a listed suffix works.
    obj.req('DELETE', '/sda/4/a/c/o1', {'X-Timestamp': obj.ts()})
    after = json.loads(obj.req('REPLICATE', '/sda/4/%s' % suffix).body)
    assert after[suffix] != hashes[suffix]
    assert json.loads(obj.req('REPLICATE', '/sda/4').body) == after
    assert json.loads(obj.req('REPLICATE', '/sda/9').body) == {}


def _agreed(obj, part, fingerprint):
    """When the backend noted that a peer agreed with `fingerprint`, or None."""
    if obj.kind == 'mem':
        noted = obj.app.backend.agreements.get((os.path.join(obj.devices, 'sda'), part))
        return noted[1] if noted and noted[0] == fingerprint else None
    return agreed_since(os.path.join(obj.devices, 'sda', 'objects', str(part)), fingerprint)


def test_replicate_notes_a_peer_with_the_same_hashes(obj):
    obj.put('/sda/4/a/c/o1', b'x')
    hashes = json.loads(obj.req('REPLICATE', '/sda/4').body)
    mine = hashes_fingerprint(hashes)
    # A peer whose hashes differ (here: an empty partition) is not noted.
    other = hashes_fingerprint({})
    resp = obj.req('REPLICATE', '/sda/4', {FINGERPRINT_HEADER: other})
    assert resp.status_int == 200 and json.loads(resp.body) == hashes
    assert _agreed(obj, 4, mine) is None and _agreed(obj, 4, other) is None
    before = time.time()
    resp = obj.req('REPLICATE', '/sda/4', {FINGERPRINT_HEADER: mine})
    assert resp.status_int == 200 and json.loads(resp.body) == hashes
    assert before - 1 <= _agreed(obj, 4, mine) <= time.time() + 1
    # A write changes the hashes: the note is for what they were.
    obj.put('/sda/4/a/c/o2', b'y')
    now = hashes_fingerprint(json.loads(obj.req('REPLICATE', '/sda/4').body))
    assert now != mine and _agreed(obj, 4, now) is None
    # A partition this node does not have notes nothing.
    assert json.loads(obj.req('REPLICATE', '/sda/9', {FINGERPRINT_HEADER: other}).body) == {}
    assert _agreed(obj, 9, other) is None


@pytest.mark.parametrize('value', ['', 'x' * 32, 'A' * 32, '0' * 31, '0' * 33, '0' * 32 + ' ',
                                   'g' + '0' * 31, '0' * 1000])
def test_replicate_bad_fingerprint_400(obj, value):
    obj.put('/sda/4/a/c/o1', b'x')
    resp = obj.req('REPLICATE', '/sda/4', {FINGERPRINT_HEADER: value})
    assert resp.status_int == 400 and FINGERPRINT_HEADER.encode() in resp.body
    assert _agreed(obj, 4, value) is None


@pytest.mark.parametrize('path', ['/sda/x', '/sda/4/abc-zzz', '/sda/4/ABC',
                                  '/sda/4/abcd', '/../4', '/sda'])
def test_replicate_bad_paths_400(obj, path):
    assert obj.req('REPLICATE', path).status_int == 400


def test_replicate_same_files_same_hashes(tmp_path):
    from tests.unit.obj.conftest import make_app
    mem, fs = make_app(tmp_path / 'm', 'mem'), make_app(tmp_path / 'f', 'fs')
    for harness in (mem, fs):
        harness.put('/sda/2/a/c/x', b'1', ts='1700000000.00000')
        harness.req('POST', '/sda/2/a/c/x', {'X-Timestamp': '1700000001.00000'})
        harness.req('DELETE', '/sda/2/a/c/y', {'X-Timestamp': '1700000002.00000'})
    assert json.loads(mem.req('REPLICATE', '/sda/2').body) == \
        json.loads(fs.req('REPLICATE', '/sda/2').body)


BAD_PATHS = [
    ('/sda/1/a/c/%ff%fe', 'UTF-8'), ('/sda/1/a%c3/c/o', 'UTF-8'),
    ('/sda/one/a/c/o', 'partition'), ('/sda/-1/a/c/o', 'partition'),
    ('/sda/99999999999/a/c/o', 'partition'),
    ('/../1/a/c/o', 'device'), ('/./1/a/c/o', 'device'),
    ('/sda/1/a/c', 'path'), ('/sda/1/a', 'path'), ('/sda/1/a//o', 'path'),
    ('/sda/1/a/c/' + 'x' * 1025, '1024'), ('/sda/1/a/' + 'c' * 257 + '/o', '256'),
    ('/sda/1/' + 'a' * 257 + '/c/o', '256'),
]


@pytest.mark.parametrize('path,reason', BAD_PATHS)
def test_hostile_paths_400(obj, path, reason):
    for method in ('PUT', 'GET', 'HEAD', 'POST', 'DELETE'):
        resp = obj.req(method, path, {'X-Timestamp': obj.ts(), 'Content-Type': 'x/y'}, b'x')
        assert resp.status_int == 400, (method, path, resp.body)
        if method != 'HEAD':
            assert reason.lower() in resp.body.decode().lower(), resp.body


def test_missing_device_507(obj):
    resp = obj.put('/nodev/1/a/c/o', b'x')
    assert resp.status_int == 507
    assert obj.req('GET', '/nodev/1/a/c/o').status_int == 507
    assert obj.req('REPLICATE', '/nodev/1').status_int == 507


def test_mount_check_507(tmp_path):
    from tests.unit.obj.conftest import make_app
    harness = make_app(tmp_path, 'fs', )
    harness.app.conf.mount_check = True
    resp = harness.put(P, b'x')
    assert resp.status_int == 507 and b'not mounted' in resp.body


@pytest.mark.skipif(os.geteuid() != 0, reason='mounting a tmpfs needs root')
def test_mount_check_serves_a_mounted_device(tmp_path):
    """With mount_check, a device that is a mount point is served; a file or
    a symlink in its place is not (two stat calls tell all three apart)."""
    import subprocess
    from tests.unit.obj.conftest import make_app
    harness = make_app(tmp_path, 'fs', )
    harness.app.conf.mount_check = True
    devices = harness.app.conf.devices
    sda = os.path.join(devices, 'sda')
    os.makedirs(sda, exist_ok=True)
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', sda], check=True)
    try:
        assert harness.put(P, b'x').status_int == 201
        assert harness.req('GET', P).body == b'x'
    finally:
        subprocess.run(['umount', sda], check=True)
    with open(os.path.join(devices, 'sdb'), 'w') as f:
        f.write('not a device')
    os.symlink(sda, os.path.join(devices, 'sdc'))
    for device in ('sda', 'sdb', 'sdc'):
        resp = harness.req('GET', '/%s/1/a/c/o' % device)
        assert resp.status_int == 507 and b'not mounted' in resp.body, device


def test_full_device_507(tmp_path):
    from tests.unit.obj.conftest import make_app
    harness = make_app(tmp_path, 'fs')
    harness.app.conf.fallocate_reserve = '100%'
    assert harness.put(P, b'x').status_int == 507
    harness.app.conf.fallocate_reserve = '0'
    assert harness.put(P, b'x').status_int == 201
    harness.app.conf.fallocate_reserve = '100%'
    assert harness.req('GET', P).status_int == 200  # reads don't need room
    assert harness.req('POST', P, {'X-Timestamp': harness.ts()}).status_int == 507
    # deleting is how a full device gets emptied
    assert harness.req('DELETE', P, {'X-Timestamp': harness.ts()}).status_int == 204


@pytest.mark.parametrize('headers,reason', [
    ({'X-Object-Meta-' + 'k' * 129: 'v'}, 'name too long'),
    ({'X-Object-Meta-K': 'v' * 257}, 'value longer'),
    ({'X-Object-Meta-%d' % i: 'v' for i in range(91)}, 'too many'),
    ({'X-Object-Meta-%d' % i: 'v' * 250 for i in range(20)}, 'too large'),
    ({'X-Container-Host': '127.0.0.1:1'}, 'together'),
    ({'X-Container-Host': 'nohost', 'X-Container-Device': 'sdb',
      'X-Container-Partition': '1'}, 'x-container-host'),
    ({'X-Container-Host': '1.2.3.4:5,1.2.3.4:6', 'X-Container-Device': 'sdb',
      'X-Container-Partition': '1'}, 'different numbers'),
    ({'X-Container-Host': '1.2.3.4:5', 'X-Container-Device': '../x',
      'X-Container-Partition': '1'}, 'device'),
    ({'X-Container-Host': '1.2.3.4:5', 'X-Container-Device': 'sdb',
      'X-Container-Partition': 'p'}, 'partition'),
    ({'X-Delete-At-Container': 'abc'}, 'x-delete-at-container'),
])
def test_bad_write_headers_400(obj, headers, reason):
    for method in ('PUT', 'POST'):
        if method == 'POST':
            obj.put(P, b'x')
        hdrs = {'X-Timestamp': obj.ts(), 'Content-Type': 'text/plain'}
        hdrs.update(headers)
        resp = obj.req(method, P, hdrs, b'x' if method == 'PUT' else None)
        assert resp.status_int == 400, (method, resp.body)
        assert reason in resp.body.decode().lower()
    assert obj.req('DELETE', '/sda/1/a/c/never', {'X-Timestamp': obj.ts()}).status_int == 404


def test_dotdot_names_are_opaque(obj):
    for name in ('..', '../../etc/passwd', '%2e%2e', '%2e%2e/%2e%2e/x', 'a/../b'):
        path = '/sda/1/a/c/' + name
        assert obj.put(path, name.encode()).status_int == 201
        assert obj.req('GET', path).body == name.encode()
    if obj.kind == 'fs':
        assert set(os.listdir(os.path.join(obj.devices, 'sda'))) <= {'objects', 'tmp'}
        assert os.listdir(obj.devices) == ['sda']


def _down_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _pending(obj):
    return sorted(glob.glob(os.path.join(obj.devices, 'sda', 'async_pending', '*', '*')))


def test_async_pending_when_container_down(obj):
    port = _down_port()
    ts = obj.ts()
    resp = obj.put(P, b'abc', {'X-Container-Host': '127.0.0.1:%d' % port,
                               'X-Container-Device': 'sdc', 'X-Container-Partition': '5'},
                   ts=ts)
    assert resp.status_int == 201
    [path] = _pending(obj)
    name_hash = hash_path('a', 'c', 'o')
    assert path.endswith('/%s/%s-%s' % (name_hash[-3:], name_hash, ts))
    with open(path) as f:
        record = json.load(f)
    assert record == {'op': 'PUT', 'account': 'a', 'container': 'c', 'obj': 'o',
                      'container_nodes': [['127.0.0.1:%d' % port, 'sdc']], 'partition': 5,
                      'headers': record['headers']}
    assert record['headers']['X-Size'] == '3' and record['headers']['X-Timestamp'] == ts
    ts2 = obj.ts()
    obj.req('DELETE', P, {'X-Timestamp': ts2, 'X-Container-Host': '127.0.0.1:%d' % port,
                          'X-Container-Device': 'sdc', 'X-Container-Partition': '5'})
    with open(_pending(obj)[-1]) as f:
        record = json.load(f)
    assert record['op'] == 'DELETE' and record['headers']['X-Timestamp'] == ts2


def test_expirer_queue_async_pending(obj):
    port = _down_port()
    at = int(time.time()) + 86400 * 2
    obj.put(P, b'x', {'X-Delete-At': str(at), 'X-Delete-At-Host': '127.0.0.1:%d' % port,
                      'X-Delete-At-Device': 'sdd', 'X-Delete-At-Partition': '3',
                      'X-Delete-At-Container': '42'})
    [path] = _pending(obj)
    with open(path) as f:
        record = json.load(f)
    assert (record['op'], record['account'], record['container'], record['obj']) == \
        ('PUT', '.expiring_objects', '42', '%d-a/c/o' % at)
    assert record['container_nodes'] == [['127.0.0.1:%d' % port, 'sdd']]
    # Deleting the object removes its queue entry: nodes come from the ring.
    obj.req('DELETE', P, {'X-Timestamp': obj.ts()})
    records = []
    for path in _pending(obj):
        with open(path) as f:
            records.append(json.load(f))
    [delete] = [r for r in records if r['op'] == 'DELETE']
    assert delete['container'] == str(at // 86400 * 86400)
    assert delete['obj'] == '%d-a/c/o' % at
    assert delete['container_nodes'] == [] and delete['partition'] is None


def test_conf_file_lists_every_option():
    import dataclasses

    from swiftlike.config import load_section
    from swiftlike.obj.server import CONF_SECTION, Conf
    path = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'etc',
                        'object-server.conf')
    with open(path) as f:
        text = f.read()
    missing = [fl.name for fl in dataclasses.fields(Conf) if '# %s =' % fl.name not in text]
    assert missing == []
    assert load_section(path, CONF_SECTION, Conf) == Conf()


def test_negative_bytes_per_sync_is_a_config_error(tmp_path):
    from swiftlike.config import load_section
    from swiftlike.exceptions import ConfigError
    from swiftlike.obj.server import CONF_SECTION, Conf
    path = tmp_path / 'object-server.conf'
    path.write_text('[%s]\nbytes_per_sync = -1\n' % CONF_SECTION)
    with pytest.raises(ConfigError) as err:
        load_section(str(path), CONF_SECTION, Conf)
    assert 'bytes_per_sync' in str(err.value)


class _RecordingInput:
    """A request body that notes the size of each read the server asks for."""

    def __init__(self, body):
        self.body = body
        self.pos = 0
        self.asked = []

    def read(self, size=-1):
        self.asked.append(size)
        size = len(self.body) - self.pos if size is None or size < 0 else size
        data = self.body[self.pos:self.pos + size]
        self.pos += len(data)
        return data


def test_a_big_body_is_read_in_pieces_that_end_on_disk_write_size_bounds(obj):
    # The proxy frames its chunks in 1 MiB: reads that end where the chunks
    # do are each one chunk's data, with no join of two chunks' pieces.
    body = os.urandom((3 << 20) + 1000)
    stream = _RecordingInput(body)
    resp = obj.req('PUT', '/sda/1/a/c/big',
                   {'X-Timestamp': obj.ts(), 'Content-Type': 'x/y',
                    'Content-Length': str(len(body))},
                   environ={'wsgi.input': stream})
    assert resp.status_int == 201
    mib = 1 << 20
    assert stream.asked == [65536, mib - 65536, mib, mib, 1000]
    assert obj.req('GET', '/sda/1/a/c/big').body == body


def test_big_range_reads_move_in_disk_read_size_steps(fsobj):
    # A big object's reads bypass the page cache and get no read-ahead, so
    # a range of it is read in disk_read_size steps, not 64 KiB ones.
    body = os.urandom(3 << 20)
    assert fsobj.put('/sda/1/a/c/big', body=body).status_int == 201
    asked = []
    run = fsobj.app.disk.run

    def recording_run(device, func, *args):
        if getattr(func, '__name__', '') == 'read':
            asked.append(args[1])
        return run(device, func, *args)

    fsobj.app.disk.run = recording_run
    resp = fsobj.req('GET', '/sda/1/a/c/big', {'Range': 'bytes=100-2500099'})
    assert resp.status_int == 206 and resp.body == body[100:2500100]
    assert asked == [1 << 20, 1 << 20, 2500000 - (2 << 20)]
    asked.clear()
    resp = fsobj.req('GET', '/sda/1/a/c/big', {'Range': 'bytes=0-9,2000000-2999999'})
    assert resp.status_int == 206 and body[2000000:3000000] in resp.body
    assert asked == [1000000]   # the first range is in the open's read-ahead
