#!/usr/bin/env python3
"""GET MB/s of a static large object against a plain object of the same size.

    .venv/bin/python tools/bench_slo.py AUTH_URL [MIB [SEGMENTS [ROUNDS]]]

Uploads a plain object of MIB MiB (default 1024) and an SLO of the same bytes
in SEGMENTS segments (default 100), then GETs them alternately ROUNDS times
(default 3) over one keep-alive connection each, reading and discarding the
body, and prints the MB/s of each and their ratio (SLO / plain). Runs against
any Swift-v1 endpoint with tempauth v1.0 (test:tester/testing).
"""
import hashlib
import http.client
import json
import os
import sys
import time
import uuid
from urllib.parse import urlsplit

import bench_proxy as bench

CHUNK = 1 << 20


def _conn(parts):
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)


def _put(parts, token, path, body, query=''):
    conn = _conn(parts)
    conn.request('PUT', path + query, body=body, headers={'X-Auth-Token': token})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    if resp.status not in (201, 202):
        raise SystemExit('PUT %s: %d' % (path, resp.status))


def _get_rate(parts, token, path):
    conn = _conn(parts)
    began = time.time()
    conn.request('GET', path, headers={'X-Auth-Token': token})
    resp = conn.getresponse()
    size = 0
    while True:
        chunk = resp.read(CHUNK)
        if not chunk:
            break
        size += len(chunk)
    elapsed = time.time() - began
    conn.close()
    if resp.status != 200:
        raise SystemExit('GET %s: %d' % (path, resp.status))
    return size / elapsed / (1 << 20), size


def main():
    auth = sys.argv[1]
    given = [int(a) for a in sys.argv[2:5]]
    mib, segments, rounds = given + [1024, 100, 3][len(given):]
    url, token = bench.get_auth(auth, 'test:tester', 'testing')
    parts = urlsplit(url)
    container = '%s/bench-slo-%s' % (parts.path, uuid.uuid4().hex[:8])
    _put(parts, token, container, b'')
    seg_size = (mib << 20) // segments
    block = os.urandom(seg_size)
    manifest = []
    for i in range(segments):
        # Distinct bytes per segment (the first 8 bytes carry its number).
        data = i.to_bytes(8, 'big') + block[8:]
        _put(parts, token, '%s/seg/%05d' % (container, i), data)
        manifest.append({'path': '%s/seg/%05d' % (container[len(parts.path):], i),
                         'etag': hashlib.md5(data).hexdigest(), 'size_bytes': len(data)})
    _put(parts, token, container + '/slo', json.dumps(manifest).encode(),
         '?multipart-manifest=put')
    whole = b''.join(i.to_bytes(8, 'big') + block[8:] for i in range(segments))
    _put(parts, token, container + '/plain', whole)
    del whole
    plain, slo = [], []
    for _ in range(rounds):
        plain.append(_get_rate(parts, token, container + '/plain')[0])
        slo.append(_get_rate(parts, token, container + '/slo')[0])
    best_plain, best_slo = max(plain), max(slo)
    print('plain %d MiB GET: %s MB/s (best %.1f)' % (mib, ' '.join('%.1f' % r for r in plain),
                                                     best_plain))
    print('SLO %d x %d MiB GET: %s MB/s (best %.1f)' % (segments, seg_size >> 20,
                                                        ' '.join('%.1f' % r for r in slo),
                                                        best_slo))
    print('ratio SLO/plain (best of %d): %.2f' % (rounds, best_slo / best_plain))


if __name__ == '__main__':
    main()
