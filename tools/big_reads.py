"""The same big objects read several times over: is the first GET of an
object just written dearer than the next ones?

    python3 tools/big_reads.py AUTH_URL [--objects 16] [--mib 64]
                               [--streams 4] [--passes 3]

PUTs the objects into a fresh container, then GETs all of them `--passes`
times at `--streams` (the benchmark's large phase reads each object once, just
after its PUT) and prints each pass's MB/s (1 MB = 10^6 bytes), then deletes
them. Credentials: test:tester / testing. Works against any Swift-API
endpoint, ours or Swift's, so both can be read the same way.
"""
import argparse
import http.client
import os
import queue
import threading
import time
import urllib.parse
import urllib.request
import uuid


def auth(url):
    req = urllib.request.Request(url, headers={'X-Auth-User': 'test:tester',
                                               'X-Auth-Key': 'testing'})
    with urllib.request.urlopen(req) as r:
        return urllib.parse.urlsplit(r.headers['X-Storage-Url']), r.headers['X-Auth-Token']


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('auth_url')
    ap.add_argument('--objects', type=int, default=16)
    ap.add_argument('--mib', type=int, default=64)
    ap.add_argument('--streams', type=int, default=4)
    ap.add_argument('--passes', type=int, default=3)
    args = ap.parse_args()
    url, token = auth(args.auth_url)
    base = '%s/big-reads-%s' % (url.path, uuid.uuid4().hex[:8])

    def call(conn, method, path, body=None):
        conn.request(method, path, body=body, headers={'X-Auth-Token': token})
        resp = conn.getresponse()
        n = 0
        while True:
            chunk = resp.read(1 << 20)
            if not chunk:
                break
            n += len(chunk)
        if resp.status // 100 != 2:
            raise SystemExit('%s %s -> %d' % (method, path, resp.status))
        return n

    conn = http.client.HTTPConnection(url.netloc, timeout=120)
    call(conn, 'PUT', base)
    body = os.urandom(args.mib << 20)
    names = ['%s/o%03d' % (base, i) for i in range(args.objects)]
    for name in names:
        call(conn, 'PUT', name, body)

    def one_pass():
        todo = queue.Queue()
        for name in names:
            todo.put(name)
        got = []

        def stream():
            c = http.client.HTTPConnection(url.netloc, timeout=120)
            while True:
                try:
                    name = todo.get_nowait()
                except queue.Empty:
                    return
                got.append(call(c, 'GET', name))

        threads = [threading.Thread(target=stream) for _ in range(args.streams)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if sum(got) != len(names) * len(body):
            raise SystemExit('short reads: %d of %d bytes' % (sum(got), len(names) * len(body)))
        return sum(got) / (time.perf_counter() - t0) / 1e6

    rates = [one_pass() for _ in range(args.passes)]
    print('GET MB/s by pass: ' + ' '.join('%.0f' % r for r in rates))
    for name in names:
        call(conn, 'DELETE', name)
    call(conn, 'DELETE', base)


if __name__ == '__main__':
    main()
