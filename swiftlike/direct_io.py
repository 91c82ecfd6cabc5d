"""Reads that bypass the page cache (O_DIRECT), for big objects' bodies.

A big object leaves the page cache once its PUT is durable (diskfile.py); a
buffered read would bring it back in, one fresh page at a time, only to push
other, likelier-read pages (inodes, xattrs, small objects) out. A direct read
moves the bytes from the device straight into one of a few reused, aligned
buffers, and from there into the bytes object the caller gets: the same
number of copies as a buffered read, and no cache pages to allocate, fill and
reclaim. What a direct read gives up is the kernel's read-ahead; the object
server's reads are 1 MiB each.

Direct I/O wants the buffer's address, the offset and the length aligned to
the device's logical block size; ALIGN (4 KiB) suits 512-byte and 4 KiB
devices alike. A read at any offset and length is widened to aligned bounds
and the wanted bytes cut out of the buffer.
"""
import errno
import mmap
import os

ALIGN = 4096
# The widest read a pooled buffer takes (the object server reads 1 MiB; up to
# 4 MiB at any alignment fits). Wider reads are the caller's to do buffered.
BUFFER_SIZE = (4 << 20) + ALIGN
# Free buffers kept for reuse (one per disk thread reading at once is what is
# ever needed); more are unmapped when handed back.
KEEP_BUFFERS = 16

_O_DIRECT = getattr(os, 'O_DIRECT', 0)
_free = []   # list.pop()/append() are atomic: disk threads share it unlocked


def reopen_direct(fd):
    """A second read-only descriptor of fd's file that bypasses the page
    cache, or None where the file's filesystem (or the OS) has no direct I/O.
    Through /proc/self/fd, so it is the same file even if it was renamed or
    unlinked since fd was opened."""
    if not _O_DIRECT:
        return None
    try:
        return os.open('/proc/self/fd/%d' % fd, os.O_RDONLY | _O_DIRECT)
    except OSError as err:
        if err.errno in (errno.EINVAL, errno.EOPNOTSUPP, errno.ENOENT):
            return None
        raise


def _span(offset, length):
    """(aligned start, bytes skipped before offset, aligned length)."""
    skip = offset % ALIGN
    return offset - skip, skip, -(-(skip + length) // ALIGN) * ALIGN


def fits(offset, length):
    """Whether one pooled buffer holds the aligned span of this read."""
    return offset >= 0 and length >= 0 and _span(offset, length)[2] <= BUFFER_SIZE


def pread(fd, length, offset):
    """Up to `length` bytes at `offset` of a descriptor from reopen_direct(),
    as bytes (fewer only at the end of the file). The read must fit(); an
    OSError (EINVAL from a filesystem with stricter alignment) is the
    caller's to answer with a buffered read."""
    if not fits(offset, length):
        raise ValueError('read of %d bytes at %d is wider than a direct buffer'
                         % (length, offset))
    start, skip, span = _span(offset, length)
    try:
        buf = _free.pop()
    except IndexError:
        # Private: a forked worker must not share its parent's buffers.
        buf = mmap.mmap(-1, BUFFER_SIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        with memoryview(buf) as whole, whole[:span] as view:
            got = os.preadv(fd, [view], start)
        return buf[skip:max(skip, min(got, skip + length))]
    finally:
        if len(_free) < KEEP_BUFFERS:
            _free.append(buf)
        else:
            buf.close()


class FileReader:
    """Reads of one open file: past the page cache where `direct` and its
    filesystem allow, else (or for reads wider than a buffer, or once the
    filesystem refuses an alignment) buffered on `fd`. close() closes the
    descriptor it opened; `fd` stays the caller's."""

    def __init__(self, fd, direct=True):
        self.fd = fd
        self.direct_fd = reopen_direct(fd) if direct else None

    def pread(self, length, offset):
        if self.direct_fd is not None and fits(offset, length):
            try:
                return pread(self.direct_fd, length, offset)
            except OSError as err:
                if err.errno != errno.EINVAL:
                    raise
                self.close()
        return os.pread(self.fd, length, offset)

    def close(self):
        direct_fd, self.direct_fd = self.direct_fd, None
        if direct_fd is not None:
            os.close(direct_fd)
