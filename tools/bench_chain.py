#!/usr/bin/env python3
"""Proxy CPU per 4 KiB GET through a cluster's whole middleware pipeline,
measured in-process (no HTTP server in front, so only the pipeline and the
proxy's backend requests count).

    .venv/bin/python tools/bench_chain.py PROXY_CONF PORT [GETS]

PROXY_CONF is a running aio's etc/proxy-server.conf (its storage servers
answer the backend requests; PORT is its proxy, used once for a token). The
proxy app is built from the config in this process, one 4 KiB object is
written and read GETS times (default 2000) with a profiler, then GETS times
without; prints the CPU milliseconds per GET of both and the profile's
middleware lines. Run it with two checkouts' venvs against their own aios,
alternating, to compare two pipelines.
"""
import os, sys, io, time, cProfile, pstats, urllib.request
from swiftlike import concurrency
concurrency.monkey_patch()
from swiftlike.proxy import server
conf_path, port = sys.argv[1], sys.argv[2]
req = urllib.request.Request('http://127.0.0.1:%s/auth/v1.0' % port, headers={'X-Auth-User': 'test:tester', 'X-Auth-Key': 'testing'})
with urllib.request.urlopen(req) as r:
    token = r.headers['X-Auth-Token']; surl = r.headers['X-Storage-Url']
acct = surl.split('/v1/')[1]
conf, factory = server.load(conf_path)
app = factory()
def call(method, path, body=b''):
    env = {'REQUEST_METHOD': method, 'PATH_INFO': path, 'QUERY_STRING': '', 'SERVER_NAME': '127.0.0.1',
           'SERVER_PORT': port, 'SERVER_PROTOCOL': 'HTTP/1.1', 'wsgi.url_scheme': 'http',
           'wsgi.input': io.BytesIO(body), 'wsgi.errors': sys.stderr, 'CONTENT_LENGTH': str(len(body)),
           'HTTP_X_AUTH_TOKEN': token, 'REMOTE_ADDR': '127.0.0.1', 'HTTP_HOST': '127.0.0.1:' + port}
    out = {}
    def sr(status, headers, exc_info=None):
        out['s'] = status
    b = b''.join(app(env, sr))
    return out['s'], b
p = '/v1/%s/profc' % acct
print(call('PUT', p))
print(call('PUT', p + '/o', b'x' * 4096)[0])
for i in range(200): call('GET', p + '/o')
N = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
pr = cProfile.Profile()
t = time.process_time()
pr.enable()
for i in range(N): call('GET', p + '/o')
pr.disable()
print('cpu ms per GET (with profiler)', (time.process_time() - t) * 1000 / N)
t = time.process_time()
for i in range(N): call('GET', p + '/o')
print('cpu ms per GET (no profiler)', (time.process_time() - t) * 1000 / N)
st = pstats.Stats(pr); st.sort_stats("tottime").print_stats(os.environ.get("PAT", "middleware|proxy/(server|unsupported|cors|pipeline)|toolkit|subrequest"), int(os.environ.get("TOP", "40")))
