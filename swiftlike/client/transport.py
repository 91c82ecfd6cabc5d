"""HTTP plumbing for the client: keep-alive connections per thread, streamed request bodies.

Each thread keeps its own idle connections per (scheme, host, port), so a Connection object can be shared by
many threads without them ever writing to the same socket. A response that is still being streamed holds its
socket; the socket goes back to the idle list of the thread that finishes reading it.
"""
import hashlib
import http.client
import io
import os
import ssl
import stat
import threading
from urllib.parse import urlsplit

from swiftlike.client.urls import check_url

DEFAULT_CHUNK = 65536
MAX_IDLE_PER_HOST = 4

# Errors that mean "the connection broke", never "the server said no".
NETWORK_ERRORS = (OSError, http.client.HTTPException)


class BodySource:
    """A request body that can say its length, stream in chunks, hash itself and (maybe) rewind."""

    def __init__(self, contents, content_length=None, chunk_size=DEFAULT_CHUNK):
        if isinstance(contents, str):
            contents = contents.encode('utf-8')
        if isinstance(contents, (bytearray, memoryview)):
            contents = bytes(contents)
        self.contents = b'' if contents is None else contents
        self.chunk_size = chunk_size or DEFAULT_CHUNK
        self.started = False
        self.md5 = hashlib.md5()
        self.sent = 0
        self._start_pos = None
        if isinstance(self.contents, bytes):
            self.length = len(self.contents) if content_length is None else int(content_length)
        elif hasattr(self.contents, 'read'):
            self.length = content_length if content_length is not None else _remaining_file_size(self.contents)
            try:
                self._start_pos = self.contents.tell()
            except (OSError, AttributeError, io.UnsupportedOperation):
                self._start_pos = None
        else:
            self.length = content_length   # an iterable: chunked unless the caller knows the size
            self.contents = iter(self.contents)

    @property
    def chunked(self):
        return self.length is None

    @property
    def replayable(self):
        return isinstance(self.contents, bytes) or self._start_pos is not None

    def rewind(self):
        """Make the body sendable again; False when that is impossible (an iterator already read)."""
        if not self.started:
            return True
        if isinstance(self.contents, bytes):
            pass
        elif self._start_pos is not None:
            try:
                self.contents.seek(self._start_pos)
            except (OSError, AttributeError, io.UnsupportedOperation):
                return False
        else:
            return False
        self.started = False
        self.md5 = hashlib.md5()
        self.sent = 0
        return True

    def chunks(self):
        self.started = True
        if isinstance(self.contents, bytes):
            data = self.contents if self.length is None else self.contents[:self.length]
            for pos in range(0, len(data), 1 << 20):
                yield self._count(data[pos:pos + (1 << 20)])
            return
        if hasattr(self.contents, 'read'):
            left = self.length
            while left is None or left > 0:
                size = self.chunk_size if left is None else min(self.chunk_size, left)
                data = self.contents.read(size)
                if not data:
                    break
                if isinstance(data, str):
                    data = data.encode('utf-8')
                if left is not None:
                    left -= len(data)
                yield self._count(data)
            if left:
                raise ValueError('body ended %d bytes short of content_length' % left)
            return
        for data in self.contents:
            if isinstance(data, str):
                data = data.encode('utf-8')
            if data:
                yield self._count(data)

    def _count(self, data):
        self.md5.update(data)
        self.sent += len(data)
        return data


def _remaining_file_size(fileobj):
    """Bytes left in a regular file, so it is sent with Content-Length; None for pipes and sockets."""
    try:
        st = os.fstat(fileobj.fileno())
        if stat.S_ISREG(st.st_mode):
            return max(0, st.st_size - fileobj.tell())
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        pass
    if isinstance(fileobj, io.BytesIO):
        return len(fileobj.getbuffer()) - fileobj.tell()
    return None


