"""Static large object manifests: pure parsing, validation and arithmetic.

Two forms of a manifest exist:

- what a client PUTs with `?multipart-manifest=put` (and what `?multipart-
  manifest=get&format=raw` gives back): a JSON list whose items are either
  `{"path": "/container/object", "etag": ..., "size_bytes": ..., "range": ...}`
  (etag, size_bytes and range optional) or `{"data": "<base64>"}`;
- what is stored (and what `?multipart-manifest=get` gives back): a JSON list
  of `{"name": "/container/object", "bytes": <size of that object>, "hash":
  <its ETag>, "content_type", "last_modified"[, "range": "<first>-<last>"]
  [, "sub_slo": true]}` or `{"data": "<base64>"}`, as Swift stores it.

No I/O here: the PUT side checks each named object with a HEAD and then calls
`stored_entry`; the GET side reads stored entries with `parse_stored`.
"""
import base64
import binascii
import collections
import datetime
import hashlib
import json

from swiftlike import conditional, ranges
from swiftlike.constraints import MAX_CONTAINER_NAME_LENGTH, MAX_OBJECT_NAME_LENGTH, is_decimal
from swiftlike.exceptions import BadRequest, RangeNotSatisfiable, RequestEntityTooLarge

# One item of a client's manifest: `index` in the list; either `path`
# (as written: '/container/object' or 'container/object', real str) with optional `etag` (unquoted), `size`
# and `range` ((first, last) as in a Range header: either may be None), or
# `data` (bytes).
PutSegment = collections.namedtuple('PutSegment', 'index path etag size range data')

# One stored item: `name` ('/container/object'), `bytes` (the whole object's
# size), `hash` (its ETag, or an SLO's own ETag for a sub-manifest), `first`
# and `stop` (the bytes of it used), `sub_slo`, or `data` (bytes; then name
# is None).
Entry = collections.namedtuple('Entry', 'name bytes hash first stop sub_slo data')

# Where an SLO keeps its own ETag and size (system metadata of the manifest).
SLO_ETAG = 'x-object-sysmeta-slo-etag'
SLO_SIZE = 'x-object-sysmeta-slo-size'

PATH_KEYS = frozenset(('path', 'etag', 'size_bytes', 'range'))
DATA_KEYS = frozenset(('data',))


class ManifestError(BadRequest):
    """The manifest a client sent is not one (400, or 413 when too big)."""


def _seg_error(index, what):
    return ManifestError('Index %d: %s' % (index, what))


def split_segment_path(path):
    """'/container/object' or 'container/object' -> (container, object);
    None when it does not name an object."""
    container, sep, obj = path.lstrip('/').partition('/')
    if not container or not sep or not obj:
        return None
    return container, obj


def parse_segment_range(value):
    """'first-last', '-suffix' or 'first-' -> (first or None, last or None);
    ValueError when it is not exactly one byte range."""
    if not isinstance(value, str):
        raise ValueError('range must be a string')
    text = value.strip()
    if text.lower().startswith('bytes='):
        text = text[6:]
    if ',' in text:
        raise ValueError('multiple ranges (only one allowed)')
    specs = ranges.parse_range_header('bytes=' + text)
    if not specs or len(specs) != 1:
        raise ValueError('invalid range')
    return specs[0]


def resolve_segment_range(spec, size):
    """(first, stop) of a range spec on an object of `size` bytes (None for
    the whole object); ValueError when it asks for no byte of it."""
    if spec is None:
        return 0, size
    try:
        spans = ranges.resolve_ranges('bytes=%s-%s' % ('' if spec[0] is None else spec[0],
                                                       '' if spec[1] is None else spec[1]),
                                      size)
    except RangeNotSatisfiable:
        raise ValueError('Unsatisfiable Range')
    if not spans:
        raise ValueError('Unsatisfiable Range')
    return spans[0]


