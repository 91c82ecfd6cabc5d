"""Ring benchmarks: `python tools/bench_ring.py [--quick]`.

Prints the figures recorded in doc/benchmarks/ring.md: rebalance time for
1,000 devices at part power 18, then ring load time and get_nodes lookups/s
at part power 20 (3 replicas). Times are CPU seconds of this process, so a
busy machine slows the wall clock but not the figures.
"""
import argparse
import os
import tempfile
import time

from swiftlike.exceptions import ConfigError
from swiftlike.hashing import hash_secrets, set_hash_secrets
from swiftlike.ring import Ring, RingBuilder


def make_builder(part_power, devices, replicas=3, zones=10, per_server=10):
    builder = RingBuilder(part_power, replicas, 1)
    for index in range(devices):
        server = index // per_server
        builder.add_dev({'region': 1, 'zone': server % zones + 1,
                         'ip': '10.%d.%d.%d' % (server % zones, server // 250, server % 250),
                         'port': 6200, 'device': 'd%d' % index,
                         'weight': 100 + (index % 3) * 50})
    return builder


def timed(func, *args, **kwargs):
    """(CPU seconds, result): CPU time, because the machine may be shared."""
    start = time.process_time()
    result = func(*args, **kwargs)
    return time.process_time() - start, result


def bench_rebalance(part_power, devices):
    builder = make_builder(part_power, devices)
    took, (moved, balance) = timed(builder.rebalance, seed=1)
    print('initial rebalance: part power %d, %d devices, %d replicas: %.2f s '
          '(balance %.2f%%)' % (part_power, devices, builder.replicas, took, balance))
    builder.pretend_min_part_hours_passed()
    for extra in range(10):
        builder.add_dev({'region': 1, 'zone': extra + 1, 'ip': '10.99.0.%d' % extra,
                         'port': 6200, 'device': 'new', 'weight': 150})
    took, (moved, balance) = timed(builder.rebalance, seed=2)
    print('rebalance after adding 10 devices: %.2f s, %d replicas moved '
          '(balance %.2f%%)' % (took, moved, balance))
    return builder


def bench_lookup(part_power, devices, lookups):
    builder = make_builder(part_power, devices)
    builder.rebalance(seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'object.ring.gz')
        took, _ = timed(builder.write_ring, path)
        size = os.path.getsize(path)
        print('write ring: part power %d: %.2f s, %.1f MiB on disk'
              % (part_power, took, size / 2.0 ** 20))
        best = min(timed(Ring.load, path)[0] for _ in range(3))
        print('load ring: part power %d, %d devices: %.3f s (best of 3)'
              % (part_power, devices, best))
        ring = Ring.load(path)
        names = ['obj-%d' % i for i in range(lookups)]
        start = time.process_time()
        for name in names:
            ring.get_nodes('AUTH_test', 'cont', name)
        took = time.process_time() - start
        print('get_nodes: %d lookups in %.2f s = %.0f lookups/s'
              % (lookups, took, lookups / took))
        start = time.process_time()
        for part in range(1000):
            for _, node in zip(range(3), ring.get_more_nodes(part)):
                pass
        took = time.process_time() - start
        print('get_more_nodes (first 3 handoffs): %.0f partitions/s' % (1000 / took))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='small sizes (smoke test)')
    args = parser.parse_args(argv)
    try:
        hash_secrets()
    except ConfigError:  # no cluster config here: any secrets do for timing
        set_hash_secrets('bench-prefix', 'bench-suffix')
    if args.quick:
        bench_rebalance(10, 50)
        bench_lookup(10, 20, 2000)
    else:
        bench_rebalance(18, 1000)
        bench_lookup(20, 100, 200000)


if __name__ == '__main__':
    main()
