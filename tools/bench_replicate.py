"""CPU of a REPLICATE call, on both sides, with a connection per call (what
the object replicator did) or kept alive (what it does now).

    .venv/bin/python tools/bench_replicate.py HOST:PORT DEVICE SERVER_PATTERN [COUNT]

e.g. against object server 1 of an aio started with --data-dir /var/tmp/rp
--base-port 8500 --no-daemons:
    .venv/bin/python tools/bench_replicate.py 127.0.0.1:8500 d1 rp/etc/object-server/1.conf

COUNT sequential REPLICATEs of partitions 0, 1, 2..., first with a new
connection each, then over one kept-alive connection, twice. SERVER_PATTERN
picks the server's processes by command line (pgrep -f) to read their CPU.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from swiftlike import backend_http  # noqa: E402


def process_cpu(pids):
    total = 0.0
    for pid in pids:
        with open('/proc/%d/stat' % pid) as stat:
            fields = stat.read().rsplit(')', 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
    return total


def own_cpu():
    times = os.times()
    return times.user + times.system


def run(node, device, pids, count, pool):
    server0, client0, wall0 = process_cpu(pids), own_cpu(), time.time()
    for i in range(count):
        status, _h, _body = backend_http.fetch(node, 'REPLICATE', '/%s/%d' % (device, i % 1024),
                                               {'X-Trans-Id': 'tx-bench-replicate'}, pool=pool)
        if status != 200:
            raise SystemExit('REPLICATE answered %s' % status)
    print('%-10s client %4.0f us  server %4.0f us  wall %4.0f us  (per call)' % (
        'kept' if pool else 'new conn', (own_cpu() - client0) / count * 1e6,
        (process_cpu(pids) - server0) / count * 1e6, (time.time() - wall0) / count * 1e6))


def main():
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    host, port = sys.argv[1].rsplit(':', 1)
    device, pattern = sys.argv[2], sys.argv[3]
    count = int(sys.argv[4]) if len(sys.argv) > 4 else 3000
    pids = [int(p) for p in subprocess.run(['pgrep', '-f', pattern], capture_output=True,
                                           text=True).stdout.split()]
    if not pids:
        raise SystemExit('no process matches %r' % pattern)
    node = {'ip': host, 'port': int(port)}
    for _ in range(2):
        run(node, device, pids, count, None)
        run(node, device, pids, count, backend_http.ConnectionPool())


if __name__ == '__main__':
    main()
