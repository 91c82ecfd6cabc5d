"""Object metadata in extended attributes: JSON, split over numbered keys.

`user.swiftlike.metadata` holds the first CHUNK bytes of the JSON document,
`user.swiftlike.metadata1`, `...2` the rest. Files are always written fresh
(a new inode per version), so no stale higher-numbered key can linger.
"""
import errno
import json
import os

from swiftlike import fs

XATTR_KEY = 'user.swiftlike.metadata'
# Small values stay inline in an XFS inode; a 4 KiB user-metadata object
# spans a few keys.
CHUNK = 2048


class MetadataError(Exception):
    """Missing or unreadable metadata (the caller quarantines the file)."""


def encode(metadata):
    return json.dumps(metadata, ensure_ascii=False, separators=(',', ':'),
                      sort_keys=True).encode('utf-8', 'surrogateescape')


def decode(raw):
    try:
        value = json.loads(raw.decode('utf-8', 'surrogateescape'))
    except ValueError as err:
        raise MetadataError('metadata is not valid JSON: %s' % err)
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                              for k, v in value.items()):
        raise MetadataError('metadata is not a mapping of strings')
    return value


def write_metadata(fd, metadata):
    """Store `metadata` ({str: str}) on the open file `fd`."""
    raw = encode(metadata)
    index = 0
    for start in range(0, max(len(raw), 1), CHUNK):
        key = XATTR_KEY + (str(index) if index else '')
        try:
            os.setxattr(fd, key, raw[start:start + CHUNK])
        except OSError as err:
            if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.E2BIG, errno.ERANGE):
                raise MetadataError('no room for %d bytes of metadata: %s' % (len(raw), err))
            raise
        index += 1


def read_metadata(fd):
    """The metadata stored on `fd`; MetadataError when absent or corrupt.

    Each key is read in one call into a CHUNK-byte buffer. A piece shorter
    than CHUNK is the last one write_metadata wrote, so the keys after it
    are not asked for when what was read parses (a document another writer
    split into smaller pieces does not parse yet, and reading goes on)."""
    pieces = []
    index = 0
    while True:
        key = (XATTR_KEY + (str(index) if index else '')).encode('ascii')
        try:
            piece = fs.get_xattr(fd, key, CHUNK)
        except OSError as err:
            if err.errno != errno.ERANGE:
                raise
            piece = os.getxattr(fd, key)   # written in pieces bigger than ours
        if piece is None:
            break
        pieces.append(piece)
        if len(piece) < CHUNK:
            try:
                return decode(b''.join(pieces))
            except MetadataError:
                pass
        index += 1
    if not pieces:
        raise MetadataError('no metadata')
    return decode(b''.join(pieces))
