"""What a symlink is, without I/O (pure): the client's headers checked and
normalised, the system metadata a link is stored with, the link read back
from an object's headers, and the parameters its container listing row
carries.

A link is a zero-byte object whose system metadata names its target:

    X-Object-Sysmeta-Symlink-Target          <container>/<object>, URL-quoted UTF-8
    X-Object-Sysmeta-Symlink-Target-Account  URL-quoted account (absent: the link's own)
    X-Object-Sysmeta-Symlink-Target-Etag     static links: the ETag the target must have
    X-Object-Sysmeta-Symlink-Target-Bytes    static links: the target's size when linked

The listing row of a link carries the same facts as `; symlink_target=...`
parameters (see `listing_params`), which the symlink middleware turns into
`symlink_path` / `symlink_etag` / `symlink_bytes` keys of a JSON listing.
"""
import dataclasses
from urllib.parse import quote, unquote_to_bytes

from swiftlike.constraints import (MAX_ACCOUNT_NAME_LENGTH, MAX_CONTAINER_NAME_LENGTH,
                                   MAX_OBJECT_NAME_LENGTH, is_decimal)
from swiftlike.exceptions import BadRequest, PreconditionFailed
from swiftlike.paths import strip_ows

SYSMETA_PREFIX = 'x-object-sysmeta-symlink-'
TARGET_SYSMETA = 'X-Object-Sysmeta-Symlink-Target'
ACCOUNT_SYSMETA = 'X-Object-Sysmeta-Symlink-Target-Account'
ETAG_SYSMETA = 'X-Object-Sysmeta-Symlink-Target-Etag'
BYTES_SYSMETA = 'X-Object-Sysmeta-Symlink-Target-Bytes'
# The client-facing names of the same facts (requests and ?symlink=get answers).
TARGET_HEADER = 'X-Symlink-Target'
ACCOUNT_HEADER = 'X-Symlink-Target-Account'
ETAG_HEADER = 'X-Symlink-Target-Etag'
BYTES_HEADER = 'X-Symlink-Target-Bytes'
TO_CLIENT = ((TARGET_SYSMETA, TARGET_HEADER), (ACCOUNT_SYSMETA, ACCOUNT_HEADER),
             (ETAG_SYSMETA, ETAG_HEADER), (BYTES_SYSMETA, BYTES_HEADER))
# A link's Content-Type when the client names none (and it is not static).
LINK_CONTENT_TYPE = 'application/symlink'
# Listing parameters, in the order they are written.
PARAM_TARGET = 'symlink_target'
PARAM_ACCOUNT = 'symlink_target_account'
PARAM_ETAG = 'symlink_target_etag'
PARAM_BYTES = 'symlink_target_bytes'
PARAMS = (PARAM_TARGET, PARAM_ACCOUNT, PARAM_ETAG, PARAM_BYTES)
FORM_REASON = 'X-Symlink-Target header must be of the form <container name>/<object name>'
MAX_ETAG_LENGTH = 256


@dataclasses.dataclass(frozen=True)
class Link:
    """A link's target: names as real str; `etag`/`size` set for static links."""
    container: str
    obj: str
    account: str = None
    etag: str = None
    size: int = None

    @property
    def quoted_target(self):
        return quote_name(self.container) + '/' + quote_name(self.obj)

    def location(self, default_account):
        """'/v1/<account>/<container>/<object>', URL-quoted (Content-Location)."""
        return content_location(self.account or default_account, self.container, self.obj)

    def sysmeta(self):
        """The system metadata headers that store this link."""
        out = {TARGET_SYSMETA: self.quoted_target}
        if self.account:
            out[ACCOUNT_SYSMETA] = quote(self.account.encode('utf-8'), safe='')
        if self.etag is not None:
            out[ETAG_SYSMETA] = self.etag
            out[BYTES_SYSMETA] = str(self.size or 0)
        return out


def quote_name(name):
    return quote(name.encode('utf-8'), safe='/')


def content_location(account, container, obj):
    return quote_name('/v1/%s/%s/%s' % (account, container, obj))


def _unquoted_text(value, header):
    """A header value (WSGI str) URL-unquoted to real str; 400 when it is not
    UTF-8 or holds a NUL (stored, such a target could never be read)."""
    try:
        raw = value.encode('latin-1')
    except UnicodeEncodeError:
        raw = value.encode('utf-8')
    try:
        text = unquote_to_bytes(raw).decode('utf-8')
    except UnicodeDecodeError:
        raise BadRequest('%s header is not valid UTF-8' % header)
    if '\x00' in text:
        raise BadRequest('%s header contains a NUL byte' % header)
    return text


def parse_target(value):
    """X-Symlink-Target (WSGI str) -> (container, obj) as real str.
    412 as Swift when it is not <container>/<object>; 400 when not UTF-8,
    with a NUL, or with names longer than the cluster allows."""
    text = _unquoted_text(value, TARGET_HEADER)
    container, _sep, obj = text.partition('/')
    if not container or not obj:
        raise PreconditionFailed(FORM_REASON)
    if len(container.encode('utf-8')) > MAX_CONTAINER_NAME_LENGTH:
        raise BadRequest('X-Symlink-Target container name is longer than %d bytes'
                         % MAX_CONTAINER_NAME_LENGTH)
    if len(obj.encode('utf-8')) > MAX_OBJECT_NAME_LENGTH:
        raise BadRequest('X-Symlink-Target object name is longer than %d bytes'
                         % MAX_OBJECT_NAME_LENGTH)
    return container, obj


