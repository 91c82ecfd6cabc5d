"""Small durable-file helpers shared by the servers, daemons and the ring."""
import ctypes
import ctypes.util
import errno
import os
import stat
import tempfile

_libc = ctypes.CDLL(ctypes.util.find_library('c') or None, use_errno=True)
_syncfs = getattr(_libc, 'syncfs', None)
_sync_file_range = getattr(_libc, 'sync_file_range', None)
if _sync_file_range is not None:
    _sync_file_range.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
_fgetxattr = _libc.fgetxattr
_fgetxattr.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t)
_fgetxattr.restype = ctypes.c_ssize_t
_SYNC_FILE_RANGE_WAIT_BEFORE = 1
_SYNC_FILE_RANGE_WRITE = 2
_SYNC_FILE_RANGE_WAIT_AFTER = 4


def is_mount_point(path):
    """os.path.ismount's answer in two stat calls: path is not a symlink, and
    it is on another filesystem than its parent directory, or is that
    directory (the root). os.path.ismount finds the parent by resolving every
    component of the path (an lstat each), which a storage server paid on
    every request; here the parent is the path's lexical parent, followed if
    it is a symlink, the same directory for a device under `devices`."""
    return mount_point_stat(path) is not None


def mount_point_stat(path):
    """The stat of `path` when it is a mount point (as is_mount_point), else
    None: a storage server also learns from it that the device is a
    directory, without a third stat call."""
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            return None
        parent = os.stat(os.path.dirname(os.path.abspath(path)))
    except (OSError, ValueError):
        return None
    return st if st.st_dev != parent.st_dev or st.st_ino == parent.st_ino else None


def get_xattr(fd, name, size):
    """The value of extended attribute `name` (bytes) on the open file `fd`,
    read into a `size`-byte buffer in one call; None when the file has no
    such attribute. OSError(ERANGE) when the value is longer than `size`.
    (os.getxattr first tries a 128-byte buffer, so a longer value takes it
    two calls, and a missing one costs a raised exception.)"""
    buf = ctypes.create_string_buffer(size)
    got = _fgetxattr(fd, name, buf, size)
    if got < 0:
        err = ctypes.get_errno()
        if err == errno.ENODATA:
            return None
        raise OSError(err, os.strerror(err))
    return buf.raw[:got]


def fsync_path(path):
    """fsync a file or a directory (for a directory: the names in it) by path."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def syncfs_path(path):
    """Make everything written so far to the filesystem holding path durable:
    every file's data and metadata, every directory entry (Linux syncfs(2),
    which reports write-back errors since 5.8; os.sync() where it is missing).
    The GIL is released for the call."""
    if _syncfs is None:
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        if _syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), path)
    finally:
        os.close(fd)


def start_writeback(fd, offset, nbytes):
    """Start writing out a file's dirty pages in [offset, offset + nbytes)
    without waiting for them (Linux sync_file_range(2), SYNC_FILE_RANGE_WRITE).
    It makes nothing durable; it keeps a big file's dirty pages few, so a later
    fsync, or a flush of the whole filesystem, has little left to write. Does
    nothing where the call is missing."""
    if _sync_file_range is not None:
        _sync_file_range(fd, offset, nbytes, _SYNC_FILE_RANGE_WRITE)


def write_out(fds):
    """Write each file's dirty pages to the device and wait until the writes
    have completed (Linux sync_file_range(2): start them all, then wait for
    each); {fd: OSError} for the files whose write-out failed. It flushes
    neither the device's cache nor any metadata, so by itself it makes nothing
    durable: it orders. A journaling filesystem flushes the device's cache
    before its journal records anything done after these writes completed
    (a later rename, say), so such a record cannot become durable without
    them. Where the call is missing each file is fdatasync'ed instead."""
    failed = {}
    if _sync_file_range is None:
        for fd in fds:
            try:
                os.fdatasync(fd)
            except OSError as err:
                failed[fd] = err
        return failed
    if len(fds) > 1:   # one file's wait below starts its own write-out
        for fd in fds:
            _sync_file_range(fd, 0, 0, _SYNC_FILE_RANGE_WRITE)
    wait = _SYNC_FILE_RANGE_WAIT_BEFORE | _SYNC_FILE_RANGE_WRITE | _SYNC_FILE_RANGE_WAIT_AFTER
    for fd in fds:
        if _sync_file_range(fd, 0, 0, wait) != 0:
            err = ctypes.get_errno()
            failed[fd] = OSError(err, os.strerror(err))
    return failed


def write_atomically(path, data, sync_dir=False, mode=0o644):
    """Write bytes to path so readers see the old file or the new one, never half.

    The data is fsync'd before the rename; sync_dir also makes the rename itself
    durable (for files whose loss after a crash would matter).
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.' + os.path.basename(path) + '.')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if sync_dir:
        fsync_path(directory)