def _parse_one(index, item):
    if not isinstance(item, dict):
        raise _seg_error(index, 'not a JSON object')
    keys = set(item)
    if 'data' in keys:
        if keys - DATA_KEYS:
            raise _seg_error(index, 'a data segment may only have "data", not %s'
                             % ', '.join(sorted(repr(k) for k in keys - DATA_KEYS)))
        value = item['data']
        if not isinstance(value, str):
            raise _seg_error(index, 'data must be a base64 string')
        try:
            data = base64.b64decode(value.encode('ascii'), validate=True)
        except (UnicodeEncodeError, binascii.Error, ValueError):
            raise _seg_error(index, 'data must be valid base64')
        if not data:
            raise _seg_error(index, 'too small; each segment must be at least 1 byte.')
        return PutSegment(index, None, None, None, None, data)
    if keys - PATH_KEYS:
        raise _seg_error(index, 'extraneous keys %s' % ', '.join(
            sorted('"%s"' % str(k)[:64] for k in keys - PATH_KEYS)))
    path = item.get('path')
    if not isinstance(path, str) or not path:
        raise _seg_error(index, 'path must be a string of the form /container/object')
    try:
        path.encode('utf-8')
    except UnicodeEncodeError:
        raise _seg_error(index, 'path must be valid UTF-8')
    names = split_segment_path(path)
    if names is None:
        raise _seg_error(index, 'path does not refer to an object. Path must be of the form '
                                '/container/object.')
    if '\x00' in path:
        raise _seg_error(index, 'path must not contain NUL')
    if len(names[0].encode('utf-8')) > MAX_CONTAINER_NAME_LENGTH or \
            len(names[1].encode('utf-8')) > MAX_OBJECT_NAME_LENGTH:
        raise _seg_error(index, 'path names too long a container or object')
    etag = item.get('etag')
    if etag is not None:
        if not isinstance(etag, str):
            raise _seg_error(index, 'etag must be a string or null')
        etag = etag.strip().strip('"')
    size = item.get('size_bytes')
    if size is not None:
        if isinstance(size, str) and is_decimal(size.strip()):
            size = int(size)
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise _seg_error(index, 'size_bytes must be a non-negative integer or null')
    spec = None
    if item.get('range') is not None:
        try:
            spec = parse_segment_range(item['range'])
        except ValueError as err:
            raise _seg_error(index, str(err))
    return PutSegment(index, path, etag, size, spec, None)


def segment_name(segment):
    """The '/container/object' a client's path segment names."""
    return '/' + segment.path.lstrip('/')


def parse_put_manifest(body, max_segments):
    """A client's manifest body (bytes) -> [PutSegment]; ManifestError (400,
    or 413 for more than `max_segments` items) with the reason."""
    try:
        items = json.loads(body)
    except (ValueError, RecursionError):
        raise ManifestError('Manifest must be valid JSON.')
    if not isinstance(items, list):
        raise ManifestError('Manifest must be a list.')
    if not items:
        raise ManifestError('Manifest must have at least one segment.')
    if len(items) > max_segments:
        raise RequestEntityTooLarge('Number of segments must be <= %d' % max_segments)
    segments, problems = [], []
    for index, item in enumerate(items):
        try:
            segments.append(_parse_one(index, item))
        except ManifestError as err:
            problems.append(err.reason)
    if problems:
        raise ManifestError('\n'.join(problems))
    return segments


def self_references(segments, own_path):
    """ManifestError naming each segment that is the manifest itself
    (`own_path`: '/container/object')."""
    problems = ['Index %d: manifest must not include itself as a segment' % s.index
                for s in segments if s.path is not None and segment_name(s) == own_path]
    if problems:
        raise ManifestError('\n'.join(problems))


def data_etag(data):
    return hashlib.md5(data).hexdigest()


