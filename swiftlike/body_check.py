"""How a streamed object PUT's body is checked between the proxy and the
object servers: the MD5 once, a CRC on every hop.

An object's ETag is the MD5 of its body, and MD5 is the dearest thing a big
upload costs (~1.5 ms per MiB here; zlib's CRC-32 ~0.3-0.4, a CRC-32C with
the CPU's crc32 instruction ~0.07). So for a streamed PUT the proxy computes
the MD5 once, and a CRC of the bytes it sends, and sends both after the body
in the chunked trailer:

    X-Backend-Body-Check: crc32c             (request header; or crc32)
    X-Backend-Obj-Content-Length: <bytes>    (request header, when known)
    ...chunked body...
    0
    X-Backend-Body-Md5: <32 hex digits>      (trailer)
    X-Backend-Body-Crc32c: <8 hex digits>    (trailer; X-Backend-Body-Crc32)

Each object server computes the CRC of what it received, refuses the PUT
(422) when it differs or the trailer is missing, and otherwise stores the
MD5 as the ETag and the CRC as metadata (`X-Body-Crc32c`, or `X-Body-Crc32`);
a whole-object GET then checks the bytes it reads by that CRC instead of the
MD5. The auditor still checks every object's MD5 against its ETag. A PUT
without the header (an older proxy, a replicator, a small buffered PUT) is
checked by its MD5 as before.

Our proxies send CRC-32C (the `crc32c` package: the CPU's instruction where
there is one, C tables where not). zlib's CRC-32 is what the first proxies
with this check sent; object servers still take it, and objects stored with
it are still checked by it.
"""
import collections
import re
import zlib

import crc32c

from swiftlike.constraints import MAX_FILE_SIZE, is_decimal
from swiftlike.exceptions import BadRequest, RequestEntityTooLarge, UnprocessableEntity

HEADER = 'X-Backend-Body-Check'
LENGTH_HEADER = 'X-Backend-Obj-Content-Length'
MD5_TRAILER = 'X-Backend-Body-Md5'

_MD5_HEX = re.compile(r'[0-9a-f]{32}')


class Crc32:
    """zlib.crc32 with hashlib's update/hexdigest."""

    def __init__(self):
        self.value = 0

    def update(self, data):
        self.value = zlib.crc32(data, self.value)

    def hexdigest(self):
        return '%08x' % self.value


class Crc32c(Crc32):
    """CRC-32C (Castagnoli) with hashlib's update/hexdigest."""

    def update(self, data):
        self.value = crc32c.crc32c(data, self.value)


# One kind of check: its name in the request header, its name in messages,
# its trailer, the metadata it is stored as, and its checksum's class.
Check = collections.namedtuple('Check', 'name title trailer metadata_key algorithm')


KINDS = {check.name: check for check in (
    Check('crc32c', 'CRC-32C', 'X-Backend-Body-Crc32c', 'X-Body-Crc32c', Crc32c),
    Check('crc32', 'CRC-32', 'X-Backend-Body-Crc32', 'X-Body-Crc32', Crc32),
)}
SEND = KINDS['crc32c']   # what a proxy asks for


def stored(metadata):
    """(check, stored hex digest) of an object stored with a checked body,
    or None."""
    for check in KINDS.values():
        value = metadata.get(check.metadata_key)
        if value is not None:
            return check, value
    return None


class Summer:
    """A body's checksum (an MD5, or the check's CRC for a checked body) and size."""

    def __init__(self, algorithm):
        self.algorithm = algorithm
        self.size = 0

    def update(self, data):
        self.algorithm.update(data)
        self.size += len(data)

    def hexdigest(self):
        return self.algorithm.hexdigest()


def trailer(md5, crc, check=SEND):
    """The last chunk and trailer a proxy ends a checked body with."""
    return ('0\r\n%s: %s\r\n%s: %s\r\n\r\n' % (MD5_TRAILER, md5.hexdigest(), check.trailer,
                                                crc.hexdigest())).encode('ascii')


def requested(headers):
    """The Check a PUT's body comes with a trailer for, or None; BadRequest
    for a check this server does not know."""
    kind = headers.get(HEADER)
    if kind is None:
        return None
    check = KINDS.get(kind.strip().lower())
    if check is None:
        raise BadRequest('Unknown %s: %r' % (HEADER, kind[:32]))
    return check


def expected_length(headers):
    """The body's length the proxy announced, or None."""
    value = headers.get(LENGTH_HEADER)
    if value is None:
        return None
    value = value.strip()
    if not is_decimal(value) or len(value) > 20:
        raise BadRequest('Invalid %s: %r' % (LENGTH_HEADER, value[:32]))
    if int(value) > MAX_FILE_SIZE:
        raise RequestEntityTooLarge('Your request is too large (limit %d bytes).'
                                    % MAX_FILE_SIZE)
    return int(value)


def etag_from_trailer(trailers, crc, check):
    """The body's MD5 from the trailer, once the `check` CRC of the bytes
    received (`crc.hexdigest()`: its algorithm, or a Summer over one) matches
    the sender's; UnprocessableEntity otherwise."""
    md5 = trailers.get(MD5_TRAILER.lower(), '').strip().lower()
    sent = trailers.get(check.trailer.lower(), '').strip().lower()
    if not _MD5_HEX.fullmatch(md5) or not sent:
        raise UnprocessableEntity('The body came without its %s and %s trailer'
                                  % (MD5_TRAILER, check.trailer))
    if sent != crc.hexdigest():
        raise UnprocessableEntity('%s %s of the body received does not match %s sent'
                                  % (check.title, crc.hexdigest(), sent[:16]))
    return md5
