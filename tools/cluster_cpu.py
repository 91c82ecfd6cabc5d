#!/usr/bin/env python3
"""CPU per request of a running cluster, split by server type (proxy, object, container, account).

    .venv/bin/python tools/cluster_cpu.py PATTERN COUNT SIZE AUTH_URL [METHODS]

PATTERN picks the cluster's processes by command line (e.g. /var/tmp/perf-aio2, swift-anchor);
COUNT objects of SIZE bytes from 16 client threads; METHODS e.g. PUT,GET,DELETE (the default).
CONT=/name reuses a container (to GET objects of an earlier run).
"""
import subprocess, sys, os, re, collections

import bench_proxy as b
pat = sys.argv[1]; count = int(sys.argv[2]); size = int(sys.argv[3]); auth = sys.argv[4]
methods = sys.argv[5].split(',') if len(sys.argv) > 5 else ['PUT', 'GET', 'DELETE']
out = subprocess.run(['ps', '-eo', 'pid,args'], capture_output=True, text=True).stdout
kinds = {}
for line in out.splitlines()[1:]:
    pid, args = line.strip().split(None, 1)
    if pat in args and 'python' in args:
        m = re.search(r'(proxy|object|container|account)', args)
        kinds[int(pid)] = m.group(1) if m else 'other'
def snap():
    d = collections.Counter()
    for pid, k in kinds.items():
        d[k] += b.cpu_seconds([pid])
    return d
url, tok = b.get_auth(auth, 'test:tester', 'testing')
import uuid, http.client
from urllib.parse import urlsplit
container = os.environ.get('CONT') or '/bench-%s' % uuid.uuid4().hex[:8]
parts = urlsplit(url)
conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
conn.request('PUT', parts.path + container, headers={'X-Auth-Token': tok, 'Content-Length': '0'})
conn.getresponse().read()
names = ['%s/o%06d' % (container, i) for i in range(count)]
body = os.urandom(size)
for m in methods:
    s0 = snap()
    rate, errs = b.run_phase(url, tok, m, names, body, 16)
    s1 = snap()
    per = {k: (s1[k] - s0[k]) * 1000 / count for k in s1}
    print('%-6s %7.1f ops/s err=%d total %.2f ms/op ' % (m, rate, len(errs), sum(per.values())) + ' '.join('%s=%.2f' % kv for kv in sorted(per.items())), flush=True)
