"""Per-request parse cost of a typical object-server PUT (its head and a 4 KiB
body): the lenient reader, http_framing's strict one over a buffered file
(eventlet's loop) and over the native loop's reader,
httptools (llhttp) and h11, where installed.

    .venv/bin/python tools/bench_http_parse.py
"""
import io, time, sys
try:
    import httptools   # pip install httptools to compare it
except ImportError:
    httptools = None
try:
    import h11   # pip install h11 to compare it
except ImportError:
    h11 = None
from swiftlike.http_framing import parse_request_line, read_header_block, body_framing

head = (b'PUT /sdb1/123/AUTH_test/c/o-0123456789abcdef HTTP/1.1\r\nHost: 127.0.0.1:6210\r\n'
        b'Accept-Encoding: identity\r\nX-Timestamp: 1764979200.12345\r\nContent-Type: application/octet-stream\r\n'
        b'Content-Length: 4096\r\nX-Trans-Id: tx0123456789abcdef0123-0069334d00\r\nUser-Agent: proxy-server 1234\r\n'
        b'X-Container-Host: 127.0.0.1:6211\r\nX-Container-Device: sdb1\r\nX-Container-Partition: 77\r\n'
        b'X-Backend-Storage-Policy-Index: 0\r\nExpect: 100-continue\r\nX-Object-Meta-Color: blue\r\n'
        b'Referer: PUT http://127.0.0.1:8080/v1/AUTH_test/c/o\r\n\r\n')
req = head + b'x' * 4096
N = 20000

def ours():
    f = io.BufferedReader(io.BytesIO(req))
    line = f.readline(65537)
    m, t, v = parse_request_line(line)
    pairs = read_header_block(f.readline)
    body_framing(pairs, v)
    return f.read(4096)

class _Sock:
    """What the native loop's reader takes from a socket: the request in one recv."""
    def __init__(self):
        self.data = req
    def recv(self, n):
        data, self.data = self.data[:n], self.data[n:]
        return data

def native():
    from swiftlike.http_server import _Reader
    f = _Reader(_Sock())
    m, t, v = parse_request_line(f.readline(8192))
    pairs = f.header_block()
    body_framing(pairs, v)
    return f.read(4096)

def old():
    f = io.BufferedReader(io.BytesIO(req))
    line = f.readline(65537)
    words = line.decode('latin-1').rstrip('\r\n').split(' ')
    pairs = read_header_block(f.readline, lenient=True)
    return f.read(4096)

class P:
    __slots__ = ('h', 'b', 'url', 'done')
    def __init__(self):
        self.h = []; self.b = []; self.done = False
    def on_url(self, u): self.url = u
    def on_header(self, n, v): self.h.append((n, v))
    def on_body(self, b): self.b.append(b)
    def on_message_complete(self): self.done = True

def ht():
    p = P()
    parser = httptools.HttpRequestParser(p)
    parser.feed_data(req)
    return p

def hh():
    c = h11.Connection(h11.SERVER)
    c.receive_data(req)
    out = []
    while True:
        e = c.next_event()
        if e is h11.NEED_DATA or isinstance(e, h11.EndOfMessage):
            break
        out.append(e)
    return out

parsers = [('lenient (backend answers)', old), ('http_framing strict, eventlet', ours),
           ('http_framing strict, native', native)]
parsers += [('httptools', ht)] if httptools else []
parsers += [('h11', hh)] if h11 else []
for name, fn in parsers:
    fn()
    t = time.perf_counter()
    for _ in range(N):
        fn()
    dt = (time.perf_counter() - t) / N
    print('%-28s %6.1f us/request' % (name, dt * 1e6))
