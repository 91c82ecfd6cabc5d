"""Conditional object PUTs (If-Match / If-None-Match) judged atomically.

A PUT with `If-None-Match: *` (create only if absent) or `If-Match: <etag>`
(replace only that version: a compare-and-swap, what the proxy's append
commit sends to an object's arbiter node) is checked once before the body is
read, so a refused upload costs nothing, and again right before the new file
is committed, under the object's lock (DiskFile.lock(): an flock shared by
every worker process of the server). Between the two nothing can slip in:
two conditional PUTs of the same object never both succeed on one node.
Plain PUTs take no lock (newest timestamp wins, as always).
"""
from swiftlike import conditional
from swiftlike.exceptions import Conflict, PreconditionFailed
from swiftlike.obj.backend import DiskFileExpired, DiskFileNotExist, delete_at_of


def is_conditional(headers):
    return headers.get('If-Match') is not None or headers.get('If-None-Match') is not None


def check(headers, timestamp, orig_ts, orig_meta, exists):
    """Raise PreconditionFailed (412) or Conflict (409) when the PUT must not
    replace what is stored (orig_ts: its durable timestamp or None)."""
    backend = {'X-Backend-Timestamp': orig_ts.internal} if orig_ts is not None else {}
    if exists and orig_meta.get('ETag'):
        backend['X-Backend-Etag'] = orig_meta['ETag']
    if_none_match = conditional.parse_etags(headers.get('If-None-Match'))
    if exists and if_none_match is not None and (
            if_none_match == '*' or orig_meta.get('ETag') in if_none_match):
        raise PreconditionFailed('The object exists (If-None-Match)', backend)
    if_match = conditional.parse_etags(headers.get('If-Match'))
    if if_match is not None and not (exists and (
            if_match == '*' or orig_meta.get('ETag') in if_match)):
        raise PreconditionFailed('The stored object is not the one named (If-Match)', backend)
    if orig_ts is not None and orig_ts >= timestamp:
        raise Conflict('An equal or newer version exists', backend)


def current(df):
    """(durable timestamp or None, metadata, exists) of what `df` holds (blocking)."""
    try:
        df.open(True, False)
        return df.data_timestamp, df.metadata, True
    except DiskFileExpired as err:
        return err.timestamp, err.metadata, False
    except DiskFileNotExist as err:
        return err.timestamp, {}, False


def locked_commit(df, headers, timestamp, commit, *args):
    """Under the object's lock: check the conditions against what is stored
    now, then `commit(*args)` (blocking; run it in a disk thread). Returns
    the metadata that was stored before."""
    with df.lock():
        orig_ts, orig_meta, exists = current(df)
        check(headers, timestamp, orig_ts, orig_meta, exists)
        commit(*args)
        return orig_meta


def delete_checked(df, timestamp, if_delete_at):
    """A DELETE's disk work in one call: judge X-If-Delete-At and the
    timestamps against what is stored, then write the tombstone.
    Returns (the metadata it replaced or {}, whether an object existed)."""
    orig_ts, orig_meta, exists = current(df)
    if if_delete_at is not None:
        if not orig_meta:
            raise PreconditionFailed('X-If-Delete-At given but the object does not exist')
        if delete_at_of(orig_meta) != int(if_delete_at):
            raise PreconditionFailed('X-If-Delete-At does not match X-Delete-At')
    if orig_ts is not None and orig_ts >= timestamp:
        raise Conflict('An equal or newer version exists',
                       {'X-Backend-Timestamp': orig_ts.internal})
    df.delete(timestamp)
    return orig_meta, exists
