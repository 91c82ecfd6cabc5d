"""Request framing read strictly (RFC 9112 / RFC 9110) by the real servers.

Each hostile request of the table goes over a raw socket to the real proxy, a
real object server and a real container server of the aio. Each must be
answered with its exact status and `Connection: close`, the server must close
the connection by itself (the client never half-closes), and nothing may be
stored: the object is looked for afterwards through the server and on disk
(the container server: in its listing).

Where the RFCs let a recipient choose, we take the stricter choice (a front
end that took the other one would frame the request differently); the table
says where nginx, uvicorn (h11 / llhttp) or Swift (eventlet) answer otherwise.
"""
import json
import os
import socket
import time
import uuid

import pytest

from swiftlike.hashing import hash_path
from swiftlike.ring.ring import Ring
from tests.functional.proxy_helpers import Api

T = '%.5f'

# (id, head, body, status, in_body): `head` is what follows the request line
# and the server's own headers ({std}); {host} is a Host header line. A case
# `in_body` is only found while the body is read, so only servers that read
# the body (the proxy and the object server on a PUT) can see it.
# The request line is 'PUT {target} HTTP/1.1' unless the head starts with
# 'LINE:' (then the whole request line is given, '{target}' in it).
CHUNKED = 'Transfer-Encoding: chunked\r\n'
CASES = [
    # --- Content-Length (RFC 9110 §8.6, RFC 9112 §6.3) ---
    ('cl-two-values', '{host}Content-Length: 5\r\nContent-Length: 6\r\n', b'hello!', 400, False),
    # RFC 9110 §8.6 lets a recipient collapse identical values; nginx and
    # llhttp refuse a repeat, and so do we.
    ('cl-repeated', '{host}Content-Length: 5\r\nContent-Length: 5\r\n', b'hello', 400, False),
    ('cl-list', '{host}Content-Length: 5, 5\r\n', b'hello', 400, False),
    ('cl-plus', '{host}Content-Length: +5\r\n', b'hello', 400, False),
    ('cl-negative', '{host}Content-Length: -5\r\n', b'hello', 400, False),
    ('cl-hex', '{host}Content-Length: 0x5\r\n', b'hello', 400, False),
    ('cl-inner-space', '{host}Content-Length: 5 5\r\n', b'hello', 400, False),
    ('cl-empty', '{host}Content-Length: \r\n', b'hello', 400, False),
    ('cl-unicode-digit', '{host}Content-Length: \xb2\r\n', b'he', 400, False),
    # More digits than a 64-bit length holds (llhttp: "Content-Length overflow").
    ('cl-huge', '{host}Content-Length: 99999999999999999999999\r\n', b'hello', 400, False),
    # --- Transfer-Encoding (RFC 9112 §6.1, §6.3, §7) ---
    # §6.1: a server MAY refuse both (eventlet and nginx do); it must close after.
    ('cl-and-te', '{host}Content-Length: 5\r\n' + CHUNKED, b'5\r\nhello\r\n0\r\n\r\n', 400, False),
    ('te-and-cl', '{host}' + CHUNKED + 'Content-Length: 5\r\n', b'5\r\nhello\r\n0\r\n\r\n', 400,
     False),
    # §6.1: an unknown coding SHOULD be 501 (nginx answers 501; llhttp takes it).
    ('te-gzip-chunked', '{host}Transfer-Encoding: gzip, chunked\r\n',
     b'5\r\nhello\r\n0\r\n\r\n', 501, False),
    ('te-identity-chunked', '{host}Transfer-Encoding: identity, chunked\r\n',
     b'5\r\nhello\r\n0\r\n\r\n', 501, False),
    # §6.3: chunked not last: the length cannot be known, MUST be 400.
    ('te-chunked-gzip', '{host}Transfer-Encoding: chunked, gzip\r\n',
     b'5\r\nhello\r\n0\r\n\r\n', 400, False),
    ('te-gzip', '{host}Transfer-Encoding: gzip\r\n', b'hello', 400, False),
    ('te-unknown', '{host}Transfer-Encoding: xchunked\r\n', b'hello', 400, False),
    ('te-empty', '{host}Transfer-Encoding: \r\n', b'hello', 400, False),
    # §7: chunked is applied once.
    ('te-chunked-twice', '{host}Transfer-Encoding: chunked, chunked\r\n',
     b'5\r\nhello\r\n0\r\n\r\n', 400, False),
    ('te-two-headers', '{host}' + CHUNKED + CHUNKED, b'5\r\nhello\r\n0\r\n\r\n', 400, False),
    # §6.1: Transfer-Encoding in HTTP/1.0 is faulty framing.
    ('te-http10', 'LINE:PUT {target} HTTP/1.0\r\n{host}' + CHUNKED,
     b'5\r\nhello\r\n0\r\n\r\n', 400, False),
    # --- chunked body (RFC 9112 §7.1); eventlet stored truncated data or
    # answered 499 for these ---
    ('chunk-data-longer', '{host}' + CHUNKED, b'5\r\nhello world\r\n0\r\n\r\n', 400, True),
    ('chunk-no-crlf', '{host}' + CHUNKED, b'5\r\nhello0\r\n\r\n', 400, True),
    ('chunk-data-bare-lf', '{host}' + CHUNKED, b'5\r\nhello\n0\r\n\r\n', 400, True),
    ('chunk-size-bare-lf', '{host}' + CHUNKED, b'5\nhello\r\n0\r\n\r\n', 400, True),
    ('chunk-size-negative', '{host}' + CHUNKED, b'-5\r\nhello\r\n0\r\n\r\n', 400, True),
    ('chunk-size-0x', '{host}' + CHUNKED, b'0x5\r\nhello\r\n0\r\n\r\n', 400, True),
    ('chunk-size-garbage', '{host}' + CHUNKED, b'5g\r\nhello\r\n0\r\n\r\n', 400, True),
    ('chunk-size-empty', '{host}' + CHUNKED, b'\r\nhello\r\n0\r\n\r\n', 400, True),
    ('chunk-size-leading-space', '{host}' + CHUNKED, b' 5\r\nhello\r\n0\r\n\r\n', 400, True),
    # A size that overflows 64 bits (eventlet read it as a 499).
    ('chunk-size-overflow', '{host}' + CHUNKED, b'1' + b'0' * 16 + b'\r\nhello\r\n', 400, True),
    ('chunk-size-huge', '{host}' + CHUNKED, b'f' * 40 + b'\r\nhello\r\n', 400, True),
    # A chunk larger than any object (5 GiB + 1): nothing to wait for.
    ('chunk-oversized', '{host}' + CHUNKED, b'140000001\r\nhello\r\n', 413, True),
    ('chunk-ext-no-name', '{host}' + CHUNKED, b'5;=x\r\nhello\r\n0\r\n\r\n', 400, True),
    ('chunk-ext-no-semicolon', '{host}' + CHUNKED, b'5 x\r\nhello\r\n0\r\n\r\n', 400, True),
    ('chunk-ext-control', '{host}' + CHUNKED, b'5;a=\x01\r\nhello\r\n0\r\n\r\n', 400, True),
    ('chunk-ext-open-quote', '{host}' + CHUNKED, b'5;a="x\r\nhello\r\n0\r\n\r\n', 400, True),
    ('trailer-no-colon', '{host}' + CHUNKED, b'5\r\nhello\r\n0\r\nbad trailer\r\n\r\n', 400,
     True),
    # --- header lines (RFC 9112 §2.2, §5; RFC 9110 §5.5) ---
    # §2.2 lets a recipient take a bare LF for CRLF (nginx and h11 do); a front
    # end that does not would read a different header block, so we refuse it.
    ('header-bare-lf', '{host}X-Object-Meta-A: 1\nContent-Length: 0\r\n', b'', 400, False),
    ('header-bare-cr', '{host}X-Object-Meta-A: 1\r2\r\nContent-Length: 0\r\n', b'', 400, False),
    # §5.2: obs-fold MAY be replaced by SP (eventlet did); we refuse, as h11.
    ('header-obs-fold', '{host}X-Object-Meta-A: 1\r\n 2\r\nContent-Length: 0\r\n', b'', 400,
     False),
    ('header-fold-tab', '{host}X-Object-Meta-A: 1\r\n\t2\r\nContent-Length: 0\r\n', b'', 400,
     False),
    # §5.1: whitespace before the colon MUST be 400 (eventlet answered 200).
    ('header-space-before-colon', '{host}Content-Length : 0\r\n', b'', 400, False),
    ('header-no-colon', '{host}X-Object-Meta-A 1\r\nContent-Length: 0\r\n', b'', 400, False),
    ('header-empty-name', '{host}: 1\r\nContent-Length: 0\r\n', b'', 400, False),
    ('header-name-not-token', '{host}X(A): 1\r\nContent-Length: 0\r\n', b'', 400, False),
    # RFC 9110 §5.5: CR, LF, NUL (and other controls) are invalid in a value.
    ('header-nul', '{host}X-Object-Meta-A: a\x00b\r\nContent-Length: 0\r\n', b'', 400, False),
    ('header-control', '{host}X-Object-Meta-A: a\x01b\r\nContent-Length: 0\r\n', b'', 400, False),
    ('header-del', '{host}X-Object-Meta-A: a\x7fb\r\nContent-Length: 0\r\n', b'', 400, False),
    # RFC 6585 §5: 431 for too many header fields; a line past 8 KiB is
    # Swift's 400 (RFC 6585 allows either: 431 "can be used").
    ('headers-too-many', '{host}' + ''.join('X-H%d: v\r\n' % i for i in range(300))
     + 'Content-Length: 0\r\n', b'', 431, False),
    ('header-too-long', '{host}X-Object-Meta-A: ' + 'v' * 9000 + '\r\nContent-Length: 0\r\n',
     b'', 400, False),
    # --- Host (RFC 9112 §3.2: MUST be 400) ---
    ('host-missing', 'Content-Length: 0\r\n', b'', 400, False),
    ('host-twice', '{host}{host}Content-Length: 0\r\n', b'', 400, False),
    # --- request line (RFC 9112 §2.3, §3; RFC 9110 §2.5, §15.6.6) ---
    ('version-2', 'LINE:PUT {target} HTTP/2.0\r\n{host}Content-Length: 0\r\n', b'', 505, False),
    ('version-9', 'LINE:PUT {target} HTTP/9.9\r\n{host}Content-Length: 0\r\n', b'', 505, False),
    ('version-0.9', 'LINE:PUT {target} HTTP/0.9\r\n{host}Content-Length: 0\r\n', b'', 505,
     False),
    ('version-two-digits', 'LINE:PUT {target} HTTP/1.10\r\n{host}Content-Length: 0\r\n', b'',
     400, False),
    ('version-lowercase', 'LINE:PUT {target} http/1.1\r\n{host}Content-Length: 0\r\n', b'',
     400, False),
    ('version-garbage', 'LINE:PUT {target} HTTP/x.y\r\n{host}Content-Length: 0\r\n', b'', 400,
     False),
    ('line-extra-word', 'LINE:PUT {target} HTTP/1.1 extra\r\n{host}Content-Length: 0\r\n', b'',
     400, False),
    # HTTP/0.9 (no version): eventlet answered with a bare body, or not at all.
    ('line-http09', 'LINE:PUT {target}\r\n', b'', 400, False),
    ('line-bare-lf', 'LINE:PUT {target} HTTP/1.1\n{host}Content-Length: 0\r\n', b'', 400, False),
    ('line-tab', 'LINE:PUT\t{target} HTTP/1.1\r\n{host}Content-Length: 0\r\n', b'', 400, False),
    ('line-nul', 'LINE:PUT {target}\x00 HTTP/1.1\r\n{host}Content-Length: 0\r\n', b'', 400,
     False),
    ('line-bad-method', 'LINE:P(T {target} HTTP/1.1\r\n{host}Content-Length: 0\r\n', b'', 400,
     False),
]
HEADER_CASES = [case for case in CASES if not case[4]]


