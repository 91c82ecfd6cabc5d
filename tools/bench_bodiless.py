#!/usr/bin/env python3
"""CPU time per bodiless storage request, in-process (no HTTP, no client).

    .venv/bin/python tools/bench_bodiless.py [--count 2000] [--device-dir DIR]

Builds the object server's and the container server's WSGI apps in this
process (real files under --device-dir or a temp dir, threads_per_disk = 4,
so thread-pool hand-offs are paid as in a server), PUTs --count 4 KiB objects,
then times HEAD, GET, DELETE of each and --count container object-row PUTs.
Prints CPU microseconds per request of the whole process (every thread: user
+ system, from getrusage), which other jobs on the machine disturb far less
than ops/s. Run it from two checkouts (PYTHONPATH) to compare them.
"""
import argparse
import os
import resource
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))


def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(label, count, func):
    start = cpu()
    wall = time.time()
    for i in range(count):
        func(i)
    used = cpu() - start
    print('%-16s %6.0f us CPU/request  (%d in %.1f s)' % (label, used / count * 1e6, count,
                                                        time.time() - wall))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--count', type=int, default=2000)
    parser.add_argument('--device-dir')
    parser.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                        help='an object-server option (repeatable)')
    args = parser.parse_args()
    from swiftlike import hashing
    from swiftlike.container import server as cserver
    from swiftlike.http import Request
    from swiftlike.obj import server as oserver
    hashing.set_hash_secrets('bench', 'bench')
    work = tempfile.mkdtemp(prefix='bodiless-', dir=args.device_dir)
    os.makedirs(os.path.join(work, 'sda'))
    extra = dict(kv.split('=', 1) for kv in args.set)
    extra = {k: v.lower() == 'true' if v.lower() in ('true', 'false') else v
             for k, v in extra.items()}
    try:
        print('checkout %s' % os.path.realpath(os.path.dirname(os.path.dirname(oserver.__file__))))
        conf = oserver.Conf(devices=work, mount_check=False, fallocate_reserve='0',
                            threads_per_disk=4, log_level='ERROR', log_requests=False, **extra)
        app = oserver.App(conf)
        body = b'x' * 4096

        def call(method, path, headers=None, data=None, expect=None, target=None):
            env = {'REQUEST_METHOD': method}
            req = Request.blank(path, environ=env, headers=headers or {})
            if data is not None:
                req.body = data
            resp = req.get_response(target or app)
            assert expect is None or resp.status_int == expect, (method, resp.status)

        def put(i):
            call('PUT', '/sda/%d/a/c/o%d' % (i % 64, i),
                 {'X-Timestamp': '%.5f' % time.time(), 'Content-Type': 'text/plain'}, body, 201)
        ccon = cserver.Conf(devices=work, mount_check=False, fallocate_reserve='0',
                            threads_per_disk=4, log_level='ERROR', log_requests=False)
        capp = cserver.App(ccon)
        call('PUT', '/sda/0/a/c', {'X-Timestamp': '%.5f' % time.time()}, None, 201, capp)
        timed('object PUT', args.count, put)
        timed('object HEAD', args.count,
              lambda i: call('HEAD', '/sda/%d/a/c/o%d' % (i % 64, i), expect=200))
        timed('object GET', args.count,
              lambda i: call('GET', '/sda/%d/a/c/o%d' % (i % 64, i), expect=200))
        timed('object DELETE', args.count,
              lambda i: call('DELETE', '/sda/%d/a/c/o%d' % (i % 64, i),
                             {'X-Timestamp': '%.5f' % time.time()}, expect=204))
        timed('container row PUT', args.count,
              lambda i: call('PUT', '/sda/0/a/c/o%d' % i,
                             {'X-Timestamp': '%.5f' % time.time(), 'X-Size': '4096',
                              'X-Content-Type': 'text/plain', 'X-Etag': 'a' * 32}, None, 201, capp))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
