"""The XFS/xattr backend: one directory per object, metadata in xattrs.

Layout: <device>/objects/<part>/<suffix>/<hash>/<timestamp>.{data,ts,meta},
suffix = the last 3 hex chars of hash_path(account, container, obj). A new
file is written in <device>/tmp, fsynced, renamed into place, and the
directory fsynced; older files are then removed. With group_sync, the writes
on a device that are in flight at once share the flush instead
(group_sync.py): each data file's bytes are written out to the device before
its rename, and one syncfs after the renames makes them all durable. Object
names are only ever hashed, so no name can reach the filesystem as a path.
"""
import contextlib
import errno
import fcntl
import functools
import os
import tempfile
import uuid

from swiftlike import concurrency, direct_io, fs, metrics
from swiftlike.constraints import is_decimal
from swiftlike.fs import fsync_path, start_writeback, syncfs_path, write_out
from swiftlike.hashing import hash_path
from swiftlike.obj import metadata as xattr_meta
from swiftlike.obj.group_sync import GroupSync, WriteOut
from swiftlike.obj.backend import (DATA, META, TOMBSTONE, DiskFile, DiskFileDeleted,
                                   DiskFileError, DiskFileExpired, DiskFileManager,
                                   DiskFileNoSpace, DiskFileNotExist, DiskFileQuarantined,
                                   DiskFileWriter, is_expired, merge_metadata, resolve_files)
from swiftlike.obj.suffix_hashes import cleanup_hash_dir, get_suffix_hashes, invalidate_suffix
from swiftlike.timestamp import Timestamp

OBJECTS_DIR = 'objects'
# The lock file of DiskFile.lock(), inside the object's hash dir (not a
# timestamp name: replication, suffix hashes and cleanup ignore it).
LOCK_FILE = '.lock'
TMP_DIR = 'tmp'
QUARANTINE_DIR = os.path.join('quarantined', 'objects')


# A file bigger than this makes itself durable (fsync of its data and
# directories) rather than join a device-wide flush, which would also wait for
# every other big upload in flight; once durable it leaves the page cache.
GROUP_SYNC_MAX_BYTES = 1 << 20
# A file being written starts its pages' write-out every this many bytes.
WRITEBACK_BYTES = 4 << 20

_IOV_MAX = os.sysconf('SC_IOV_MAX') if 'SC_IOV_MAX' in os.sysconf_names else 1024


def makedirs_durable(path, sync=True):
    """makedirs, fsyncing each new directory's parent so the new entry survives
    a crash (sync=False: the caller flushes them all later)."""
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path)
    makedirs_durable(parent, sync)
    try:
        os.mkdir(path)
    except FileExistsError:
        return
    if sync:
        fsync_path(parent)


