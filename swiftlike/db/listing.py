"""Listing logic shared by container and account servers (pure; no I/O).

Names compare as Python str, which orders by code point: the same order as
their UTF-8 bytes and as SQLite's BINARY collation, so the database index, this
module and the reference implementation in the tests all agree.

A listing is computed from a `fetch(bounds, reverse, limit)` callable that
returns rows (tuples whose first item is the name) in name order within the
bounds. Delimiter listings never walk a subtree: after emitting a subdir we
fetch again from the first name past it (one index seek per subdir).
"""
import dataclasses
import json
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape as xml_escape

from swiftlike.config import is_true
from swiftlike.exceptions import BadRequest, NotAcceptable, PreconditionFailed

MAX_CODE_POINT = 0x10FFFF
# Every reserved name (a leading NUL) sorts before this one.
RESERVED_END = '\x01'
MAX_DELIMITER_BYTES = 256
FORMATS = {'json': 'application/json', 'xml': 'application/xml', 'plain': 'text/plain'}
ACCEPT_TYPES = {'application/json': 'json', 'application/xml': 'xml', 'text/xml': 'xml',
                'text/plain': 'plain'}


@dataclasses.dataclass
class Bounds:
    """Name range: lower/upper may be None (open); *_incl says inclusive."""
    lower: str = None
    lower_incl: bool = False
    upper: str = None
    upper_incl: bool = False

    def contains(self, name):
        if self.lower is not None:
            if name < self.lower or (name == self.lower and not self.lower_incl):
                return False
        if self.upper is not None:
            if name > self.upper or (name == self.upper and not self.upper_incl):
                return False
        return True


@dataclasses.dataclass
class ListingParams:
    prefix: str = ''
    delimiter: str = ''
    marker: str = ''
    end_marker: str = ''
    limit: int = 10000
    reverse: bool = False
    path: str = None
    format: str = 'plain'
    # Leave out reserved names (starting with a NUL: object versioning's
    # hidden containers); account listings always do.
    hide_reserved: bool = False


