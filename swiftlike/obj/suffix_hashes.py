"""Per-partition suffix hashes for replication, cached in <part>/hashes.json.

Writers append the suffix they touched to <part>/hashes.invalid (a tiny
append under the partition lock); get_suffix_hashes() folds those in,
recomputes dirty or requested suffixes and rewrites hashes.json atomically.
Several worker processes share the files, hence the flock.

<part>/hashes.agreed notes "<fingerprint> <time>": when a primary's
replicator asked this node for the partition's hashes, told it the
fingerprint of its own, and they were the same. This node's replicator then
need not compare the partition itself while its hashes keep that
fingerprint (for its unchanged_recheck_interval): the asking primary is
comparing with every replica and pushes what it has newer, which is all this
node has. Without it, a partition just written on its three primaries was
compared by each of them with the two others: six REPLICATE calls, where two
do.
"""
import contextlib
import errno
import fcntl
import json
import os
import time

from swiftlike.obj.backend import hashes_fingerprint, resolve_files, suffix_hash

HASHES_FILE = 'hashes.json'
INVALID_FILE = 'hashes.invalid'
AGREED_FILE = 'hashes.agreed'
LOCK_FILE = '.lock'


def is_suffix(name):
    return len(name) == 3 and all(c in '0123456789abcdef' for c in name)


@contextlib.contextmanager
def partition_lock(part_path, block=True):
    """The partition's flock; with block=False, BlockingIOError if it is held."""
    fd = os.open(os.path.join(part_path, LOCK_FILE), os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
        yield
    finally:
        os.close(fd)


def invalidate_suffix(part_path, suffix, block=True):
    """Mark `suffix` of the partition dirty (called after every write).
    block=False (a write on the event loop) does not wait for the lock, which
    a rehash may hold for long: it returns False, having marked nothing."""
    try:
        with partition_lock(part_path, block):
            # os.open, not open(): a buffered file costs three more system
            # calls (fstat, the isatty ioctl, lseek) on every write's path.
            fd = os.open(os.path.join(part_path, INVALID_FILE),
                         os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, (suffix + '\n').encode('ascii'))
            finally:
                os.close(fd)
    except FileNotFoundError:
        pass  # partition removed meanwhile (replicated away): nothing to mark
    except BlockingIOError:
        return False
    return True


def cleanup_hash_dir(hash_path):
    """Remove obsolete files; return the remaining names ([] and the dir
    removed when nothing is left)."""
    try:
        names = os.listdir(hash_path)
    except (FileNotFoundError, NotADirectoryError):
        return []
    fileset = resolve_files(names)
    for name in fileset.obsolete:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(hash_path, name))
    remaining = [n for n in (fileset.data, fileset.meta, fileset.ts) if n]
    if not remaining:
        leftovers = set(names) - set(fileset.obsolete)
        if not leftovers:
            with contextlib.suppress(OSError):
                os.rmdir(hash_path)
    return remaining


def compute_suffix(suffix_path):
    """The suffix's hash, or None (and the dir removed) when it holds nothing."""
    try:
        hashes = os.listdir(suffix_path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    contents = {}
    for name_hash in hashes:
        names = cleanup_hash_dir(os.path.join(suffix_path, name_hash))
        if names:
            contents[name_hash] = names
    if not contents:
        with contextlib.suppress(OSError):
            os.rmdir(suffix_path)
        return None
    return suffix_hash(contents)


def _load(part_path):
    try:
        with open(os.path.join(part_path, HASHES_FILE), 'rb') as f:
            value = json.loads(f.read().decode('utf-8'))
        if isinstance(value, dict):
            return {k: v for k, v in value.items() if is_suffix(k)}, True
    except (OSError, ValueError):
        pass
    return {}, False


def _replace(part_path, name, text):
    """Replace the partition's file `name` whole (a cache: no fsync)."""
    tmp = os.path.join(part_path, name + '.tmp')
    with open(tmp, 'w') as f:
        f.write(text)
    os.rename(tmp, os.path.join(part_path, name))


def _save(part_path, hashes):
    _replace(part_path, HASHES_FILE, json.dumps(hashes, sort_keys=True))


def agreed_since(part_path, value):
    """When a peer last found the partition's hashes to have `value`
    (time.time()), or None."""
    try:
        with open(os.path.join(part_path, AGREED_FILE), 'rb') as f:
            noted, since = f.read(100).decode('ascii').split()
        return float(since) if noted == value else None
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def _note_agreement(part_path, value):
    _replace(part_path, AGREED_FILE, '%s %.3f\n' % (value, time.time()))


def get_suffix_hashes(part_path, recalculate=(), agreed=None):
    """{suffix: md5} for the partition; {} when the partition does not exist.
    `agreed`: the fingerprint of the asking peer's hashes; when this
    partition's are the same, the agreement is noted (agreed_since)."""
    if not os.path.isdir(part_path):
        return {}
    with partition_lock(part_path):
        hashes, valid = _load(part_path)
        dirty = set(recalculate)
        invalid_path = os.path.join(part_path, INVALID_FILE)
        try:
            with open(invalid_path) as f:
                dirty.update(line.strip() for line in f if is_suffix(line.strip()))
            os.unlink(invalid_path)
        except FileNotFoundError:
            pass
        on_disk = {name for name in os.listdir(part_path) if is_suffix(name)}
        if not valid:
            dirty |= on_disk
        dirty |= on_disk - set(hashes)
        changed = not valid
        for suffix in list(hashes):
            if suffix not in on_disk:
                del hashes[suffix]
                changed = True
        for suffix in dirty:
            if not is_suffix(suffix):
                continue
            value = compute_suffix(os.path.join(part_path, suffix))
            if value is None:
                changed |= hashes.pop(suffix, None) is not None
            elif hashes.get(suffix) != value:
                hashes[suffix] = value
                changed = True
        try:
            if changed:
                _save(part_path, hashes)
            if agreed is not None and hashes_fingerprint(hashes) == agreed:
                _note_agreement(part_path, agreed)
        except OSError as err:
            if err.errno != errno.ENOENT:
                raise
        return dict(hashes)
