"""How a streamed object PUT's body is checked between the proxy and the
object servers: the MD5 once, a CRC-32 on every hop.

An object's ETag is the MD5 of its body, and MD5 is the dearest thing a big
upload costs (~1.5 ms per MiB here, where a CRC-32 costs ~0.4). So for a
streamed PUT the proxy computes the MD5 once, and a CRC-32 of the bytes it
sends, and sends both after the body in the chunked trailer:

    X-Backend-Body-Check: crc32              (request header)
    X-Backend-Obj-Content-Length: <bytes>    (request header, when known)
    ...chunked body...
    0
    X-Backend-Body-Md5: <32 hex digits>      (trailer)
    X-Backend-Body-Crc32: <8 hex digits>     (trailer)

Each object server computes the CRC-32 of what it received, refuses the PUT
(422) when it differs or the trailer is missing, and otherwise stores the
MD5 as the ETag and the CRC-32 as metadata (`X-Body-Crc32`); a whole-object
GET then checks the bytes it reads by that CRC-32 instead of the MD5. The
auditor still checks every object's MD5 against its ETag. A PUT without the
header (an older proxy, a replicator, a small buffered PUT) is checked by its
MD5 as before.
"""
import re
import zlib

from swiftlike.constraints import MAX_FILE_SIZE, is_decimal
from swiftlike.exceptions import BadRequest, RequestEntityTooLarge, UnprocessableEntity

HEADER = 'X-Backend-Body-Check'
LENGTH_HEADER = 'X-Backend-Obj-Content-Length'
MD5_TRAILER = 'X-Backend-Body-Md5'
CRC_TRAILER = 'X-Backend-Body-Crc32'
METADATA_KEY = 'X-Body-Crc32'
KIND = 'crc32'

_MD5_HEX = re.compile(r'[0-9a-f]{32}')


class Crc32:
    """zlib.crc32 with hashlib's update/hexdigest."""

    def __init__(self):
        self.value = 0

    def update(self, data):
        self.value = zlib.crc32(data, self.value)

    def hexdigest(self):
        return '%08x' % self.value


class Summer:
    """A body's checksum (an MD5, or a Crc32 for a checked body) and size."""

    def __init__(self, algorithm):
        self.algorithm = algorithm
        self.size = 0

    def update(self, data):
        self.algorithm.update(data)
        self.size += len(data)

    def hexdigest(self):
        return self.algorithm.hexdigest()


def trailer(md5, crc):
    """The last chunk and trailer a proxy ends a checked body with."""
    return ('0\r\n%s: %s\r\n%s: %s\r\n\r\n' % (MD5_TRAILER, md5.hexdigest(), CRC_TRAILER,
                                                crc.hexdigest())).encode('ascii')


def requested(headers):
    """True when the PUT's body comes with a trailer to check; BadRequest for
    a check this server does not know."""
    kind = headers.get(HEADER)
    if kind is None:
        return False
    if kind.strip().lower() != KIND:
        raise BadRequest('Unknown %s: %r' % (HEADER, kind[:32]))
    return True


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


def etag_from_trailer(trailers, crc):
    """The body's MD5 from the trailer, once the CRC-32 of the bytes received
    (`crc.hexdigest()`: a Crc32, or a Summer over one) matches the sender's;
    UnprocessableEntity otherwise."""
    md5 = trailers.get(MD5_TRAILER.lower(), '').strip().lower()
    sent = trailers.get(CRC_TRAILER.lower(), '').strip().lower()
    if not _MD5_HEX.fullmatch(md5) or not sent:
        raise UnprocessableEntity('The body came without its %s and %s trailer'
                                  % (MD5_TRAILER, CRC_TRAILER))
    if sent != crc.hexdigest():
        raise UnprocessableEntity('CRC-32 %s of the body received does not match %s sent'
                                  % (crc.hexdigest(), sent[:16]))
    return md5
