"""An in-memory backend honouring the DiskFile contract (fast unit tests).

Files live in a dict {(device_path, partition, hash): {name: (metadata, bytes)}};
the same pure rules as the real backend pick the winning files.
"""
import threading
import time

from swiftlike.hashing import hash_path
from swiftlike.obj.backend import (DATA, META, TOMBSTONE, DiskFile, DiskFileDeleted,
                                   DiskFileError, DiskFileExpired, DiskFileManager,
                                   DiskFileNotExist, DiskFileQuarantined, DiskFileWriter,
                                   hashes_fingerprint, is_expired, merge_metadata,
                                   resolve_files, suffix_hash)
from swiftlike.timestamp import Timestamp


class MemDiskFileManager(DiskFileManager):
    def __init__(self):
        self.objects = {}       # (device_path, partition, hash) -> {name: (meta, data)}
        self.quarantined = {}   # (device_path, hash) -> files
        self.lock = threading.Lock()
        self.object_locks = {}  # key -> threading.Lock (DiskFile.lock())
        # (device_path, partition) -> (fingerprint, time) a peer agreed with
        self.agreements = {}

    def get_diskfile(self, device_path, partition, account, container, obj):
        return MemDiskFile(self, device_path, int(partition), hash_path(account, container, obj))

    def get_suffix_hashes(self, device_path, partition, recalculate=(), agreed=None):
        by_suffix = {}
        with self.lock:
            for (dev, part, name_hash), files in self.objects.items():
                if dev == device_path and part == int(partition) and files:
                    fileset = resolve_files(files)
                    names = [n for n in (fileset.data, fileset.meta, fileset.ts) if n]
                    by_suffix.setdefault(name_hash[-3:], {})[name_hash] = names
        hashes = {suffix: suffix_hash(contents) for suffix, contents in by_suffix.items()}
        # (a partition this node does not have notes nothing, as on disk)
        if hashes and agreed is not None and hashes_fingerprint(hashes) == agreed:
            self.agreements[(device_path, int(partition))] = (agreed, time.time())
        return hashes

    def corrupt(self, device_path, partition, account, container, obj, data):
        """Replace an object's stored bytes (tests of the quarantine path)."""
        key = (device_path, int(partition), hash_path(account, container, obj))
        with self.lock:
            files = self.objects[key]
            name = resolve_files(files).data
            files[name] = (files[name][0], data)


class MemDiskFile(DiskFile):
    def __init__(self, manager, device_path, partition, name_hash):
        self.manager = manager
        self.key = (device_path, partition, name_hash)
        self._data = None

    def open(self, check_expiry=True, with_data=True, read_ahead=0, now=None):
        with self.manager.lock:
            files = dict(self.manager.objects.get(self.key, {}))
        fileset = resolve_files(files)
        if fileset.ts:
            raise DiskFileDeleted('deleted', timestamp=fileset.ts_timestamp)
        if not fileset.data:
            raise DiskFileNotExist('not found')
        data_meta, data = files[fileset.data]
        if data_meta.get('Content-Length') != str(len(data)):
            self.quarantine('size does not match Content-Length')
            raise DiskFileQuarantined('quarantined')
        meta_meta = files[fileset.meta][0] if fileset.meta else None
        self.metadata = merge_metadata(data_meta, meta_meta)
        self.data_timestamp = fileset.data_timestamp
        self.timestamp = fileset.meta_timestamp or fileset.data_timestamp
        self.content_length = len(data)
        if check_expiry and is_expired(self.metadata, now):
            raise DiskFileExpired('expired', timestamp=self.data_timestamp,
                                  metadata=self.metadata)
        self._data = data if with_data else None
        self.prefetched = data[:read_ahead] if read_ahead else b''
        return self

    def read(self, offset, length):
        if self._data is None:
            raise DiskFileError('not open')
        return self._data[offset:offset + length]

    def close(self):
        self._data = None

    def quarantine(self, reason):
        with self.manager.lock:
            files = self.manager.objects.pop(self.key, None)
            if files is not None:
                self.manager.quarantined[(self.key[0], self.key[2])] = files

    def create(self, size=None):
        return MemDiskFileWriter(self)

    def _put(self, metadata, ext, data=b''):
        name = Timestamp(metadata['X-Timestamp']).internal + ext
        with self.manager.lock:
            files = self.manager.objects.setdefault(self.key, {})
            files[name] = (dict(metadata), bytes(data))
            for old in resolve_files(files).obsolete:
                del files[old]

    def write_metadata(self, metadata):
        self._put(metadata, META)

    def lock(self):
        with self.manager.lock:
            lock = self.manager.object_locks.setdefault(self.key, threading.Lock())
        return lock

    def delete(self, timestamp):
        self._put({'X-Timestamp': Timestamp(timestamp).internal}, TOMBSTONE)


class MemDiskFileWriter(DiskFileWriter):
    def __init__(self, diskfile):
        self.diskfile = diskfile
        self.chunks = []

    def write(self, chunk):
        self.chunks.append(bytes(chunk))

    def commit(self, metadata):
        self.diskfile._put(metadata, DATA, b''.join(self.chunks))
        self.chunks = []

    def abort(self):
        self.chunks = []