def build(head, target, std, host='Host: x\r\n'):
    if head.startswith('LINE:'):
        line, _sep, rest = head[5:].partition('\n')
        line += '\n'
    else:
        line, rest = 'PUT {target} HTTP/1.1\r\n', head
    text = line.replace('{target}', target) + std + rest.replace('{host}', host) + '\r\n'
    return text.encode('latin-1')


def exchange(host, port, data, timeout=30):
    """Send `data` (without half-closing); read until the server closes.
    (status, {header: value}, body, closed)."""
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        sock.sendall(data)
        chunks = []
        closed = False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                got = sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not got:
                closed = True
                break
            chunks.append(got)
    finally:
        sock.close()
    out = b''.join(chunks)
    head, _sep, body = out.partition(b'\r\n\r\n')
    lines = head.split(b'\r\n')
    status = int(lines[0].split(b' ')[1]) if lines[0].startswith(b'HTTP/1.1 ') else None
    headers = {}
    for line in lines[1:]:
        name, _sep, value = line.decode('latin-1').partition(':')
        headers[name.strip().lower()] = value.strip()
    return status, headers, body, closed


def assert_refused(answer, status, raw):
    got, headers, body, closed = answer
    assert got == status, (raw[:200], got, body[:200])
    assert headers.get('connection', '').lower() == 'close', headers
    assert closed, 'the server left the connection open'


