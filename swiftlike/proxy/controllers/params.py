"""Checks on what clients send (pure): listing parameters and metadata headers."""
from urllib.parse import parse_qsl, urlencode

from swiftlike.constraints import check_metadata, check_utf8
from swiftlike.db import listing
from swiftlike.exceptions import BadRequest

LISTING_PARAMS = ('prefix', 'delimiter', 'marker', 'end_marker', 'limit', 'reverse',
                  'format', 'path')


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


def listing_query(query_string, accept, max_limit):
    """The backend query string for a listing, checked by the same rules the
    container and account servers apply (swiftlike.db.listing.parse_params):
    412 on a limit over the maximum or an over-long marker, prefix or
    delimiter, 400 on a bad format, bad UTF-8 or a NUL."""
    params = listing.parse_params(query_string, accept, max_limit)
    given = listing.query_values(query_string)
    out = [(name, given[name]) for name in LISTING_PARAMS if name in given]
    if 'limit' in given:
        out = [(k, v) for k, v in out if k != 'limit'] + [('limit', str(params.limit))]
    return urlencode(out) if out else None


def listing_format(params, accept):
    return listing.choose_format(params.get('format'), accept)


def sysmeta_headers(req_headers, target):
    """The system metadata a middleware put on the request for `target`
    ('account', 'container' or 'object'; objects also keep transient
    sysmeta). Clients cannot send these: the gatekeeper drops theirs."""
    prefixes = ('x-%s-sysmeta-' % target,) + (
        ('x-object-transient-sysmeta-',) if target == 'object' else ())
    return {k: v for k, v in req_headers.items() if k.lower().startswith(prefixes)}


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
        if target == 'object':
            # Objects keep values as sent (Swift stores bytes that are not
            # UTF-8, e.g. a value cut mid-character); only a NUL is refused.
            if '\x00' in value:
                raise BadRequest('Metadata value contains a NUL byte')
        else:
            check_utf8(value, 'Metadata value')
    check_metadata(meta.items(), target)
    return meta


def _name(key, skip, target):
    rest = key[skip:]
    return 'X-%s-Meta-%s' % (target.capitalize(), rest)
