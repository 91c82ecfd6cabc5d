"""File-level helpers the object daemons share: listing a partition's winning
files, reading one for sending, removing reverted files, quarantining, and
reclaiming old tombstones. They work on the diskfile layout
(<part>/<suffix>/<hash>/<timestamp>.<ext>) through the suffix-hash module's
cleanup so obsolete files never travel.
"""
import contextlib
import os
import uuid

from swiftlike.obj import metadata as xattr_meta
from swiftlike.obj.backend import DATA, resolve_files
from swiftlike.obj.diskfile import QUARANTINE_DIR
from swiftlike.obj.suffix_hashes import (AGREED_FILE, HASHES_FILE, INVALID_FILE, LOCK_FILE,
                                         cleanup_hash_dir, invalidate_suffix, is_suffix)
from swiftlike.obj.replication_protocol import is_hash


def _listdir(path):
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []


def list_partition(part_path, suffixes=None):
    """{hash: [winning file names]} for the given suffixes (default: all)."""
    if suffixes is None:
        suffixes = [s for s in _listdir(part_path) if is_suffix(s)]
    offers = {}
    for suffix in suffixes:
        suffix_path = os.path.join(part_path, suffix)
        for name_hash in _listdir(suffix_path):
            if not is_hash(name_hash) or name_hash[-3:] != suffix:
                continue
            names = cleanup_hash_dir(os.path.join(suffix_path, name_hash))
            if names:
                offers[name_hash] = sorted(names)
    return offers


def read_file_record(part_path, name_hash, name):
    """(metadata, open fd, size) of one file to send, or None when it is gone
    or its metadata is unreadable (the auditor deals with those)."""
    path = os.path.join(part_path, name_hash[-3:], name_hash, name)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        metadata = xattr_meta.read_metadata(fd)
        size = os.fstat(fd).st_size if name.endswith(DATA) else 0
    except (xattr_meta.MetadataError, OSError):
        os.close(fd)
        return None
    return metadata, fd, size


def remove_files(part_path, offers):
    """Unlink exactly the offered files (newer arrivals stay), then whatever
    directories that leaves empty, the partition itself included. Returns the
    number of files removed."""
    removed = 0
    touched = set()
    for name_hash, names in offers.items():
        hash_dir = os.path.join(part_path, name_hash[-3:], name_hash)
        for name in names:
            try:
                os.unlink(os.path.join(hash_dir, name))
                removed += 1
            except FileNotFoundError:
                pass
        with contextlib.suppress(OSError):
            os.rmdir(hash_dir)
        touched.add(name_hash[-3:])
    for suffix in touched:
        with contextlib.suppress(OSError):
            os.rmdir(os.path.join(part_path, suffix))
    remaining = [s for s in _listdir(part_path) if is_suffix(s)]
    if remaining:
        for suffix in touched & set(remaining):
            invalidate_suffix(part_path, suffix)
        return removed
    for name in (HASHES_FILE, INVALID_FILE, LOCK_FILE, HASHES_FILE + '.tmp', AGREED_FILE,
                 AGREED_FILE + '.tmp'):
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(part_path, name))
    with contextlib.suppress(OSError):
        os.rmdir(part_path)
    return removed


def quarantine_hash_dir(dev_path, part_path, name_hash, reason=''):
    """Move an object's directory to <dev>/quarantined/objects; its path or None."""
    target_dir = os.path.join(dev_path, QUARANTINE_DIR)
    os.makedirs(target_dir, exist_ok=True)
    target = os.path.join(target_dir, name_hash)
    if os.path.exists(target):
        target += '-' + uuid.uuid4().hex
    try:
        os.rename(os.path.join(part_path, name_hash[-3:], name_hash), target)
    except FileNotFoundError:
        return None
    invalidate_suffix(part_path, name_hash[-3:])
    return target


def reclaim_partition(part_path, cutoff):
    """Remove tombstones older than `cutoff` (epoch seconds); returns how many."""
    reclaimed = 0
    for suffix in _listdir(part_path):
        if not is_suffix(suffix):
            continue
        suffix_path = os.path.join(part_path, suffix)
        changed = False
        for name_hash in _listdir(suffix_path):
            hash_dir = os.path.join(suffix_path, name_hash)
            fileset = resolve_files(_listdir(hash_dir))
            if fileset.ts and float(fileset.ts_timestamp) < cutoff:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(hash_dir, fileset.ts))
                    reclaimed += 1
                cleanup_hash_dir(hash_dir)
                changed = True
        if changed:
            invalidate_suffix(part_path, suffix)
    return reclaimed