def object_files(cluster, account, container, obj):
    """Files of the object on any object server's device."""
    digest = hash_path(account, container, obj)
    found = []
    for info in cluster.object_servers:
        objects = os.path.join(info.device_path, 'objects')
        for part in os.listdir(objects) if os.path.isdir(objects) else ():
            path = os.path.join(objects, part, digest[-3:], digest)
            if os.path.isdir(path):
                found += os.listdir(path)
    return found


@pytest.fixture(scope='module')
def api(cluster):
    return Api(cluster)


@pytest.fixture(scope='module')
def container(api):
    return api.put_container()


def _name():
    return 'o-%s' % uuid.uuid4().hex[:12]


@pytest.mark.parametrize('case', CASES, ids=[case[0] for case in CASES])
def test_proxy_refuses(cluster, api, container, case):
    _id, head, body, status, _in_body = case
    obj = _name()
    target = '%s/%s/%s' % (api.account_path, container, obj)
    std = 'X-Auth-Token: %s\r\n' % api.token
    raw = build(head, target, std) + body
    assert_refused(exchange(api.host, api.port, raw), status, raw)
    assert api.request('HEAD', '/%s/%s' % (container, obj))[0] == 404
    assert object_files(cluster, api.account_path.split('/')[-1], container, obj) == []


