#!/usr/bin/env python3
"""What the metrics cost: proxy CPU per 4 KiB GET with statsd + Prometheus on
vs off, in alternating pairs in one process (so both see the same machine
load, the same storage servers and the same backend connections).

    .venv/bin/python tools/bench_metrics.py PROXY_CONF PORT [GETS] [PAIRS]

PROXY_CONF is a running aio's etc/proxy-server.conf, PORT its proxy (used once
for a token). Two proxy apps are built in-process from it, as
tools/bench_chain.py does: "off" without the metrics filter and with
prometheus_enabled = false; "on" with the metrics filter, statsd sent to a UDP
socket of this process (never read: the kernel drops what overflows) and
Prometheus in multiprocess mode (files in a temporary directory, as a real
proxy). Each pair runs GETS GETs (default 2000) on each app, the order
alternating; prints the CPU ms per GET of each and the median overhead.
BENCH_SAME=1 builds both apps without metrics (an A/A run: the noise floor).
"""
import io
import os
import socket
import statistics
import sys
import tempfile
import time
import urllib.request

from swiftlike import concurrency
concurrency.monkey_patch()
from swiftlike import metrics  # noqa: E402
from swiftlike.config import read_ini  # noqa: E402
from swiftlike.proxy import server  # noqa: E402


def write_conf(sections, path):
    with open(path, 'w') as f:
        for name, values in sections.items():
            f.write('[%s]\n' % name)
            for key, value in values.items():
                f.write('%s = %s\n' % (key, value))
            f.write('\n')
    return path


def main():
    conf_path, port = sys.argv[1], sys.argv[2]
    gets = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    pairs = int(sys.argv[4]) if len(sys.argv) > 4 else 6
    tmp = tempfile.mkdtemp(prefix='bench-metrics-')
    metrics.setup(os.path.join(tmp, 'prom'))
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(('127.0.0.1', 0))

    base = read_ini(conf_path)
    names = base['pipeline:main']['pipeline'].split()
    off = {k: dict(v) for k, v in base.items()}
    off['pipeline:main']['pipeline'] = ' '.join(n for n in names if n != 'metrics')
    off['proxy-server']['prometheus_enabled'] = 'false'
    on = {k: dict(v) for k, v in base.items()}
    if 'metrics' not in names:
        names.insert(names.index('proxy_logging') + 1, 'metrics')
    on['pipeline:main']['pipeline'] = ' '.join(names)
    on.setdefault('DEFAULT', {}).update({'log_statsd_host': '127.0.0.1',
                                         'log_statsd_port': str(sink.getsockname()[1])})
    on['proxy-server']['prometheus_enabled'] = 'true'
    if os.environ.get('BENCH_SAME'):   # calibration: both apps without metrics
        on = off
    apps = {}
    for label, sections in (('off', off), ('on', on)):
        _conf, factory = server.load(write_conf(sections, os.path.join(tmp, label + '.conf')))
        apps[label] = factory()

    req = urllib.request.Request('http://127.0.0.1:%s/auth/v1.0' % port,
                                 headers={'X-Auth-User': 'test:tester', 'X-Auth-Key': 'testing'})
    with urllib.request.urlopen(req) as r:
        token, surl = r.headers['X-Auth-Token'], r.headers['X-Storage-Url']
    acct = surl.split('/v1/')[1]

    def call(app, method, path, body=b''):
        env = {'REQUEST_METHOD': method, 'PATH_INFO': path, 'QUERY_STRING': '',
               'SERVER_NAME': '127.0.0.1', 'SERVER_PORT': port, 'SERVER_PROTOCOL': 'HTTP/1.1',
               'wsgi.url_scheme': 'http', 'wsgi.input': io.BytesIO(body),
               'wsgi.errors': sys.stderr, 'CONTENT_LENGTH': str(len(body)),
               'HTTP_X_AUTH_TOKEN': token, 'REMOTE_ADDR': '127.0.0.1',
               'HTTP_HOST': '127.0.0.1:' + port}
        out = {}

        def start_response(status, headers, exc_info=None):
            out['s'] = status
        body_iter = app(env, start_response)
        data = b''.join(body_iter)
        getattr(body_iter, 'close', lambda: None)()
        return out['s'], data

    path = '/v1/%s/benchmetrics' % acct
    assert call(apps['off'], 'PUT', path)[0].startswith('20')
    assert call(apps['off'], 'PUT', path + '/o', b'x' * 4096)[0].startswith('201')
    for app in apps.values():
        for _ in range(200):
            assert call(app, 'GET', path + '/o')[0].startswith('200')

    results = {'off': [], 'on': []}
    for pair in range(pairs):
        order = ('off', 'on') if pair % 2 == 0 else ('on', 'off')
        for label in order:
            app = apps[label]
            start = time.process_time()
            for _ in range(gets):
                call(app, 'GET', path + '/o')
            results[label].append((time.process_time() - start) * 1000.0 / gets)
        print('pair %d: off %.4f ms  on %.4f ms  (%+.1f%%)' % (
            pair + 1, results['off'][-1], results['on'][-1],
            100.0 * (results['on'][-1] / results['off'][-1] - 1)))
    off_med, on_med = statistics.median(results['off']), statistics.median(results['on'])
    ratios = [b / a - 1 for a, b in zip(results['off'], results['on'])]
    print('median: off %.4f ms  on %.4f ms per GET; overhead median of pairs %+.2f%%' % (
        off_med, on_med, 100.0 * statistics.median(ratios)))
    attribute(apps, min(results['off']))


