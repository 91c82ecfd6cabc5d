"""Appendable objects: the pure parts (no I/O).

The object <account>/<container>/<obj> of an appendable object is a manifest:
a small JSON document listing its pieces, ordinary objects of the container
`<container>_segments` named `<obj>/append/<offset, 20 digits>-<uuid hex>`
(unique names, never overwritten):

    {"format": 1, "container": "<container>_segments", "length": N,
     "etag": "<chained MD5>", "version": "<uuid hex>",
     "pieces": [["<piece name>", <bytes>, "<md5 hex>"], ...]}

`version` is new in every manifest written, so two manifests never have the
same bytes (their MD5, the manifest object's ETag, is the token of the
compare-and-swap). The object's ETag chains the appends:
E(0) = '' and E(k) = md5(E(k-1) + md5 of append k) in hex; compaction keeps
it, so it changes exactly when an append lands.

State also lives in system metadata (APPEND_* below), so a HEAD needs no
body, and in the container-listing overrides (the listing shows the whole
length and the chained ETag).
"""
import hashlib
import json
import re
import uuid

from swiftlike.exceptions import BadRequest
from swiftlike.timestamp import Timestamp

FORMAT = 1
SYSMETA = 'X-Object-Sysmeta-Append-'
FORMAT_HEADER = SYSMETA + 'Format'
LENGTH_HEADER = SYSMETA + 'Length'
ETAG_HEADER = SYSMETA + 'Etag'
PIECES_HEADER = SYSMETA + 'Pieces'
# The manifest's own X-Timestamp (its data timestamp; a POST's .meta does not change it).
TIMESTAMP_HEADER = SYSMETA + 'Timestamp'
OVERRIDE_SIZE = 'X-Object-Sysmeta-Container-Update-Override-Size'
OVERRIDE_ETAG = 'X-Object-Sysmeta-Container-Update-Override-Etag'

SEGMENTS_SUFFIX = '_segments'
# '/append/' + 20 digits + '-' + 32 hex digits
PIECE_NAME_EXTRA = len('/append/') + 20 + 1 + 32
MAX_OFFSET = 2 ** 53        # lengths beyond this are refused, whatever the limits
_MD5 = re.compile(r'[0-9a-f]{32}')
_OFFSET = re.compile(r'[0-9]{1,20}')
_PIECE_TAIL = re.compile(r'[0-9]{20}-[0-9a-f]{32}')


class ManifestError(ValueError):
    """A stored manifest that is not one of ours."""


def parse_offset(value):
    """X-Append-Offset -> int; BadRequest with the reason when it is not a
    plain decimal number in [0, 2**53]."""
    if value is None:
        raise BadRequest('X-Append-Offset is required')
    text = value.strip()
    if not _OFFSET.fullmatch(text):
        raise BadRequest('X-Append-Offset must be a decimal number of bytes (0 to %d)'
                         % MAX_OFFSET)
    offset = int(text)
    if offset > MAX_OFFSET:
        raise BadRequest('X-Append-Offset is too large (at most %d)' % MAX_OFFSET)
    return offset


def chain_etag(previous, piece_etag):
    """The object's ETag after appending a piece whose MD5 is `piece_etag`."""
    return hashlib.md5((previous + piece_etag).encode('ascii')).hexdigest()


def segments_container(container):
    return container + SEGMENTS_SUFFIX


def piece_prefix(obj):
    return obj + '/append/'


def piece_name(obj, offset, unique=None):
    return '%s%020d-%s' % (piece_prefix(obj), offset, unique or uuid.uuid4().hex)


def is_piece_of(obj, name):
    """Whether `name` (in the segments container) is a piece of `obj`."""
    prefix = piece_prefix(obj)
    if not name.startswith(prefix):
        return False
    rest = name[len(prefix):]
    return bool(_PIECE_TAIL.fullmatch(rest))


