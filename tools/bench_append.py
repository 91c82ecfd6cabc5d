"""Build a log by many small appends, then time GETs of it beside a plain
object of the same size.

    python tools/bench_append.py --aio [--appends 100000] [--size 100] [--gets 5]
    python tools/bench_append.py --auth URL --user A:U --key K ...
    python tools/bench_append.py --aio --shape-of 100000 --size 100

--shape-of N builds, instead of N appends, a log with the pieces N appends
of --size bytes leave after compaction (the pure planner of the append
middleware with its default settings says which): the same manifest, hence
the same GET, in a few appends (N real appends take hours on a busy machine).

Appends go one after another (each names the offset the last one returned),
as a single writer of a log does. Prints the append rate, the manifest's
piece count after compaction, and for each kind of object the GET time and
MB/s (best and median of --gets runs).
"""
import argparse
import http.client
import json
import os
import shutil
import statistics
import sys
import time
import uuid
from urllib.parse import urlsplit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

from tools.bench_proxy import get_auth, start_aio  # noqa: E402


class Client:
    def __init__(self, storage_url, token):
        parts = urlsplit(storage_url)
        self.host, self.port, self.path = parts.hostname, parts.port, parts.path
        self.token = token
        self.conn = None

    def request(self, method, path, headers=None, body=None, query=''):
        hdrs = {'X-Auth-Token': self.token}
        hdrs.update(headers or {})
        if body is not None:
            hdrs['Content-Length'] = str(len(body))
        for _attempt in range(3):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=300)
            try:
                self.conn.request(method, self.path + path + ('?' + query if query else ''),
                                  body=body, headers=hdrs)
                resp = self.conn.getresponse()
                data = resp.read()
                return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
        raise RuntimeError('%s %s failed' % (method, path))


def build_log(client, path, appends, size):
    offset = 0
    line = b'x' * (size - 1) + b'\n'
    started = time.monotonic()
    for i in range(appends):
        status, headers, body = client.request('PUT', path, {'X-Append-Offset': str(offset)},
                                               line)
        if status != 201:
            raise RuntimeError('append %d: %d %r' % (i, status, body[:200]))
        offset = int(headers['x-append-length'])
        if (i + 1) % 10000 == 0:
            print('  %d appends, %.0f/s' % (i + 1, (i + 1) / (time.monotonic() - started)),
                  flush=True)
    return offset, time.monotonic() - started


def final_sizes(appends, size):
    """The piece sizes `appends` appends of `size` bytes leave (default settings)."""
    from swiftlike.middleware import append as middleware
    from swiftlike.middleware.append_manifest import plan_compaction
    conf = middleware.Conf()
    sizes = []
    for _ in range(appends):
        sizes.append(size)
        plan = plan_compaction(sizes, conf.compact_piece_size, conf.compact_after,
                               conf.compact_max_bytes)
        if plan:
            start, stop = plan
            sizes[start:stop] = [sum(sizes[start:stop])]
    return sizes


def build_shape(client, path, sizes):
    offset = 0
    started = time.monotonic()
    for i, piece in enumerate(sizes):
        line = (b'%09d ' % i) * (piece // 10 + 1)
        status, headers, body = client.request('PUT', path, {'X-Append-Offset': str(offset)},
                                               line[:piece])
        if status != 201:
            raise RuntimeError('append %d: %d %r' % (i, status, body[:200]))
        offset = int(headers['x-append-length'])
    return offset, time.monotonic() - started


def time_gets(client, path, expected, count):
    times = []
    for _ in range(count):
        started = time.monotonic()
        status, _headers, body = client.request('GET', path)
        times.append(time.monotonic() - started)
        if status != 200 or len(body) != expected:
            raise RuntimeError('GET %s: %d, %d bytes' % (path, status, len(body)))
    return min(times), statistics.median(times)


def bench(storage_url, token, appends, size, gets, shape_of=0):
    client = Client(storage_url, token)
    container = 'bench-append-%s' % uuid.uuid4().hex[:8]
    assert client.request('PUT', '/' + container)[0] in (201, 202)
    log_path = '/%s/log' % container
    if shape_of:
        sizes = final_sizes(shape_of, size)
        print('building the pieces %d appends of %d bytes leave: %d pieces %s'
              % (shape_of, size, len(sizes), sizes), flush=True)
        length, took = build_shape(client, log_path, sizes)
        appends = len(sizes)
    else:
        print('building a log of %d appends of %d bytes' % (appends, size), flush=True)
        length, took = build_log(client, log_path, appends, size)
    manifest = json.loads(client.request('GET', log_path, query='append-manifest=get')[2])
    print('appends: %d in %.1fs (%.1f/s); %d bytes in %d pieces'
          % (appends, took, appends / took, length, len(manifest['pieces'])), flush=True)
    plain_path = '/%s/plain' % container
    status = client.request('PUT', plain_path, body=b'y' * length)[0]
    assert status == 201, status
    for name, path in (('appendable', log_path), ('plain', plain_path)):
        best, median = time_gets(client, path, length, gets)
        print('GET %-10s %d bytes: best %.3fs (%.1f MB/s), median %.3fs (%.1f MB/s)'
              % (name, length, best, length / best / 1e6, median, length / median / 1e6),
              flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--aio', action='store_true', help='start a temporary aio cluster')
    parser.add_argument('--auth', help='auth URL of an existing cluster')
    parser.add_argument('--user', default='test:tester')
    parser.add_argument('--key', default='testing')
    parser.add_argument('--appends', type=int, default=100000)
    parser.add_argument('--size', type=int, default=100)
    parser.add_argument('--gets', type=int, default=5)
    parser.add_argument('--shape-of', type=int, default=0,
                        help='build the compacted shape of this many appends instead')
    args = parser.parse_args(argv)
    if not args.aio and not args.auth:
        parser.error('give --aio or --auth')
    aio = data_dir = None
    try:
        if args.aio:
            aio, data_dir = start_aio(0)
            auth_url = aio.auth_url
        else:
            auth_url = args.auth
        storage_url, token = get_auth(auth_url, args.user, args.key)
        bench(storage_url, token, args.appends, args.size, args.gets, args.shape_of)
    finally:
        if aio is not None:
            aio.stop(timeout=10)
            aio.unlock()
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
