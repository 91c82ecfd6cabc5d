#!/usr/bin/env python3
"""Small-PUT latency while big uploads stream to the same devices.

    .venv/bin/python tools/mixed_put.py AUTH_URL [SECONDS [BIG_STREAMS [SMALL_CLIENTS]]]

BIG_STREAMS threads (default 2) PUT 256 MiB objects back to back (deleting
each once stored, so the devices do not fill up) while SMALL_CLIENTS threads
(default 4) PUT 4 KiB objects for SECONDS (default 30);
prints the small PUTs' count, p50 and p99 in ms, and the big streams' MB/s.
Run it with nothing else on the machine, against each setting in turn
(for group_sync: an aio whose object servers have `group_sync = false`, then
the default), and compare the two.
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
    given = [float(a) for a in sys.argv[2:5]]
    seconds, big_streams, small_clients = given + [30, 2, 4][len(given):]
    url, token = bench.get_auth(auth, 'test:tester', 'testing')
    parts = urlsplit(url)
    container = parts.path + '/mixed-' + uuid.uuid4().hex[:8]

    def connect():
        return http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)

    conn = connect()
    conn.request('PUT', container, headers={'X-Auth-Token': token, 'Content-Length': '0'})
    conn.getresponse().read()
    big_body = os.urandom(256 << 20)
    small_body = os.urandom(4096)
    stop = time.monotonic() + seconds
    latencies, big_bytes, errors = [], [0], []

    def put(conn, name, body):
        conn.request('PUT', '%s/%s' % (container, name), body=body,
                     headers={'X-Auth-Token': token, 'Content-Length': str(len(body))})
        resp = conn.getresponse()
        resp.read()
        if resp.status != 201:
            errors.append(resp.status)

    def big():
        conn = connect()
        while time.monotonic() < stop:
            name = 'big-' + uuid.uuid4().hex
            put(conn, name, big_body)
            big_bytes[0] += len(big_body)
            # Deleted again, so the devices do not fill up.
            conn.request('DELETE', '%s/%s' % (container, name), headers={'X-Auth-Token': token})
            conn.getresponse().read()

    def small():
        conn = connect()
        time.sleep(2)   # let the big streams get going
        while time.monotonic() < stop:
            start = time.monotonic()
            put(conn, 'small-' + uuid.uuid4().hex, small_body)
            latencies.append(time.monotonic() - start)

    threads = [threading.Thread(target=big) for _ in range(int(big_streams))]
    threads += [threading.Thread(target=small) for _ in range(int(small_clients))]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    latencies.sort()
    if not latencies:
        sys.exit('no small PUT finished')

    def pct(p):
        return 1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))]
    print('small_put_count %d' % len(latencies))
    print('small_put_p50_ms %.1f' % pct(0.50))
    print('small_put_p99_ms %.1f' % pct(0.99))
    print('big_put_MBps %.1f' % (big_bytes[0] / elapsed / 1e6))
    print('errors %d' % len(errors))


if __name__ == '__main__':
    main()
