"""What zero-copy would save a big GET on this machine: the bytes of one
cached file through three processes on loopback TCP, as a GET moves them
(object server -> proxy -> client), with and without sendfile/splice.

    .venv/bin/python tools/zerocopy_bench.py [--objects N] [--size MiB]

Each mode moves the file N times and prints, per object, the CPU time of
each process (user + system: the loopback's receive work is charged to
whoever sends) and the whole machine's busy time from /proc/stat:

  copy        the object server preads 1 MiB pieces, CRCs them and sends
              them; the proxy recvs and sends on (what our servers do)
  sendfile    the object server preads and CRCs each piece into one buffer,
              then sendfile()s the piece; the proxy as in copy
  sendonly    sendfile() with no read or check at all (the lower bound of the
              object server's side)
  splice      copy's object server; the proxy splices socket -> pipe -> socket
  sendsplice  sendfile and splice together: no process touches the bytes
              but the client

The file is read once before the runs, so every mode reads the page cache.
"""
import argparse
import os
import socket
import sys
import time

import crc32c

PIECE = 1 << 20
MODES = ('copy', 'sendfile', 'sendonly', 'splice', 'sendsplice')


def cpu_seconds():
    times = os.times()
    return times.user + times.system


def machine_busy_ticks():
    with open('/proc/stat') as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    return sum(fields) - fields[3] - fields[4]   # all but idle and iowait


def object_side(listener, path, mode, size, count, report):
    conn, _ = listener.accept()
    fd = os.open(path, os.O_RDONLY)
    buf = bytearray(PIECE)
    for _ in range(count):
        conn.recv(1)
        crc, offset = 0, 0
        while offset < size:
            if mode in ('copy', 'splice'):
                piece = os.pread(fd, PIECE, offset)
                crc = crc32c.crc32c(piece, crc)
                conn.sendall(piece)
                offset += len(piece)
                continue
            if mode == 'sendonly':
                n = min(PIECE, size - offset)
            else:
                n = os.preadv(fd, [buf], offset)
                crc = crc32c.crc32c(memoryview(buf)[:n], crc)
            sent = 0
            while sent < n:
                sent += os.sendfile(conn.fileno(), fd, offset + sent, n - sent)
            offset += n
    os.write(report, b'object %.1f\n' % (cpu_seconds() / count * 1000))


def proxy_side(listener, port, mode, size, count, report):
    conn, _ = listener.accept()
    backend = socket.create_connection(('127.0.0.1', port))
    pipe_r, pipe_w = os.pipe()
    spliced = mode in ('splice', 'sendsplice')
    for _ in range(count):
        conn.recv(1)
        backend.sendall(b'x')
        left = size
        while left:
            if spliced:
                n = os.splice(backend.fileno(), pipe_w, min(left, PIECE))
                moved = 0
                while moved < n:
                    moved += os.splice(pipe_r, conn.fileno(), n - moved)
            else:
                data = backend.recv(min(left, PIECE))
                conn.sendall(data)
                n = len(data)
            if not n:
                raise SystemExit('backend closed early')
            left -= n
    os.write(report, b'proxy %.1f\n' % (cpu_seconds() / count * 1000))


def listener():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    sock.listen()
    return sock


def run(mode, path, size, count):
    obj_l, proxy_l = listener(), listener()
    report_r, report_w = os.pipe()
    children = []
    for target, args in ((object_side, (obj_l, path, mode, size, count, report_w)),
                         (proxy_side, (proxy_l, obj_l.getsockname()[1], mode, size, count,
                                       report_w))):
        pid = os.fork()
        if pid == 0:
            try:
                target(*args)
            finally:
                os._exit(0)
        children.append(pid)
    client = socket.create_connection(proxy_l.getsockname())
    buf = bytearray(PIECE)
    busy0, wall0, cpu0 = machine_busy_ticks(), time.time(), cpu_seconds()
    for _ in range(count):
        client.sendall(b'x')
        left = size
        while left:
            n = client.recv_into(buf, min(left, PIECE))
            if not n:
                raise SystemExit('proxy closed early')
            left -= n
    wall, cpu = time.time() - wall0, cpu_seconds() - cpu0
    busy = (machine_busy_ticks() - busy0) / os.sysconf('SC_CLK_TCK')
    for pid in children:
        os.waitpid(pid, 0)
    os.close(report_w)
    with os.fdopen(report_r) as reports:
        parts = dict(line.split() for line in reports)
    print('%-10s object %5s  proxy %5s  client %5.1f  machine busy %5.1f  wall %5.1f  '
          '(ms per object)' % (mode, parts['object'], parts['proxy'], cpu / count * 1000,
                               busy / count * 1000, wall / count * 1000))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--objects', type=int, default=30, help='objects per mode')
    ap.add_argument('--size', type=int, default=64, help='object size, MiB')
    ap.add_argument('--rounds', type=int, default=2, help='times through every mode')
    ap.add_argument('--file', default='/var/tmp/zerocopy-bench.dat')
    args = ap.parse_args()
    size = args.size << 20
    if not os.path.exists(args.file) or os.path.getsize(args.file) != size:
        with open(args.file, 'wb') as out:
            for _ in range(args.size):
                out.write(os.urandom(PIECE))
    with open(args.file, 'rb') as warm:
        while warm.read(PIECE):
            pass
    for _ in range(args.rounds):
        for mode in MODES:
            run(mode, args.file, size, args.objects)
            sys.stdout.flush()


if __name__ == '__main__':
    main()
