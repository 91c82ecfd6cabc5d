#!/usr/bin/env python3
"""What the ratelimit middleware costs, and how exact its limits are.

    .venv/bin/python tools/bench_ratelimit.py cost PROXY_CONF PORT [GETS [ROUNDS]]
    .venv/bin/python tools/bench_ratelimit.py accuracy PROXY_CONF PORT [SECONDS]
    .venv/bin/python tools/bench_ratelimit.py middleware [CALLS]

PROXY_CONF is a running aio's etc/proxy-server.conf, PORT its proxy (used for
tokens). memcached must be installed (`make apt`); the tool starts its own on
a free port and kills it.

cost: three proxy apps built in this process from PROXY_CONF: without the
ratelimit filter, with it counting in the process, and with it counting in
memcached (rules: source requests, source bytes_out, user requests, source
concurrent). Each round does GETS (default 2000) GETs of one 4 KiB object
through each app in turn (A, B, C, A, B, C, ...: the machine's noise hits all
three alike); prints the proxy CPU (process time) per GET of each round, the
medians, and memcached's own CPU per GET (from /proc).

accuracy: 64 client threads send HEADs of the test account as fast as they
can for SECONDS (default 30) under one key (one X-Forwarded-For), limited to
`source requests 200/10s reject`; once through one proxy process (counts in
the process), once alternating between two proxy processes sharing memcached.
Prints how many requests were let through against the limit: per aligned
10 s window and the most in any 10 s (sliding, from the clients' clocks).

middleware: the middleware alone, in this process, in front of a WSGI app
that answers 4 KiB at once: CPU microseconds per GET without it, with it
(counting in the process) and with memcached (same rules; a token for the
user rule). This is the cost to hold against the proxy CPU of a GET that
`cost` measures, without the noise of the whole pipeline and storage.
"""
import http.client
import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

RULES = ('source requests 100000/1m reject\nsource bytes_out 100Gi/1h reject\n'
         'user requests 100000/1m reject\nsource concurrent 1000 reject')


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def start_memcached():
    binary = shutil.which('memcached')
    if not binary:
        sys.exit('memcached is not installed (make apt)')
    port = free_port()
    args = [binary, '-l', '127.0.0.1', '-p', str(port), '-U', '0', '-m', '64', '-t', '1']
    if os.geteuid() == 0:
        args += ['-u', 'root']
    proc = subprocess.Popen(args, start_new_session=True)
    for _ in range(200):
        try:
            socket.create_connection(('127.0.0.1', port), timeout=0.5).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit('memcached did not start')


