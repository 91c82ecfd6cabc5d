"""The DiskFile contract between the object server and its storage.

Every backend (the XFS/xattr one in diskfile.py, the in-memory one in
mem_diskfile.py) stores, per object, a set of files named
`<timestamp>.data` (the object), `<timestamp>.ts` (a tombstone) and
`<timestamp>.meta` (POSTed metadata). The rules deciding which of them count
are pure functions here, so both backends agree on them.

All DiskFile methods block; the server runs them through its DiskExecutor.
"""
import abc
import hashlib
import time

from swiftlike.timestamp import Timestamp

DATA, META, TOMBSTONE = '.data', '.meta', '.ts'
EXTENSIONS = (DATA, META, TOMBSTONE)

# Metadata a POST replaces as a whole (besides X-Object-Meta-*); everything
# else (name, size, ETag, Content-Type, sysmeta) stays with the .data file.
MUTABLE_HEADERS = ('content-disposition', 'content-encoding', 'content-language',
                   'cache-control', 'expires', 'x-object-manifest', 'x-static-large-object',
                   'x-delete-at')


class DiskFileError(Exception):
    pass


class DiskFileNotExist(DiskFileError):
    """No object. `timestamp` is the newest data/tombstone time, if any."""

    def __init__(self, message='', timestamp=None, metadata=None):
        super().__init__(message)
        self.timestamp = timestamp
        self.metadata = metadata or {}


class DiskFileDeleted(DiskFileNotExist):
    """The newest file is a tombstone (timestamp is its time)."""


class DiskFileExpired(DiskFileNotExist):
    """The object exists but its X-Delete-At has passed."""


class DiskFileQuarantined(DiskFileNotExist):
    """The object was found corrupt and moved aside."""


class DiskFileNoSpace(DiskFileError):
    """The device cannot hold the file or its metadata (answered 507)."""


def is_mutable_key(key):
    lkey = key.lower()
    return lkey.startswith(('x-object-meta-', 'x-object-transient-sysmeta-')) or \
        lkey in MUTABLE_HEADERS


def parse_file_name(name):
    """'<timestamp><ext>' -> (Timestamp, ext), or None for foreign files."""
    for ext in EXTENSIONS:
        if name.endswith(ext):
            try:
                return Timestamp(name[:-len(ext)]), ext
            except (ValueError, TypeError):
                return None
    return None


class FileSet:
    """Which files of one object count: data, meta and tombstone names
    (None when absent) and the obsolete ones to remove."""
    __slots__ = ('data', 'meta', 'ts', 'obsolete', 'data_timestamp', 'meta_timestamp',
                 'ts_timestamp')

    def __init__(self):
        self.data = self.meta = self.ts = None
        self.data_timestamp = self.meta_timestamp = self.ts_timestamp = None
        self.obsolete = []

    @property
    def newest_durable(self):
        """Timestamp of the data or tombstone that wins (what a PUT/DELETE must beat)."""
        return self.data_timestamp or self.ts_timestamp


def resolve_files(names):
    """Newest wins: the newest .data or .ts decides; a .meta counts only when
    newer than a winning .data. Everything older is obsolete."""
    parsed = []
    fileset = FileSet()
    for name in names:
        info = parse_file_name(name)
        if info is not None:
            parsed.append((info[0], info[1], name))
    # Newest first; at equal times a .ts beats a .data beats a .meta.
    rank = {TOMBSTONE: 2, DATA: 1, META: 0}
    parsed.sort(key=lambda item: (item[0], rank[item[1]]), reverse=True)
    pending_meta = None
    for ts, ext, name in parsed:
        if fileset.data or fileset.ts:
            fileset.obsolete.append(name)
        elif ext == META:
            if pending_meta is None:
                pending_meta = (ts, name)
            else:
                fileset.obsolete.append(name)
        elif ext == DATA:
            fileset.data, fileset.data_timestamp = name, ts
        else:
            fileset.ts, fileset.ts_timestamp = name, ts
    if pending_meta is not None:
        if fileset.data:
            fileset.meta_timestamp, fileset.meta = pending_meta
        else:
            fileset.obsolete.append(pending_meta[1])
    return fileset


def suffix_hash(hash_dirs):
    """md5 over {object hash: [file names]} of one suffix: each object hash
    followed by its sorted file names, object hashes in sorted order. Two
    replicas of a suffix agree exactly when they hold the same files."""
    md5 = hashlib.md5(usedforsecurity=False)
    for name_hash in sorted(hash_dirs):
        md5.update(name_hash.encode('ascii', 'replace'))
        for name in sorted(hash_dirs[name_hash]):
            md5.update(b'/' + name.encode('utf-8', 'surrogateescape'))
        md5.update(b'\n')
    return md5.hexdigest()


