"""The lenient header-block reader (http_framing.read_header_block(lenient=True),
for our own servers' responses), RequestHeaders, and the server's strict
request reading."""
import http.client
import io
import socket
import threading

import pytest

from swiftlike import concurrency
from swiftlike.http_framing import MAX_HEADERS, read_header_block
from swiftlike.request_headers import RequestHeaders


def parse(raw):
    return RequestHeaders(read_header_block(io.BytesIO(raw).readline, lenient=True))


def test_pairs_in_order_and_first_value_wins():
    h = parse(b'Host: x\r\nX-A: 1\r\nx-a: 2\r\nContent-Type: text/html; charset=utf-8\r\n\r\nbody')
    assert h.items() == [('Host', 'x'), ('X-A', '1'), ('x-a', '2'),
                         ('Content-Type', 'text/html; charset=utf-8')]
    assert h.get('X-A') == '1' and h['x-A'] == '1' and 'HOST' in h
    assert h.get_all('x-a') == ['1', '2'] and h.get_all('nope') is None
    assert h.get('missing', 'd') == 'd'
    assert h.get_content_type() == 'text/html'


def test_values_are_trimmed_and_folded_lines_joined():
    h = parse(b'X-A:   spaced  \r\nX-B: one\r\n\ttwo\r\n  three\r\n\r\n')
    assert h.get('X-A') == 'spaced'
    assert h.get('X-B') == 'one two three'


def test_a_non_header_line_ends_the_headers():
    h = parse(b'X-A: 1\r\nnot a header\r\nX-B: 2\r\n\r\n')
    assert h.items() == [('X-A', '1')]
    assert parse(b' leading fold\r\nX-B: 2\r\n\r\n').items() == []
    assert parse(b'Bad Name: 1\r\n\r\n').items() == []
    assert parse(b'\r\n').items() == [] and parse(b'').items() == []


def test_lenient_reads_what_strict_refuses():
    # A value with a control character an older version stored, a bare LF,
    # EOF for the blank line: a response of our own server is still read.
    raw = b'X-Object-Meta-A: a\x7fb\r\nX-B: 2\nX-C: 3\r\n'
    assert parse(raw).items() == [('X-Object-Meta-A', 'a\x7fb'), ('X-B', '2'), ('X-C', '3')]
    # ... and the rest of the block is consumed, the body left where it is.
    fp = io.BytesIO(b'X-A: 1\r\nnot a header\r\nX-B: 2\r\n\r\nbody')
    assert read_header_block(fp.readline, lenient=True) == [('X-A', '1')]
    assert fp.read() == b'body'


def test_limits_match_http_client():
    with pytest.raises(http.client.LineTooLong):
        parse(b'X-A: ' + b'a' * 70000 + b'\r\n\r\n')
    with pytest.raises(http.client.HTTPException):
        parse(b''.join(b'X-%d: v\r\n' % i for i in range(MAX_HEADERS + 1)) + b'\r\n')
    assert len(parse(b''.join(b'X-%d: v\r\n' % i for i in range(MAX_HEADERS)) + b'\r\n')) \
        == MAX_HEADERS


def test_default_content_type():
    assert parse(b'\r\n').get_content_type() == 'text/plain'
    assert parse(b'Content-Type: nonsense\r\n\r\n').get_content_type() == 'text/plain'


def _start(protocol=None):
    seen = []

    def app(environ, start_response):
        seen.append({k: v for k, v in environ.items() if k.startswith('HTTP_')
                     or k in ('CONTENT_TYPE', 'CONTENT_LENGTH', 'PATH_INFO')})
        body = environ['wsgi.input'].read()
        start_response('200 OK', [('Content-Length', str(len(body)))])
        return [body]

    sock = concurrency.listen(('127.0.0.1', 0))
    kwargs = {'protocol': protocol} if protocol else {}
    thread = concurrency.spawn(concurrency.wsgi_server, sock, app, log_output=False,
                               **kwargs)
    return sock, thread, seen


@pytest.fixture
def servers():
    """Ours and, for comparison, one with eventlet's stock handler."""
    started = [_start(), _start(concurrency.StockHttpProtocol)]
    yield [(sock.getsockname()[1], seen) for sock, _thread, seen in started]
    for sock, thread, _seen in started:
        concurrency.kill(thread)
        sock.close()


