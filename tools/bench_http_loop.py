"""CPU per request of the server loop alone: a trivial WSGI app behind
concurrency.wsgi_server (or the native loop with --native), N keep-alive 4 KiB
GETs from four raw green clients in the same process (the clients' cost is
the same for both loops, so compare ratios).

    .venv/bin/python tools/bench_http_loop.py [--native] [N]
    PYTHONPATH=/tmp/old-tree .venv/bin/python tools/bench_http_loop.py   # another commit
"""
import os, socket, sys, time
from swiftlike import concurrency
concurrency.monkey_patch()

HEAD = (b'GET /sdb1/123/AUTH_test/c/o-0123456789abcdef HTTP/1.1\r\nHost: 127.0.0.1:6210\r\n'
        b'Accept-Encoding: identity\r\nX-Timestamp: 1764979200.12345\r\n'
        b'X-Trans-Id: tx0123456789abcdef0123-0069334d00\r\nUser-Agent: proxy-server 1234\r\n'
        b'X-Backend-Storage-Policy-Index: 0\r\nReferer: GET http://127.0.0.1:8080/v1/AUTH_test/c/o\r\n\r\n')
BODY = b'x' * 4096

def app(env, start_response):
    start_response('200 OK', [('Content-Length', '4096'), ('Content-Type', 'application/octet-stream'),
                              ('Etag', 'abc'), ('X-Timestamp', '1764979200.12345')])
    return [BODY]

def client(port, n, out):
    s = socket.create_connection(('127.0.0.1', port))
    f = s.makefile('rb')
    for _ in range(n):
        s.sendall(HEAD)
        length = None
        while True:
            line = f.readline()
            if line == b'\r\n':
                break
            if line.lower().startswith(b'content-length:'):
                length = int(line.split(b':')[1])
        f.read(length)
    s.close()
    out.append(1)

sock = concurrency.listen(('127.0.0.1', 0))
port = sock.getsockname()[1]
NATIVE = '--native' in sys.argv
ARGS = [a for a in sys.argv[1:] if a != '--native']
if NATIVE:
    from swiftlike.http_server import native_server
    server = concurrency.spawn(native_server, sock, app, concurrency.GreenPool(64), 60.0)
else:
    server = concurrency.spawn(concurrency.wsgi_server, sock, app, log_output=False,
                               keepalive=True, minimum_chunk_size=65536, debug=False)
N = int(ARGS[0]) if ARGS else 20000
done = []
client(port, 500, [])
t0 = time.process_time(); w0 = time.perf_counter()
for _ in range(4):
    concurrency.spawn(client, port, N // 4, done)
while len(done) < 4:
    concurrency.sleep(0.01)
cpu = time.process_time() - t0
print('%s %s: %.1f us CPU/request (client+server), %.0f req/s wall' % (
    os.path.dirname(os.path.dirname(concurrency.__file__)), 'native' if NATIVE else 'eventlet',
    cpu / N * 1e6, N / (time.perf_counter() - w0)))
