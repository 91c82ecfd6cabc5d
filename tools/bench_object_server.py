#!/usr/bin/env python3
"""Object PUT and GET operations per second through a real object server over HTTP.

    .venv/bin/python tools/bench_object_server.py --size 4096 --clients 16 --seconds 10 --workers 2

Starts `swiftlike.cli.servers object` on a free port with one device (a temp dir,
or --device-dir, e.g. an XFS mount), mount_check off. Then --clients client
processes, each with one keep-alive connection, PUT --size-byte objects for
--seconds, then GET them back (whole, MD5-checked by the server) for --seconds.
Prints ops/s, p50/p99 latency and the server's CPU time per request for each
phase; every PUT must answer 201 and every GET 200 with the right length.

--count-syncs runs the server under `strace -f -e trace=fsync,fdatasync,syncfs`
and prints how many of each the PUT phase made per PUT (strace slows the
server: use that run for the counts, not for its CPU figures).

The server logs to a file in its temp dir at --log-level (WARNING: no access
log); `--log-level INFO` adds the access log's line per request, and
`--log-level INFO --no-log-requests` shows what it costs.
"""
import argparse
import http.client
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def client(args):
    port, n, phase, seconds, size, names = args
    conn = http.client.HTTPConnection('127.0.0.1', port)
    body = os.urandom(size)
    latencies, done = [], []
    stop_at = time.time() + seconds
    i = 0
    while time.time() < stop_at:
        start = time.perf_counter()
        if phase == 'PUT':
            name = 'o-%d-%d' % (n, i)
            conn.request('PUT', '/sda/%d/a/c/%s' % (i % 64, name), body=body,
                         headers={'X-Timestamp': '%.5f' % time.time(),
                                  'Content-Type': 'application/octet-stream',
                                  'Content-Length': str(size)})
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 201, resp.status
            done.append(name)
        elif phase == 'DELETE':
            if i >= len(names):
                break
            name = names[i]
            part = int(name.rsplit('-', 1)[1]) % 64
            conn.request('DELETE', '/sda/%d/a/c/%s' % (part, name),
                         headers={'X-Timestamp': '%.5f' % time.time()})
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 204, resp.status
        else:
            if not names:
                break
            name = names[i % len(names)]
            part = int(name.rsplit('-', 1)[1]) % 64
            conn.request(phase, '/sda/%d/a/c/%s' % (part, name))
            resp = conn.getresponse()
            data = resp.read()
            assert resp.status == 200 and len(data) == (size if phase == 'GET' else 0), \
                (resp.status, len(data))
        latencies.append(time.perf_counter() - start)
        i += 1
    return latencies, done


def server_cpu(pid):
    """CPU seconds (user + system) used so far by the server and its workers
    (Linux /proc; 0 elsewhere): steadier than ops/s on a busy machine."""
    ticks = 0
    try:
        names = os.listdir('/proc')
    except OSError:
        return 0.0
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % name) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        # fields[1] is the ppid; [11] and [12] utime and stime (stat fields 4, 14, 15).
        if int(name) == pid or int(fields[1]) == pid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf('SC_CLK_TCK')


def count_syncs(path):
    """{syscall: calls} in an strace -o log so far (the lines that name one)."""
    counts = {}
    try:
        with open(path) as f:
            for line in f:
                call = line.split(None, 1)[1].split('(', 1)[0] if ' ' in line else ''
                if call in ('fsync', 'fdatasync', 'syncfs'):
                    counts[call] = counts.get(call, 0) + 1
    except OSError:
        pass
    return counts


