"""A streamed object body that resumes from where it broke off when the connection fails mid-transfer."""
import http.client

from swiftlike.client.exceptions import ClientException
from swiftlike.client.transport import NETWORK_ERRORS
from swiftlike.constraints import is_decimal

READ_ALL_CHUNK = 1 << 20


class ObjectBody:
    """Iterate (in `chunk_size` pieces) or read() a GET response body.

    If the connection breaks mid-body, the rest is fetched with `Range: bytes=<received>-` and
    `If-Match: <etag>`, so the bytes handed out are always one consistent version of the object (a 412 means
    it was replaced meanwhile). Requests that asked for a range themselves are not resumed.
    """

    def __init__(self, conn, resp, container, obj, query, request_headers, chunk_size=None):
        self._conn = conn
        self._resp = resp
        self._container = container
        self._obj = obj
        self._query = query
        self._request_headers = {k: v for k, v in request_headers.items()
                                 if k.lower() not in ('x-auth-token', 'user-agent')}
        self.chunk_size = chunk_size or 65536
        self.headers = resp.headers
        self.etag = resp.headers.get('etag')
        cl = resp.headers.get('content-length')
        self.length = int(cl) if cl is not None and is_decimal(cl) else None
        self.received = 0
        self.resumes = 0
        self._resumable = resp.status == 200 and not any(k.lower() == 'range' for k in request_headers)
        self._skip = 0

    def read(self, amt=None):
        if amt is None or amt < 0:
            pieces = []
            while True:
                data = self.read(READ_ALL_CHUNK)
                if not data:
                    return b''.join(pieces)
                pieces.append(data)
        while True:
            if self._resp is None:
                return b''
            try:
                data = self._resp.read(amt)
                if self._skip and data:
                    cut = min(self._skip, len(data))
                    self._skip -= cut
                    data = data[cut:]
                    if not data:
                        continue
                if not data and self.length is not None and self.received < self.length:
                    raise http.client.IncompleteRead(b'', self.length - self.received)
            except NETWORK_ERRORS as err:
                self._resume(err)
                continue
            self.received += len(data)
            if not data:
                self.close()
            return data

    def _resume(self, err):
        self._resp.close(reuse=False)
        self._resp = None
        if self.length is not None and self.received >= self.length:
            return
        if not self._resumable or self.resumes >= max(1, self._conn.retries):
            raise ClientException('Object GET failed mid-body after %d bytes: %s' % (
                self.received, str(err) or err.__class__.__name__), http_path='/%s/%s' % (
                self._container, self._obj), method='GET') from None
        self.resumes += 1
        self._conn._count_resend()
        headers = dict(self._request_headers)
        headers['Range'] = 'bytes=%d-' % self.received
        if self.etag:
            headers['If-Match'] = self.etag
        resp, _ = self._conn.request('Object', 'GET', self._container, self._obj, self._query, headers,
                                     read=False)
        if resp.status == 200:
            self._skip = self.received        # the server ignored the range: drop what we already have
        self._resp = resp

    def __iter__(self):
        while True:
            data = self.read(self.chunk_size)
            if not data:
                return
            yield data

    def close(self):
        resp, self._resp = self._resp, None
        if resp is not None:
            resp.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