class Response:
    """An HTTP response whose headers are a lower-cased dict; releases its socket when fully read."""

    def __init__(self, transport, key, conn, raw, method):
        self._transport = transport
        self._key = key
        self._conn = conn
        self._raw = raw
        self.method = method
        self.status = raw.status
        self.reason = raw.reason
        self.headers = {}
        for name, value in raw.getheaders():
            self.headers[name.lower()] = value

    def read(self, amt=None):
        if self._raw is None:
            return b''
        try:
            data = self._raw.read() if amt is None else self._raw.read(amt)
        except BaseException:
            self.close(reuse=False)
            raise
        if amt is None or not data or self._raw.isclosed():
            self._finish()
        return data

    def _finish(self):
        raw, self._raw = self._raw, None
        if raw is None:
            return
        reusable = raw.isclosed() and not raw.will_close
        raw.close()
        if reusable:
            self._transport.release(self._key, self._conn)
        else:
            self._conn.close()

    def close(self, reuse=True):
        """Drop the response; an unread body makes the socket unusable, so it is closed."""
        raw, self._raw = self._raw, None
        if raw is None:
            return
        if reuse and raw.isclosed() and not raw.will_close:
            raw.close()
            self._transport.release(self._key, self._conn)
        else:
            raw.close()
            self._conn.close()


class Transport:
    def __init__(self, timeout=None, insecure=False, cacert=None):
        self.timeout = timeout
        self._local = threading.local()
        self._all = set()
        self._all_lock = threading.Lock()
        self._ssl_context = None
        if insecure:
            self._ssl_context = ssl._create_unverified_context()
        elif cacert:
            self._ssl_context = ssl.create_default_context(cafile=cacert)

    def _idle(self):
        idle = getattr(self._local, 'idle', None)
        if idle is None:
            idle = self._local.idle = {}
        return idle

    def acquire(self, key, fresh=False):
        """An idle kept-alive connection of this thread, or a new one (always new if `fresh`)."""
        pool = None if fresh else self._idle().get(key)
        while pool:
            conn = pool.pop()
            if conn.sock is not None:
                return conn, True
        scheme, host, port = key
        if scheme == 'https':
            conn = http.client.HTTPSConnection(host, port, timeout=self.timeout, context=self._ssl_context)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
        with self._all_lock:
            self._all.add(conn)
        return conn, False

    def release(self, key, conn):
        pool = self._idle().setdefault(key, [])
        if len(pool) < MAX_IDLE_PER_HOST and conn.sock is not None:
            pool.append(conn)
        else:
            conn.close()

    def close(self):
        """Close every connection this transport opened, in every thread."""
        with self._all_lock:
            conns, self._all = self._all, set()
        for conn in conns:
            conn.close()

    def request(self, method, url, headers, body=None):
        """Send one request and return its Response (body not read yet).

        `body` is None or a BodySource. A network error is raised with `.reused` set when it happened on a
        kept-alive socket (likely closed by the server while idle: the caller may retry at once).
        """
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = 0
        if parts.scheme not in ('http', 'https') or not parts.hostname or port == 0:
            check_url(url)          # raises InvalidURL saying what is wrong with it
        key = (parts.scheme, parts.hostname, port or (443 if parts.scheme == 'https' else 80))
        path = parts.path or '/'
        if parts.query:
            path += '?' + parts.query
        # A body that cannot be sent twice never goes on an idle socket the server may have closed meanwhile.
        conn, reused = self.acquire(key, fresh=body is not None and not body.replayable)
        try:
            raw = self._send(conn, method, path, headers, body)
        except NETWORK_ERRORS as err:
            conn.close()
            err.reused = reused
            raise
        except BaseException:
            conn.close()        # e.g. the body's file shrank, or Ctrl-C: the socket is mid-request
            raise
        return Response(self, key, conn, raw, method)

    @staticmethod
    def _send(conn, method, path, headers, body):
        conn.putrequest(method, path, skip_host=False, skip_accept_encoding=True)
        names = {k.lower() for k in headers}
        for name, value in headers.items():
            conn.putheader(name, value)
        if body is not None:
            if body.chunked:
                if 'transfer-encoding' not in names:
                    conn.putheader('Transfer-Encoding', 'chunked')
            elif 'content-length' not in names:
                conn.putheader('Content-Length', str(body.length))
        elif method in ('PUT', 'POST') and 'content-length' not in names:
            conn.putheader('Content-Length', '0')
        conn.endheaders()
        if body is not None:
            try:
                for data in body.chunks():
                    if body.chunked:
                        conn.send(b'%x\r\n' % len(data) + data + b'\r\n')
                    else:
                        conn.send(data)
                if body.chunked:
                    conn.send(b'0\r\n\r\n')
            except (BrokenPipeError, ConnectionResetError):
                # The server may have answered early (e.g. 401, 413) and closed: prefer its answer.
                try:
                    return conn.getresponse()
                except NETWORK_ERRORS:
                    pass
                raise
        return conn.getresponse()