def hashes_fingerprint(hashes):
    """The fingerprint of a partition's {suffix: hash}: the same on two
    replicas exactly when their hashes are."""
    md5 = hashlib.md5(usedforsecurity=False)
    for suffix in sorted(hashes):
        md5.update(('%s %s\n' % (suffix, hashes[suffix])).encode('ascii', 'replace'))
    return md5.hexdigest()


def merge_metadata(data_meta, meta_meta):
    """The .data's metadata with the .meta's replacing all mutable keys."""
    if not meta_meta:
        return dict(data_meta)
    merged = {k: v for k, v in data_meta.items() if not is_mutable_key(k)}
    for key, value in meta_meta.items():
        # A POST may also change the Content-Type (it carries the current one
        # forward when it does not).
        if is_mutable_key(key) or key in ('X-Timestamp', 'Content-Type'):
            merged[key] = value
    return merged


def delete_at_of(metadata):
    value = metadata.get('X-Delete-At')
    try:
        return int(value) if value else None
    except ValueError:
        return None


def is_expired(metadata, now=None):
    delete_at = delete_at_of(metadata)
    return delete_at is not None and delete_at <= (time.time() if now is None else now)


class DiskFileManager(abc.ABC):
    """Hands out DiskFiles and answers per-partition suffix hashes."""

    @abc.abstractmethod
    def get_diskfile(self, device_path, partition, account, container, obj):
        """A DiskFile for the object (no I/O yet)."""

    @abc.abstractmethod
    def get_suffix_hashes(self, device_path, partition, recalculate=(), agreed=None):
        """{suffix: hash} of the whole partition, recomputing `recalculate`
        and any suffix written since the last call. `agreed`: the asking
        peer's hashes_fingerprint of its own; when the partition's is the
        same, the backend notes that a peer agreed with it now."""


class DiskFile(abc.ABC):
    """One object on one device. After open(): `metadata` (merged),
    `data_timestamp`, `timestamp` (newest incl. .meta), `content_length`,
    `prefetched` (the first bytes when open(read_ahead=N) was asked)."""
    metadata = None
    data_timestamp = None
    timestamp = None
    content_length = 0
    prefetched = b''

    @abc.abstractmethod
    def open(self, check_expiry=True, with_data=True, read_ahead=0, now=None):
        """Load the winning files; raise DiskFileNotExist (or a subclass).

        With with_data the data stays open for read() until close().
        """

    @abc.abstractmethod
    def read(self, offset, length):
        """Up to `length` bytes of the data from `offset`."""

    @abc.abstractmethod
    def close(self):
        """Release anything open() holds (idempotent)."""

    @abc.abstractmethod
    def quarantine(self, reason):
        """Move the object's files aside; they are never served again."""

    @abc.abstractmethod
    def create(self, size=None):
        """A DiskFileWriter for a new .data (size: expected length, if known)."""

    @abc.abstractmethod
    def write_metadata(self, metadata):
        """Write a .meta named after metadata['X-Timestamp']."""

    @abc.abstractmethod
    def delete(self, timestamp):
        """Write a tombstone at `timestamp` (older files go)."""

    def lock(self):
        """A context manager holding this object's exclusive lock (across
        threads and the server's worker processes) while a conditional PUT
        checks what is stored and commits (see obj/conditional_put.py)."""
        raise NotImplementedError('this backend cannot lock an object')

    def cleanup(self):
        """Remove files a newer write made obsolete, when the backend leaves
        that for later (the server calls it after answering). Readers ignore
        obsolete files, so until then nothing changes for them."""


class DiskFileWriter(abc.ABC):
    @abc.abstractmethod
    def write(self, chunk):
        pass

    def write_chunks(self, chunks):
        """Write a list of chunks in order (a backend may do it in one call)."""
        for chunk in chunks:
            self.write(chunk)

    @abc.abstractmethod
    def commit(self, metadata):
        """Make the data durable and visible as <metadata X-Timestamp>.data."""

    @abc.abstractmethod
    def abort(self):
        """Throw away what was written (idempotent; harmless after commit)."""


def hash_and_write(writer, summer, chunks, hashed=0):
    """One disk call of a big PUT: add chunks[hashed:] to the checksum (the
    first `hashed` are in it already), then write them all."""
    for chunk in chunks[hashed:]:
        summer.update(chunk)
    writer.write_chunks(chunks)


def write_whole(diskfile, data, metadata):
    """Create, write and commit a small object in one go (one disk call)."""
    writer = diskfile.create(len(data))
    try:
        if data:
            writer.write(data)
        writer.commit(metadata)
    finally:
        writer.abort()