def innermost(app):
    while hasattr(app, 'app'):
        app = app.app
    return app


def attribute(apps, get_ms):
    """The metrics' own CPU per GET, measured apart from the noisy GETs: what
    one 4 KiB GET makes the metrics code do (the metrics filter around a
    request, and the proxy's hook for its 2 backend requests: the GET and the
    version probe), timed in a tight loop on each app, min of 5 alternating
    rounds. Reported against the quietest GET above (min over the pairs)."""
    from swiftlike.middleware.metrics import Metrics
    body = [b'x' * 4096]

    def stub(environ, start_response):
        start_response('200 OK', [('Content-Length', '4096')])
        return body
    nodes = [{'ip': '127.0.0.1', 'port': 6200 + i, 'device': 'd%d' % i} for i in (1, 2)]
    on_filter = [a for a in _chain(apps['on']) if isinstance(a, Metrics)]
    sides = {}
    for label in ('off', 'on'):
        proxy = innermost(apps[label])
        wsgi = Metrics(stub, on_filter[0].conf) if label == 'on' and on_filter else stub
        sides[label] = (proxy, wsgi)
    env0 = {'REQUEST_METHOD': 'GET', 'PATH_INFO': '/v1/AUTH_test/c/o', 'CONTENT_LENGTH': '0',
            'REMOTE_ADDR': '127.0.0.1', 'wsgi.input': io.BytesIO(b'')}
    loops, best = 20000, {'off': [], 'on': []}
    for round_ in range(5):
        for label in (('off', 'on') if round_ % 2 == 0 else ('on', 'off')):
            proxy, wsgi = sides[label]
            start = time.process_time()
            for _ in range(loops):
                out = wsgi(dict(env0), lambda s, h, e=None: None)
                for _chunk in out:
                    pass
                getattr(out, 'close', lambda: None)()
                proxy.backend_done(nodes[0], 'GET', 200, 0.002)
                proxy.backend_done(nodes[1], 'HEAD', 200, 0.002)
            best[label].append((time.process_time() - start) * 1e6 / loops)
    extra = min(best['on']) - min(best['off'])
    print('metrics code per GET: %.1f us (on %.1f us, off %.1f us of stub work); against '
          '%.4f ms per GET: %.2f%%' % (extra, min(best['on']), min(best['off']), get_ms,
                                       100.0 * extra / (get_ms * 1000.0)))


def _chain(app):
    while app is not None:
        yield app
        app = getattr(app, 'app', None)


if __name__ == '__main__':
    main()
