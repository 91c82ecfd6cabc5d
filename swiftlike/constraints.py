"""Cluster-wide limits (advertised in /info) and the checks that enforce them."""
from swiftlike.exceptions import BadRequest, LengthRequired, RequestEntityTooLarge

MAX_FILE_SIZE = 5 * 1024 ** 3
MAX_META_NAME_LENGTH = 128
MAX_META_VALUE_LENGTH = 256
MAX_META_COUNT = 90
MAX_META_OVERALL_SIZE = 4096
MAX_HEADER_SIZE = 8192
MAX_HEADER_COUNT = 100
MAX_OBJECT_NAME_LENGTH = 1024
MAX_CONTAINER_NAME_LENGTH = 256
MAX_ACCOUNT_NAME_LENGTH = 256
CONTAINER_LISTING_LIMIT = 10000
ACCOUNT_LISTING_LIMIT = 10000


def as_dict():
    """The constraints as /info reports them."""
    return {
        'max_file_size': MAX_FILE_SIZE,
        'max_meta_name_length': MAX_META_NAME_LENGTH,
        'max_meta_value_length': MAX_META_VALUE_LENGTH,
        'max_meta_count': MAX_META_COUNT,
        'max_meta_overall_size': MAX_META_OVERALL_SIZE,
        'max_header_size': MAX_HEADER_SIZE,
        'max_object_name_length': MAX_OBJECT_NAME_LENGTH,
        'max_container_name_length': MAX_CONTAINER_NAME_LENGTH,
        'max_account_name_length': MAX_ACCOUNT_NAME_LENGTH,
        'container_listing_limit': CONTAINER_LISTING_LIMIT,
        'account_listing_limit': ACCOUNT_LISTING_LIMIT,
        'extra_header_count': 0,
        'valid_api_versions': ['v1'],
    }


def check_utf8(name, what='name', allow_nul=False):
    """Names must be valid UTF-8 without NUL (reserved names, which only
    internal requests use, may hold NULs: `allow_nul`). Accepts str (WSGI
    latin-1) or bytes."""
    if isinstance(name, str):
        try:
            raw = name.encode('latin-1')
        except UnicodeEncodeError:
            raw = name.encode('utf-8', 'surrogateescape')
    else:
        raw = name
    if b'\x00' in raw and not allow_nul:
        raise BadRequest('%s contains a NUL byte' % what)
    try:
        raw.decode('utf-8')
    except UnicodeDecodeError:
        raise BadRequest('%s is not valid UTF-8' % what)
    return raw


# Reserved names (holding a NUL: only the proxy's middlewares make them, e.g.
# object versioning's hidden containers) may be this much longer than a
# client's name they are made from.
RESERVED_NAME_EXTRA = 64


def check_name_length(raw_name, limit, what):
    if b'\x00' in raw_name:
        limit += RESERVED_NAME_EXTRA
    if len(raw_name) > limit:
        # Swift's wording and type (the text echoes no client input).
        raise BadRequest('%s length of %d longer than %d' % (what, len(raw_name), limit),
                         {'Content-Type': 'text/html; charset=UTF-8'})


def check_metadata(pairs, target):
    """Validate X-<target>-Meta-* headers, given as (name, value) pairs
    (target: account/container/object)."""
    prefix = 'x-%s-meta-' % target
    count = 0
    size = 0
    for key, value in pairs:
        lkey = key.lower()
        if not lkey.startswith(prefix):
            continue
        name = lkey[len(prefix):]
        if not name:
            raise BadRequest('Metadata name cannot be empty')
        count += 1
        size += len(name) + len(value)
        if len(name) > MAX_META_NAME_LENGTH:
            raise BadRequest('Metadata name too long: %s; max %d' % (name[:32], MAX_META_NAME_LENGTH))
        if len(value) > MAX_META_VALUE_LENGTH:
            raise BadRequest('Metadata value longer than %d: %s' % (MAX_META_VALUE_LENGTH, name[:32]))
        if count > MAX_META_COUNT:
            raise BadRequest('Too many metadata items; max %d' % MAX_META_COUNT)
        if size > MAX_META_OVERALL_SIZE:
            raise BadRequest('Total metadata too large; max %d' % MAX_META_OVERALL_SIZE)


def check_stored_metadata(metadata, target):
    """The metadata a database will hold after a write ({name: (value, ts)},
    empty values being removals) stays within the limits one request has:
    400 when a POST would take the total over them (as Swift refuses it)."""
    prefix = 'x-%s-meta-' % target
    count = size = 0
    for key, item in metadata.items():
        value = item[0]
        if value == '' or not key.lower().startswith(prefix):
            continue
        count += 1
        size += len(key) - len(prefix) + len(value)
    if count > MAX_META_COUNT:
        raise BadRequest('Too many metadata items; max %d' % MAX_META_COUNT)
    if size > MAX_META_OVERALL_SIZE:
        raise BadRequest('Total metadata too large; max %d' % MAX_META_OVERALL_SIZE)


# client_timeout bounds the time a client may take per this many body bytes
# of one read (Swift's per-read unit): a bigger read may take proportionally
# longer, so reading bodies in bigger pieces asks no more speed of a slow
# client. A client that sends nothing at all is caught sooner, by the
# socket's own client_timeout on each receive.
BODY_TIMEOUT_UNIT = 65536


def body_read_timeout(size, client_timeout):
    """Seconds a read of `size` body bytes may take."""
    return client_timeout * max(1.0, size / BODY_TIMEOUT_UNIT)


def is_decimal(text):
    """True for a non-empty string of ASCII digits: what int() reads as the
    number written (str.isdigit() is true for '\u00b2' too, which int() refuses,
    and for other scripts' digits)."""
    return text.isdigit() and text.isascii()


def check_content_length(headers, required=True):
    """Return the declared body length, or None for chunked transfers."""
    value = headers.get('Content-Length')
    chunked = 'chunked' in headers.get('Transfer-Encoding', '').lower()
    if value is None:
        if chunked or not required:
            return None
        raise LengthRequired('Missing Content-Length header.')
    if not is_decimal(value):
        raise BadRequest('Invalid Content-Length header: %r' % value[:64])
    length = int(value)
    if length > MAX_FILE_SIZE:
        raise RequestEntityTooLarge('Your request is too large (limit %d bytes).' % MAX_FILE_SIZE)
    return length
