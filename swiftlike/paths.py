"""Parsing and validating request paths (pure; no I/O)."""
from urllib.parse import quote, unquote

from swiftlike.constraints import (MAX_ACCOUNT_NAME_LENGTH, MAX_CONTAINER_NAME_LENGTH,
                                   MAX_OBJECT_NAME_LENGTH, check_name_length, check_utf8,
                                   is_decimal)
from swiftlike.exceptions import BadRequest


def wsgi_to_str(value):
    """WSGI strings are latin-1 decoded bytes; return the real UTF-8 text."""
    return value.encode('latin-1').decode('utf-8')


def str_to_wsgi(value):
    return value.encode('utf-8').decode('latin-1')


def strip_ows(value):
    """A header value without the spaces and tabs around it (RFC 9110's
    optional whitespace). Not str.strip(): on a WSGI string it would also
    take the bytes 0x85 and 0xA0, with which many UTF-8 characters end."""
    return value.strip(' \t')


def wsgi_quote(value, safe='/'):
    """Percent-encode a WSGI string (its bytes, not its latin-1 characters'
    UTF-8) for a URL or a query parameter."""
    return quote(value.encode('latin-1'), safe=safe)


def split_path(path, minsegs, maxsegs, rest_with_last=False):
    """Split '/a/b/c' into segments; raise BadRequest unless minsegs..maxsegs.

    With rest_with_last the last segment keeps any further slashes (object names).
    Missing optional segments are None.
    """
    if not path.startswith('/'):
        raise BadRequest('Invalid path: %r' % path[:128])
    if rest_with_last:
        segs = path[1:].split('/', maxsegs - 1)
    else:
        segs = path[1:].split('/')
        if segs and segs[-1] == '' and len(segs) > minsegs:
            segs.pop()
    count = len(segs)
    if count < minsegs or count > maxsegs or '' in segs[:minsegs]:
        raise BadRequest('Invalid path: %r' % path[:128])
    if rest_with_last and count == maxsegs and segs[-1] == '':
        if count == minsegs:
            raise BadRequest('Invalid path: %r' % path[:128])
    # Empty trailing optional segments mean "absent".
    segs = [s if s != '' else None for s in segs]
    for i, seg in enumerate(segs):
        if seg is None and any(s is not None for s in segs[i + 1:]):
            raise BadRequest('Invalid path: %r' % path[:128])
    return segs + [None] * (maxsegs - count)


def validate_device(device):
    if not device or device in ('.', '..') or '/' in device or '\x00' in device:
        raise BadRequest('Invalid device: %r' % (device or '')[:64])
    return device


def validate_partition(partition):
    if partition is None or not is_decimal(partition) or len(partition) > 10:
        raise BadRequest('Invalid partition: %r' % (partition or '')[:64])
    return int(partition)


def split_storage_path(path_info, min_names=1, max_names=3):
    """'/<dev>/<part>/<account>[/<container>[/<object>]]' (WSGI str) ->
    (device, partition, account, container, obj), names as real str.

    Validates UTF-8 and name lengths; unquotes nothing (WSGI already did).
    Names may hold a NUL: reserved names, which only the proxy's middlewares
    create (the proxy refuses them from clients).
    """
    segs = split_path(path_info, 2 + min_names, 2 + max_names, rest_with_last=True)
    device = validate_device(segs[0])
    partition = validate_partition(segs[1])
    names = []
    limits = [(MAX_ACCOUNT_NAME_LENGTH, 'Account name'),
              (MAX_CONTAINER_NAME_LENGTH, 'Container name'),
              (MAX_OBJECT_NAME_LENGTH, 'Object name')]
    for seg, (limit, what) in zip(segs[2:], limits):
        if seg is None:
            names.append(None)
            continue
        raw = check_utf8(seg, what, allow_nul=True)
        check_name_length(raw, limit, what)
        names.append(raw.decode('utf-8'))
    while len(names) < 3:
        names.append(None)
    return (device, partition) + tuple(names)


def quote_path(path):
    from urllib.parse import quote
    return quote(path, safe='/')


__all__ = ['split_path', 'split_storage_path', 'validate_device', 'validate_partition',
           'wsgi_to_str', 'str_to_wsgi', 'quote_path', 'unquote']
