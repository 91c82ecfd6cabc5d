"""The node-to-node HTTP client's sending: a small body goes in the same send
as the request head; a big one after it."""
import http.client
import socket
import threading

import pytest

from swiftlike import backend_http


class CountingSocket:
    def __init__(self, sock):
        self.sock = sock
        self.sends = []

    def sendall(self, data):
        self.sends.append(bytes(data))
        self.sock.sendall(data)

    def __getattr__(self, name):
        return getattr(self.sock, name)


@pytest.mark.parametrize('size,sends', [(0, 1), (4096, 1), (backend_http._JOIN_BODY_BYTES, 1),
                                        (backend_http._JOIN_BODY_BYTES + 1, 2)])
def test_a_small_body_goes_with_the_head(size, sends):
    ours, theirs = socket.socketpair()
    received = []

    def read_all():
        while True:
            data = theirs.recv(1 << 20)
            if not data:
                return
            received.append(data)

    reader = threading.Thread(target=read_all)
    reader.start()
    conn = backend_http.Connection('127.0.0.1', 1)
    conn.sock = counting = CountingSocket(ours)
    body = b'x' * size
    conn.send_head('PUT', '/d/1/a/c/o', {'Content-Length': str(size)}, body or None)
    ours.shutdown(socket.SHUT_WR)
    reader.join()
    theirs.close()
    ours.close()
    assert len(counting.sends) == sends
    head, _sep, got = b''.join(received).partition(b'\r\n\r\n')
    assert head.startswith(b'PUT /d/1/a/c/o HTTP/1.1\r\nHost: 127.0.0.1:1\r\n')
    assert b'Content-Length: %d' % size in head
    assert got == body


class PieceSocket:
    """A socket whose recv hands out `data` `piece` bytes at a time, then EOF."""

    def __init__(self, data, piece):
        self.data = data
        self.piece = piece
        self.sent = []

    def recv(self, size):
        out, self.data = self.data[:min(size, self.piece)], self.data[min(size, self.piece):]
        return out

    def sendall(self, data):
        self.sent.append(bytes(data))


def _response(raw, piece, method='GET'):
    from swiftlike.socket_reader import SocketReader
    return backend_http.Response(SocketReader(PieceSocket(raw, piece)), method)


PIECES = [1, 7, 65536]


@pytest.mark.parametrize('piece', PIECES)
@pytest.mark.parametrize('raw,method,status,body,will_close', [
    # A 100 is skipped; repeated names are joined; a line that is no field
    # ends the fields (our own servers' answers are read leniently).
    (b'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n'
     b'X-Object-Meta-A: 1\r\nX-Dup: a\r\nx-dup: b\r\nbadline\r\n\r\nabcEXTRA', 'GET', 200, b'abc', False),
    (b'HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n', 'HEAD', 200, b'', False),
    (b'HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n', 'DELETE', 204, b'', False),
    (b'HTTP/1.1 304 Not Modified\r\n\r\n', 'GET', 304, b'', False),
    (b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n',
     'GET', 200, b'abcde', False),
    (b'HTTP/1.0 200 OK\r\n\r\nbody', 'GET', 200, b'body', True),
    (b'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok', 'GET', 200, b'ok', False),
    (b'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok', 'GET', 200, b'ok', True),
    (b'HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\nuntil close', 'GET', 200, b'until close', True),
    (b'HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\nuntil close', 'GET', 200, b'until close', True),
    (b'HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n', 'GET', 404, b'', False),
    (b'HTTP/1.1 200 OK\nContent-Length: 1\n\nz', 'GET', 200, b'z', False),
    (b'HTTP/1.1 201 Created\r\nContent-Length: 0\r\nX-Folded: a\r\n  b\r\n\r\n', 'PUT', 201, b'', False),
])
def test_a_response_is_read_like_http_client(raw, method, status, body, will_close, piece):
    resp = _response(raw, piece, method)
    assert resp.status == status
    assert resp.will_close is will_close
    assert resp.read() == body
    assert resp.isclosed()
    assert resp.read() == b''


@pytest.mark.parametrize('piece', PIECES)
def test_response_headers(piece):
    resp = _response(b'HTTP/1.1 100 Continue\r\nX-A: 1\r\n\r\nHTTP/1.1 201 Created\r\n'
                     b'Content-Length: 0\r\nX-Dup: a\r\nx-dup: b\r\nX-Folded: a\r\n  b\r\n'
                     b'badline\r\nX-After: no\r\n\r\n', piece, 'PUT')
    assert resp.reason == 'Created'
    assert resp.getheader('X-Dup') == 'a, b' and resp.headers['x-dup'] == 'a, b'
    assert resp.getheader('x-folded') == 'a b'
    assert resp.getheader('X-After') is None and resp.getheader('x-a') is None


