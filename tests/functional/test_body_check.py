"""A streamed PUT checked by the proxy's trailer (swiftlike.body_check), against
the real object server process: the MD5 sent becomes the ETag once the CRC
of the bytes received matches the one sent; anything else stores nothing.
Each case runs with both checks: CRC-32C (what proxies send) and zlib's
CRC-32 (what the first proxies with this check sent)."""
import hashlib
import os
import zlib

import crc32c
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


# kind: (its CRC of a body in hex, its trailer, its metadata key)
KINDS = {
    'crc32c': (lambda body: '%08x' % crc32c.crc32c(body), b'X-Backend-Body-Crc32c',
               'X-Body-Crc32c'),
    'crc32': (lambda body: '%08x' % zlib.crc32(body), b'X-Backend-Body-Crc32', 'X-Body-Crc32'),
}


@pytest.fixture(params=sorted(KINDS))
def kind(request):
    return request.param


def trailer(kind, md5=None, crc=None):
    lines = b''
    if md5 is not None:
        lines += b'X-Backend-Body-Md5: %s\r\n' % md5.encode()
    if crc is not None:
        lines += b'%s: %s\r\n' % (KINDS[kind][1], crc.encode())
    return b'0\r\n' + lines + b'\r\n'


def good_trailer(kind, body):
    return trailer(kind, hashlib.md5(body).hexdigest(), KINDS[kind][0](body))


def checked_put(server, kind, name, body, last, headers=b'', length=True, cut=False):
    """Send a checked PUT by hand (the trailer is what http.client cannot
    send); the status, or None when the server closed without one. `cut`:
    the body ends before its last chunk."""
    head = (b'PUT /sda/3/a/c/%s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n'
            b'Content-Type: app/x\r\nX-Timestamp: %s\r\nX-Backend-Body-Check: %s\r\n'
            % (name.encode(), Timestamp.now().internal.encode(), kind.encode()))
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
def test_checked_put_stores_the_trailer_md5(server, devices, kind, size):
    # A small body (read whole) and a big one (written in batches).
    body = os.urandom(size)
    name = 'ok%d-%s' % (size, kind)
    assert checked_put(server, kind, name, body, good_trailer(kind, body)) == 201
    status, headers, got = server.request('GET', '/sda/3/a/c/' + name)
    assert (status, got) == (200, body)
    assert headers['etag'] == hashlib.md5(body).hexdigest()
    assert not any(k.startswith('x-body') for k in headers)
    [data] = stored(devices, name)
    with open(data, 'rb') as f:
        meta = read_metadata(f.fileno())
    others = {key for _, _, key in KINDS.values()} - {KINDS[kind][2]}
    assert meta[KINDS[kind][2]] == KINDS[kind][0](body) and not others & set(meta)
    assert meta['ETag'] == hashlib.md5(body).hexdigest()


def _bad(kind, body):
    md5, crc = hashlib.md5(body).hexdigest(), KINDS[kind][0](body)
    wrong_crc = '%08x' % (int(crc, 16) ^ 1)
    other_kind = [k for k in KINDS if k != kind][0]
    return [
        ('crc differs', trailer(kind, md5, wrong_crc), b'', 422),
        ('no trailer', trailer(kind), b'', 422),
        ('md5 only', trailer(kind, md5), b'', 422),
        ('md5 not hex', trailer(kind, 'z' * 32, crc), b'', 422),
        ('md5 short', trailer(kind, md5[:31], crc), b'', 422),
        ('client etag differs', trailer(kind, md5, crc),
         b'ETag: %s\r\n' % hashlib.md5(b'other').hexdigest().encode(), 422),
        ('length differs', trailer(kind, md5, crc),
         b'X-Backend-Obj-Content-Length: %d\r\n' % (len(body) + 1), None),
        ('the other check\'s trailer', good_trailer(other_kind, body), b'', 422),
    ]


@pytest.mark.parametrize('size', [10, 3 << 20])
@pytest.mark.parametrize('case', range(8))
def test_a_body_that_fails_its_check_stores_nothing(server, devices, kind, size, case):
    body = os.urandom(size)
    what, last, extra, status = _bad(kind, body)[case]
    name = 'bad%d-%d-%s' % (size, case, kind)
    got = checked_put(server, kind, name, body, last, extra, length=b'Length' not in extra)
    assert got == (status or 499), what
    assert server.request('GET', '/sda/3/a/c/' + name)[0] == 404, what
    assert stored(devices, name) == [], what


def test_body_cut_before_the_trailer_stores_nothing(server, devices):
    body = os.urandom(200000)
    checked_put(server, 'crc32c', 'cut', body, None, cut=True)
    assert server.request('GET', '/sda/3/a/c/cut')[0] == 404
    assert stored(devices, 'cut') == []


@pytest.mark.parametrize('headers,reason', [
    ({'X-Backend-Body-Check': 'sha1'}, b'X-Backend-Body-Check'),
    ({'X-Backend-Body-Check': 'crc32c,crc32'}, b'X-Backend-Body-Check'),
    ({'X-Backend-Body-Check': 'crc32'}, b'chunked'),
    ({'X-Backend-Body-Check': 'crc32c'}, b'chunked'),
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
    assert checked_put(server, 'crc32c', 'hostlen', body, good_trailer('crc32c', body),
                       b'X-Backend-Obj-Content-Length: %s\r\n' % value, length=False) == status
    assert stored(devices, 'hostlen') == []


def test_corrupt_checked_object_is_quarantined_on_read(server, devices, kind):
    # A whole read checks the bytes by the stored CRC.
    body = os.urandom(300000)
    name = 'rot-' + kind
    assert checked_put(server, kind, name, body, good_trailer(kind, body)) == 201
    [data] = stored(devices, name)
    with open(data, 'r+b') as f:
        f.seek(123456)
        byte = f.read(1)
        f.seek(123456)
        f.write(bytes([byte[0] ^ 0x10]))
    _status, answer = raw_bytes(server.ip, server.port, b'GET /sda/3/a/c/%s HTTP/1.1\r\nHost: x\r\n'
                                b'Connection: close\r\n\r\n' % name.encode())
    head, _, got = answer.partition(b'\r\n\r\n')
    assert head.startswith(b'HTTP/1.1 200') and len(got) < len(body)
    assert server.request('GET', '/sda/3/a/c/' + name)[0] == 404
    assert os.listdir(os.path.join(devices, 'sda', 'quarantined', 'objects'))
