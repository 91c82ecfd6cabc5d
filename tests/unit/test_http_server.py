"""Both server loops (the native one, swiftlike.http_server, and eventlet's
with our strict framing) over a real loopback socket: keep-alive, pipelining,
chunked both ways, 100-continue, refusals. Each case runs on both, so the two
loops answer alike."""
import socket
import threading

import pytest

from swiftlike import concurrency
from swiftlike.http_framing import FramingError, body_trailers
from swiftlike.http_server import native_server
from swiftlike.wsgi import SERVER_LOOPS


def app(environ, start_response):
    path = environ['PATH_INFO']
    if path == '/stream':
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return iter([b'ab', b'', b'cd'])
    if path == '/early':
        # Answers without reading the body.
        start_response('413 Too Large', [('Content-Length', '0')])
        return [b'']
    try:
        body = environ['wsgi.input'].read()
    except FramingError as err:
        # What server_base does with a domain error.
        start_response('%d Bad' % err.http_status, [('Content-Length', '0')])
        return [b'']
    out = b'%s %s %s' % (environ['REQUEST_METHOD'].encode(), path.encode('latin-1'), body)
    if path == '/trailers':
        out += b' %r' % sorted(body_trailers(environ['wsgi.input']).items())
    if environ['REQUEST_METHOD'] == 'HEAD':
        start_response('200 OK', [('Content-Length', str(len(out)))])
        return [b'']
    start_response('200 OK', [('Content-Length', str(len(out))),
                              ('X-Meta', environ.get('HTTP_X_META', '-'))])
    return [out]


@pytest.fixture(params=sorted(SERVER_LOOPS))
def port(request):
    sock = concurrency.listen(('127.0.0.1', 0))
    pool = concurrency.GreenPool(16)
    thread = concurrency.spawn(SERVER_LOOPS[request.param], sock, app, pool, 10.0)
    yield sock.getsockname()[1]
    concurrency.kill(thread)
    sock.close()


def _talk(port, steps, result):
    """steps: bytes to send, or an int: read until that many responses'
    worth of 'HTTP/1.1 ' are in; at the end read to EOF."""
    conn = socket.create_connection(('127.0.0.1', port), timeout=10)
    out = b''
    try:
        for step in steps:
            if isinstance(step, bytes):
                conn.sendall(step)
            else:
                while out.count(b'HTTP/1.1 ') < step:
                    data = conn.recv(65536)
                    if not data:
                        break
                    out += data
        while True:
            data = conn.recv(65536)
            if not data:
                break
            out += data
    except OSError as err:
        out += b'<%s>' % type(err).__name__.encode()
    finally:
        conn.close()
    result.append(out)


def run(port, *steps):
    result = []
    client = threading.Thread(target=_talk, args=(port, steps, result), daemon=True)
    client.start()
    for _ in range(2000):
        if not client.is_alive():
            break
        concurrency.sleep(0.01)
    assert result, 'no answer'
    return result[0]


def test_keep_alive_and_pipelining_in_order(port):
    reqs = (b'PUT /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc'
            b'GET /b HTTP/1.1\r\nHost: h\r\nX-Meta: m\r\n\r\n'
            b'PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n'
            b'2\r\nxy\r\n1;e=1\r\nz\r\n0\r\n\r\n'
            b'GET /d HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n')
    out = run(port, reqs)
    bodies = [part.split(b'\r\n\r\n', 1)[1] for part in out.split(b'HTTP/1.1 ')[1:]]
    assert bodies == [b'PUT /a abc', b'GET /b ', b'PUT /c xyz', b'GET /d ']
    assert b'X-Meta: m' in out and out.count(b'Connection: close') == 1


def test_chunked_response_and_head(port):
    out = run(port, b'GET /stream HTTP/1.1\r\nHost: h\r\n\r\n', 1,
              b'HEAD /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n')
    first, second = out.split(b'HTTP/1.1 ')[1:]
    assert b'Transfer-Encoding: chunked' in first
    # Small pieces are gathered (up to 64 KiB) into one chunk.
    assert first.endswith(b'\r\n\r\n4\r\nabcd\r\n0\r\n\r\n')
    assert second.startswith(b'200') and second.endswith(b'\r\n\r\n')


def test_expect_100_continue(port):
    out = run(port, b'PUT /e HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n'
                    b'Connection: close\r\n\r\n', 1, b'ok')
    assert out.startswith(b'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK')
    assert out.endswith(b'PUT /e ok')


def test_answer_without_reading_the_body_closes(port):
    out = run(port, b'PUT /early HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n'
                    b'Content-Length: 5\r\n\r\n')
    assert out.startswith(b'HTTP/1.1 413') and b'100 Continue' not in out
    assert b'Connection: close' in out