def next_prefix(text):
    """The smallest string greater than every string starting with `text`.

    None when there is none (text is empty or all U+10FFFF).
    """
    text = text.rstrip(chr(MAX_CODE_POINT))
    if not text:
        return None
    last = ord(text[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:  # surrogates cannot appear in UTF-8 names
        last = 0xE000
    return text[:-1] + chr(last)


def _tighten_lower(bounds, value, incl):
    if value is None:
        return
    if bounds.lower is None or value > bounds.lower or (value == bounds.lower and not incl):
        bounds.lower, bounds.lower_incl = value, incl


def _tighten_upper(bounds, value, incl):
    if value is None:
        return
    if bounds.upper is None or value < bounds.upper or (value == bounds.upper and not incl):
        bounds.upper, bounds.upper_incl = value, incl


def initial_bounds(params):
    """The name range the marker, end_marker and prefix allow."""
    bounds = Bounds()
    if params.hide_reserved:
        _tighten_lower(bounds, RESERVED_END, True)
    prefix = params.prefix
    if prefix:
        _tighten_lower(bounds, prefix, True)
        _tighten_upper(bounds, next_prefix(prefix), False)
    first, last = (params.end_marker, params.marker) if params.reverse else \
        (params.marker, params.end_marker)
    if first:
        _tighten_lower(bounds, first, False)
    if last:
        _tighten_upper(bounds, last, False)
    return bounds


def list_entries(fetch, params):
    """Rows (name first) and subdir strings of one listing page.

    Subdirs come back as plain str, rows as tuples.
    """
    prefix, delimiter, limit = params.prefix, params.delimiter, params.limit
    hide_subdirs = params.path is not None
    bounds = initial_bounds(params)
    results = []
    while len(results) < limit:
        want = limit - len(results)
        # fetch may return a lazy cursor: rows after a subdir are never read.
        seen = 0
        restart = False
        for row in fetch(bounds, params.reverse, want):
            seen += 1
            name = row[0]
            if params.reverse:
                bounds.upper, bounds.upper_incl = name, False
            else:
                bounds.lower, bounds.lower_incl = name, False
            if delimiter:
                if hide_subdirs and name == prefix:
                    continue   # ?path=d/ leaves out the marker object 'd/' itself
                cut = name.find(delimiter, len(prefix))
                if cut >= 0:
                    subdir = name[:cut + len(delimiter)]
                    if hide_subdirs and name == subdir:
                        # ?path= lists a directory marker object ('d/e/') as
                        # an object; what lies under it is skipped next.
                        results.append(row)
                        if len(results) >= limit or params.reverse:
                            # (in reverse, its subtree was already passed)
                            if len(results) >= limit:
                                break
                            continue
                    elif not hide_subdirs and subdir != params.marker:
                        results.append(subdir)
                    # Skip the whole subtree with one seek.
                    if params.reverse:
                        # ?path= keeps the marker object 'd/' itself in reach.
                        bounds.upper, bounds.upper_incl = subdir, hide_subdirs
                    else:
                        after = next_prefix(subdir)
                        if after is None:
                            return results
                        bounds.lower, bounds.lower_incl = after, True
                    restart = True
                    break
            results.append(row)
            if len(results) >= limit:
                break
        if not restart and seen < want:
            break
    return results


def query_values(query_string):
    """{name: value} (real str) of a raw (latin-1 WSGI) query string; 400 on
    bad UTF-8 or a NUL in a value."""
    try:
        pairs = [(k.encode('latin-1').decode('utf-8'), v.encode('latin-1').decode('utf-8'))
                 for k, v in parse_qsl(query_string or '', keep_blank_values=True,
                                       encoding='latin-1')]
    except (UnicodeError, ValueError):
        raise BadRequest('Query string is not valid UTF-8')
    values = {}
    for key, value in pairs:
        # A marker is only compared with names, so it may hold a NUL (Swift's
        # tests page with name + '\x00'); nothing else may.
        if '\x00' in value and key not in ('marker', 'end_marker'):
            raise BadRequest('Query parameter %s contains a NUL byte' % key[:32])
        values[key] = value
    return values


def content_type(fmt):
    return FORMATS[fmt] + '; charset=utf-8'


def parse_params(query_string, accept, max_limit):
    """ListingParams from a raw (latin-1 WSGI) query string and Accept header.

    As Swift: a limit that is not a plain number is ignored (the maximum
    applies); one above the maximum is a 412.
    """
    values = query_values(query_string)
    out = ListingParams(limit=max_limit)
    for key in ('prefix', 'delimiter', 'marker', 'end_marker'):
        value = values.get(key, '')
        if len(value.encode('utf-8')) > 1024:
            raise PreconditionFailed('Bad %s: longer than 1024 bytes' % key)
        setattr(out, key, value)
    if len(out.delimiter.encode('utf-8')) > MAX_DELIMITER_BYTES:
        raise PreconditionFailed('Bad delimiter: longer than %d bytes' % MAX_DELIMITER_BYTES)
    limit = values.get('limit')
    if limit is not None and limit.isdigit() and limit.isascii():
        out.limit = int(limit)
        if out.limit > max_limit:
            raise PreconditionFailed('Maximum limit is %d' % max_limit)
    if 'reverse' in values:
        # As Swift: the true words turn it on, anything else leaves it off.
        out.reverse = is_true(values['reverse'])
    if 'path' in values:
        path = values['path']
        out.path = path
        out.prefix = path.rstrip('/') + '/' if path else ''
        out.delimiter = '/'
    out.format = choose_format(values.get('format'), accept)
    return out


def choose_format(format_param, accept):
    """'json' | 'xml' | 'plain' from ?format= (wins) or the Accept header."""
    if format_param is not None:
        fmt = format_param.strip().lower()
        fmt = ACCEPT_TYPES.get(fmt, fmt)
        if fmt not in FORMATS:
            raise BadRequest('Invalid format %r: use json, xml or plain' % format_param[:32])
        return fmt
    if not accept:
        return 'plain'
    best, best_q = None, -1.0
    for order, item in enumerate(accept.split(',')):
        kind, _, rest = item.strip().partition(';')
        kind = kind.strip().lower()
        q = 1.0
        for param in rest.split(';'):
            name, _, value = param.strip().partition('=')
            if name.strip() == 'q':
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        if kind in ('*/*', 'text/*', 'application/*'):
            fmt = {'text/*': 'plain', 'application/*': 'json'}.get(kind, 'plain')
        else:
            fmt = ACCEPT_TYPES.get(kind)
        if fmt and q > best_q:
            best, best_q = fmt, q
    if best is None:
        raise NotAcceptable('No acceptable listing format in Accept: %s' % accept[:64])
    return best


def quoteattr(value):
    return '"%s"' % xml_escape(value, {'"': '&quot;'})


def render(entries, fmt, to_dict, xml_root, xml_item, root_name):
    """(body bytes, content type) for a listing.

    to_dict(row) -> ordered dict of the item's fields; subdirs are str.
    """
    if fmt == 'json':
        items = [{'subdir': e} if isinstance(e, str) else to_dict(e) for e in entries]
        body = json.dumps(items, ensure_ascii=False, separators=(',', ':'))
    elif fmt == 'xml':
        parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<%s name=%s>'
                 % (xml_root, quoteattr(root_name))]
        for e in entries:
            if isinstance(e, str):
                parts.append('<subdir name=%s><name>%s</name></subdir>'
                             % (quoteattr(e), xml_escape(e)))
                continue
            fields = ''.join('<%s>%s</%s>' % (k, xml_escape(str(v)), k)
                             for k, v in to_dict(e).items())
            parts.append('<%s>%s</%s>' % (xml_item, fields, xml_item))
        parts.append('</%s>' % xml_root)
        body = ''.join(parts)
    else:
        body = ''.join((e if isinstance(e, str) else e[0]) + '\n' for e in entries)
    return body.encode('utf-8'), content_type(fmt)
