"""HTTP/1.1 request framing, read strictly (RFC 9112, RFC 9110): the pure rules
every server loop applies before an application sees a request.

A load balancer in front of us and this server must agree on where one request
ends and the next begins; wherever the RFCs let a recipient guess (a folded
header line, a repeated Content-Length, a bare LF), we refuse instead, so the
two can never disagree. Every refusal is a FramingError carrying its status
(400, 413, 431, 501, 505) and a reason; the server answers it with
`Connection: close` and closes the connection.

What is read here: the request line (`parse_request_line`), the header block
(`read_header_block`), the body's framing (`body_framing`) and a chunked body
(`ChunkedReader`).
"""
import http.client
import re

from swiftlike.constraints import MAX_FILE_SIZE
from swiftlike.exceptions import BadRequest

MAX_LINE = 65536        # bytes in one header line (what http.client allows)
MAX_HEADERS = 256       # header lines per request (90 metadata items plus the proxy's own)
MAX_TRAILERS = 64       # trailer lines after a chunked body (kept: body_trailers)
MAX_CHUNK_LINE = 4096   # bytes in a chunk-size line with its extensions

# RFC 9110 §5.6.2: token = 1*tchar.
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 9110 §5.5: field-value = *( VCHAR / obs-text / SP / HTAB ); no CTL but HTAB.
_BAD_VALUE = re.compile(rb'[\x00-\x08\x0a-\x1f\x7f]')
_BAD_LINE = re.compile(rb'[\x00-\x1f\x7f]')   # in a request line (after its CRLF is cut)
_VERSION = re.compile(rb'HTTP/([0-9])\.([0-9])')
# RFC 9112 §7.1: chunk-size [ chunk-ext ] CRLF, chunk-ext = *( BWS ";" BWS
# ext-name [ BWS "=" BWS ext-val ] ), ext-val = token / quoted-string.
_CHUNK_LINE = re.compile(
    rb'([0-9A-Fa-f]+)'
    rb'((?:[ \t]*;[ \t]*[!#$%&\'*+\-.^_`|~0-9A-Za-z]+'
    rb'(?:[ \t]*=[ \t]*(?:[!#$%&\'*+\-.^_`|~0-9A-Za-z]+'
    rb'|"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"))?)*)')


class ClosedEarly(OSError):
    """The client closed the connection inside a request (read as a
    disconnect: 499 where anyone is left to answer)."""


class FramingError(BadRequest):
    """A request whose framing cannot be trusted: answered with `status`,
    then the connection closes. A domain error (400 unless said otherwise), so
    an application reading a bad chunked body answers it like any other."""

    def __init__(self, reason, status=400):
        super().__init__(reason)
        self.http_status = status


def refusal(status, reason):
    """The whole answer to a request refused for its framing (the
    connection closes after it)."""
    body = reason.encode('latin-1', 'replace') + b'\n'
    return (b'HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n'
            b'Connection: close\r\n\r\n%s'
            % (status, http.client.responses.get(status, 'Error').encode(), len(body), body))


def parse_request_line(raw):
    """(method, target, (major, minor)) of a request line (bytes, CRLF
    included). Words are separated by SP alone; a target with spaces in it is
    the words between method and version, as Swift reads it (RFC 9112 §3 lets
    a server answer such a line 400; Swift's clients send it and Swift serves
    it, and no proxy in front reads it differently, since the version is
    still the last word)."""
    if raw.endswith(b'\r\n'):
        line = raw[:-2]
    else:
        raise FramingError('Request line does not end in CRLF')
    if _BAD_LINE.search(line):
        raise FramingError('Control character in the request line')
    words = [w for w in line.split(b' ') if w]
    if len(words) < 3:
        # HTTP/0.9 is not spoken: a line without a version is refused.
        raise FramingError('Bad request line (%r)' % line[:256])
    version = _VERSION.fullmatch(words[-1])
    if version is None:
        raise FramingError('Bad request version (%r)' % words[-1][:64])
    number = (int(version.group(1)), int(version.group(2)))
    if number[0] != 1:
        raise FramingError('HTTP version %d.%d is not supported' % number, 505)
    if not _TOKEN.fullmatch(words[0]):
        raise FramingError('Bad request method (%r)' % words[0][:32])
    return (words[0].decode('latin-1'), b' '.join(words[1:-1]).decode('latin-1'), number)