@pytest.mark.parametrize('raw,status', [
    (b'PUT /a HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', b'400'),
    (b'PUT /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello world\r\n',
     b'400'),
    (b'GET /a HTTP/1.1\r\n\r\n', b'400'),
    (b'GET /a HTTP/1.1\r\nHost: h\r\nX-A : 1\r\n\r\n', b'400'),
    (b'PUT /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', b'501'),
    (b'GET /a\r\n\r\n', b'400'),
    (b'GET /a HTTP/0.9\r\n\r\n', b'505'),
    (b'GET /a HTTP/2.0\r\nHost: h\r\n\r\n', b'505'),
    # A chunk larger than any object: refused at its size line, before its data.
    (b'PUT /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nffffffffff\r\n', b'413'),
    (b'GET /a HTTP/1.1\r\nHost: h\r\n' + b'X-A: 1\r\n' * 300 + b'\r\n', b'431'),
    (b'GET /a HTTP/1.1\r\nHost: h\r\nX-A: 1\nX-B: 2\r\n\r\n', b'400'),
])
def test_refusals_close(port, raw, status):
    out = run(port, raw)
    assert out.startswith(b'HTTP/1.1 ' + status), out
    assert b'Connection: close' in out


def test_methods_and_targets_as_swift_reads_them(port):
    # The daemons' verbs, and a raw UTF-8 path with a space in it; pipelined.
    out = run(port, b'REPLICATE /sda/1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nab'
                    b'GET /caf\xc3\xa9 x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n')
    bodies = [part.split(b'\r\n\r\n', 1)[1] for part in out.split(b'HTTP/1.1 ')[1:]]
    assert bodies == [b'REPLICATE /sda/1 ab', b'GET /caf\xc3\xa9 x ']


def test_chunk_extensions(port):
    out = run(port, b'PUT /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n'
                    b'Connection: close\r\n\r\n'
                    b'5 ; a="x \\" y"\r\nhello\r\n1;b\r\n!\r\n0\r\nX-Trailer: t\r\n\r\n')
    assert out.startswith(b'HTTP/1.1 200') and out.endswith(b'PUT /a hello!')


def test_trailers_reach_the_application(port):
    # A chunked body's trailer fields, once it is read to its end (the proxy
    # sends a checked body's MD5 and CRC-32 there); none for other bodies.
    out = run(port, b'PUT /trailers HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n'
                    b'3\r\nabc\r\n0\r\nX-Sum: 1a\r\nx-other:  two words \r\n\r\n'
                    b'PUT /trailers HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n'
                    b'Connection: close\r\n\r\nab')
    bodies = [part.split(b'\r\n\r\n', 1)[1] for part in out.split(b'HTTP/1.1 ')[1:]]
    assert bodies == [b"PUT /trailers abc [('x-other', 'two words'), ('x-sum', '1a')]",
                      b'PUT /trailers ab []']


def test_big_header_block_read_line_by_line(port):
    # Over one line's limit in all: read line by line (not in one pass).
    headers = b''.join(b'X-H%d: %s\r\n' % (i, b'v' * 500) for i in range(20))
    out = run(port, b'GET /a HTTP/1.1\r\nHost: h\r\nX-Meta: big\r\n' + headers +
                    b'Connection: close\r\n\r\n')
    assert out.startswith(b'HTTP/1.1 200') and b'X-Meta: big' in out


@pytest.mark.parametrize('raw,status', [
    (b'GET /' + b'a' * 9000 + b' HTTP/1.1\r\nHost: h\r\n\r\n', b'414'),
    (b'GET /a HTTP/1.1\r\nHost: h\r\nX-Big: ' + b'a' * 9000 + b'\r\n\r\n', b'400'),
])
def test_limits(port, raw, status):
    # eventlet's loop answers these itself, as HTTP/1.0.
    out = run(port, raw)
    assert out[8:13] == b' ' + status + b' ', out[:64]


def test_native_skips_an_empty_line_before_the_request_line():
    # RFC 9112 §2.2 (eventlet's loop closes instead).
    sock = concurrency.listen(('127.0.0.1', 0))
    thread = concurrency.spawn(native_server, sock, app, concurrency.GreenPool(4), 10.0)
    try:
        out = run(sock.getsockname()[1],
                  b'\r\nGET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n')
    finally:
        concurrency.kill(thread)
        sock.close()
    assert out.startswith(b'HTTP/1.1 200') and out.endswith(b'GET /a ')


def test_keep_alive_asked_by_name_is_answered(port):
    # Swift's functional tests expect it (tests.TestFile.testGetResponseHeaders).
    out = run(port, b'GET /a HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n', 1,
              b'GET /b HTTP/1.1\r\nHost: h\r\n\r\n', 2,
              b'GET /c HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n', 3,
              b'GET /d HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n')
    first, second, third, last = out.split(b'HTTP/1.1 ')[1:]
    assert b'Connection: keep-alive\r\n' in first
    assert b'Connection' not in second
    assert b'Connection: keep-alive\r\n' in third
    assert b'Connection: close\r\n' in last
