#!/usr/bin/env python3
"""CPU per request of the object server's WSGI app with and without its access log.

    .venv/bin/python tools/bench_access_log.py [--requests 2000] [--rounds 7]

In process, without sockets: the app over the in-memory backend with inline
disk calls (eventlet monkey-patched, as in the server), logging at INFO to a
file in a temp dir. PUT, GET and HEAD of 4 KiB objects, `--requests` of each
per round; the two apps (log_requests true and false) take turns for
`--rounds` rounds and the least CPU time of each is kept, which a busy
machine disturbs less than the ops/s of tools/bench_object_server.py.
"""
import argparse
import io
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

from swiftlike import concurrency  # noqa: E402

concurrency.monkey_patch()

from swiftlike.logs import get_logger  # noqa: E402
from swiftlike.obj.mem_diskfile import MemDiskFileManager  # noqa: E402
from swiftlike.obj.server import App, Conf  # noqa: E402

BODY = b'x' * 4096


def environ(method, path, index):
    env = {'REQUEST_METHOD': method, 'PATH_INFO': path, 'SCRIPT_NAME': '', 'QUERY_STRING': '',
           'SERVER_NAME': '127.0.0.1', 'SERVER_PORT': '6200', 'SERVER_PROTOCOL': 'HTTP/1.1',
           'REMOTE_ADDR': '127.0.0.1', 'wsgi.url_scheme': 'http',
           'wsgi.input': io.BytesIO(BODY if method == 'PUT' else b''),
           'HTTP_X_TRANS_ID': 'tx0123456789abcdef01234-0065f0a1b2'}
    if method == 'PUT':
        env.update({'CONTENT_LENGTH': str(len(BODY)), 'CONTENT_TYPE': 'application/octet-stream',
                    'HTTP_X_TIMESTAMP': '%.5f' % (1e9 + index)})
    return env


def start_response(status, headers, exc_info=None):
    pass


def run(app, method, count, first):
    """CPU microseconds per request of `count` requests."""
    begin = time.process_time()
    for i in range(first, first + count):
        body = app(environ(method, '/sda/%d/AUTH_test/c/o%d' % (i % 64, i), i), start_response)
        for _chunk in body:
            pass
        close = getattr(body, 'close', None)
        if close:
            close()
    return (time.process_time() - begin) / count * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--requests', type=int, default=2000)
    parser.add_argument('--rounds', type=int, default=7)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix='accesslog-')
    try:
        os.makedirs(os.path.join(work, 'sda'))
        apps = {}
        for on in (False, True):
            log_file = os.path.join(work, 'object-server-%s.log' % on)
            conf = Conf(devices=work, mount_check=False, fallocate_reserve='0',
                        threads_per_disk=0, log_requests=on, log_level='INFO',
                        log_file=log_file)
            apps[on] = App(conf, logger=get_logger('bench-access-%s' % on, 'INFO', log_file),
                           backend=MemDiskFileManager())
        best = {}
        for round_ in range(args.rounds):
            for on in (False, True):
                for method in ('PUT', 'GET', 'HEAD'):
                    first = round_ * args.requests if method == 'PUT' else 0
                    cpu = run(apps[on], method, args.requests, first)
                    best[on, method] = min(best.get((on, method), cpu), cpu)
        for method in ('PUT', 'GET', 'HEAD'):
            off, on = best[False, method], best[True, method]
            print('%-4s log off %6.1f us  on %6.1f us  the line: %+5.1f us (%+.0f%%)'
                  % (method, off, on, on - off, (on - off) / off * 100))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    concurrency.spawn(main).wait()
