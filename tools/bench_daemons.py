"""Benchmarks of the background daemons (figures for doc/benchmarks/daemons.md).

    .venv/bin/python tools/bench_daemons.py [--objects 10000] [--idle-objects 100000]
                                            [--audit-mb 512] [--skip ...]

1. reconverge: an aio cluster (4 nodes, part power 10); object server 1 is
   killed, N objects are PUT through the proxy, the server is started again, and
   object-replicator passes (--once, all nodes at once) run until every object
   has exactly its 3 primary copies. Reports the time and the passes needed.
2. idle: M more objects are laid down directly on their 3 primaries' disks
   (the same files a PUT makes, without the proxy), one replicator pass warms the
   suffix-hash caches, then an idle pass is timed on every node.
3. audit: an in-process ObjectAuditor (no rate limit) over 1 MiB objects
   written with the XFS/xattr DiskFile; MB/s from its own stats (page cache
   dropped first when running as root).
"""
import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from swiftlike import hashing  # noqa: E402
from swiftlike.aio import configs  # noqa: E402
from swiftlike.aio.cluster import AioCluster  # noqa: E402
from swiftlike.aio.layout import new_layout  # noqa: E402
from swiftlike.obj import metadata as xattr_meta  # noqa: E402
from swiftlike.obj.backend import resolve_files  # noqa: E402
from swiftlike.ring import Ring  # noqa: E402

PREFIX, SUFFIX = 'bench-prefix', 'bench-suffix'


def http(method, url, headers=None, body=None):
    import urllib.error
    import urllib.request
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def start_cluster(data_dir):
    layout = new_layout(data_dir, base_port=0)
    os.makedirs(layout.etc_dir, exist_ok=True)
    with open(layout.cluster_conf, 'w') as f:
        f.write('[hash]\npath_prefix = %s\npath_suffix = %s\n' % (PREFIX, SUFFIX))
    aio = AioCluster(layout, proxy_port=0, users=configs.DEFAULT_USERS, workers=0,
                     daemons=False, log_level='WARNING')
    aio.lock()
    aio.prepare()
    aio.start(timeout=120)
    return aio


def run_pass(aio, daemon, nodes=(1, 2, 3, 4), options=()):
    procs = []
    for index in nodes:
        argv = aio.daemon_argv(daemon, index, once=True) + ['-o', 'log_level=INFO']
        for opt in options:
            argv += ['-o', opt]
        procs.append(subprocess.Popen(argv, env=aio.supervisor.base_env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True))
    outs = [p.communicate()[0] for p in procs]
    for p, out in zip(procs, outs):
        if p.returncode:
            raise SystemExit('%s failed:\n%s' % (daemon, out[-2000:]))
    return outs


def pass_times(outputs):
    times = []
    for out in outputs:
        for line in out.splitlines():
            if 'pass done in' in line:
                times.append(float(line.split('pass done in ')[1].split('s')[0]))
    return times


def copies(aio, ring, account, container, obj):
    part, nodes = ring.get_nodes(account, container, obj)
    name_hash = hashing.hash_path(account, container, obj)
    found = set()
    for node in aio.layout.nodes:
        hash_dir = os.path.join(node.device_path, 'objects', str(part), name_hash[-3:],
                                name_hash)
        try:
            if resolve_files(os.listdir(hash_dir)).data:
                found.add(node.device)
        except FileNotFoundError:
            pass
    return found == {n['device'] for n in nodes}


def bench_reconverge(aio, count):
    status, headers, _ = http('GET', aio.auth_url, {'X-Auth-User': 'test:tester',
                                                    'X-Auth-Key': 'testing'})
    url, token = headers['X-Storage-Url'], headers['X-Auth-Token']
    account = url.rsplit('/', 1)[-1]
    auth = {'X-Auth-Token': token}
    http('PUT', url + '/bench', auth)
    aio.kill_server('object', 1)
    start = time.time()
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda i: http('PUT', '%s/bench/o%06d' % (url, i), auth,
                                                b'x' * 1024)[0], range(count)))
    put_time = time.time() - start
    assert statuses == [201] * count, set(statuses)
    aio.start_server('object', 1)
    ring = Ring(aio.layout.etc_dir, ring_name='object')
    start = time.time()
    passes = 0
    while True:
        passes += 1
        outs = run_pass(aio, 'object-replicator')
        if all(copies(aio, ring, account, 'bench', 'o%06d' % i) for i in range(count)):
            break
        if passes >= 5:
            raise SystemExit('not converged after 5 passes')
    took = time.time() - start
    print('reconverge: %d objects of 1 KiB PUT in %.1fs with node 1 down; after it returned, '
          '%d replicator pass(es) on all 4 nodes at once converged in %.1fs (pass times %s)'
          % (count, put_time, passes, took, pass_times(outs)))
    return account


