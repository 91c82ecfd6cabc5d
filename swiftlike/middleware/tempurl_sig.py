"""Temporary URL signatures (pure: no I/O, no WSGI).

A temporary URL carries `temp_url_sig` and `temp_url_expires` (and optionally
`temp_url_prefix`, `temp_url_ip_range`) in its query string. The signature is
an HMAC, keyed by one of the account's or container's Temp-URL keys, of

    [ip=<ip range>\\n]<METHOD>\\n<expires as epoch seconds>\\n<path>

where <path> is the object's path from /v1/ on (unquoted), or
`prefix:/v1/<account>/<container>/<prefix>` for a prefix-based URL. It is
sent as lower-case hex (40, 64 or 128 digits: SHA-1, SHA-256, SHA-512) or
as `<digest>:<base64>` (standard or URL-safe alphabet, padding optional).

Everything here works on bytes or on "WSGI strings" (latin-1 strings whose
code points are the request's bytes), so a path, a prefix and a key compare
and hash exactly as the client sent them. Used by the middleware
(swiftlike/middleware/tempurl.py) and by the `swiftlike-tempurl` CLI.
"""
import base64
import binascii
import calendar
import hashlib
import hmac
import ipaddress
import re
import time
from urllib.parse import quote

DIGESTS = {'sha1': hashlib.sha1, 'sha256': hashlib.sha256, 'sha512': hashlib.sha512}
# Accepted but advertised as deprecated (as Swift 2.38 does).
DEPRECATED_DIGESTS = ('sha1',)
HEX_LENGTHS = {2 * DIGESTS[name]().digest_size: name for name in DIGESTS}
ISO8601_FORMAT = '%Y-%m-%dT%H:%M:%SZ'
# Longer values are garbage (a ten-digit epoch, a 20-character date).
MAX_EXPIRES_LENGTH = 64
MAX_SIGNATURE_LENGTH = 256
MAX_IP_RANGE_LENGTH = 64
_HEX = re.compile(r'\A[0-9a-f]+\Z')
_EPOCH = re.compile(r'\A[+-]?[0-9]+\Z')
_B64 = re.compile(r'\A[A-Za-z0-9+/]*={0,2}\Z')


class InvalidTempURL(ValueError):
    """A temporary URL that cannot be valid (the client is told 401)."""


def parse_signature(value):
    """`temp_url_sig` -> (digest name, digest bytes); InvalidTempURL when it
    is neither hex of a known length nor `<digest>:<base64>` of a known
    digest whose decoded length matches."""
    if not value or len(value) > MAX_SIGNATURE_LENGTH:
        raise InvalidTempURL('signature missing or too long')
    if ':' in value:
        name, _, text = value.partition(':')
        if name not in DIGESTS:
            raise InvalidTempURL('unknown digest %r' % name)
        if ('-' in text or '_' in text) and not ('+' in text or '/' in text):
            text = text.replace('-', '+').replace('_', '/')
        text = text.rstrip('=')
        text += '=' * (-len(text) % 4)
        if not _B64.match(text):
            raise InvalidTempURL('signature is not base64')
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidTempURL('signature is not base64')
        if len(raw) != DIGESTS[name]().digest_size:
            raise InvalidTempURL('signature has the wrong length for %s' % name)
        return name, raw
    name = HEX_LENGTHS.get(len(value))
    if name is None:
        raise InvalidTempURL('hex signature of unknown length %d' % len(value))
    if not _HEX.match(value):
        raise InvalidTempURL('signature is not lower-case hex')
    return name, bytes.fromhex(value)


