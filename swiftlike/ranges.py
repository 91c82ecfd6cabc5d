"""HTTP Range requests (RFC 7233) on a body of known length: pure, no I/O.

resolve_ranges() turns a Range header into byte spans; the multipart_*
helpers frame several spans as multipart/byteranges. Shared by the object
server and the proxy.
"""
import uuid

from swiftlike.constraints import is_decimal
from swiftlike.exceptions import RangeNotSatisfiable

# More ranges than this in one request are ignored (whole body served), as a
# request for hundreds of tiny ranges is a cheap way to make a server work hard.
MAX_RANGES = 50


def parse_range_header(value):
    """'bytes=0-9,-5,20-' -> [(0, 9), (None, 5), (20, None)]; None if malformed."""
    if not value:
        return None
    unit, sep, specs = value.strip().partition('=')
    if not sep or unit.strip().lower() != 'bytes':
        return None
    result = []
    for spec in specs.split(','):
        spec = spec.strip()
        if not spec:
            continue
        first, dash, last = spec.partition('-')
        first, last = first.strip(), last.strip()
        if not dash or (first and not is_decimal(first)) or (last and not is_decimal(last)):
            return None
        if not first and not last:
            return None
        if first and last and int(last) < int(first):
            return None
        result.append((int(first) if first else None, int(last) if last else None))
    return result or None


def resolve_ranges(value, length, max_ranges=MAX_RANGES):
    """Byte spans [(start, stop_exclusive), ...] to serve, or None to serve the
    whole body (no, malformed or too many ranges). Raises RangeNotSatisfiable
    (with Content-Range: bytes */length) when no range overlaps the body."""
    specs = parse_range_header(value)
    if specs is None or len(specs) > max_ranges:
        return None
    spans = []
    for first, last in specs:
        if first is None:  # suffix: the last `last` bytes
            if last == 0 or length == 0:
                continue
            spans.append((max(0, length - last), length))
        elif first < length:
            stop = length if last is None else min(last + 1, length)
            spans.append((first, stop))
    if not spans:
        raise RangeNotSatisfiable('Requested range not satisfiable',
                                  {'Content-Range': 'bytes */%d' % length})
    return spans


def content_range(start, stop, length):
    return 'bytes %d-%d/%d' % (start, stop - 1, length)


def new_boundary():
    return uuid.uuid4().hex


def multipart_content_type(boundary):
    return 'multipart/byteranges; boundary=%s' % boundary


def multipart_part_header(boundary, content_type, start, stop, length):
    return ('--%s\r\nContent-Type: %s\r\nContent-Range: %s\r\n\r\n'
            % (boundary, content_type, content_range(start, stop, length))).encode('utf-8')


PART_END = b'\r\n'


def multipart_trailer(boundary):
    return ('--%s--\r\n' % boundary).encode('ascii')


def multipart_length(spans, boundary, content_type, length):
    """The exact Content-Length of the multipart body for `spans`."""
    total = len(multipart_trailer(boundary))
    for start, stop in spans:
        total += len(multipart_part_header(boundary, content_type, start, stop, length))
        total += (stop - start) + len(PART_END)
    return total