def lay_down(aio, account, count):
    """count objects written straight onto their primaries' disks (no fsync)."""
    ring = Ring(aio.layout.etc_dir, ring_name='object')
    devices = {n.device: n.device_path for n in aio.layout.nodes}
    body = b'y' * 1024
    etag = hashlib.md5(body).hexdigest()
    ts = '%.5f' % time.time()
    for i in range(count):
        obj = 'idle%07d' % i
        part, nodes = ring.get_nodes(account, 'bench', obj)
        name_hash = hashing.hash_path(account, 'bench', obj)
        meta = {'name': '/%s/bench/%s' % (account, obj), 'X-Timestamp': ts,
                'Content-Length': str(len(body)), 'ETag': etag,
                'Content-Type': 'application/octet-stream'}
        for node in nodes:
            hash_dir = os.path.join(devices[node['device']], 'objects', str(part),
                                    name_hash[-3:], name_hash)
            os.makedirs(hash_dir, exist_ok=True)
            fd = os.open(os.path.join(hash_dir, ts + '.data'), os.O_WRONLY | os.O_CREAT)
            os.write(fd, body)
            xattr_meta.write_metadata(fd, meta)
            os.close(fd)
    for node in aio.layout.nodes:   # the suffixes changed behind the servers' backs
        root = os.path.join(node.device_path, 'objects')
        for part in [p for p in os.listdir(root) if p.isdigit()]:
            try:
                os.unlink(os.path.join(root, part, 'hashes.json'))
            except FileNotFoundError:
                pass


def bench_idle(aio, account, count):
    start = time.time()
    lay_down(aio, account, count)
    print('idle: laid down %d objects x 3 replicas in %.1fs' % (count, time.time() - start))
    start = time.time()
    outs = run_pass(aio, 'object-replicator')
    print('idle: first pass after the bulk load (hashing every suffix): %.1fs wall, '
          'per node %s' % (time.time() - start, pass_times(outs)))
    for _ in range(2):
        start = time.time()
        outs = run_pass(aio, 'object-replicator')
        print('idle: pass with nothing to do: %.1fs wall, per node %s'
              % (time.time() - start, pass_times(outs)))
    start = time.time()
    outs = run_pass(aio, 'object-replicator', nodes=(2,))
    print('idle: one node alone (~%d objects): %.1fs wall, pass %s'
          % (count * 3 // 4, time.time() - start, pass_times(outs)))


def bench_audit(megabytes):
    from swiftlike.obj.auditor import AuditorConf, ObjectAuditor
    from swiftlike.obj.diskfile import FsDiskFileManager
    hashing.set_hash_secrets(PREFIX, SUFFIX)
    root = tempfile.mkdtemp(prefix='bench-audit-', dir=os.environ.get('BENCH_DIR'))
    dev = os.path.join(root, 'd1')
    os.makedirs(dev)
    manager = FsDiskFileManager()
    chunk = os.urandom(1 << 20)
    for i in range(megabytes):
        df = manager.get_diskfile(dev, i % 64, 'AUTH_b', 'c', 'o%d' % i)
        writer = df.create(len(chunk))
        writer.write(chunk)
        writer.commit({'X-Timestamp': '%.5f' % time.time(), 'Content-Length': str(len(chunk)),
                       'ETag': hashlib.md5(chunk).hexdigest(), 'name': '/AUTH_b/c/o%d' % i,
                       'Content-Type': 'application/octet-stream'})
    conf = AuditorConf(devices=root, mount_check=False, files_per_second=0,
                       bytes_per_second=0, recon_cache_path=os.path.join(root, 'recon'))
    for label in ('page cache warm', 'page cache dropped'):
        if label.endswith('dropped'):
            if os.geteuid() != 0:
                continue
            os.sync()
            with open('/proc/sys/vm/drop_caches', 'w') as f:
                f.write('1\n')
        stats = ObjectAuditor(conf).run_once()
        print('audit (%s): %d MiB in %d files at %.1f MB/s'
              % (label, stats['bytes_checked'] >> 20, stats['files_checked'],
                 stats['bytes_per_second'] / 1e6))
    subprocess.run(['rm', '-rf', root])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--objects', type=int, default=10000)
    parser.add_argument('--idle-objects', type=int, default=100000)
    parser.add_argument('--audit-mb', type=int, default=512)
    parser.add_argument('--skip', action='append', default=[],
                        choices=('reconverge', 'idle', 'audit'))
    args = parser.parse_args()
    if 'audit' not in args.skip:
        bench_audit(args.audit_mb)
    if 'reconverge' in args.skip and 'idle' in args.skip:
        return
    hashing.set_hash_secrets(PREFIX, SUFFIX)
    data_dir = tempfile.mkdtemp(prefix='bench-daemons-', dir=os.environ.get('BENCH_DIR'))
    aio = start_cluster(data_dir)
    try:
        account = 'AUTH_test'
        if 'reconverge' not in args.skip:
            account = bench_reconverge(aio, args.objects)
        if 'idle' not in args.skip:
            bench_idle(aio, account, args.idle_objects)
    finally:
        aio.stop(timeout=10)
        aio.unlock()
        subprocess.run(['rm', '-rf', data_dir])


if __name__ == '__main__':
    main()