class FsDiskFileManager(DiskFileManager):
    def __init__(self, fallocate=True, defer_cleanup=False, bytes_per_sync=0,
                 group_sync=False, sync=syncfs_path, run_flush=None, write=write_out,
                 direct_reads=False):
        self.fallocate = fallocate
        # Bodies of objects over GROUP_SYNC_MAX_BYTES (which leave the page
        # cache once written) are read past it too (direct_io.py).
        self.direct_reads = direct_reads
        # Writes in flight on one device share their flushes (group_sync.py):
        # True, False, or 'auto' (only on devices that are mount points);
        # `sync` is the flush (syncfs of the device's filesystem, or a test's),
        # `write` the data write-out before the renames (fs.write_out, or a test's).
        self.group_sync = group_sync
        self._sync = sync
        self._write = write
        # How a write made on the event loop runs its shared flush in a disk
        # thread: run_flush(device_path, sync, path) (the object server's
        # DiskExecutor, which watches the device's health by it).
        self._run_flush = run_flush or (lambda _device_path, func, *args:
                                        concurrency.run_in_thread(func, *args))
        self._group_syncs = {}
        # Flush a big object's data to disk every this many bytes as it is
        # written (0: only at commit), so write-back overlaps the upload and the
        # final fsync has little left to do.
        self.bytes_per_sync = bytes_per_sync
        # Unlinking superseded files costs milliseconds on some filesystems;
        # the server defers it past its response (DiskFile.cleanup()).
        self.defer_cleanup = defer_cleanup

    def get_diskfile(self, device_path, partition, account, container, obj):
        return FsDiskFile(self, device_path, partition, hash_path(account, container, obj),
                          '/%s/%s/%s' % (account, container, obj))

    def group_syncer(self, device_path):
        """The device's GroupSync, or None when every write flushes its own.
        group_sync 'auto' shares flushes only on a device that is a filesystem
        of its own (a mount point): a syncfs of a filesystem that other things
        use (an aio's data dir on /) would flush their writes too."""
        if not self.group_sync:
            return None
        # Writes in disk threads and writes inline on the event loop each
        # share flushes among themselves: their waiters block differently.
        key = (device_path, concurrency.on_loop_thread())
        try:
            return self._group_syncs[key]
        except KeyError:
            pass
        syncer = None
        if self.group_sync != 'auto' or fs.is_mount_point(device_path):
            if key[1]:
                run = functools.partial(self._run_flush, device_path)
                syncer = GroupSync(device_path, functools.partial(run, self._sync),
                                   concurrency.GreenCondition(),
                                   WriteOut(self._write, concurrency.GreenCondition(), run))
            else:
                syncer = GroupSync(device_path, self._sync, writes=WriteOut(self._write))
        return self._group_syncs.setdefault(key, syncer)

    def get_suffix_hashes(self, device_path, partition, recalculate=(), agreed=None):
        return get_suffix_hashes(os.path.join(device_path, OBJECTS_DIR, str(partition)),
                                 recalculate, agreed)


