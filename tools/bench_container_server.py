#!/usr/bin/env python3
"""Object-row updates per second through a real container server over HTTP.

    .venv/bin/python tools/bench_container_server.py --clients 32 --seconds 10 --workers 2

Starts `swiftlike.cli.servers container` on a free port (temp devices dir,
mount_check off), creates one container, then --clients threads each keep one
HTTP connection and send object-row PUTs (what every object PUT costs the
container tier) for --seconds. Prints updates/s and p50/p99 latency, then checks
the container's object count equals the number of acknowledged updates.
"""
import argparse
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--clients', type=int, default=32)
    parser.add_argument('--seconds', type=float, default=10)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--pending-fsync', action='store_true')
    parser.add_argument('--inprocess', type=int, default=0, metavar='N',
                        help='instead: call the WSGI app directly N times (no HTTP, inline '
                             'disk calls) and print its own cost per object-row update')
    args = parser.parse_args()
    if args.inprocess:
        return inprocess(args.inprocess, args.pending_fsync)
    work = tempfile.mkdtemp(prefix='cbench-')
    os.makedirs(os.path.join(work, 'sda'))
    port = free_port()
    with open(os.path.join(work, 'swiftlike.conf'), 'w') as f:
        f.write('[hash]\npath_prefix = bench\npath_suffix = bench\n')
    conf = os.path.join(work, 'container-server.conf')
    with open(conf, 'w') as f:
        f.write('[container-server]\nbind_port = %d\ndevices = %s\nmount_check = false\n'
                'fallocate_reserve = 0\nworkers = %d\nswift_dir = %s\nlog_level = WARNING\n'
                'pending_fsync = %s\n' % (port, work, args.workers, work, args.pending_fsync))
    env = dict(os.environ, SWIFTLIKE_CONF=os.path.join(work, 'swiftlike.conf'), PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, '-m', 'swiftlike.cli.servers', 'container', conf],
                            env=env, start_new_session=True)
    try:
        for _ in range(200):
            try:
                socket.create_connection(('127.0.0.1', port), 0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        conn = http.client.HTTPConnection('127.0.0.1', port)
        conn.request('PUT', '/sda/1/a/c', headers={'X-Timestamp': '1'})
        assert conn.getresponse().status == 201
        latencies, lock = [], threading.Lock()
        stop_at = time.time() + args.seconds

        def client(n):
            mine = []
            c = http.client.HTTPConnection('127.0.0.1', port)
            i = 0
            while time.time() < stop_at:
                start = time.perf_counter()
                c.request('PUT', '/sda/1/a/c/obj-%d-%d' % (n, i),
                          headers={'X-Timestamp': '%.5f' % time.time(), 'X-Size': '100',
                                   'X-Content-Type': 'text/plain',
                                   'X-Etag': 'd41d8cd98f00b204e9800998ecf8427e'})
                resp = c.getresponse()
                resp.read()
                assert resp.status == 201, resp.status
                mine.append(time.perf_counter() - start)
                i += 1
            with lock:
                latencies.extend(mine)
        threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
        begin = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.time() - begin
        latencies.sort()
        conn = http.client.HTTPConnection('127.0.0.1', port)
        conn.request('HEAD', '/sda/1/a/c')
        count = int(conn.getresponse().getheader('X-Container-Object-Count'))
        print('%d object-row PUTs in %.1f s = %.0f/s (clients %d, workers %d, pending_fsync %s);'
              ' p50 %.1f ms, p99 %.1f ms; container object count %d'
              % (len(latencies), elapsed, len(latencies) / elapsed, args.clients, args.workers,
                 args.pending_fsync, latencies[len(latencies) // 2] * 1000,
                 latencies[int(len(latencies) * 0.99)] * 1000, count))
        assert count == len(latencies)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        shutil.rmtree(work, ignore_errors=True)


def inprocess(count, pending_fsync):
    sys.path.insert(0, ROOT)
    from swiftlike import hashing
    from swiftlike.container import server
    from swiftlike.http import Request
    hashing.set_hash_secrets('bench', 'bench')
    work = tempfile.mkdtemp(prefix='cbench-')
    os.makedirs(os.path.join(work, 'sda'))
    try:
        app = server.App(server.Conf(devices=work, mount_check=False, fallocate_reserve='0',
                                     threads_per_disk=0, log_level='ERROR',
                                     pending_fsync=pending_fsync))

        def start_response(status, headers, exc_info=None):
            start_response.status = status
        app(Request.blank('/sda/1/a/c', method='PUT', headers={'X-Timestamp': '1'}).environ,
            start_response)
        envs = [Request.blank('/sda/1/a/c/obj-%d' % i, method='PUT', headers={
            'X-Timestamp': '2', 'X-Size': '100', 'X-Content-Type': 'text/plain',
            'X-Etag': 'd41d8cd98f00b204e9800998ecf8427e'}).environ for i in range(count)]
        wall, cpu = time.perf_counter(), time.process_time()
        for env in envs:
            app(env, start_response)
            assert start_response.status.startswith('201')
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print('in-process object-row PUT: %.0f us wall, %.0f us CPU per update '
              '(%d updates, pending_fsync %s)' % (wall / count * 1e6, cpu / count * 1e6, count,
                                                  pending_fsync))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
