"""FormPost's form (pure: no I/O beyond the `read` callable it is given).

- A streaming `multipart/form-data` parser (RFC 7578 / RFC 2046): the body
  is read in chunks of at most READ_SIZE bytes and each part's body is handed
  out as it arrives, so a file of any size passes through a buffer of about
  two chunks. We wrote our own (about 150 lines) because the standard
  library's `email` and `cgi` parsers read whole bodies, and the streaming
  ones on PyPI either buffer a part's headers without limit, or push parts
  into callbacks that would make the object PUT (a WSGI subrequest that
  *pulls* its body) awkward; a pull parser fits the subrequest as it is.
- The rules of the form's fields, as Swift's FormPost words them: integers,
  expiry, the signed message, the signature, the answer's redirect.

Values are "WSGI strings" (latin-1 strings whose code points are the
client's bytes), so a file name appended to a request path and a field
signed with a key compare and hash exactly as the client sent them.

Every problem with the form raises FormError (a 400 with
'FormPost: <reason>') or FormUnauthorized (401, 'FormPost: <Reason>');
nothing else escapes the parser, whatever the body holds.
"""
import hmac
import re
import time
from urllib.parse import quote

from swiftlike.middleware.tempurl_sig import DIGESTS, InvalidTempURL, parse_signature

READ_SIZE = 65536
# A field's value is cut at this length (the rest is read and dropped).
MAX_VALUE_LENGTH = 4096
# The headers of one part, and how many fields (parts without a file) a form
# may have: more is no browser's form.
MAX_HEADER_BYTES = 8192
MAX_FIELDS = 64
MAX_BOUNDARY_LENGTH = 70     # RFC 2046
_BOUNDARY_CHARS = re.compile(r"\A[0-9A-Za-z'()+_,\-./:=? ]+\Z")
_TOKEN = re.compile(r'\s*([^\s;=]+)\s*')
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"', re.S)
_CTL = re.compile('[\x00-\x20\x7f-\xff]')


class FormError(ValueError):
    """The form cannot be processed: 400 'FormPost: <reason>'."""


class FormUnauthorized(Exception):
    """The form's signature does not allow it: 401 'FormPost: <Reason>'."""


# -- header values with parameters ---------------------------------------------------

def parse_header_params(value):
    """'main; a=1; b="x y"' -> ('main' lower-case, {'a': '1', 'b': 'x y'}).
    Parameter names are lower-cased; quoted values lose their quotes and
    backslash escapes; a broken parameter ends the list."""
    main, _, rest = (value or '').partition(';')
    params = {}
    pos = 0
    while pos < len(rest):
        m = _TOKEN.match(rest, pos)
        if not m:
            break
        name = m.group(1).lower()
        pos = m.end()
        if pos >= len(rest) or rest[pos] != '=':
            params.setdefault(name, '')
        else:
            pos += 1
            while pos < len(rest) and rest[pos] in ' \t':
                pos += 1
            q = _QUOTED.match(rest, pos)
            if q:
                params.setdefault(name, re.sub(r'\\(.)', r'\1', q.group(1), flags=re.S))
                pos = q.end()
            else:
                end = rest.find(';', pos)
                end = len(rest) if end < 0 else end
                params.setdefault(name, rest[pos:end].strip())
                pos = end
        while pos < len(rest) and rest[pos] in ' \t':
            pos += 1
        if pos < len(rest):
            if rest[pos] != ';':
                break
            pos += 1
    return main.strip().lower(), params


def form_boundary(content_type):
    """The boundary (bytes) of a multipart/form-data Content-Type; None when
    the type is another; FormError when the boundary is missing or invalid."""
    main, params = parse_header_params(content_type)
    if main != 'multipart/form-data':
        return None
    boundary = params.get('boundary', '')
    if not boundary or len(boundary) > MAX_BOUNDARY_LENGTH or \
            not _BOUNDARY_CHARS.match(boundary) or boundary.endswith(' '):
        raise FormError('invalid boundary')
    return boundary.encode('latin-1')


# -- the streaming parser -------------------------------------------------------------

class Part:
    """One part of the form: `headers` ({lower-case name: value}),
    `disposition`, `name` and `filename` (None when there is no file), and
    read(size) for its body (b'' at its end)."""

    def __init__(self, reader, headers):
        self._reader = reader
        self.headers = headers
        self.done = False
        disposition, params = parse_header_params(headers.get('content-disposition', ''))
        self.disposition = disposition
        self.name = params.get('name')
        self.filename = params.get('filename')

    @property
    def is_file(self):
        return self.disposition == 'form-data' and bool(self.filename)

    def read(self, size=READ_SIZE):
        if self.done:
            return b''
        data = self._reader._body(max(1, size))
        if not data:
            self.done = True
        return data

    def read_value(self, limit=MAX_VALUE_LENGTH):
        """The body as a field's value (cut at `limit`), as a WSGI string."""
        kept = []
        size = 0
        while True:
            data = self.read()
            if not data:
                break
            if size < limit:
                kept.append(data[:limit - size])
                size += len(kept[-1])
        return b''.join(kept).decode('latin-1')