class FsDiskFile(DiskFile):
    def __init__(self, manager, device_path, partition, name_hash, name):
        self.manager = manager
        self.device_path = device_path
        self.name_hash = name_hash
        self.name = name
        self.part_path = os.path.join(device_path, OBJECTS_DIR, str(partition))
        self.suffix = name_hash[-3:]
        self.hash_path = os.path.join(self.part_path, self.suffix, name_hash)
        self._fd = None
        self._reader = None   # a direct_io.FileReader from the first read()
        self.metadata = None
        # True once open() found the hash dir empty: a write then leaves one
        # file and nothing to clean up (saves a disk call per new object).
        self.was_empty = False

    # -- reading ---------------------------------------------------------
    def _listdir(self):
        try:
            files = os.listdir(self.hash_path)
        except (FileNotFoundError, NotADirectoryError):
            files = []
        self.was_empty = not files
        return files

    def open(self, check_expiry=True, with_data=True, read_ahead=0, now=None):
        # A concurrent write may remove the file we just listed; list again.
        for _attempt in range(3):
            try:
                return self._open(check_expiry, with_data, read_ahead, now)
            except FileNotFoundError:
                self.close()
        raise DiskFileNotExist('object files keep changing under us')

    def _open(self, check_expiry, with_data, read_ahead, now):
        fileset = resolve_files(self._listdir())
        if fileset.ts:
            raise DiskFileDeleted('deleted', timestamp=fileset.ts_timestamp)
        if not fileset.data:
            raise DiskFileNotExist('not found')
        fd = os.open(os.path.join(self.hash_path, fileset.data), os.O_RDONLY)
        self._fd = fd
        try:
            data_meta = xattr_meta.read_metadata(fd)
            meta_meta = None
            if fileset.meta:
                meta_fd = os.open(os.path.join(self.hash_path, fileset.meta), os.O_RDONLY)
                try:
                    meta_meta = xattr_meta.read_metadata(meta_fd)
                finally:
                    os.close(meta_fd)
            size = os.fstat(fd).st_size
            expected = data_meta.get('Content-Length')
            if expected is None or not is_decimal(expected) or int(expected) != size:
                raise xattr_meta.MetadataError('size %d does not match Content-Length %r'
                                               % (size, expected))
        except xattr_meta.MetadataError as err:
            self.close()
            self.quarantine(str(err))
            metrics.event('object-server', 'quarantines')
            raise DiskFileQuarantined('quarantined: %s' % err)
        self.data_timestamp = fileset.data_timestamp
        self.timestamp = fileset.meta_timestamp or fileset.data_timestamp
        self.metadata = merge_metadata(data_meta, meta_meta)
        self.content_length = size
        if check_expiry and is_expired(self.metadata, now):
            self.close()
            raise DiskFileExpired('expired', timestamp=self.data_timestamp,
                                  metadata=self.metadata)
        if read_ahead and size:
            self.prefetched = os.pread(fd, min(read_ahead, size), 0)
        if not with_data:
            self.close()
        return self

    def read(self, offset, length):
        if self._fd is None:
            raise DiskFileError('not open')
        if self._reader is None:
            self._reader = direct_io.FileReader(
                self._fd, self.manager.direct_reads and self.content_length > GROUP_SYNC_MAX_BYTES)
        return self._reader.pread(length, offset)

    def close(self):
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def quarantine(self, reason):
        target_dir = os.path.join(self.device_path, QUARANTINE_DIR)
        os.makedirs(target_dir, exist_ok=True)
        target = os.path.join(target_dir, self.name_hash)
        if os.path.exists(target):
            target += '-' + uuid.uuid4().hex
        try:
            os.rename(self.hash_path, target)
        except FileNotFoundError:
            return None
        self._invalidate_suffix()
        return target

    # -- writing ---------------------------------------------------------
    def create(self, size=None):
        return FsDiskFileWriter(self, size)

    def _put_file(self, metadata, ext, fd=None, tmp_path=None, big=False):
        """Name the temp file <X-Timestamp><ext>, make it durable, drop older
        files, mark the suffix dirty. No crash can keep the name without the
        file's data and xattrs, and the name is durable before we return.

        Alone, the file is fsynced before its rename and the directory after.
        In a shared flush, one flush after the rename does it: the file's
        create, xattrs and rename are all metadata, which a journaling
        filesystem (XFS, ext4) commits in the order they were made. A data
        file's bytes are not metadata: they are written out to the device,
        and waited for, before the rename (WriteOut), which also settles the
        size and extents the write changed. A journal flushes the device's
        cache before it records anything, so the rename cannot become durable
        before the bytes. Without that wait a crash could leave the name over
        blocks never written: XFS journals the size a preallocation set, not
        the bytes."""
        timestamp = Timestamp(metadata['X-Timestamp'])
        # A big file makes itself durable alone: a shared flush would also
        # write out every other big upload in flight on the device, and wait
        # for it.
        syncer = None if big else self.manager.group_syncer(self.device_path)
        has_data = fd is not None
        if fd is None:
            fd, tmp_path = self._tmp_file()
        try:
            xattr_meta.write_metadata(fd, metadata)
            if syncer is None:
                os.fsync(fd)
                if big:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            elif has_data:
                syncer.wait_written(fd)
        except xattr_meta.MetadataError as err:
            with contextlib.suppress(OSError):
                os.unlink(tmp_path)
            raise DiskFileNoSpace(str(err))
        finally:
            os.close(fd)
        target = os.path.join(self.hash_path, timestamp.internal + ext)
        try:
            makedirs_durable(self.hash_path, syncer is None)
            try:
                os.rename(tmp_path, target)
            except FileNotFoundError:
                # An emptied hash dir was just removed by a suffix rehash: recreate it.
                makedirs_durable(self.hash_path, syncer is None)
                os.rename(tmp_path, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_path)
            raise
        if syncer is None:
            fsync_path(self.hash_path)
        else:
            syncer.wait()   # the rename and any new directories
        if not self.manager.defer_cleanup:
            cleanup_hash_dir(self.hash_path)
        self._invalidate_suffix()

    def _invalidate_suffix(self):
        # On the event loop, a partition lock that a rehash holds is waited
        # for in a disk thread.
        if not invalidate_suffix(self.part_path, self.suffix,
                                 block=not concurrency.on_loop_thread()):
            concurrency.run_in_thread(invalidate_suffix, self.part_path, self.suffix)

    @property
    def needs_cleanup(self):
        return self.manager.defer_cleanup and not self.was_empty

    def cleanup(self):
        if self.manager.defer_cleanup:
            cleanup_hash_dir(self.hash_path)

    def _tmp_file(self):
        tmp_dir = os.path.join(self.device_path, TMP_DIR)
        try:
            return tempfile.mkstemp(dir=tmp_dir, prefix='.obj-')
        except FileNotFoundError:
            os.makedirs(tmp_dir, exist_ok=True)
            return tempfile.mkstemp(dir=tmp_dir, prefix='.obj-')

    def write_metadata(self, metadata):
        self._put_file(metadata, META)

    @contextlib.contextmanager
    def lock(self):
        """flock on <hash dir>/.lock, which the holder removes on release.
        A waiter that wakes up holding a file already unlinked (or a hash dir
        renamed away by a quarantine) tries again on the current one; each
        acquisition opens its own descriptor, so threads of one process
        exclude each other as well as processes do."""
        path = os.path.join(self.hash_path, LOCK_FILE)
        while True:
            try:
                os.makedirs(self.hash_path, exist_ok=True)
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            except FileNotFoundError:
                continue   # the empty hash dir was removed meanwhile
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                held = os.fstat(fd)
                now = os.stat(path)
            except FileNotFoundError:
                os.close(fd)
                continue
            except BaseException:
                os.close(fd)
                raise
            if (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino):
                break
            os.close(fd)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)
            os.close(fd)

    def delete(self, timestamp):
        self._put_file({'X-Timestamp': Timestamp(timestamp).internal}, TOMBSTONE)


