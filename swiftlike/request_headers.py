"""RequestHeaders: the headers object the server hands eventlet.wsgi and
http.server (get, get_content_type, the ordered (name, value) list), without
the email package. Header blocks themselves are read by
http_framing.read_header_block (strictly for requests, leniently for our own
servers' responses).
"""


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
