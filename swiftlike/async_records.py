"""Reading and rewriting the JSON records the servers leave for the updaters.

Records live in `<root>/<suffix>/<hash>-<timestamp>` (objects' async_pending
and, with the same naming, the containers' async_pending_containers). The
timestamp in the name orders records of the same hash; the newest one
supersedes the others.
"""
import json
import os

from swiftlike.fs import write_atomically
from swiftlike.timestamp import Timestamp


def _split_name(name):
    key, sep, ts = name.rpartition('-')
    if not sep or not key:
        return None
    try:
        return key, Timestamp(ts)
    except (ValueError, TypeError):
        return None


def list_records(root):
    """Yield (path, superseded) for every record under root, newest last per key.

    Files whose names do not parse are yielded as not superseded so the caller
    reads (and rejects) them.
    """
    try:
        suffixes = sorted(os.listdir(root))
    except OSError:
        return
    for suffix in suffixes:
        sdir = os.path.join(root, suffix)
        try:
            names = sorted(os.listdir(sdir))
        except OSError:
            continue
        newest = {}
        odd = []
        for name in names:
            if name.startswith('.'):
                continue        # temp files of writers in progress
            parsed = _split_name(name)
            if parsed is None:
                odd.append(name)
                continue
            key, ts = parsed
            newest.setdefault(key, []).append((ts, name))
        for name in odd:
            yield os.path.join(sdir, name), False
        for key in sorted(newest):
            entries = sorted(newest[key])
            for _ts, name in entries[:-1]:
                yield os.path.join(sdir, name), True
            yield os.path.join(sdir, entries[-1][1]), False
        # Empty suffix dirs stay: removing one could race a server writing into it.


def read_record(path, required):
    """The record as a dict, or None when unreadable or missing a required key."""
    try:
        with open(path, 'rb') as f:
            data = json.loads(f.read(1 << 20).decode('utf-8'))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or any(k not in data for k in required):
        return None
    return data


def atomic_write_json(path, data):
    write_atomically(path, json.dumps(data).encode('utf-8'))