class FsDiskFileWriter(DiskFileWriter):
    def __init__(self, diskfile, size=None):
        self.diskfile = diskfile
        self.fd, self.tmp_path = diskfile._tmp_file()
        self.done = False
        self.unsynced = 0
        self.written = 0
        self.written_back = 0
        self.allocated = 0
        if size and diskfile.manager.fallocate:
            try:
                os.posix_fallocate(self.fd, 0, size)
                self.allocated = size
            except OSError as err:
                if err.errno == errno.ENOSPC:
                    self.abort()
                    raise DiskFileNoSpace('no room for %d bytes' % size)
                # EOPNOTSUPP and friends: the filesystem cannot preallocate.

    def write(self, chunk):
        self.write_chunks([chunk])

    def write_chunks(self, chunks):
        # One writev of the network's chunks, not a write of their join: a
        # fresh megabyte buffer per call costs more in page faults than the copy.
        if len(chunks) > _IOV_MAX:   # many tiny chunks (say, a chunked upload's)
            chunks = [b''.join(chunks)]
        written = os.writev(self.fd, chunks)
        self.unsynced += written
        self.written += written
        expected = sum(len(c) for c in chunks)
        if written < expected:   # a short write: finish what is left the slow way
            view = memoryview(b''.join(chunks))[written:]
            while view:
                done = os.write(self.fd, view)
                view = view[done:]
                self.unsynced += done
                self.written += done
        per_sync = self.diskfile.manager.bytes_per_sync
        if per_sync and self.unsynced >= per_sync:
            os.fdatasync(self.fd)
            self.unsynced = 0
        elif self.written - self.written_back >= WRITEBACK_BYTES:
            # A big file: its pages go to disk as they come, not all at its
            # fsync, and a shared flush of the device (group_sync) by the
            # small writes beside it finds little of it dirty.
            start_writeback(self.fd, self.written_back, self.written - self.written_back)
            self.written_back = self.written

    def commit(self, metadata):
        fd, self.fd = self.fd, None
        self.done = True
        if self.allocated > self.written:  # drop the over-allocation
            os.ftruncate(fd, self.written)
        self.diskfile._put_file(metadata, DATA, fd, self.tmp_path,
                                big=self.written > GROUP_SYNC_MAX_BYTES)

    def abort(self):
        if self.done:
            return
        self.done = True
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(self.tmp_path)


__all__ = ['FsDiskFileManager', 'FsDiskFile', 'FsDiskFileWriter', 'DiskFileNotExist',
           'DiskFileDeleted', 'DiskFileExpired', 'DiskFileQuarantined', 'OBJECTS_DIR']
