"""The node-to-node HTTP client's sending: a small body goes in the same send
as the request head; a big one after it."""
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
    conn = backend_http._Connection('127.0.0.1', 1)
    conn.sock = counting = CountingSocket(ours)
    body = b'x' * size
    backend_http._send_head(conn, 'PUT', '/d/1/a/c/o', {'Content-Length': str(size)},
                            body or None)
    ours.shutdown(socket.SHUT_WR)
    reader.join()
    theirs.close()
    ours.close()
    assert len(counting.sends) == sends
    head, _sep, got = b''.join(received).partition(b'\r\n\r\n')
    assert head.startswith(b'PUT /d/1/a/c/o HTTP/1.1\r\nHost: 127.0.0.1:1\r\n')
    assert b'Content-Length: %d' % size in head
    assert got == body