class MultipartReader:
    """Pull parser: next_part() gives the next Part (its body must be read
    through it, or is skipped) and None after the closing boundary."""

    def __init__(self, read, boundary, read_size=READ_SIZE):
        self._read = read
        self.read_size = read_size
        self.delimiter = b'\r\n--' + boundary
        # The first boundary has no CRLF before it: lend it one, so every
        # boundary is the same delimiter.
        self.buf = b'\r\n'
        self.eof = False
        self.started = False
        self.finished = False
        self.current = None

    def _fill(self):
        if self.eof:
            return False
        try:
            data = self._read(self.read_size)
        except (OSError, ValueError):
            raise FormError('the client stopped sending the form')
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _need(self, count):
        while len(self.buf) < count:
            if not self._fill():
                raise FormError('unexpected end of form')

    def _body(self, size):
        """Up to `size` bytes of the current part; b'' at its delimiter."""
        delimiter = self.delimiter
        while True:
            idx = self.buf.find(delimiter)
            if idx == 0:
                return b''
            if idx > 0:
                n = min(idx, size)
            else:
                n = min(len(self.buf) - len(delimiter) + 1, size)
            if n > 0:
                data, self.buf = self.buf[:n], self.buf[n:]
                return data
            if not self._fill():
                raise FormError('unexpected end of form')

    def next_part(self):
        if self.finished:
            return None
        if not self.started:
            self._need(len(self.delimiter))
            if not self.buf.startswith(self.delimiter):
                raise FormError('invalid starting boundary')
            self.started = True
        elif self.current is not None:
            while self.current.read():
                pass
        self.current = None
        # At a delimiter: '--' closes the form, else (padding and) CRLF.
        self.buf = self.buf[len(self.delimiter):]
        self._need(2)
        if self.buf.startswith(b'--'):
            self.finished = True
            self.buf = b''
            return None
        while True:
            self.buf = self.buf.lstrip(b' \t')
            if self.buf:
                break
            if not self._fill():
                raise FormError('unexpected end of form')
        self._need(2)
        if not self.buf.startswith(b'\r\n'):
            raise FormError('invalid boundary line')
        self.buf = self.buf[2:]
        self.current = Part(self, self._headers())
        return self.current

    def _headers(self):
        self._need(2)
        if not self.buf.startswith(b'\r\n'):
            while True:
                end = self.buf.find(b'\r\n\r\n')
                if end >= 0:
                    break
                if len(self.buf) > MAX_HEADER_BYTES:
                    raise FormError('part headers too long')
                if not self._fill():
                    raise FormError('unexpected end of form')
            block, self.buf = self.buf[:end], self.buf[end + 2:]
        else:
            block = b''
        if len(block) > MAX_HEADER_BYTES:
            raise FormError('part headers too long')
        self.buf = self.buf[2:]
        headers = {}
        last = None
        for line in block.decode('latin-1').split('\r\n'):
            if not line:
                continue
            if line[0] in ' \t' and last is not None:
                headers[last] += ' ' + line.strip()
                continue
            name, sep, value = line.partition(':')
            name = name.strip().lower()
            if not sep or not name:
                raise FormError('invalid part header')
            headers[name] = value.strip()
            last = name
        return headers

    def drain(self, limit):
        """Read what the client still sends (up to `limit` bytes), so a
        browser gets the answer on a connection it has finished writing to."""
        self.buf = b''
        while limit > 0 and not self.eof:
            try:
                data = self._read(min(self.read_size, limit))
            except (OSError, ValueError):
                return
            if not data:
                return
            limit -= len(data)


# -- the fields' rules ----------------------------------------------------------------

def int_field(fields, name, message, default='0'):
    """An integer field ('' or missing -> `default`); FormError(message)."""
    value = (fields.get(name) or default).strip()
    try:
        return int(value, 10)
    except ValueError:
        raise FormError(message)


def check_expires(fields, now=None):
    expires = int_field(fields, 'expires', 'expired not an integer')
    if expires < (time.time() if now is None else now):
        raise FormUnauthorized('form expired')
    return expires


def hmac_body(path, fields):
    """The signed message (bytes) for a form posted to `path` (WSGI str)."""
    text = '%s\n%s\n%s\n%s\n%s' % (path, fields.get('redirect') or '',
                                   fields.get('max_file_size') or '0',
                                   fields.get('max_file_count') or '0',
                                   fields.get('expires') or '0')
    return text.encode('latin-1')


def check_signature(fields, path, keys, allowed_digests):
    """None when one of `keys` (WSGI strs) signs the form for `path`;
    FormUnauthorized('invalid signature') otherwise."""
    try:
        digest, given = parse_signature(fields.get('signature') or '')
    except InvalidTempURL:
        raise FormUnauthorized('invalid signature')
    if digest not in allowed_digests:
        raise FormUnauthorized('invalid signature')
    message = hmac_body(path, fields)
    valid = False
    for key in keys:
        expected = hmac.new(key.encode('latin-1'), message, DIGESTS[digest]).digest()
        valid |= hmac.compare_digest(expected, given)
    if not valid:
        raise FormUnauthorized('invalid signature')


def sign_form(key, path, redirect, max_file_size, max_file_count, expires, digest='sha256'):
    """A form's `signature` field (hex), for tests and tools."""
    fields = {'redirect': redirect, 'max_file_size': str(max_file_size),
              'max_file_count': str(max_file_count), 'expires': str(expires)}
    key = key if isinstance(key, bytes) else key.encode('utf-8')
    path = path if isinstance(path, str) else path.decode('latin-1')
    return hmac.new(key, hmac_body(path, fields), DIGESTS[digest]).hexdigest()


def redirect_location(redirect, status, message):
    """`redirect` with status= and message= added; bytes a header may not
    hold (controls, spaces, non-ASCII) are percent-encoded."""
    location = _CTL.sub(lambda m: '%%%02X' % ord(m.group()), redirect)
    location += '&' if '?' in location else '?'
    return location + 'status=%s&message=%s' % (quote(str(status)), quote(message))