def _object_node(cluster):
    info = cluster.object_servers[0]
    return info, Ring(cluster.swift_dir, 'object')


@pytest.mark.parametrize('case', CASES, ids=[case[0] for case in CASES])
def test_object_server_refuses(cluster, case):
    _id, head, body, status, _in_body = case
    info = cluster.object_servers[0]
    obj = _name()
    part = Ring(cluster.swift_dir, 'object').get_part('a', 'c', obj)
    target = '/%s/%d/a/c/%s' % (info.device, part, obj)
    std = 'X-Timestamp: %s\r\nContent-Type: text/plain\r\n' % (T % time.time())
    raw = build(head, target, std) + body
    assert_refused(exchange(info.ip, info.port, raw), status, raw)
    again = exchange(info.ip, info.port, (
        'HEAD %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' % target).encode('latin-1'))
    assert again[0] == 404
    assert object_files(cluster, 'a', 'c', obj) == []


@pytest.fixture(scope='module')
def db_container(cluster):
    """A container made on node 1's container server directly."""
    info = cluster.container_servers[0]
    name = 'c-%s' % uuid.uuid4().hex[:12]
    part = Ring(cluster.swift_dir, 'container').get_part('a', name)
    path = '/%s/%d/a/%s' % (info.device, part, name)
    answer = exchange(info.ip, info.port, (
        'PUT %s HTTP/1.1\r\nHost: x\r\nX-Timestamp: %s\r\nContent-Length: 0\r\n'
        'Connection: close\r\n\r\n' % (path, T % time.time())).encode())
    assert answer[0] == 201, answer
    return info, path