def parse_header_line(line):
    """(name, value) of one field line (bytes, CRLF included), RFC 9112 §5:
    no whitespace before the colon, a token for a name, no obs-fold, no CR,
    LF, NUL or other control character in the value."""
    if not line.endswith(b'\r\n'):
        raise FramingError('Header line does not end in CRLF')
    line = line[:-2]
    if line[:1] in (b' ', b'\t'):
        raise FramingError('Folded header line (obs-fold)')
    name, sep, value = line.partition(b':')
    if not sep:
        raise FramingError('Header line without a colon')
    if not _TOKEN.fullmatch(name):
        raise FramingError('Bad header name (%r)' % name[:64])
    value = value.strip(b' \t')
    if _BAD_VALUE.search(value):
        raise FramingError('Control character in the value of %s' % name[:64].decode('latin-1'))
    return name.decode('latin-1'), value.decode('latin-1')


# A whole header block of valid field lines (what parse_header_line accepts),
# checked in one pass; the slow per-line path only finds the reason of a refusal.
_BLOCK = re.compile(rb"(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*\r\n)*")


def read_header_block(readline, max_headers=MAX_HEADERS, what='headers', lenient=False):
    """[(name, value), ...] read with readline(limit) up to the empty line.

    Strict (requests, RFC 9112 §5): every line a valid field line ending in
    CRLF, else FramingError; EOF inside the block is ClosedEarly.

    `lenient` is for the responses our backend client gets from our own
    servers, which we trust to frame and must not refuse over a stored value
    an older version let in: a bare LF or EOF ends a line or the block, a
    continuation line (leading space or tab) extends the previous value, and
    a line that is not a field ends the fields (the rest of the block is read
    and ignored, as the email parser does); its errors are http.client's.
    """
    lines = []
    while True:
        line = readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            if lenient:
                raise http.client.LineTooLong('header line')
            raise FramingError('Header line too long')
        if line == b'\r\n' or (lenient and line in (b'\n', b'')):
            break
        if not line:
            raise ClosedEarly('connection closed inside the %s' % what)
        if len(lines) >= max_headers:
            if lenient:
                raise http.client.HTTPException('got more than %d %s' % (max_headers, what))
            raise FramingError('More than %d %s' % (max_headers, what), 431)
        lines.append(line)
    pairs = valid_header_block(b''.join(lines))
    if pairs is None:
        if lenient:
            return _lenient_pairs(lines)
        return [parse_header_line(line) for line in lines]   # raises the reason
    return pairs


def valid_header_block(block):
    """[(name, value), ...] of a header block (its lines, each ending in
    CRLF, without the empty line after them) if every line is a valid field
    line, else None (then parse_header_line on each line names the fault)."""
    if _BLOCK.fullmatch(block) is None:
        return None
    pairs = []
    for line in block.decode('latin-1').split('\r\n')[:-1]:
        name, _sep, value = line.partition(':')
        pairs.append((name, value.strip(' \t')))
    return pairs


_LENIENT_NAME = re.compile(r'[!-9;-~]+')  # printable ASCII but ':'


def _lenient_pairs(lines):
    pairs = []
    for line in lines:
        text = line.decode('latin-1').rstrip('\r\n')
        if text[:1] in (' ', '\t'):
            if not pairs:
                break
            name, value = pairs[-1]
            pairs[-1] = (name, value + ' ' + text.strip(' \t'))
            continue
        name, sep, value = text.partition(':')
        if not sep or not _LENIENT_NAME.fullmatch(name):
            break
        pairs.append((name, value.strip(' \t')))
    return pairs


def _list_members(values):
    return [m.strip(' \t').lower() for v in values for m in v.split(',') if m.strip(' \t')]


def body_framing(pairs, version):
    """How the body of a request with these headers is delimited (RFC 9112
    §6.3): ('chunked', None) or ('length', n), n = 0 without a body. Also
    checks Host (RFC 9112 §3.2)."""
    lengths = []
    codings = []
    hosts = 0
    for name, value in pairs:
        key = name.lower()
        if key == 'content-length':
            lengths.append(value)
        elif key == 'transfer-encoding':
            codings.append(value)
        elif key == 'host':
            hosts += 1
    if hosts > 1 or (hosts == 0 and version >= (1, 1)):
        raise FramingError('An HTTP/1.1 request needs exactly one Host header (got %d)' % hosts)
    if codings:
        if version < (1, 1):
            # RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 is faulty framing.
            raise FramingError('Transfer-Encoding in an HTTP/1.0 request')
        if lengths:
            # RFC 9112 §6.1 lets a server refuse both together; we do.
            raise FramingError('Both Content-Length and Transfer-Encoding')
        members = _list_members(codings)
        if not members or members[-1] != 'chunked':
            raise FramingError('Transfer-Encoding does not end in chunked')
        if members.count('chunked') > 1:
            raise FramingError('chunked applied more than once')
        if len(members) > 1:
            # RFC 9112 §6.1: an unknown transfer coding is 501.
            raise FramingError('Transfer coding not implemented: %s'
                               % ', '.join(members[:-1])[:128], 501)
        return 'chunked', None
    if not lengths:
        return 'length', 0
    if len(lengths) > 1:
        # RFC 9110 §8.6 lets a recipient collapse "5, 5"; we refuse any repeat.
        raise FramingError('More than one Content-Length')
    value = lengths[0]
    if not value.isdigit() or not value.isascii():
        raise FramingError('Bad Content-Length (%r)' % value[:32])
    if len(value) > 19:
        raise FramingError('Content-Length too large (%s...)' % value[:32])
    return 'length', int(value)