def stored_entry(segment, head_headers, min_segment_size, is_last):
    """The stored item for a client's path segment, given the headers of
    its HEAD (lower-case names; an SLO's sysmeta when it is one). Returns
    (item dict, None) or (None, problem) where problem names what is wrong
    in Swift's words ('Etag Mismatch', 'Size Mismatch', ...)."""
    sub_slo = SLO_ETAG in head_headers
    if sub_slo:
        etag = head_headers.get(SLO_ETAG, '').strip('"')
        size_text = head_headers.get(SLO_SIZE, '')
    else:
        etag = head_headers.get('etag', '').strip('"')
        size_text = head_headers.get('content-length', '')
    if not is_decimal(size_text):
        return None, 'Size Mismatch'
    size = int(size_text)
    if segment.etag is not None and segment.etag.lower() != etag.lower():
        return None, 'Etag Mismatch'
    if segment.size is not None and segment.size != size:
        return None, 'Size Mismatch'
    try:
        first, stop = resolve_segment_range(segment.range, size)
    except ValueError:
        return None, 'Unsatisfiable Range'
    if stop - first < min_segment_size and not is_last:
        return None, 'Too small; each segment must be at least %d byte%s.' % (
            min_segment_size, '' if min_segment_size == 1 else 's')
    item = {'name': segment_name(segment), 'bytes': size, 'hash': etag,
            'content_type': head_headers.get('content-type', ''),
            'last_modified': listing_time(head_headers.get('last-modified'))}
    if segment.range is not None:
        item['range'] = '%d-%d' % (first, stop - 1)
    if sub_slo:
        item['sub_slo'] = True
    return item, None


def listing_time(http_date):
    """'Mon, 23 Nov 2026 18:27:34 GMT' -> '2026-11-23T18:27:34.000000' (as
    container listings write times); '' when absent or not a date."""
    seconds = conditional.parse_http_date(http_date)
    if seconds is None:
        return ''
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime(
        '%Y-%m-%dT%H:%M:%S.000000')


def data_entry(segment):
    return {'data': base64.b64encode(segment.data).decode('ascii')}


def parse_stored(body):
    """A stored manifest (bytes) -> [Entry]; ValueError when it is not one."""
    try:
        items = json.loads(body)
    except RecursionError:
        raise ValueError('manifest nested too deeply')
    if not isinstance(items, list):
        raise ValueError('manifest is not a list')
    return [entry_of(item) for item in items]


def entry_of(item):
    if not isinstance(item, dict):
        raise ValueError('manifest item is not an object')
    if 'data' in item:
        try:
            data = base64.b64decode(str(item['data']).encode('ascii'), validate=True)
        except (UnicodeEncodeError, binascii.Error, ValueError):
            raise ValueError('manifest data item is not base64')
        return Entry(None, len(data), data_etag(data), 0, len(data), False, data)
    name, size, etag = item.get('name'), item.get('bytes'), item.get('hash')
    if not isinstance(name, str) or split_segment_path(name) is None or \
            isinstance(size, bool) or not isinstance(size, int) or size < 0 or \
            not isinstance(etag, str):
        raise ValueError('manifest item is not a segment')
    first, stop = 0, size
    if item.get('range') is not None:
        first, stop = resolve_segment_range(parse_segment_range(item['range']), size)
    return Entry(name, size, etag, first, stop, bool(item.get('sub_slo')), None)


def entry_length(entry):
    return entry.stop - entry.first


def total_size(entries):
    return sum(entry_length(e) for e in entries)


def stored_etag(items):
    """slo_etag of stored items (dicts), ranges counted as written."""
    md5 = hashlib.md5()
    for item in items:
        if 'data' in item:
            md5.update(data_etag(base64.b64decode(item['data'])).encode('ascii'))
        elif 'range' in item:
            md5.update(('%s:%s;' % (item['hash'], item['range'])).encode('utf-8'))
        else:
            md5.update(item['hash'].encode('utf-8'))
    return md5.hexdigest()


def stored_size(items):
    total = 0
    for item in items:
        total += entry_length(entry_of(item))
    return total


def to_raw(body):
    """A stored manifest (bytes) -> the client form (bytes), as given by
    `?multipart-manifest=get&format=raw` and accepted by a manifest PUT."""
    items = json.loads(body)
    out = []
    for item in items:
        if 'data' in item:
            out.append({'data': item['data']})
            continue
        raw = {'path': item['name'], 'etag': item['hash'], 'size_bytes': item['bytes']}
        if 'range' in item:
            raw['range'] = item['range']
        out.append(raw)
    return json.dumps(out).encode('utf-8')


def part_span(entries, number):
    """(start, stop) in the whole object of top-level item `number` (1-based);
    None when there is no such part."""
    if number < 1 or number > len(entries):
        return None
    start = total_size(entries[:number - 1])
    return start, start + entry_length(entries[number - 1])