@pytest.fixture
def server(servers):
    return servers[0]


def _exchange(port, raw, result):
    conn = socket.create_connection(('127.0.0.1', port), timeout=10)
    try:
        conn.sendall(raw)
        conn.shutdown(socket.SHUT_WR)
        out = b''
        while True:
            data = conn.recv(65536)
            if not data:
                break
            out += data
    finally:
        conn.close()
    result.append(out)


def _run(port, raw):
    # A real thread for the (blocking) client; the green server runs while we sleep.
    result = []
    client = threading.Thread(target=_exchange, args=(port, raw, result), daemon=True)
    client.start()
    for _ in range(1000):
        if not client.is_alive():
            break
        concurrency.sleep(0.01)
    assert result, 'no answer'
    return result[0]


def test_server_passes_headers_into_environ(server):
    port, seen = server
    out = _run(port, b'PUT //a/b HTTP/1.1\r\nHost: h\r\nX-Meta: v \r\nContent-Type: a/b\r\n'
                     b'Content-Length: 3\r\nConnection: close\r\n\r\nabc')
    assert out.startswith(b'HTTP/1.1 200') and out.endswith(b'abc')
    assert seen[0]['HTTP_X_META'] == 'v' and seen[0]['CONTENT_TYPE'] == 'a/b'
    # The path is the client's (no slashes merged: the proxy answers '//...' 404).
    assert seen[0]['CONTENT_LENGTH'] == '3' and seen[0]['PATH_INFO'] == '//a/b'


@pytest.mark.parametrize('raw,status', [
    # No HTTP/0.9: a request line without a version is a 400, not a bare body.
    (b'GET /\r\n\r\n', b'400'), (b'PUT /\r\n\r\n', b'400'),
    (b'GET / HTTP/0.9\r\n\r\n', b'505'), (b'GET / HTTP/9.9\r\n\r\n', b'505'),
    (b'GET / HTTP/1.1 extra\r\n\r\n', b'400'), (b'GET / HTTP/x.y\r\n\r\n', b'400'),
    (b'GET / FTP/1.1\r\n\r\n', b'400'), (b'GET / HTTP/1.1.1\r\n\r\n', b'400'),
    (b'GET / HTTP/2.0\r\n\r\n', b'505'),
    (b'GET / HTTP/1.1\r\n' + b''.join(b'X-%d: v\r\n' % i for i in range(257)) + b'\r\n',
     b'431'),
    (b'GET / HTTP/1.1\r\nHost: h\r\nX-Long: ' + b'a' * 9000 + b'\r\n\r\n', b'400'),
    (b'GET / HTTP/1.1\r\n\r\n', b'400'),        # no Host
])
def test_server_refuses_request_lines_the_stock_handler_takes(server, raw, status):
    port, seen = server
    out = _run(port, raw)
    assert out.startswith(b'HTTP/1.1 ' + status) and not seen


def test_server_serves_a_newer_minor_version_as_1_1(server):
    port, seen = server
    out = _run(port, b'GET /x HTTP/1.2\r\nHost: h\r\n\r\n')
    assert out.startswith(b'HTTP/1.1 200') and seen[0]['PATH_INFO'] == '/x'


def test_server_reads_a_path_with_spaces_and_utf8_as_swift_does(server):
    # 0x85 and 0xA0 are whitespace to str.split() in the latin-1 view of the
    # line; a path with a space is the words between method and version.
    port, seen = server
    path = '/a/\u0105\u00a0\u2085 x'.encode('utf-8')
    out = _run(port, b'GET ' + path + b' HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n')
    assert out.startswith(b'HTTP/1.1 200')
    assert seen[0]['PATH_INFO'].encode('latin-1') == path


@pytest.mark.parametrize('raw', [
    b'\r\n',
    b'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\nX-A: 1\r\n\r\n',
    b'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
    b'PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n'
    b'Connection: close\r\n\r\nok',
])
def test_server_answers_as_the_stock_handler_does(servers, raw):
    (ours, ours_seen), (stock, stock_seen) = servers
    def strip_date(out):
        return b'\r\n'.join(line for line in out.split(b'\r\n')
                             if not line.startswith(b'Date:'))
    assert strip_date(_run(ours, raw)) == strip_date(_run(stock, raw))
    assert ours_seen == stock_seen
