"""The pure rules of a server-side copy (used by copy.py): reading the
Destination / X-Copy-From / *-Account headers, which of the source's headers
the destination gets, and the destination PUT's query string.

What a copy keeps of its source, under whatever the client's request sets
itself (the client's headers always win):
- user metadata (X-Object-Meta-*), the stored client headers
  (Content-Disposition, Content-Encoding, Content-Language, Cache-Control,
  Expires), X-Delete-At and transient system metadata; with
  `X-Fresh-Metadata: true` none of these;
- system metadata (X-Object-Sysmeta-*) always (it is a middleware's state,
  e.g. a symlink's target), except the container-listing overrides when the
  body is not the source's stored bytes (a range, a large object);
- X-Object-Manifest / X-Static-Large-Object only for
  `?multipart-manifest=get` (a copy of the manifest itself; otherwise the
  copy is a plain object with the large object's bytes);
- Content-Type unless the client sends one or asks X-Detect-Content-Type;
- the source's ETag, checked by the object servers, when the body is exactly
  the stored object.
"""
from urllib.parse import unquote, urlencode

from swiftlike.config import is_true
from swiftlike.constraints import (MAX_ACCOUNT_NAME_LENGTH, MAX_CONTAINER_NAME_LENGTH,
                                   MAX_OBJECT_NAME_LENGTH, check_utf8)
from swiftlike.exceptions import BadRequest, PreconditionFailed

STORED_HEADERS = frozenset(('content-disposition', 'content-encoding', 'content-language',
                            'cache-control', 'expires'))
MANIFEST_HEADERS = frozenset(('x-object-manifest', 'x-static-large-object'))
SYSMETA = 'x-object-sysmeta-'
TRANSIENT_SYSMETA = 'x-object-transient-sysmeta-'
OVERRIDE_SYSMETA = 'x-object-sysmeta-container-update-override-'
# Query parameters that name the source; the destination PUT does not get them.
SOURCE_ONLY_QUERY = ('multipart-manifest', 'symlink', 'version-id', 'part-number')


def _header_text(value, header):
    """A header's URL-unquoted value as real str; 400 unless UTF-8 without NUL."""
    try:
        raw = value.encode('latin-1')
    except UnicodeEncodeError:
        raise BadRequest('Invalid %s header' % header)
    text = unquote(raw.decode('latin-1'), encoding='latin-1')
    return check_utf8(text, header).decode('utf-8')


def account_header(value, header):
    """An account named by a header (URL-quoted or not) as real str; 400 for
    bad UTF-8, 412 for an empty, slashed or too long name."""
    name = _header_text(value, header)
    if not name or '/' in name or len(name.encode('utf-8')) > MAX_ACCOUNT_NAME_LENGTH:
        raise PreconditionFailed('Bad %s header' % header)
    return name


def split_copy_path(value, header):
    """'/container/object' (URL-quoted or not; the leading slash optional) ->
    (container, object) as real str; 412 when not of that form, 400 for bad
    UTF-8 or names too long."""
    path = _header_text(value, header).lstrip('/')
    container, sep, obj = path.partition('/')
    if not container or not sep or not obj:
        raise PreconditionFailed('%s header must be of the form <container>/<object>' % header)
    if len(container.encode('utf-8')) > MAX_CONTAINER_NAME_LENGTH or \
            len(obj.encode('utf-8')) > MAX_OBJECT_NAME_LENGTH:
        raise BadRequest('%s names too long' % header)
    return container, obj


def source_etag_is_content(status, source_headers, manifest_get):
    """True when the source's ETag is the MD5 of the bytes copied: a whole
    (200) object that no middleware assembled."""
    if status != 200 or 'x-static-large-object' in source_headers:
        return False
    return 'x-object-manifest' not in source_headers or manifest_get


def copied_headers(source_header_list, fresh, manifest_get, etag_is_content):
    """[(name, value)] of the source's answer the destination PUT gets (the
    caller lets the client's own headers win over them)."""
    out = []
    etag = None
    # A body a middleware assembled (a large object's content): the source's
    # system metadata describes its manifest, not these bytes, so none of it
    # goes (the copy is a plain object).
    assembled = not manifest_get and any(n.lower() in MANIFEST_HEADERS
                                         for n, _v in source_header_list)
    for name, value in source_header_list:
        lname = name.lower()
        if lname == 'etag':
            etag = value.strip().strip('"')
        elif lname in MANIFEST_HEADERS:
            if manifest_get:
                out.append((name, value))
        elif lname.startswith(SYSMETA):
            if not assembled and (etag_is_content or not lname.startswith(OVERRIDE_SYSMETA)):
                out.append((name, value))
        elif fresh:
            continue
        elif lname.startswith(('x-object-meta-', TRANSIENT_SYSMETA)) or \
                lname in STORED_HEADERS or lname == 'x-delete-at':
            out.append((name, value))
    if etag_is_content and etag:
        out.append(('ETag', etag))
    return out


def is_fresh(environ):
    return is_true(environ.get('HTTP_X_FRESH_METADATA'))


def source_query(query):
    """The source GET's query parameters, from the client's ({name: value})."""
    out = {k: query[k] for k in SOURCE_ONLY_QUERY if k in query}
    if out.get('multipart-manifest') == 'get':
        out['format'] = 'raw'       # an SLO manifest as it is stored
    return out


def sink_query(query, source_headers):
    """The destination PUT's query string: the client's without the source's
    parameters; a copy of an SLO manifest is written as one."""
    out = [(k, v) for k, v in query.items() if k not in SOURCE_ONLY_QUERY]
    if query.get('multipart-manifest') == 'get' and \
            source_headers.get('x-static-large-object'):
        out.append(('multipart-manifest', 'put'))
    return urlencode(out)
