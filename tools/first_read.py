"""How dear is the first read of a file just written, on this machine's XFS
loop devices, with no server involved?

    python3 tools/first_read.py DIR [--files 8] [--mib 64] [--rounds 3]

DIR is a directory on the file system to measure (an XFS loop device, as
the aio makes). Each round writes `--files` files of `--mib` MiB in 1 MiB
writes (preallocated, as a PUT does), fsyncs each and drops it from the page
cache, as our object server and Swift's do with a big upload; then reads them
all in 1 MiB preads ("first"), drops them again and reads them once more
("again": cold for the file system both times). Prints MB/s for each, and
removes the files. With --direct, the reads bypass the page cache (O_DIRECT,
into one reused buffer) instead. --pause waits that long between the writes
and the first read.
"""
import argparse
import mmap
import os
import time


def drop(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def read_all(paths, size, direct):
    buf = mmap.mmap(-1, 1 << 20)   # page-aligned, as O_DIRECT needs
    t0 = time.perf_counter()
    for path in paths:
        fd = os.open(path, os.O_RDONLY | (os.O_DIRECT if direct else 0))
        offset = 0
        while True:
            if direct:
                got = os.preadv(fd, [buf], offset)
            else:
                got = len(os.pread(fd, 1 << 20, offset))
            if not got:
                break
            offset += got
        os.close(fd)
        if offset != size:
            raise SystemExit('%s: read %d of %d bytes' % (path, offset, size))
    return len(paths) * size / (time.perf_counter() - t0) / 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('dir')
    ap.add_argument('--files', type=int, default=8)
    ap.add_argument('--mib', type=int, default=64)
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--direct', action='store_true')
    ap.add_argument('--pause', type=float, default=0)
    args = ap.parse_args()
    size = args.mib << 20
    piece = os.urandom(1 << 20)
    for rnd in range(args.rounds):
        paths = []
        for i in range(args.files):
            path = os.path.join(args.dir, 'first-read-%d-%d-%d' % (os.getpid(), rnd, i))
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.posix_fallocate(fd, 0, size)
                for _ in range(args.mib):
                    os.write(fd, piece)
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
            paths.append(path)
        time.sleep(args.pause)
        first = read_all(paths, size, args.direct)
        for path in paths:
            drop(path)
        again = read_all(paths, size, args.direct)
        print('round %d: first %.0f MB/s, again %.0f MB/s' % (rnd + 1, first, again))
        for path in paths:
            os.unlink(path)


if __name__ == '__main__':
    main()
