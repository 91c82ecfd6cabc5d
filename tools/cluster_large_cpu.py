#!/usr/bin/env python3
"""CPU per 64 MiB object PUT and GET of a running cluster, by server type (user + system), and the
whole machine's busy time beside it; one stream.

    .venv/bin/python tools/cluster_large_cpu.py PATTERN AUTH_URL COUNT
"""
import sys, os, http.client, time, collections, re, subprocess

import bench_proxy as b
pat, auth, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
out = subprocess.run(['ps', '-eo', 'pid,args'], capture_output=True, text=True).stdout
kinds = {}
for line in out.splitlines()[1:]:
    pid, args = line.strip().split(None, 1)
    if pat in args and 'python' in args:
        m = re.search(r'(proxy|object|container|account)', args); kinds[int(pid)] = m.group(1) if m else 'other'
TCK = os.sysconf('SC_CLK_TCK')
def snap():
    # user and system seconds by kind (MD5/CRC work is user time; the copies
    # into sockets and the page cache are system time)
    d = collections.Counter()
    for pid, k in kinds.items():
        try:
            f = open('/proc/%d/stat' % pid).read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        d[k + '.u'] += int(f[11]) / TCK; d[k + '.s'] += int(f[12]) / TCK
    # the whole machine's busy time, the kernel's threads (loop devices,
    # softirqs) and this client included
    cpu = [int(x) for x in open('/proc/stat').readline().split()[1:]]
    d['machine.u'] += (cpu[0] + cpu[1]) / TCK; d['machine.s'] += (sum(cpu) - cpu[0] - cpu[1] - cpu[3] - cpu[4]) / TCK
    return d
url, tok = b.get_auth(auth, 'test:tester', 'testing')
from urllib.parse import urlsplit
p = urlsplit(url)
body = os.urandom(64 << 20)
c = http.client.HTTPConnection(p.hostname, p.port, timeout=120)
c.request('PUT', p.path + '/large', headers={'X-Auth-Token': tok, 'Content-Length': '0'}); c.getresponse().read()
for method in ('PUT', 'GET'):
    s0 = snap(); t = time.time()
    for i in range(n):
        c.request(method, p.path + '/large/o%d' % i, body=body if method == 'PUT' else None, headers={'X-Auth-Token': tok})
        r = c.getresponse(); r.read(); assert r.status < 300, r.status
    el = time.time() - t; s1 = snap()
    ms = lambda key: (s1[key] - s0[key]) * 1000 / n
    names = sorted({k.rsplit('.', 1)[0] for k in s1})
    print(method, '%.1f MB/s' % (n * 64 / el), ' '.join(
        '%s=%.0fms(u%.0f+s%.0f)' % (k, ms(k + '.u') + ms(k + '.s'), ms(k + '.u'), ms(k + '.s'))
        for k in names), flush=True)
