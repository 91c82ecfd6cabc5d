"""The object replication wire format (pure: no I/O beyond the given streams).

Two requests of the `REPLICATION /<device>/<partition>` verb, told apart by
the `X-Replication-Op` header:

- `check`: body JSON `{"<hash>": ["<ts>.data", "<ts>.meta", ...], ...}`, the
  sender's winning files per object. Answer JSON `{"<hash>": [names...]}`:
  the files the receiver lacks and would keep (newer than what it has).
- `push`: a stream (chunked) of records, each a header line of JSON
  `{"hash", "name", "size", "metadata"}` + "\\n" followed by exactly `size`
  bytes, ended by the line `{"end": true}`. The receiver writes each file to
  a temp file, verifies it (a .data's bytes against its metadata's
  Content-Length and ETag), and only then renames it into place durably.
  Answer JSON `{"committed": n, "rejected": [{"hash", "name", "reason"}]}`.

A primary's `REPLICATE /<device>/<partition>[/<suffixes>]` (answer JSON
`{"<suffix>": "<hash>"}`) may carry `X-Replication-Fingerprint`: the
fingerprint (backend.hashes_fingerprint) of its own hashes of the partition.
The peer notes it when its own hashes have the same (suffix_hashes).
"""
import json

from swiftlike.obj.backend import DATA, parse_file_name, resolve_files

MAX_HEADER_LINE = 64 * 1024
MAX_CHECK_BODY = 64 * 1024 * 1024
END_RECORD = b'{"end": true}\n'
FINGERPRINT_HEADER = 'X-Replication-Fingerprint'


class ProtocolError(ValueError):
    """The peer sent something that is not the protocol (answered 400)."""


def is_hash(value):
    return isinstance(value, str) and len(value) == 32 and \
        all(c in '0123456789abcdef' for c in value)


def wanted_files(offered, present):
    """Names of `offered` the receiver should take given the names it has.

    A name is wanted when it is not present and would survive resolution
    among the union (so nothing older than what is there is ever taken).
    """
    offered = [n for n in offered if parse_file_name(n) is not None]
    union = set(present) | set(offered)
    fileset = resolve_files(union)
    keep = {n for n in (fileset.data, fileset.meta, fileset.ts) if n}
    return sorted(n for n in offered if n in keep and n not in present)


def parse_check_body(raw):
    """Validate a check request body: {hash: [file names]}."""
    try:
        offers = json.loads(raw.decode('utf-8'))
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError('check body is not JSON')
    if not isinstance(offers, dict):
        raise ProtocolError('check body must be an object')
    for name_hash, names in offers.items():
        if not is_hash(name_hash):
            raise ProtocolError('bad object hash %r' % name_hash[:40])
        if not isinstance(names, list) or len(names) > 3 or not all(
                isinstance(n, str) and parse_file_name(n) is not None for n in names):
            raise ProtocolError('bad file list for %s' % name_hash)
    return offers


def encode_header(name_hash, name, size, metadata):
    return json.dumps({'hash': name_hash, 'name': name, 'size': size,
                       'metadata': metadata}, separators=(',', ':')).encode('utf-8') + b'\n'


def parse_header(line, max_size):
    """A record header line -> dict, or None for the end record."""
    if not line.endswith(b'\n'):
        raise ProtocolError('record header truncated or longer than %d bytes'
                            % MAX_HEADER_LINE)
    try:
        header = json.loads(line.decode('utf-8'))
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError('record header is not JSON')
    if not isinstance(header, dict):
        raise ProtocolError('record header must be an object')
    if header.get('end') is True:
        return None
    name_hash, name, size = header.get('hash'), header.get('name'), header.get('size')
    metadata = header.get('metadata')
    if not is_hash(name_hash):
        raise ProtocolError('bad object hash in record')
    if not isinstance(name, str) or parse_file_name(name) is None or '/' in name:
        raise ProtocolError('bad file name in record: %r' % str(name)[:80])
    if not isinstance(size, int) or isinstance(size, bool) or size < 0 or size > max_size:
        raise ProtocolError('bad size in record: %r' % (size,))
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise ProtocolError('record metadata must map strings to strings')
    ts, ext = parse_file_name(name)
    if metadata.get('X-Timestamp') and metadata['X-Timestamp'] != ts.internal:
        # Tolerate other spellings of the same instant, reject a different one.
        try:
            from swiftlike.timestamp import Timestamp
            if Timestamp(metadata['X-Timestamp']) != ts:
                raise ProtocolError('metadata timestamp does not match file name')
        except (ValueError, TypeError):
            raise ProtocolError('bad metadata timestamp')
    if ext != DATA and size:
        raise ProtocolError('only .data files carry bytes')
    return {'hash': name_hash, 'name': name, 'size': size, 'metadata': metadata,
            'ext': ext}