def run_phase(port, phase, clients, seconds, size, names_by_client, server_pid=None):
    with multiprocessing.Pool(clients) as pool:
        cpu = server_cpu(server_pid) if server_pid else 0.0
        begin = time.time()
        results = pool.map(client, [(port, n, phase, seconds, size, names_by_client.get(n, []))
                                    for n in range(clients)])
        elapsed = time.time() - begin
        cpu = server_cpu(server_pid) - cpu if server_pid else 0.0
    latencies = sorted(lat for lats, _ in results for lat in lats)
    done = {n: names for n, (_, names) in enumerate(results)}
    print('%s: %d ops in %.1f s = %.0f ops/s; p50 %.1f ms, p99 %.1f ms; server CPU %.0f us/op'
          % (phase, len(latencies), elapsed, len(latencies) / elapsed,
             latencies[len(latencies) // 2] * 1000, latencies[int(len(latencies) * 0.99)] * 1000,
             cpu / max(1, len(latencies)) * 1e6))
    return done


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--clients', type=int, default=16)
    parser.add_argument('--seconds', type=float, default=10)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--size', type=int, default=4096)
    parser.add_argument('--device-dir', help='use this directory (e.g. an XFS mount) as the device')
    parser.add_argument('--log-level', default='WARNING',
                        help='the server\'s log_level (INFO: with the access log)')
    parser.add_argument('--no-log-requests', dest='log_requests', action='store_false',
                        help='log_requests = false (no access log at any level)')
    parser.add_argument('--count-syncs', action='store_true',
                        help='count fsync/fdatasync/syncfs calls per PUT (under strace)')
    parser.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                        help='an extra [object-server] option (repeatable)')
    parser.add_argument('--put-only', action='store_true', help='skip the GET phase')
    parser.add_argument('--phases', default='PUT,GET',
                        help='after the PUTs, any of HEAD, GET, DELETE in this order '
                             '(comma-separated; DELETE removes what the PUTs made)')
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix='obench-')
    devices = os.path.join(work, 'devices')
    os.makedirs(devices)
    bench_dev = None
    if args.device_dir:
        # A fresh directory of its own on that filesystem, removed afterwards.
        bench_dev = tempfile.mkdtemp(prefix='obench-dev-', dir=args.device_dir)
        os.symlink(bench_dev, os.path.join(devices, 'sda'))
    else:
        os.makedirs(os.path.join(devices, 'sda'))
    port = free_port()
    with open(os.path.join(work, 'swiftlike.conf'), 'w') as f:
        f.write('[hash]\npath_prefix = bench\npath_suffix = bench\n')
    conf = os.path.join(work, 'object-server.conf')
    with open(conf, 'w') as f:
        f.write('[object-server]\nbind_port = %d\ndevices = %s\nmount_check = false\n'
                'fallocate_reserve = 0\nworkers = %d\nswift_dir = %s\nlog_level = %s\n'
                'log_file = %s\nlog_requests = %s\n'
                % (port, devices, args.workers, work, args.log_level,
                   os.path.join(work, 'object-server.log'), str(args.log_requests).lower()))
        for option in args.set:
            f.write('%s = %s\n' % tuple(part.strip() for part in option.split('=', 1)))
    env = dict(os.environ, SWIFTLIKE_CONF=os.path.join(work, 'swiftlike.conf'), PYTHONPATH=ROOT)
    command = [sys.executable, '-m', 'swiftlike.cli.servers', 'object', conf]
    strace_log = os.path.join(work, 'strace.log')
    if args.count_syncs:
        command = ['strace', '-f', '-qq', '--seccomp-bpf', '-e', 'trace=fsync,fdatasync,syncfs',
                   '-o', strace_log] + command
    proc = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        for _ in range(200):
            try:
                socket.create_connection(('127.0.0.1', port), 0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        print('object server: %d workers, %d clients, %d-byte objects, device %s, '
              'log_level %s, log_requests %s'
              % (args.workers, args.clients, args.size, args.device_dir or 'temp dir',
                 args.log_level, str(args.log_requests).lower()))
        before = count_syncs(strace_log) if args.count_syncs else {}
        names = run_phase(port, 'PUT', args.clients, args.seconds, args.size, {}, proc.pid)
        if args.count_syncs:
            puts = sum(len(n) for n in names.values())
            after = count_syncs(strace_log)
            print('syncs per PUT: ' + ', '.join(
                '%s %.3f' % (call, (after.get(call, 0) - before.get(call, 0)) / max(1, puts))
                for call in ('fsync', 'fdatasync', 'syncfs')))
        for phase in [] if args.put_only else args.phases.split(',')[1:]:
            run_phase(port, phase, args.clients, args.seconds, args.size, names, proc.pid)
        log = os.path.join(work, 'object-server.log')
        if os.path.exists(log):
            with open(log, 'rb') as f:
                print('log: %d lines' % sum(1 for _ in f))
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if bench_dev:
            shutil.rmtree(bench_dev, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
