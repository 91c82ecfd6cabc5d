"""Object versioning (X-Versions-Enabled): names, version ids and the
pointer format (pure; no I/O).

Layout. A versioned container `c` keeps every version's bytes in a hidden
container of the same account, `\\x00versions\\x00c` (a reserved name: clients
cannot send a NUL, so they cannot reach or list it). A version of object `o`
written at time T is the hidden object `o\\x00<inverted T>`: the versions of
one object sort together, newest first, and right after `o` in name order
(a NUL sorts before every other character). The version id is T's normal form
(`1700000000.12345`). A delete marker is an empty version with content type
DELETE_MARKER_TYPE.

The user's container holds, under `o`, either a pointer or a plain object.
A pointer is an empty object whose system metadata names the current
version (POINTER_SYSMETA); its container listing row shows the version's
size, ETag and content type (listing overrides), plus a content-type
parameter POINTER_PARAM=<version id> that the middleware removes from every
listing it passes on, and reads in `?versions` listings to know which version
is the latest. A plain object is a "null" version: written while versioning
was off (or before it was ever on).
"""
import re

from swiftlike.constraints import is_decimal
from swiftlike.exceptions import BadRequest
from swiftlike.timestamp import MAX_RAW, Timestamp

HIDDEN_PREFIX = '\x00versions\x00'
SEPARATOR = '\x00'
NULL_VERSION = 'null'
DELETE_MARKER_TYPE = 'application/x-deleted;swift_versions_deleted=1'
EMPTY_ETAG = 'd41d8cd98f00b204e9800998ecf8427e'

# Container system metadata (as the proxy's container_info keys them and as
# headers): 'True' / 'False' once versioning was ever set on the container.
ENABLED_SYSMETA = 'versions-enabled'
ENABLED_SYSMETA_HEADER = 'X-Container-Sysmeta-Versions-Enabled'
# Object system metadata of a pointer: the version id it points to.
POINTER_SYSMETA_HEADER = 'X-Object-Sysmeta-Versions-Pointer'
POINTER_PARAM = 'swift_versions_pointer'
# The seam's listing overrides (the object servers send these in their
# container updates instead of the object's own values).
OVERRIDE_PREFIX = 'X-Object-Sysmeta-Container-Update-Override-'

# Client-facing headers.
ENABLED_HEADER = 'X-Versions-Enabled'
VERSION_ID_HEADER = 'X-Object-Version-Id'

_TRUE = ('true', '1', 'yes', 'on', 't', 'y')
_FALSE = ('false', '0', 'no', 'off', 'f', 'n')
_VERSION_ID = re.compile(r'^[0-9]{1,10}(\.[0-9]{1,5})?$')
_INVERTED_DIGITS = 15


def parse_enabled(value):
    """X-Versions-Enabled -> True/False; 400 for anything else (a typo must
    not silently leave versioning off)."""
    word = (value or '').strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise BadRequest('X-Versions-Enabled must be true or false')


def parse_version_id(value):
    """A ?version-id value -> NULL_VERSION or a normal timestamp string;
    400 when it is neither."""
    if value == NULL_VERSION:
        return NULL_VERSION
    if not value or not _VERSION_ID.match(value):
        raise BadRequest('Invalid version-id: %r' % value[:64])
    try:
        ts = Timestamp(value)
    except ValueError:
        raise BadRequest('Invalid version-id: %r' % value[:64])
    if ts.raw <= 0:
        raise BadRequest('Invalid version-id: %r' % value[:64])
    return ts.normal


def hidden_container(container):
    return HIDDEN_PREFIX + container


def is_reserved(name):
    return SEPARATOR in name


def _inverted(version_id):
    raw = Timestamp(version_id).raw
    return '%0*d' % (_INVERTED_DIGITS, MAX_RAW - 1 - raw)


def _from_inverted(text):
    raw = MAX_RAW - 1 - int(text)
    return '%010d.%05d' % divmod(raw, 100000)


