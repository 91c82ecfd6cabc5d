#!/usr/bin/env python3
"""How far concurrent writers get past a quota.

    .venv/bin/python tools/bench_quota.py AUTH_URL [WRITERS [SIZE [QUOTA_OBJECTS]]]

Sets X-Container-Meta-Quota-Bytes on a fresh container to QUOTA_OBJECTS x
SIZE bytes (default 100 x 4096), then WRITERS threads (default 64) PUT
distinct SIZE-byte objects into it, each until it is refused (413). Prints
the acknowledged (201) writes and the container's bytes afterwards against
the quota. With ACCOUNT=1 in the environment the same for
X-Account-Meta-Quota-Bytes, set by a reseller admin (admin:admin/admin) on
test2's account (test2:tester2/testing2 writes; the quota is removed
afterwards).
"""
import http.client
import os
import sys
import threading
import time
import uuid
from urllib.parse import urlsplit

import bench_proxy as bench


def _request(parts, method, path, token, body=b'', headers=None):
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        hdrs = {'X-Auth-Token': token, 'Content-Length': str(len(body))}
        hdrs.update(headers or {})
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        resp.read()
        return resp.status, dict((k.lower(), v) for k, v in resp.getheaders())
    finally:
        conn.close()


def flood(parts, token, container_path, writers, size):
    """(acknowledged writes, refused writes) of WRITERS threads writing
    until refused."""
    body = os.urandom(size)
    counts = {'ok': 0, 'refused': 0, 'other': 0}
    lock = threading.Lock()
    start = threading.Event()

    def writer(n):
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        start.wait()
        i = 0
        while True:
            conn.request('PUT', '%s/w%03d-%06d' % (container_path, n, i), body=body,
                         headers={'X-Auth-Token': token, 'Content-Length': str(size)})
            resp = conn.getresponse()
            resp.read()
            i += 1
            with lock:
                if resp.status == 201:
                    counts['ok'] += 1
                elif resp.status == 413:
                    counts['refused'] += 1
                    break
                else:
                    counts['other'] += 1
                    if counts['other'] > 1000:
                        break
        conn.close()
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    start.set()
    for t in threads:
        t.join()
    return counts


def report(what, quota, quota_objects, size, writers, counts, elapsed, used):
    print('%s quota %d bytes (%d objects of %d), %d writers: %d writes acknowledged '
          'in %.1f s, %d refused, %d other; it holds %d bytes = %.2fx the quota '
          '(%+d objects)' % (what, quota, quota_objects, size, writers, counts['ok'], elapsed,
                             counts['refused'], counts['other'], used, used / quota,
                             (used - quota) // size))


def account_quota(auth_url, writers, size, quota_objects):
    storage_url, token = bench.get_auth(auth_url, 'test2:tester2', 'testing2')
    _admin_url, admin = bench.get_auth(auth_url, 'admin:admin', 'admin')
    parts = urlsplit(storage_url)
    _status, headers = _request(parts, 'HEAD', parts.path, token)
    before = int(headers.get('x-account-bytes-used', 0))
    quota = before + quota_objects * size
    _request(parts, 'POST', parts.path, admin, headers={'X-Account-Meta-Quota-Bytes': str(quota)})
    path = parts.path + '/quota-%s' % uuid.uuid4().hex[:8]
    _request(parts, 'PUT', path, token)
    try:
        began = time.time()
        counts = flood(parts, token, path, writers, size)
        elapsed = time.time() - began
    finally:
        _request(parts, 'POST', parts.path, admin, headers={'X-Account-Meta-Quota-Bytes': ''})
    deadline = time.time() + 30
    while True:   # account stats follow the containers' asynchronously
        _status, headers = _request(parts, 'HEAD', path, token)
        in_container = int(headers.get('x-container-bytes-used', 0))
        _status, headers = _request(parts, 'HEAD', parts.path, token)
        used = int(headers.get('x-account-bytes-used', 0))
        if used - before >= in_container or time.time() > deadline:
            break
        time.sleep(0.5)
    report('account', quota - before, quota_objects, size, writers, counts, elapsed,
           used - before)
    return 0


def main(argv):
    auth_url = argv[1]
    writers = int(argv[2]) if len(argv) > 2 else 64
    size = int(argv[3]) if len(argv) > 3 else 4096
    quota_objects = int(argv[4]) if len(argv) > 4 else 100
    quota = quota_objects * size
    if os.environ.get('ACCOUNT'):
        return account_quota(auth_url, writers, size, quota_objects)
    storage_url, token = bench.get_auth(auth_url, 'test:tester', 'testing')
    parts = urlsplit(storage_url)
    path = parts.path + '/quota-%s' % uuid.uuid4().hex[:8]
    _request(parts, 'PUT', path, token, headers={'X-Container-Meta-Quota-Bytes': str(quota)})
    began = time.time()
    counts = flood(parts, token, path, writers, size)
    elapsed = time.time() - began
    _status, headers = _request(parts, 'HEAD', path, token)
    report('container', quota, quota_objects, size, writers, counts, elapsed,
           int(headers.get('x-container-bytes-used', 0)))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
