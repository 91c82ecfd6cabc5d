"""Checks on what clients send (pure): listing parameters and metadata headers."""
from urllib.parse import parse_qsl, urlencode

from swiftlike.constraints import check_metadata, check_utf8
from swiftlike.exceptions import BadRequest, PreconditionFailed

LISTING_PARAMS = ('prefix', 'delimiter', 'marker', 'end_marker', 'limit', 'reverse',
                  'format', 'path')
FORMATS = ('json', 'xml', 'plain')


def parse_query(query_string):
    """{name: value} of a query string; BadRequest on bad UTF-8 or NUL."""
    if not query_string:
        return {}
    try:
        pairs = parse_qsl(query_string, keep_blank_values=True, encoding='utf-8',
                          errors='strict')
    except (UnicodeDecodeError, ValueError):
        raise BadRequest('Invalid UTF-8 in the query string')
    params = {}
    for key, value in pairs:
        if '\x00' in key or '\x00' in value:
            raise BadRequest('NUL byte in the query string')
        params[key] = value
    return params


def listing_query(query_string, max_limit):
    """The backend query string for a listing; 412 on a bad limit, 400 on a
    bad format or delimiter."""
    params = parse_query(query_string)
    out = []
    for name in LISTING_PARAMS:
        if name not in params:
            continue
        value = params[name]
        if name == 'limit':
            if not value.isdigit():
                raise PreconditionFailed('Value of limit must be a non-negative integer')
            if int(value) > max_limit:
                raise PreconditionFailed('Maximum limit is %d' % max_limit)
        elif name == 'format':
            value = value.lower()
            if value not in FORMATS:
                raise BadRequest('Unknown format %r: use json, xml or plain' % value[:32])
        elif name == 'delimiter' and len(value.encode('utf-8')) > 1 and value:
            raise BadRequest('Bad delimiter: one character only')
        elif name in ('prefix', 'marker', 'end_marker', 'path'):
            check_utf8(value.encode('utf-8'), name)
            if len(value.encode('utf-8')) > 1024 * 2:
                raise BadRequest('%s too long' % name)
        out.append((name, value))
    return urlencode(out) if out else None


def listing_format(params, accept):
    fmt = params.get('format')
    if fmt:
        return fmt.lower()
    accept = (accept or '').lower()
    if 'application/json' in accept:
        return 'json'
    if 'application/xml' in accept or 'text/xml' in accept:
        return 'xml'
    return 'plain'


def metadata_headers(req_headers, target):
    """The X-<Target>-Meta-* headers to send on (X-Remove-<Target>-Meta-Foo
    becomes X-<Target>-Meta-Foo with an empty value); validated."""
    prefix = 'x-%s-meta-' % target
    remove = 'x-remove-%s-meta-' % target
    meta = {}
    for key, value in req_headers.items():
        lkey = key.lower()
        if lkey.startswith(prefix):
            meta[_name(key, len(prefix), target)] = value
        elif lkey.startswith(remove):
            meta[_name(key, len(remove), target)] = ''
    for key, value in meta.items():
        check_utf8(key.encode('latin-1', 'replace') if isinstance(key, str) else key,
                   'Metadata name')
        check_utf8(value, 'Metadata value')
    check_metadata(meta, target)
    return meta


def _name(key, skip, target):
    rest = key[skip:]
    return 'X-%s-Meta-%s' % (target.capitalize(), rest)