def parse_expires(value):
    """`temp_url_expires` (epoch seconds, or ISO 8601 UTC as
    2030-01-02T03:04:05Z) -> epoch seconds; InvalidTempURL otherwise."""
    if value is None:
        raise InvalidTempURL('expiry missing')
    text = value.strip()
    if not text or len(text) > MAX_EXPIRES_LENGTH:
        raise InvalidTempURL('expiry missing or too long')
    if _EPOCH.match(text):
        return int(text)
    try:
        parsed = time.strptime(text, ISO8601_FORMAT)
    except ValueError:
        raise InvalidTempURL('expiry is neither epoch seconds nor %s' % ISO8601_FORMAT)
    return calendar.timegm(parsed)


def check_expires(value, now=None):
    """The expiry as epoch seconds if it has not passed; InvalidTempURL when
    it is garbage, not positive or in the past."""
    expires = parse_expires(value)
    if expires <= 0 or expires < (time.time() if now is None else now):
        raise InvalidTempURL('expired')
    return expires


def _bytes(value):
    return value if isinstance(value, bytes) else value.encode('latin-1')


def hmac_body(method, expires, path, ip_range=None):
    """The signed message (bytes). `path` and `ip_range` are bytes or WSGI
    strings; `path` may be 'prefix:/v1/a/c/<prefix>'."""
    body = b'%s\n%d\n%s' % (_bytes(method), expires, _bytes(path))
    if ip_range:
        body = b'ip=%s\n%s' % (_bytes(ip_range), body)
    return body


def sign(key, method, expires, path, digest='sha256', ip_range=None):
    """The raw HMAC digest (bytes) of a temporary URL."""
    return hmac.new(_bytes(key), hmac_body(method, expires, path, ip_range),
                    DIGESTS[digest]).digest()


def prefix_path(account, container, prefix):
    """What a prefix-based signature signs (a WSGI string or bytes)."""
    if isinstance(account, bytes):
        return b'prefix:/v1/%s/%s/%s' % (account, container, prefix)
    return 'prefix:/v1/%s/%s/%s' % (account, container, prefix)


def ip_allowed(ip_range, remote_addr):
    """Whether `remote_addr` lies in `ip_range` (an address or a CIDR
    network, IPv4 or IPv6, without host bits); False for garbage."""
    if not ip_range or not remote_addr or len(ip_range) > MAX_IP_RANGE_LENGTH:
        return False
    try:
        network = ipaddress.ip_network(ip_range, strict=True)
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    return address in network


def content_disposition(kind, filename):
    """'attachment' or 'inline' with a file name (bytes or str), quoted so
    that no character of it can break the header."""
    return "%s; filename=\"%s\"; filename*=UTF-8''%s" % (
        kind, quote(filename, safe=' /'), quote(filename, safe='/'))


def http_date(epoch):
    return time.strftime('%a, %d %b %Y %H:%M:%S GMT', time.gmtime(epoch))


class HeaderFilter:
    """Which header names to drop: those matching `remove` unless they match
    `allow`. Patterns are lower-case names; a trailing '*' makes a prefix."""

    def __init__(self, remove, allow):
        self.remove_exact, self.remove_prefixes = self._split(remove)
        self.allow_exact, self.allow_prefixes = self._split(allow)

    @staticmethod
    def _split(patterns):
        exact = {p.lower() for p in patterns if not p.endswith('*')}
        prefixes = tuple(p[:-1].lower() for p in patterns if p.endswith('*'))
        return exact, prefixes

    def drops(self, name):
        name = name.lower()
        if name in self.allow_exact or name.startswith(self.allow_prefixes):
            return False
        return name in self.remove_exact or name.startswith(self.remove_prefixes)


def allowed_digests(value):
    """The digests an `allowed_digests` setting names (space or comma
    separated), sorted; ValueError for an unknown one or none."""
    digests = sorted(set(value.lower().replace(',', ' ').split()))
    unknown = [d for d in digests if d not in DIGESTS]
    if unknown:
        raise ValueError('allowed_digests: unknown digest %r (use %s)'
                         % (unknown[0], ' '.join(sorted(DIGESTS))))
    if not digests:
        raise ValueError('allowed_digests must name at least one digest')
    return digests
