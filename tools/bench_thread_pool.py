#!/usr/bin/env python3
"""CPU and wall time per hand-off of a no-op call to OS threads and back:
eventlet's tpool against swiftlike.concurrency.ThreadPool, with 1, 4 and 16
green threads calling at once.

    .venv/bin/python tools/bench_thread_pool.py [CALLS]

CPU is the process's (every thread), per call; run it on an idle machine.
"""
import os
import sys
import time

from swiftlike import concurrency
concurrency.monkey_patch()
import eventlet.tpool  # noqa: E402 - the baseline, only here
from eventlet import greenpool  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
os.environ.setdefault('EVENTLET_THREADPOOL_SIZE', '64')
ours = concurrency.ThreadPool(64)


def noop(x):
    return x


def bench(execute, conc):
    pool = greenpool.GreenPool(conc)
    cpu, wall = time.process_time(), time.time()
    for _ in pool.imap(lambda i: execute(noop, i), range(N)):
        pass
    return (time.process_time() - cpu) / N * 1e6, (time.time() - wall) / N * 1e6


eventlet.tpool.execute(noop, 0)
ours.execute(noop, 0)
for conc in (1, 4, 16):
    for name, execute in (('eventlet.tpool', eventlet.tpool.execute), ('ThreadPool', ours.execute)):
        cpu, wall = bench(execute, conc)
        print('%-15s %2d callers: %6.1f us CPU, %6.1f us wall per call' % (name, conc, cpu, wall))