@pytest.mark.parametrize('piece', PIECES)
def test_responses_on_one_connection_follow_each_other(piece):
    from swiftlike.socket_reader import SocketReader
    reader = SocketReader(PieceSocket(
        b'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none'
        b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n'
        b'HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nthree', piece))
    got = []
    for _ in range(3):
        resp = backend_http.Response(reader, 'GET')
        parts = []
        while not resp.isclosed():
            parts.append(resp.read(2))
        got.append((resp.status, b''.join(parts)))
    assert got == [(200, b'one'), (200, b'two'), (404, b'three')]


@pytest.mark.parametrize('piece', PIECES)
@pytest.mark.parametrize('raw,error', [
    (b'', http.client.RemoteDisconnected),
    (b'garbage\r\n\r\n', http.client.BadStatusLine),
    (b'HTTP/1.1 2000 OK\r\n\r\n', http.client.BadStatusLine),
    (b'HTTP/1.1 abc OK\r\n\r\n', http.client.BadStatusLine),
    (b'HTTP/1.1 099 Low\r\n\r\n', http.client.BadStatusLine),
    (b'ICY 200 OK\r\n\r\n', http.client.BadStatusLine),
    (b'HTTP/2.0 200 OK\r\n\r\n', http.client.UnknownProtocol),
    (b'HTTP/1.1 200 ' + b'x' * 70000 + b'\r\n\r\n', http.client.LineTooLong),
    (b'HTTP/1.1 200 OK\r\n' + b'X-Many: 1\r\n' * 300 + b'\r\n', http.client.HTTPException),
])
def test_a_bad_response_head_is_an_http_client_error(raw, error, piece):
    with pytest.raises(error):
        _response(raw, piece)


@pytest.mark.parametrize('piece', PIECES)
@pytest.mark.parametrize('raw', [
    b'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort',
    b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab',
    b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n',
])
def test_a_body_cut_short_is_an_incomplete_read(raw, piece):
    resp = _response(raw, piece)
    with pytest.raises(http.client.IncompleteRead):
        resp.read()
    assert resp.isclosed() or resp.chunked


@pytest.mark.parametrize('raw', [
    b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n',
    b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXX0\r\n\r\n',
    b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' + b'f' * 40 + b'\r\nab',
])
def test_a_bad_chunked_body_is_an_http_client_error(raw):
    resp = _response(raw, 65536)
    with pytest.raises(http.client.HTTPException):
        resp.read()


@pytest.mark.parametrize('path,headers', [
    ('/d/1/a/c/o', {'X-Bad': 'a\r\nX-Injected: 1'}),
    ('/d/1/a/c/o', {'X-Bad': 'a\nX-Injected: 1'}),
    ('/d/1/a/c/o', {'X-Bad': 'a\rb'}),
    ('/d/1/a/c/o', {'X-Bad\r\nX-Injected': '1'}),
    ('/d/1/a/c/o HTTP/1.1\r\nX-Injected: 1\r\n\r\nGET /x', {}),
    ('/d/1/a/c/o x', {}),
    ('/d/1/a/c/\x00', {}),
    ('/d/1/a/c/\u00e9', {}),
    ('/d/1/a/c/o', {'X-Wide': '\u20ac'}),
])
def test_a_head_that_would_break_its_lines_is_refused_unsent(path, headers):
    conn = backend_http.Connection('127.0.0.1', 1)
    conn.sock = sock = PieceSocket(b'', 1)
    with pytest.raises(ValueError if 'HTTP' not in path and ' ' not in path and '\x00' not in path
                       and '\u00e9' not in path else http.client.InvalidURL):
        conn.send_head('PUT', path, dict(headers, **{'Content-Length': '0'}))
    assert sock.sent == []


def test_header_values_may_be_numbers_and_latin_1():
    conn = backend_http.Connection('127.0.0.1', 1)
    conn.sock = sock = PieceSocket(b'', 1)
    conn.send_head('PUT', '/d/1/a/c/o%C3%A9?x=1', {'Content-Length': 3, 'X-Object-Meta-L': '\xe9'},
                   b'abc')
    assert sock.sent == [b'PUT /d/1/a/c/o%C3%A9?x=1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n'
                         b'Content-Length: 3\r\nX-Object-Meta-L: \xe9\r\n\r\nabc']
