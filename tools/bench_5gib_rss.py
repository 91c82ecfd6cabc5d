#!/usr/bin/env python3
"""A 5 GiB PUT and GET through the aio on :8080, sampling the RSS of the proxy and object servers.

    .venv/bin/python tools/bench_5gib_rss.py   # aio data dir /var/tmp/perf-aio2
"""
import sys, os, http.client, time, threading, subprocess

import bench_proxy as b
SIZE = 5 << 30
url, tok = b.get_auth('http://127.0.0.1:8080/auth/v1.0', 'test:tester', 'testing')
from urllib.parse import urlsplit
p = urlsplit(url)
pids = [int(x) for x in subprocess.run(['pgrep', '-f', 'perf-aio2/etc/(proxy|object)'], capture_output=True, text=True).stdout.split()]
def rss(pid):
    try: return int(open('/proc/%d/status' % pid).read().split('VmRSS:')[1].split()[0]) // 1024
    except OSError: return 0
peak = {pid: rss(pid) for pid in pids}; base = dict(peak); stop = False
def watch():
    while not stop:
        for pid in pids: peak[pid] = max(peak[pid], rss(pid))
        time.sleep(0.5)
threading.Thread(target=watch, daemon=True).start()
block = os.urandom(1 << 20)
def body():
    for _ in range(SIZE >> 20): yield block
c = http.client.HTTPConnection(p.hostname, p.port, timeout=600)
c.request('PUT', p.path + '/large', headers={'X-Auth-Token': tok, 'Content-Length': '0'}); c.getresponse().read()
t = time.time()
c.request('PUT', p.path + '/large/5g', body=body(), headers={'X-Auth-Token': tok, 'Content-Length': str(SIZE)})
r = c.getresponse(); r.read(); print('PUT', r.status, '%.0f MB/s' % (SIZE / 1e6 / (time.time() - t)), flush=True)
t = time.time(); c.request('GET', p.path + '/large/5g', headers={'X-Auth-Token': tok}); r = c.getresponse(); n = 0
while True:
    d = r.read(1 << 20)
    if not d: break
    n += len(d)
print('GET', r.status, n == SIZE, '%.0f MB/s' % (SIZE / 1e6 / (time.time() - t)), flush=True)
c.request('DELETE', p.path + '/large/5g', headers={'X-Auth-Token': tok}); c.getresponse().read()
stop = True
print('RSS MB per process, before -> peak:', ', '.join('%d->%d' % (base[x], peak[x]) for x in pids))
