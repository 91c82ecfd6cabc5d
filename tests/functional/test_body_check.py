"""A streamed PUT checked by the proxy's trailer (swiftlike.body_check), against
the real object server process: the MD5 sent becomes the ETag once the CRC-32
of the bytes received matches the one sent; anything else stores nothing."""
import hashlib
import os
import zlib

import pytest

from swiftlike.hashing import hash_path
from swiftlike.obj.metadata import read_metadata
from swiftlike.timestamp import Timestamp
from tests.functional.proxy_helpers import raw_bytes
from tests.functional.storage_fixtures import start_server, storage_conf_text


@pytest.fixture(scope='module')
def devices(tmp_path_factory):
    path = tmp_path_factory.mktemp('bodycheck') / 'devices'
    (path / 'sda').mkdir(parents=True)
    return str(path)


@pytest.fixture(scope='module')
def server(devices):
    srv = start_server('object', storage_conf_text('object', devices, workers=0),
                       workdir=os.path.dirname(devices))
    yield srv
    srv.stop()


def trailer(md5=None, crc=None):
    lines = b''
    if md5 is not None:
        lines += b'X-Backend-Body-Md5: %s\r\n' % md5.encode()
    if crc is not None:
        lines += b'X-Backend-Body-Crc32: %s\r\n' % crc.encode()
    return b'0\r\n' + lines + b'\r\n'


def good_trailer(body):
    return trailer(hashlib.md5(body).hexdigest(), '%08x' % zlib.crc32(body))


def checked_put(server, name, body, last, headers=b'', length=True, cut=False):
    """Send a checked PUT by hand (the trailer is what http.client cannot
    send); the status, or None when the server closed without one. `cut`:
    the body ends before its last chunk."""
    head = (b'PUT /sda/3/a/c/%s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n'
            b'Content-Type: app/x\r\nX-Timestamp: %s\r\nX-Backend-Body-Check: crc32\r\n'
            % (name.encode(), Timestamp.now().internal.encode()))
    if length:
        head += b'X-Backend-Obj-Content-Length: %d\r\n' % len(body)
    chunks = b''.join(b'%x\r\n%s\r\n' % (len(body[i:i + 65536]), body[i:i + 65536])
                      for i in range(0, len(body), 65536))
    request = head + headers + b'Connection: close\r\n\r\n' + chunks + (b'' if cut else last)
    return raw_bytes(server.ip, server.port, request)[0]


def stored(devices, name):
    name_hash = hash_path('a', 'c', name)
    obj_dir = os.path.join(devices, 'sda', 'objects', '3', name_hash[-3:], name_hash)
    files = os.listdir(obj_dir) if os.path.isdir(obj_dir) else []
    return [os.path.join(obj_dir, f) for f in files if f.endswith('.data')]


@pytest.mark.parametrize('size', [10, 3 << 20])
def test_checked_put_stores_the_trailer_md5(server, devices, size):
    # A small body (read whole) and a big one (written in batches).
    body = os.urandom(size)
    name = 'ok%d' % size
    assert checked_put(server, name, body, good_trailer(body)) == 201
    status, headers, got = server.request('GET', '/sda/3/a/c/' + name)
    assert (status, got) == (200, body)
    assert headers['etag'] == hashlib.md5(body).hexdigest()
    assert not any(k.startswith('x-body') for k in headers)
    [data] = stored(devices, name)
    with open(data, 'rb') as f:
        meta = read_metadata(f.fileno())
    assert meta['X-Body-Crc32'] == '%08x' % zlib.crc32(body)
    assert meta['ETag'] == hashlib.md5(body).hexdigest()


def _bad(body):
    md5, crc = hashlib.md5(body).hexdigest(), '%08x' % zlib.crc32(body)
    wrong_crc = '%08x' % (zlib.crc32(body) ^ 1)
    return [
        ('crc differs', trailer(md5, wrong_crc), b'', 422),
        ('no trailer', trailer(), b'', 422),
        ('md5 only', trailer(md5), b'', 422),
        ('md5 not hex', trailer('z' * 32, crc), b'', 422),
        ('md5 short', trailer(md5[:31], crc), b'', 422),
        ('client etag differs', trailer(md5, crc),
         b'ETag: %s\r\n' % hashlib.md5(b'other').hexdigest().encode(), 422),
        ('length differs', trailer(md5, crc),
         b'X-Backend-Obj-Content-Length: %d\r\n' % (len(body) + 1), None),
    ]


@pytest.mark.parametrize('size', [10, 3 << 20])
@pytest.mark.parametrize('case', range(7))
def test_a_body_that_fails_its_check_stores_nothing(server, devices, size, case):
    body = os.urandom(size)
    what, last, extra, status = _bad(body)[case]
    name = 'bad%d-%d' % (size, case)
    got = checked_put(server, name, body, last, extra, length=b'Length' not in extra)
    assert got == (status or 499), what
    assert server.request('GET', '/sda/3/a/c/' + name)[0] == 404, what
    assert stored(devices, name) == [], what


def test_body_cut_before_the_trailer_stores_nothing(server, devices):
    body = os.urandom(200000)
    checked_put(server, 'cut', body, None, cut=True)
    assert server.request('GET', '/sda/3/a/c/cut')[0] == 404
    assert stored(devices, 'cut') == []


@pytest.mark.parametrize('headers,reason', [
    ({'X-Backend-Body-Check': 'sha1'}, b'X-Backend-Body-Check'),
    ({'X-Backend-Body-Check': 'crc32'}, b'chunked'),
])
def test_hostile_check_headers(server, headers, reason):
    # With a Content-Length body: refused before the body is stored.
    hdrs = {'X-Timestamp': Timestamp.now().internal, 'Content-Type': 'x/y'}
    hdrs.update(headers)
    status, _, body = server.request('PUT', '/sda/3/a/c/hostile', hdrs, b'abc')
    assert status == 400 and reason in body
    assert server.request('GET', '/sda/3/a/c/hostile')[0] == 404


@pytest.mark.parametrize('value,status', [
    (b'-1', 400), (b'ten', 400), (b'9' * 30, 400), (b'1' + b'0' * 15, 413), (b'', 400),
])
def test_hostile_length_header(server, devices, value, status):
    body = b'abc'
    assert checked_put(server, 'hostlen', body, good_trailer(body),
                       b'X-Backend-Obj-Content-Length: %s\r\n' % value, length=False) == status
    assert stored(devices, 'hostlen') == []


def test_corrupt_checked_object_is_quarantined_on_read(server, devices):
    # A whole read checks the bytes by the stored CRC-32.
    body = os.urandom(300000)
    assert checked_put(server, 'rot', body, good_trailer(body)) == 201
    [data] = stored(devices, 'rot')
    with open(data, 'r+b') as f:
        f.seek(123456)
        byte = f.read(1)
        f.seek(123456)
        f.write(bytes([byte[0] ^ 0x10]))
    _status, answer = raw_bytes(server.ip, server.port,
                                b'GET /sda/3/a/c/rot HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    head, _, got = answer.partition(b'\r\n\r\n')
    assert head.startswith(b'HTTP/1.1 200') and len(got) < len(body)
    assert server.request('GET', '/sda/3/a/c/rot')[0] == 404
    assert os.listdir(os.path.join(devices, 'sda', 'quarantined', 'objects'))
