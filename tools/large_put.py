#!/usr/bin/env python3
"""MB/s of concurrent 64 MiB PUTs against any Swift-v1 endpoint (tempauth v1.0).

    .venv/bin/python tools/large_put.py AUTH_URL [PER_THREAD [THREADS [MIB]]]

Each thread PUTs PER_THREAD (default 6) objects of MIB MiB (default 64) of random
bytes over its own keep-alive connection; prints the aggregate MB/s (MiB-based).
"""
import http.client
import os
import sys
import threading
import time
import uuid
from urllib.parse import urlsplit

import bench_proxy as bench


def main():
    auth = sys.argv[1]
    given = [int(a) for a in sys.argv[2:5]]
    per_thread, threads, mib = given + [6, 4, 64][len(given):]
    url, token = bench.get_auth(auth, 'test:tester', 'testing')
    parts = urlsplit(url)
    body = os.urandom(mib << 20)
    container = parts.path + '/large-put-' + uuid.uuid4().hex[:8]
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)
    conn.request('PUT', container, headers={'X-Auth-Token': token, 'Content-Length': '0'})
    conn.getresponse().read()
    failures = []

    def worker(index):
        c = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)
        for i in range(per_thread):
            c.request('PUT', '%s/o%d-%d' % (container, index, i), body=body,
                      headers={'X-Auth-Token': token})
            resp = c.getresponse()
            resp.read()
            if resp.status != 201:
                failures.append(resp.status)

    start = time.time()
    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.time() - start
    print('%.1f MB/s (%d x %d MiB in %d streams, %d failed)'
          % (per_thread * threads * mib / elapsed, per_thread * threads, mib, threads,
             len(failures)))


if __name__ == '__main__':
    main()