def proc_cpu(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def write_conf(conf_path, out_path, ratelimit, port=None):
    """PROXY_CONF with the ratelimit filter configured (None: left out)."""
    from swiftlike.config import read_ini
    sections = read_ini(conf_path)
    lines = []
    for name, values in sections.items():
        values = dict(values)
        if name == 'pipeline:main':
            names = [n for n in values['pipeline'].split() if n != 'ratelimit']
            if ratelimit is not None:
                names.insert(names.index('tempurl') + 1, 'ratelimit')
            values['pipeline'] = ' '.join(names)
        if name == 'proxy-server' and port:
            values.update(bind_port=str(port), workers='0')
        if name == 'filter:ratelimit':
            continue
        lines.append('[%s]' % name)
        lines.extend('%s = %s' % (k, v.replace('\n', '\n    ')) for k, v in values.items())
    if ratelimit is not None:
        lines.append('[filter:ratelimit]')
        lines.append('use = swiftlike.middleware.ratelimit')
        lines.extend('%s = %s' % (k, v.replace('\n', '\n    ')) for k, v in ratelimit.items())
    with open(out_path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return out_path


def get_token(port, user='test:tester', key='testing'):
    req = urllib.request.Request('http://127.0.0.1:%s/auth/v1.0' % port,
                                 headers={'X-Auth-User': user, 'X-Auth-Key': key})
    with urllib.request.urlopen(req) as resp:
        return resp.headers['X-Auth-Token'], resp.headers['X-Storage-Url']


def cost(conf_path, port, gets=2000, rounds=5):
    from swiftlike import concurrency
    concurrency.monkey_patch()
    from swiftlike.proxy import server
    token, storage_url = get_token(port)
    account = storage_url.split('/v1/')[1]
    mc, mc_port = start_memcached()
    tmp = tempfile.mkdtemp(prefix='bench-rl-')
    try:
        variants = [('without ratelimit', None),
                    ('ratelimit, in process', {'rules': RULES}),
                    ('ratelimit, memcached', {'rules': RULES,
                                              'memcache_servers': '127.0.0.1:%d' % mc_port})]
        apps = []
        for i, (label, options) in enumerate(variants):
            path = write_conf(conf_path, os.path.join(tmp, 'p%d.conf' % i), options)
            apps.append((label, server.load(path)[1]()))

        def call(app, method, path, body=b''):
            env = {'REQUEST_METHOD': method, 'PATH_INFO': path, 'QUERY_STRING': '',
                   'SERVER_NAME': '127.0.0.1', 'SERVER_PORT': str(port),
                   'SERVER_PROTOCOL': 'HTTP/1.1', 'wsgi.url_scheme': 'http',
                   'wsgi.input': io.BytesIO(body), 'wsgi.errors': sys.stderr,
                   'CONTENT_LENGTH': str(len(body)), 'HTTP_X_AUTH_TOKEN': token,
                   'REMOTE_ADDR': '127.0.0.1', 'HTTP_HOST': '127.0.0.1:%s' % port}
            out = {}

            def start_response(status, headers, exc_info=None):
                out['status'] = status
            it = app(env, start_response)
            data = b''.join(it)
            getattr(it, 'close', lambda: None)()
            return out['status'], data
        path = '/v1/%s/bench-ratelimit' % account
        call(apps[0][1], 'PUT', path)
        assert call(apps[0][1], 'PUT', path + '/o', b'x' * 4096)[0].startswith('201')
        for _label, app in apps:
            for _ in range(200):
                status, _ = call(app, 'GET', path + '/o')
            assert status.startswith('200'), status
        per = {label: [] for label, _ in apps}
        mc_cpu = []
        for r in range(rounds):
            for label, app in apps:
                mc_before = proc_cpu(mc.pid)
                t = time.process_time()
                for _ in range(gets):
                    call(app, 'GET', path + '/o')
                per[label].append((time.process_time() - t) * 1000.0 / gets)
                if 'memcached' in label:
                    mc_cpu.append((proc_cpu(mc.pid) - mc_before) * 1000.0 / gets)
            print('round %d: %s' % (r + 1, '  '.join('%s %.3f ms' % (label, per[label][-1])
                                                      for label, _ in apps)))
        base_label = apps[0][0]
        base = statistics.median(per[base_label])
        for label, _ in apps:
            med = statistics.median(per[label])
            # The difference within each round (the three ran back to back)
            # is steadier than the difference of medians on a busy machine.
            diff = statistics.median(b - a for a, b in zip(per[base_label], per[label]))
            print('%-24s median %.3f ms proxy CPU per GET (%.0f GETs/s per core); median '
                  'difference in a round %+.3f ms (%+.1f%%)'
                  % (label, med, 1000.0 / med, diff, diff / base * 100))
        print('memcached CPU per GET: median %.3f ms' % statistics.median(mc_cpu))
    finally:
        mc.kill()
        mc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def start_proxy(conf_path, tmp, options, name):
    port = free_port()
    path = write_conf(conf_path, os.path.join(tmp, name + '.conf'), options, port)
    log = open(os.path.join(tmp, name + '.log'), 'wb')
    proc = subprocess.Popen([sys.executable, '-m', 'swiftlike.cli.servers', 'proxy', path],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    for _ in range(600):
        try:
            socket.create_connection(('127.0.0.1', port), timeout=0.5).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit('proxy did not start; see %s' % log.name)


def flood(ports, token, account_path, seconds, clients=64):
    admitted, refused, other = [], [0], [0]
    lock = threading.Lock()
    start = threading.Event()
    stop_at = [0.0]

    def client(n):
        port = ports[n % len(ports)]
        conn = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
        start.wait()
        while time.time() < stop_at[0]:
            sent = time.time()
            try:
                conn.request('HEAD', account_path, headers={
                    'X-Auth-Token': token, 'X-Forwarded-For': '192.0.2.77'})
                resp = conn.getresponse()
                resp.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
                with lock:
                    other[0] += 1
                continue
            with lock:
                if resp.status // 100 == 2:
                    admitted.append((sent, time.time()))
                elif resp.status == 429:
                    refused[0] += 1
                else:
                    other[0] += 1
        conn.close()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.time() + seconds
    start.set()
    for t in threads:
        t.join()
    return admitted, refused[0], other[0]


def report(label, admitted, refused, other, limit, window):
    # An admission was decided between sending and the answer: counted at
    # the middle, and the longest such span is printed (the uncertainty).
    spans = sorted(end - sent for sent, end in admitted)
    admitted = sorted((sent + end) / 2 for sent, end in admitted)
    print('%s: answers of admitted requests took up to %.3f s (median %.3f s)'
          % (label, spans[-1] if spans else 0, spans[len(spans) // 2] if spans else 0))
    first = int(admitted[0] // window) if admitted else 0
    buckets = {}
    for t in admitted:
        buckets[int(t // window) - first] = buckets.get(int(t // window) - first, 0) + 1
    most, j = 0, 0
    for i, t in enumerate(admitted):
        while admitted[j] <= t - window:
            j += 1
        most = max(most, i - j + 1)
    print('%s: %d let through, %d refused (429), %d other; limit %d per %gs; per aligned '
          'window %s; most in any %gs: %d (%.2fx the limit)'
          % (label, len(admitted), refused, other, limit, window,
             [buckets[k] for k in sorted(buckets)], window, most, most / float(limit)))


def accuracy(conf_path, port, seconds=30):
    token, storage_url = get_token(port)
    account_path = '/v1/' + storage_url.split('/v1/')[1]
    limit, window = 200, 10
    rules = 'source requests %d/%ds reject' % (limit, window)
    tmp = tempfile.mkdtemp(prefix='bench-rl-')
    procs = []
    mc = None
    try:
        proc, p1 = start_proxy(conf_path, tmp, {'rules': rules,
                                                'trusted_proxies': '127.0.0.1'}, 'local')
        procs.append(proc)
        report('one proxy, in process', *flood([p1], token, account_path, seconds), limit,
               window)
        mc, mc_port = start_memcached()
        shared = {'rules': rules, 'trusted_proxies': '127.0.0.1',
                  'memcache_servers': '127.0.0.1:%d' % mc_port}
        for name in ('mc1', 'mc2'):
            proc, p = start_proxy(conf_path, tmp, shared, name)
            procs.append((proc, p))
        ports = [p for _proc, p in procs[1:]]
        report('two proxies, memcached', *flood(ports, token, account_path, seconds), limit,
               window)
    finally:
        for item in procs:
            proc = item[0] if isinstance(item, tuple) else item
            proc.kill()
            proc.wait()
        if mc:
            mc.kill()
            mc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def middleware(calls=20000):
    from swiftlike import concurrency
    concurrency.monkey_patch()
    from swiftlike.hashing import set_hash_secrets
    from swiftlike.middleware import ratelimit
    from swiftlike.middleware.tempauth_tokens import default_secret, sign_token
    set_hash_secrets('bench', 'bench')
    token = sign_token(default_secret(), 'AUTH', 'test', 'tester', ['test'], time.time() + 3600)

    def app(env, start_response):
        start_response('200 OK', [('Content-Length', '4096')])
        return [b'x' * 4096]

    def call(wsgi):
        env = {'REQUEST_METHOD': 'GET', 'PATH_INFO': '/v1/AUTH_test/c/o',
               'REMOTE_ADDR': '127.0.0.1', 'HTTP_X_AUTH_TOKEN': token,
               'wsgi.input': io.BytesIO(b'')}
        it = wsgi(env, lambda status, headers, exc_info=None: None)
        b''.join(it)
        getattr(it, 'close', lambda: None)()
    mc, mc_port = start_memcached()
    try:
        variants = [('without', app),
                    ('in process', ratelimit.filter_factory({'rules': RULES}, {})(app)),
                    ('memcached', ratelimit.filter_factory(
                        {'rules': RULES, 'memcache_servers': '127.0.0.1:%d' % mc_port},
                        {})(app))]
        for label, wsgi in variants:
            for _ in range(1000):
                call(wsgi)
            mc_before = proc_cpu(mc.pid)
            t = time.process_time()
            for _ in range(calls):
                call(wsgi)
            used = (time.process_time() - t) / calls * 1e6
            mc_used = (proc_cpu(mc.pid) - mc_before) / calls * 1e6
            print('%-10s %6.1f us CPU per GET (memcached: %.1f us)' % (label, used, mc_used))
    finally:
        mc.kill()
        mc.wait()


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == 'middleware':
        return middleware(*[int(a) for a in sys.argv[2:]])
    if len(sys.argv) < 4 or sys.argv[1] not in ('cost', 'accuracy'):
        sys.exit(__doc__)
    mode, conf_path, port = sys.argv[1:4]
    extra = [int(a) for a in sys.argv[4:]]
    if mode == 'cost':
        cost(conf_path, port, *extra)
    else:
        accuracy(conf_path, port, *extra)


if __name__ == '__main__':
    main()
