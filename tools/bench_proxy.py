"""Small-object throughput through a proxy: PUT, GET, HEAD, DELETE ops/s.

    python tools/bench_proxy.py --aio [--workers N] [--concurrency C] [--count N] [--size B]
    python tools/bench_proxy.py --auth URL --user A:U --key K ...

--aio starts a throw-away all-in-one cluster (4 nodes, 3 replicas, no
daemons) in a temporary directory and stops it afterwards.
"""
import argparse
import http.client
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from urllib.parse import urlsplit


def get_auth(auth_url, user, key):
    req = urllib.request.Request(auth_url, headers={'X-Auth-User': user, 'X-Auth-Key': key})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.headers['X-Storage-Url'], resp.headers['X-Auth-Token']


def _worker(storage_url, token, method, names, body, errors, start_event):
    parts = urlsplit(storage_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    headers = {'X-Auth-Token': token}
    start_event.wait()
    for name in names:
        hdrs = dict(headers)
        data = None
        if method == 'PUT':
            data = body
            hdrs['Content-Length'] = str(len(body))
        try:
            conn.request(method, parts.path + name, body=data, headers=hdrs)
            resp = conn.getresponse()
            resp.read()
            if resp.status >= 300:
                errors.append(resp.status)
        except (OSError, http.client.HTTPException) as err:
            errors.append(str(err))
            conn.close()
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    conn.close()


def run_phase(storage_url, token, method, names, body, concurrency):
    errors = []
    start_event = threading.Event()
    slices = [names[i::concurrency] for i in range(concurrency)]
    threads = [threading.Thread(target=_worker, args=(storage_url, token, method, s, body,
                                                      errors, start_event))
               for s in slices]
    for t in threads:
        t.start()
    began = time.time()
    start_event.set()
    for t in threads:
        t.join()
    elapsed = time.time() - began
    return len(names) / elapsed, errors


def cpu_seconds(pids):
    """User+system CPU time of these processes (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            with open('/proc/%d/stat' % pid) as f:
                fields = f.read().rsplit(')', 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf('SC_CLK_TCK')


def bench(storage_url, token, concurrency, count, size, proxy_pids=(), all_pids=()):
    container = '/bench-%s' % uuid.uuid4().hex[:8]
    parts = urlsplit(storage_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    conn.request('PUT', parts.path + container, headers={'X-Auth-Token': token,
                                                         'Content-Length': '0'})
    conn.getresponse().read()
    conn.close()
    names = ['%s/o%06d' % (container, i) for i in range(count)]
    body = os.urandom(size)
    results = {}
    for method in ('PUT', 'GET', 'HEAD', 'DELETE'):
        proxy_cpu, total_cpu = cpu_seconds(proxy_pids), cpu_seconds(all_pids)
        rate, errors = run_phase(storage_url, token, method, names, body, concurrency)
        proxy_cpu = (cpu_seconds(proxy_pids) - proxy_cpu) * 1000.0 / len(names)
        total_cpu = (cpu_seconds(all_pids) - total_cpu) * 1000.0 / len(names)
        results[method] = (rate, len(errors), proxy_cpu, total_cpu)
        print('%-6s %8.1f ops/s  errors=%d  proxy cpu %.2f ms/op  cluster cpu %.2f ms/op'
              % (method, rate, len(errors), proxy_cpu, total_cpu), flush=True)
    return results


def start_aio(workers):
    from swiftlike.aio import configs
    from swiftlike.aio.cluster import AioCluster
    from swiftlike.aio.layout import new_layout
    data_dir = tempfile.mkdtemp(prefix='swiftlike-bench-')
    layout = new_layout(data_dir, base_port=0)
    aio = AioCluster(layout, proxy_port=0, users=configs.DEFAULT_USERS, workers=workers,
                     daemons=False, log_level='WARNING')
    aio.lock()
    aio.prepare()
    aio.start(timeout=120)
    return aio, data_dir


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--aio', action='store_true', help='start a temporary aio cluster')
    parser.add_argument('--workers', type=int, default=0, help='aio server workers (0: no fork)')
    parser.add_argument('--auth', help='auth URL of an existing cluster')
    parser.add_argument('--user', default='test:tester')
    parser.add_argument('--key', default='testing')
    parser.add_argument('--concurrency', type=int, default=16)
    parser.add_argument('--count', type=int, default=2000)
    parser.add_argument('--size', type=int, default=1024)
    parser.add_argument('--proxy-pids', default='',
                        help='with --auth: comma-separated pids whose CPU is the proxy\'s')
    parser.add_argument('--cluster-pids', default='',
                        help='with --auth: comma-separated pids of every server of the cluster')
    args = parser.parse_args(argv)
    if not args.aio and not args.auth:
        parser.error('give --aio or --auth')
    aio = data_dir = None
    try:
        if args.aio:
            aio, data_dir = start_aio(args.workers)
            auth_url = aio.auth_url
        else:
            auth_url = args.auth
        storage_url, token = get_auth(auth_url, args.user, args.key)
        print('concurrency=%d count=%d size=%d workers=%d'
              % (args.concurrency, args.count, args.size, args.workers), flush=True)
        proxy_pids = [int(p) for p in args.proxy_pids.split(',') if p]
        all_pids = [int(p) for p in args.cluster_pids.split(',') if p]
        if aio is not None:
            from swiftlike.aio.supervisor import group_members
            pid = aio.server_pid('proxy', 0)
            proxy_pids = group_members(pid) or [pid]
            all_pids = aio.all_pids()
        bench(storage_url, token, args.concurrency, args.count, args.size, proxy_pids, all_pids)
    finally:
        if aio is not None:
            aio.stop(timeout=10)
            aio.unlock()
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
