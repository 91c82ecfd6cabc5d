"""Container listings of symlinks (pure): the rows of links carry their
target as `; symlink_target=...` parameters (written by the object servers
from the link's listing override, see symlink_rules.listing_params), in the
ETag or the content type. A JSON listing shows them as `symlink_path` (and,
for static links, `symlink_etag` / `symlink_bytes`) keys; an XML listing,
as Swift's, only loses the parameters. Other parameters (another
middleware's) stay where they are.
"""
import json
import re
from xml.sax.saxutils import escape, unescape

from swiftlike.middleware.symlink_rules import PARAM_TARGET, listing_keys, strip_symlink_params

MARKER = PARAM_TARGET.encode('ascii')
_XML_FIELD = re.compile(r'<(hash|content_type)>([^<]*)</\1>')


def rewrite_item(item, account):
    """One JSON listing row, rewritten in place (rows without links untouched)."""
    if not isinstance(item, dict):
        return item
    found = {}
    for key in ('hash', 'content_type'):
        value = item.get(key)
        if isinstance(value, str) and PARAM_TARGET in value:
            item[key], params = strip_symlink_params(value)
            found.update(params)
    if found:
        item.update(listing_keys(found, account))
    return item


def rewrite_json(body, account):
    """A JSON listing body (bytes) with its links' rows rewritten; the body
    unchanged when it has none or is not a JSON list."""
    if MARKER not in body:
        return body
    try:
        items = json.loads(body)
    except ValueError:
        return body
    if not isinstance(items, list):
        return body
    for item in items:
        rewrite_item(item, account)
    return json.dumps(items, ensure_ascii=False, separators=(',', ':')).encode('utf-8')


def rewrite_xml(body):
    """An XML listing body (bytes) without the symlink parameters."""
    if MARKER not in body:
        return body
    try:
        text = body.decode('utf-8')
    except UnicodeDecodeError:
        return body

    def clean(match):
        value, _found = strip_symlink_params(unescape(match.group(2)))
        return '<%s>%s</%s>' % (match.group(1), escape(value), match.group(1))
    return _XML_FIELD.sub(clean, text).encode('utf-8')


def rewrite(body, content_type, account):
    """The listing body for a response of `content_type` (others unchanged)."""
    ctype = (content_type or '').split(';', 1)[0].strip().lower()
    if ctype == 'application/json':
        return rewrite_json(body, account)
    if ctype in ('application/xml', 'text/xml'):
        return rewrite_xml(body)
    return body