def chunk_frame(data):
    """`data` framed as one chunk of a chunked body (RFC 9112 §7.1)."""
    return b'%x\r\n%s\r\n' % (len(data), data)


LAST_CHUNK = b'0\r\n\r\n'   # the end of a chunked body without trailers


def body_trailers(body):
    """The trailer fields of a request body (a server loop's wsgi.input) by
    lower-case name: those of a chunked body read to its end, else {}."""
    chunks = getattr(body, 'chunks', None)
    if chunks is None or not chunks.done:
        return {}
    return {name.lower(): value for name, value in chunks.trailers}


class ChunkedReader:
    """The decoded bytes of a chunked body read from `rfile` (read/readline),
    RFC 9112 §7.1; never reads past the body's last CRLF. A malformed chunk
    raises FramingError (400; 413 for a chunk larger than any object), the end
    of the stream before the last chunk ClosedEarly. `on_error` is called once
    with the FramingError before it is raised (the server marks the
    connection for closing)."""

    def __init__(self, rfile, on_error=None, max_size=MAX_FILE_SIZE):
        self.rfile = rfile
        self.on_error = on_error
        self.max_size = max_size
        self.left = 0          # data bytes left in the current chunk
        self.done = False
        self.failed = None
        self.total = 0
        self.trailers = []     # the trailer fields, once the last chunk is read

    def _fail(self, err):
        self.failed = err
        if self.on_error is not None:
            self.on_error(err)
        raise err

    def _next_chunk(self):
        if self.total:
            end = self.rfile.read(2)
            if end != b'\r\n':
                if len(end) < 2:
                    raise ClosedEarly('connection closed inside a chunked body')
                self._fail(FramingError('Chunk data does not end in CRLF'))
        line = self.rfile.readline(MAX_CHUNK_LINE + 1)
        if not line:
            raise ClosedEarly('connection closed inside a chunked body')
        if len(line) > MAX_CHUNK_LINE or not line.endswith(b'\r\n'):
            self._fail(FramingError('Bad chunk-size line'))
        match = _CHUNK_LINE.fullmatch(line[:-2])
        if match is None:
            self._fail(FramingError('Bad chunk-size line (%r)' % line[:64]))
        digits = match.group(1).lstrip(b'0') or b'0'
        if len(digits) > 16:
            self._fail(FramingError('Chunk size overflows (%r)' % match.group(1)[:32]))
        size = int(digits, 16)
        if size > self.max_size or self.total + size > self.max_size:
            self._fail(FramingError('Chunk too large', 413))
        if size == 0:
            try:
                self.trailers = read_header_block(self.rfile.readline, MAX_TRAILERS,
                                                  'trailers')
            except FramingError as err:
                self._fail(err)
            self.done = True
            return
        self.left = size
        self.total += size

    def read(self, size=-1):
        return self._read(size, self.rfile.read, line=False)

    def readline(self, size=-1):
        return self._read(size, self.rfile.readline, line=True)

    def _read(self, size, read, line):
        """Up to `size` bytes of chunk data (all of it for a negative size),
        with `read` (the socket file's read or readline); a line ends at its
        newline."""
        if self.failed is not None:
            raise self.failed
        parts = []
        want = None if size is None or size < 0 else size
        while not self.done and (want is None or want > 0):
            if not self.left:
                self._next_chunk()
                continue
            n = self.left if want is None else min(want, self.left)
            data = read(n)
            if not data:
                raise ClosedEarly('connection closed inside a chunked body')
            self.left -= len(data)
            parts.append(data)
            if want is not None:
                want -= len(data)
            if line and data.endswith(b'\n'):
                break
        return b''.join(parts)