class Manifest:
    """An appendable object's state: pieces [(name, size, etag)], length, etag."""

    def __init__(self, container, pieces=(), etag='', version=None):
        self.container = container
        self.pieces = [tuple(p) for p in pieces]
        self.length = sum(p[1] for p in self.pieces)
        self.etag = etag
        self.version = version or uuid.uuid4().hex

    def appended(self, name, size, piece_etag):
        """A new manifest with one more piece at the end."""
        return Manifest(self.container, self.pieces + [(name, size, piece_etag)],
                        chain_etag(self.etag, piece_etag))

    def compacted(self, start, stop, name, etag):
        """A new manifest with pieces[start:stop] replaced by one piece."""
        size = sum(p[1] for p in self.pieces[start:stop])
        pieces = self.pieces[:start] + [(name, size, etag)] + self.pieces[stop:]
        return Manifest(self.container, pieces, self.etag)

    def offset_of(self, index):
        return sum(p[1] for p in self.pieces[:index])

    def to_json(self):
        return json.dumps({'format': FORMAT, 'container': self.container,
                           'length': self.length, 'etag': self.etag,
                           'version': self.version,
                           'pieces': [list(p) for p in self.pieces]},
                          separators=(',', ':')).encode('utf-8')

    def sysmeta(self, timestamp):
        """System metadata headers of the manifest object written at `timestamp`."""
        return {FORMAT_HEADER: str(FORMAT), LENGTH_HEADER: str(self.length),
                ETAG_HEADER: self.etag, PIECES_HEADER: str(len(self.pieces)),
                TIMESTAMP_HEADER: timestamp.internal,
                OVERRIDE_SIZE: str(self.length), OVERRIDE_ETAG: self.etag}


def parse_manifest(body, container=None, obj=None):
    """Manifest from its JSON bytes; ManifestError when it is not a valid one
    (for `obj` of `container`: pieces must live where appends put them)."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise ManifestError('not JSON: %s' % err)
    if not isinstance(doc, dict) or doc.get('format') != FORMAT:
        raise ManifestError('not an append manifest')
    pieces = doc.get('pieces')
    seg = doc.get('container')
    etag = doc.get('etag')
    if not isinstance(pieces, list) or not isinstance(seg, str) or not isinstance(etag, str):
        raise ManifestError('missing fields')
    if container is not None and seg != segments_container(container):
        raise ManifestError('pieces in an unexpected container')
    out = []
    for piece in pieces:
        if not (isinstance(piece, list) and len(piece) == 3 and isinstance(piece[0], str)
                and isinstance(piece[1], int) and not isinstance(piece[1], bool)
                and piece[1] > 0 and isinstance(piece[2], str) and _MD5.fullmatch(piece[2])):
            raise ManifestError('bad piece entry')
        if obj is not None and not is_piece_of(obj, piece[0]):
            raise ManifestError('a piece of another object')
        out.append(tuple(piece))
    manifest = Manifest(seg, out, etag, doc.get('version'))
    if doc.get('length') != manifest.length:
        raise ManifestError('length does not match its pieces')
    return manifest


def plan_compaction(sizes, small, count, max_bytes):
    """Which pieces to merge, as (start, stop), or None.

    Nothing happens until the tail run of pieces smaller than `small` bytes
    holds `count` pieces. Then the newest pieces are merged (when they are
    at least `count`, or the run is twice that long), together with
    each older piece of the run that is no bigger than everything newer
    merged so far (a binary counter: a byte is copied again only into a piece
    at least twice as big, so O(log(small / append size)) times at most), and
    never more than `max_bytes` in all. The run left behind is super-increasing
    towards the head, so a log appended N times keeps at most about
    N * append size / small + 2 * count pieces.
    """
    if count < 2:
        return None
    stop = len(sizes)
    start = stop
    while start > 0 and sizes[start - 1] < small:
        start -= 1
    if stop - start < count:
        return None
    first = stop - 1
    total = sizes[first]
    while first > start and (stop - first < 2 or sizes[first - 1] <= total) and \
            total + sizes[first - 1] <= max_bytes:
        first -= 1
        total += sizes[first]
    # A merge of fewer than `count` pieces waits, unless the run grew long
    # (appends of shrinking sizes never make a big merge).
    if stop - first < (count if stop - start < 2 * count else 2):
        return None
    return first, stop


def next_timestamp(previous, now=None):
    """A timestamp newer than `previous` (a Timestamp or None): now, or one
    tick (10 microseconds) after `previous` when a proxy's clock lags."""
    now = Timestamp.now() if now is None else Timestamp(now)
    if previous is None or now > previous:
        return now
    return Timestamp('%010d.%05d' % divmod(previous.raw + 1, 100000))
