"""Header blocks read without the email package.

RequestHeaders is the headers object the server hands eventlet.wsgi and
http.server (get, get_content_type, the ordered (name, value) list); requests
themselves are read strictly by swiftlike.http_framing. read_header_pairs is
the lenient reader of the responses our backend client gets from our own
servers (it folds continuation lines and stops at a non-header line, as the
email parser does).
"""
import http.client
import re

MAX_LINE = 65536      # what http.client allows per line
MAX_HEADERS = 256     # and per request (a client's 90 metadata items plus the
                      # proxy's own headers must reach the storage servers)
_NAME = re.compile(r'[!-9;-~]+')  # printable ASCII but ':'


class RequestHeaders:
    """Ordered (name, value) pairs; get() is case-insensitive and returns the
    first value, as email.message.Message does."""

    __slots__ = ('_headers', '_first')

    def __init__(self, pairs):
        self._headers = pairs
        first = {}
        for name, value in pairs:
            first.setdefault(name.lower(), value)
        self._first = first

    def get(self, name, default=None):
        return self._first.get(name.lower(), default)

    def __getitem__(self, name):
        return self._first.get(name.lower())

    def __contains__(self, name):
        return name.lower() in self._first

    def __len__(self):
        return len(self._headers)

    def __iter__(self):
        return iter([name for name, _value in self._headers])

    def keys(self):
        return [name for name, _value in self._headers]

    def values(self):
        return [value for _name, value in self._headers]

    def items(self):
        return list(self._headers)

    def get_all(self, name, failobj=None):
        name = name.lower()
        found = [value for key, value in self._headers if key.lower() == name]
        return found or failobj

    def get_content_type(self):
        value = self.get('content-type', '').split(';', 1)[0].strip().lower()
        return value if value.count('/') == 1 else 'text/plain'


def read_header_pairs(fp):
    """Read header lines up to the blank line: [(name, value), ...], the
    reader of the responses our backend client gets (requests are read by
    http_framing.read_header_block).

    Raises http.client.LineTooLong / HTTPException like http.client.parse_headers.
    A continuation line (leading space or tab) extends the previous value; a
    line that is not a header ends the header block, as the email parser does
    (what follows it is ignored).
    """
    pairs = []
    ended = False
    count = 0
    while True:
        line = fp.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise http.client.LineTooLong('header line')
        if line in (b'\r\n', b'\n', b''):
            break
        count += 1
        if count > MAX_HEADERS:
            raise http.client.HTTPException('got more than %d headers' % MAX_HEADERS)
        if ended:
            continue
        text = line.decode('iso-8859-1').rstrip('\r\n')
        if text[:1] in (' ', '\t'):
            if pairs:
                name, value = pairs[-1]
                pairs[-1] = (name, value + ' ' + text.strip(' \t'))
                continue
            ended = True
            continue
        name, sep, value = text.partition(':')
        if not sep or not _NAME.fullmatch(name):
            ended = True
            continue
        pairs.append((name, value.strip(' \t')))
    return pairs


def read_headers(fp):
    """RequestHeaders of the header block at fp (see read_header_pairs)."""
    return RequestHeaders(read_header_pairs(fp))