def version_name(obj, version_id):
    """The hidden object name of `obj`'s version `version_id`."""
    return obj + SEPARATOR + _inverted(version_id)


def split_version_name(name):
    """A hidden object name -> (object name, version id), or None."""
    obj, sep, inverted = name.rpartition(SEPARATOR)
    if not sep or len(inverted) != _INVERTED_DIGITS or not is_decimal(inverted):
        return None
    return obj, _from_inverted(inverted)


def versions_marker(obj, version_id=None):
    """The hidden-listing marker just before `obj`'s versions newer than
    nothing (version_id None: before all of them; NULL_VERSION: the same, as
    the null version sorts before every version) or right after `version_id`."""
    if version_id in (None, NULL_VERSION):
        return obj + SEPARATOR
    return version_name(obj, version_id)


def after_all_versions(obj):
    """A hidden-listing marker past every version of `obj` (and before any
    longer name)."""
    return obj + '\x01'


# -- content types and listing rows -----------------------------------------

def split_content_type(value):
    """'type; a=1;b=2' -> ('type', [('a', '1'), ('b', '2')]) keeping order."""
    parts = (value or '').split(';')
    params = []
    for part in parts[1:]:
        key, sep, val = part.strip().partition('=')
        if key:
            params.append((key.strip(), val.strip() if sep else None))
    return parts[0].strip(), params


def join_content_type(base, params):
    return ';'.join([base] + [k if v is None else '%s=%s' % (k, v) for k, v in params])


def pointer_content_type(content_type, size, version_id):
    """The listing content type of a pointer: the version's type (its own
    swift_bytes replaced by `size`), the size the listing shows, and the
    version id it points to."""
    base, params = split_content_type(content_type)
    params = [(k, v) for k, v in params if k not in ('swift_bytes', POINTER_PARAM)]
    params.append(('swift_bytes', str(size)))
    params.append((POINTER_PARAM, version_id))
    return join_content_type(base, params)


def listed_size(overrides, fallback):
    """The size a container listing shows for an object written with these
    listing overrides (lower-case header names without the override prefix):
    an explicit size, else the swift_bytes a large object's manifest puts in
    its content type, else `fallback` (the stored bytes)."""
    size = overrides.get('size')
    if is_decimal(size or ''):
        return size
    for key, value in split_content_type(overrides.get('content-type'))[1]:
        if key == 'swift_bytes' and is_decimal(value or ''):
            return value
    return str(fallback)


def strip_pointer_param(content_type):
    """(content type without the pointer parameter, version id or None)."""
    if POINTER_PARAM not in (content_type or ''):
        return content_type, None
    base, params = split_content_type(content_type)
    found = None
    kept = []
    for key, value in params:
        if key == POINTER_PARAM:
            found = value
        else:
            kept.append((key, value))
    return join_content_type(base, kept), found


def is_delete_marker(content_type):
    base, params = split_content_type(content_type)
    return base == 'application/x-deleted' and ('swift_versions_deleted', '1') in params


def pointer_headers(version_id, etag, size, content_type):
    """Headers of a pointer PUT (besides X-Delete-At and the like)."""
    return {
        POINTER_SYSMETA_HEADER: version_id,
        OVERRIDE_PREFIX + 'Etag': etag,
        OVERRIDE_PREFIX + 'Content-Type': pointer_content_type(content_type, size, version_id),
        'Content-Type': 'application/x-versions-pointer',
    }


def pointer_target(headers):
    """The version id a GET/HEAD answer's headers ({lower-case: value}) point
    to, or None for a plain object."""
    value = headers.get(POINTER_SYSMETA_HEADER.lower())
    if not value:
        return None
    try:
        version = parse_version_id(value)
    except BadRequest:
        return None
    return None if version == NULL_VERSION else version


def clean_listing_row(row):
    """A user-container listing row (dict) as the client sees it: the pointer
    parameter removed. Returns the pointer's version id or None."""
    ctype = row.get('content_type')
    if ctype is None:
        return None
    cleaned, version = strip_pointer_param(ctype)
    row['content_type'] = cleaned
    return version
