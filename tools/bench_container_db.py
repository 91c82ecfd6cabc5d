#!/usr/bin/env python3
"""Benchmark one container database: bulk row inserts, listing latencies.

    .venv/bin/python tools/bench_container_db.py --rows 1000000 --dir /var/tmp/cbench

Builds (or reuses, with --reuse) a container DB of --rows objects named
'<ddd>/<ddd>/<12 hex>' (1,000 top-level pseudo-dirs x 1,000 subdirs, inserted
in random order), then reports:
  - bulk insert rate (batches merged straight into SQLite, like a merge of the
    pending file), and the per-update rate through the pending file;
  - p50/p99 of a 1,000-item listing page at a random marker;
  - p50/p99 of prefix+delimiter listings (prefix '<ddd>/', delimiter '/');
  - p50/p99 of a top-level delimiter listing from a random marker.
"""
import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

from swiftlike.container.backend import ContainerBroker, object_record  # noqa: E402
from swiftlike.db.listing import ListingParams  # noqa: E402


def name_for(rng):
    return '%03d/%03d/%012x' % (rng.randrange(1000), rng.randrange(1000), rng.getrandbits(48))


def percentiles(samples):
    samples = sorted(samples)
    return (samples[len(samples) // 2] * 1000,
            samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1000)


def timed(func, count):
    """(wall seconds, CPU seconds) per call: on a shared machine CPU time
    shows the work done, wall time includes waiting for a core."""
    wall, cpu = [], []
    for _ in range(count):
        start, start_cpu = time.perf_counter(), time.process_time()
        func()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rows', type=int, default=1000000)
    parser.add_argument('--dir', default='/var/tmp/swiftlike-cbench')
    parser.add_argument('--batch', type=int, default=10000)
    parser.add_argument('--samples', type=int, default=300)
    parser.add_argument('--pending-updates', type=int, default=50000)
    parser.add_argument('--reuse', action='store_true')
    args = parser.parse_args()

    path = os.path.join(args.dir, 'c%d' % args.rows, 'bench.db')
    broker = ContainerBroker(path)
    rng = random.Random(42)
    if not (args.reuse and broker.exists()):
        for leftover in (path, path + '-wal', path + '-shm', path + '.pending'):
            if os.path.exists(leftover):
                os.unlink(leftover)
        broker.initialize('1', account='bench', container='c')
        start = time.perf_counter()
        start_cpu = time.process_time()
        done = 0
        while done < args.rows:
            n = min(args.batch, args.rows - done)
            broker.merge_records([object_record(name_for(rng), '1700000000.00000', 1024,
                                                'application/octet-stream',
                                                'd41d8cd98f00b204e9800998ecf8427e')
                                  for _ in range(n)])
            done += n
            if done % (args.batch * 100) == 0:
                print('  %d rows, %.0f rows/s' % (done, done / (time.perf_counter() - start)),
                      flush=True)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - start_cpu
        print('bulk insert: %d rows in %.1f s = %.0f rows/s (CPU %.1f s = %.0f rows/CPU-s)'
              % (args.rows, elapsed, args.rows / elapsed, cpu, args.rows / cpu))
    info = broker.get_info()
    print('object_count %d, db size %.0f MiB' % (info['object_count'],
                                                 os.path.getsize(path) / 2 ** 20))

    if args.pending_updates:
        start = time.perf_counter()
        start_cpu = time.process_time()
        for _ in range(args.pending_updates):
            broker.put_object(name_for(rng), '1700000001.00000', 10, 'text/plain',
                              'd41d8cd98f00b204e9800998ecf8427e')
        broker.merge_pending()
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - start_cpu
        print('pending-file updates (append + batched merges): %d in %.1f s = %.0f/s '
              '(%.0f/CPU-s)' % (args.pending_updates, elapsed, args.pending_updates / elapsed,
                                args.pending_updates / cpu))

    def page():
        broker.list_objects(ListingParams(marker=name_for(rng), limit=1000))

    def prefix_delim():
        broker.list_objects(ListingParams(prefix='%03d/' % rng.randrange(1000), delimiter='/',
                                          limit=1000))

    def top_delim():
        broker.list_objects(ListingParams(marker='%03d/' % rng.randrange(1000), delimiter='/',
                                          limit=1000))

    for label, func in (('1,000-item page at a random marker', page),
                        ('prefix+delimiter (prefix ddd/, 1,000 subdirs)', prefix_delim),
                        ('top-level delimiter from a random marker', top_delim)):
        func()
        wall, cpu = timed(func, args.samples)
        p50, p99 = percentiles(wall)
        c50, c99 = percentiles(cpu)
        print('%s: wall p50 %.1f ms, p99 %.1f ms; CPU p50 %.1f ms, p99 %.1f ms'
              % (label, p50, p99, c50, c99))
    print('load average at the end: %s' % ' '.join(open('/proc/loadavg').read().split()[:3]))


if __name__ == '__main__':
    main()