@pytest.mark.parametrize('case', HEADER_CASES, ids=[case[0] for case in HEADER_CASES])
def test_container_server_refuses(db_container, case):
    _id, head, body, status, _in_body = case
    info, path = db_container
    obj = _name()
    std = ('X-Timestamp: %s\r\nX-Size: 5\r\nX-Content-Type: text/plain\r\nX-Etag: e\r\n'
           % (T % time.time()))
    raw = build(head, '%s/%s' % (path, obj), std) + body
    assert_refused(exchange(info.ip, info.port, raw), status, raw)
    listing = exchange(info.ip, info.port, (
        'GET %s?format=json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' % path).encode())
    assert listing[0] in (200, 204)
    names = [row['name'] for row in json.loads(listing[2] or b'[]')]
    assert obj not in names


# --- the same framing read right: the tables above can fail ---------------------

GOOD = [
    ('content-length', '{host}Content-Length: 5\r\n', b'hello'),
    ('chunked', '{host}' + CHUNKED, b'2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n'),
    ('chunked-uppercase', '{host}Transfer-Encoding: Chunked\r\n', b'5\r\nhello\r\n0\r\n\r\n'),
    ('chunked-extensions', '{host}' + CHUNKED,
     b'5 ; a=b;c ;d="x \\" y"\r\nhello\r\n0;e\r\n\r\n'),
    ('chunked-trailer', '{host}' + CHUNKED, b'5\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n'),
    ('chunk-size-leading-zeros', '{host}' + CHUNKED, b'00000000000000000005\r\nhello\r\n0\r\n\r\n'),
    ('http10-without-host', 'LINE:PUT {target} HTTP/1.0\r\nContent-Length: 5\r\n', b'hello'),
    ('utf8-in-value', '{host}X-Object-Meta-A: \xc3\xa9\tt\r\nContent-Length: 5\r\n', b'hello'),
]


@pytest.mark.parametrize('case', GOOD, ids=[case[0] for case in GOOD])
def test_good_framing_stores(cluster, api, container, case):
    _id, head, body = case
    obj = _name()
    target = '%s/%s/%s' % (api.account_path, container, obj)
    std = 'X-Auth-Token: %s\r\nConnection: close\r\n' % api.token
    raw = build(head, target, std) + body
    status, _headers, out, closed = exchange(api.host, api.port, raw)
    assert status == 201 and closed, out
    got = api.request('GET', '/%s/%s' % (container, obj))
    assert got[0] == 200 and got[2] == b'hello'


def test_keep_alive_after_a_chunked_body(api, container):
    """A chunked PUT then a GET on one connection: the body's end is found
    exactly (the GET is read as the next request, not as body)."""
    obj = _name()
    target = '%s/%s/%s' % (api.account_path, container, obj)
    raw = (('PUT %s HTTP/1.1\r\nHost: x\r\nX-Auth-Token: %s\r\n' + CHUNKED + '\r\n')
           % (target, api.token)).encode() + b'5\r\nhello\r\n0\r\n\r\n'
    raw += ('GET %s HTTP/1.1\r\nHost: x\r\nX-Auth-Token: %s\r\nConnection: close\r\n\r\n'
            % (target, api.token)).encode()
    sock = socket.create_connection((api.host, api.port), timeout=30)
    try:
        sock.sendall(raw)
        out = b''
        while True:
            got = sock.recv(65536)
            if not got:
                break
            out += got
    finally:
        sock.close()
    assert out.startswith(b'HTTP/1.1 201 ')
    assert out.count(b'HTTP/1.1 ') == 2 and b'HTTP/1.1 200 OK' in out
    assert out.endswith(b'\r\n\r\nhello')