def parse_account(value):
    """X-Symlink-Target-Account (WSGI str) -> real str (None when empty)."""
    if value is None or not strip_ows(value):
        return None
    text = _unquoted_text(strip_ows(value), ACCOUNT_HEADER)
    if '/' in text:
        raise PreconditionFailed('Account name cannot contain slashes')
    if len(text.encode('utf-8')) > MAX_ACCOUNT_NAME_LENGTH:
        raise BadRequest('X-Symlink-Target-Account is longer than %d bytes'
                         % MAX_ACCOUNT_NAME_LENGTH)
    return text


def normalize_etag(value):
    """X-Symlink-Target-Etag as compared and stored: without quotes; 400 if
    it could not be an ETag (empty, too long, or with characters that would
    break the listing parameters)."""
    etag = value.strip()
    if len(etag) >= 2 and etag[0] == etag[-1] == '"':
        etag = etag[1:-1]
    if not etag or len(etag) > MAX_ETAG_LENGTH or \
            any(c in etag for c in ';,"\\=') or not etag.isprintable() or \
            any(c.isspace() for c in etag) or not etag.isascii():
        raise BadRequest('X-Symlink-Target-Etag is not a valid ETag')
    return etag


def check_content_type(value):
    """A client's Content-Type may not carry the listing parameters of a
    link (a plain object would be listed as one): 400."""
    if value and PARAM_TARGET in value:
        _base, params = split_params(value)
        if any(key.lower() in PARAMS for key, _v in params):
            raise BadRequest('Content-Type parameters symlink_target* are reserved for symlinks')


def link_from_headers(headers):
    """The Link an object's headers ({lower-case name: value}) describe, or
    None when the object is not a link. Stored values are trusted to be
    well-formed only as far as they parse: a damaged one reads as None."""
    target = headers.get(TARGET_SYSMETA.lower())
    if not target:
        return None
    try:
        container, obj = parse_target(target)
        account = parse_account(headers.get(ACCOUNT_SYSMETA.lower()))
    except (BadRequest, PreconditionFailed):
        return None
    etag = headers.get(ETAG_SYSMETA.lower()) or None
    size = None
    if etag is not None:
        size = headers.get(BYTES_SYSMETA.lower(), '0')
        size = int(size) if is_decimal(size) else 0
    return Link(container, obj, account, etag, size)


def client_headers(header_list):
    """A ?symlink=get answer's headers: the link's sysmeta also under its
    client-facing names (the gatekeeper hides the sysmeta itself)."""
    out = list(header_list)
    lower = {k.lower(): v for k, v in header_list}
    for sysmeta, header in TO_CLIENT:
        if sysmeta.lower() in lower:
            out.append((header, lower[sysmeta.lower()]))
    return out


# -- listing parameters ---------------------------------------------------

def listing_params(link):
    """'; symlink_target=c/o[; symlink_target_account=a][; ..._etag=e; ..._bytes=n]'
    for a link's listing row (values are URL-quoted or plain tokens)."""
    out = '; %s=%s' % (PARAM_TARGET, link.quoted_target)
    if link.account:
        out += '; %s=%s' % (PARAM_ACCOUNT, quote(link.account.encode('utf-8'), safe=''))
    if link.etag is not None:
        out += '; %s=%s; %s=%d' % (PARAM_ETAG, link.etag, PARAM_BYTES, link.size or 0)
    return out


def split_params(value):
    """'base; k=v; k2=v2' -> (base, [(k, v), ...]) (parameters as written)."""
    base, *rest = value.split(';')
    params = []
    for part in rest:
        key, sep, val = part.strip().partition('=')
        params.append((key.strip(), val.strip() if sep else None))
    return base.strip(), params


def join_params(base, params):
    return base + ''.join('; %s=%s' % (k, v) if v is not None else '; %s' % k
                          for k, v in params)


def strip_symlink_params(value):
    """(value without the symlink parameters, {param: value} of them)."""
    if PARAM_TARGET not in value:
        return value, {}
    base, params = split_params(value)
    found = {k: v for k, v in params if k in PARAMS}
    kept = [(k, v) for k, v in params if k not in PARAMS]
    return join_params(base, kept), found


def listing_keys(found, account):
    """The JSON keys a listing row of a link gets ({} if `found` names no target)."""
    target = found.get(PARAM_TARGET)
    if not target:
        return {}
    target_account = found.get(PARAM_ACCOUNT) or quote(account.encode('utf-8'), safe='')
    keys = {'symlink_path': '/v1/%s/%s' % (target_account, target)}
    if found.get(PARAM_ETAG):
        keys['symlink_etag'] = found[PARAM_ETAG]
        size = found.get(PARAM_BYTES) or '0'
        keys['symlink_bytes'] = int(size) if is_decimal(size) else 0
    return keys
