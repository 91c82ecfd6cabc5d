"""The one HTTP client for node-to-node requests (proxy to storage, object
server to container server, daemons to their peers): keep-alive pooled
connections, bounded connect/response timeouts, Expect: 100-continue for
streamed PUTs, and `fetch` for a whole small request and its body.

A pooled connection may have been closed by the server while idle; requests
that fail that way before any response arrived are retried once on a fresh
connection (every backend write carries an X-Timestamp, so a repeat is
harmless).
"""
import http.client
import re
import socket
from urllib.parse import quote

from swiftlike.concurrency import Timeout
from swiftlike.constraints import is_decimal
from swiftlike.exceptions import ConnectionTimeout
from swiftlike.http_framing import (LAST_CHUNK, MAX_LINE, ChunkedReader, ClosedEarly,
                                    FramingError, chunk_frame, read_header_block)
from swiftlike.socket_reader import SocketReader

MAX_IDLE_PER_NODE = 16


class _Headers(dict):
    """Response headers keyed by lower-case name (what http.client needs of them)."""

    def get(self, name, default=None):
        return dict.get(self, name.lower(), default)

    def get_all(self, name, default=None):
        value = dict.get(self, name.lower())
        return default if value is None else [value]


def header_dict(pairs):
    """_Headers (lower-case names) of header pairs; repeated names are joined
    with ', '."""
    headers = _Headers()
    for key, value in pairs:
        key = key.lower()
        if key in headers:
            value = headers[key] + ', ' + value
        headers[key] = value
    return headers


def _status_line(line):
    """(version, status, reason) of a response's status line; errors as
    http.client's (an empty line: the server closed the connection)."""
    if not line:
        raise http.client.RemoteDisconnected('Remote end closed connection without response')
    if len(line) > MAX_LINE:
        raise http.client.LineTooLong('status line')
    parts = line.decode('latin-1').split(None, 2)
    if len(parts) < 2:
        raise http.client.BadStatusLine(line)
    version, status = parts[0], parts[1]
    reason = parts[2] if len(parts) > 2 else ''
    if not version.startswith('HTTP/') or len(status) != 3 or not is_decimal(status) \
            or status < '100':
        raise http.client.BadStatusLine(line)
    return version, int(status), reason.strip()


def _read_headers(reader):
    """A response's header block as _Headers: in one pass when the buffer
    holds all of it and every line is valid (the usual case), else read
    line by line, leniently."""
    pairs = reader.whole_block(MAX_LINE)
    if pairs is None:
        pairs = read_header_block(reader.readline, lenient=True)
    return header_dict(pairs)


class Response:
    """One response read from a connection's SocketReader: status, reason,
    lower-cased headers, and its body by Content-Length, chunked, or until
    the connection closes (RFC 9112 §6.3). Errors are http.client's (and
    OSError); `length` is the body bytes left when it has one."""

    def __init__(self, reader, method):
        self._reader = reader
        while True:
            version, status, reason = _status_line(reader.readline(MAX_LINE + 1))
            if status != 100:
                break
            read_header_block(reader.readline, lenient=True)   # a 100's headers, if any
        self.status = status
        self.reason = reason
        if version == 'HTTP/1.1':
            self.version = 11
        elif version.startswith('HTTP/1.'):
            self.version = 10
        else:
            raise http.client.UnknownProtocol(version)
        headers = self.headers = _read_headers(reader)
        self.chunked = 'chunked' in headers.get('transfer-encoding', '').lower()
        self._chunks = ChunkedReader(reader, max_size=_NO_LIMIT) if self.chunked else None
        self.will_close = self._closes(headers)
        self.length = None
        length = headers.get('content-length')
        if length is not None and not self.chunked and is_decimal(length):
            self.length = int(length)
        if status in (204, 304) or status < 200 or method == 'HEAD':
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True
        self._done = self.length == 0

    def _closes(self, headers):
        tokens = headers.get('connection', '').lower()
        if 'close' in tokens:
            return True
        return self.version == 10 and 'keep-alive' not in tokens

    def getheader(self, name, default=None):
        return self.headers.get(name, default)

    def getheaders(self):
        return list(self.headers.items())

    def isclosed(self):
        """True once the whole body has been read."""
        return self._done

    def read(self, size=None):
        """Up to `size` body bytes (all that is left without one); b'' at
        the end. A body cut short raises http.client.IncompleteRead."""
        if self._done:
            return b''
        if self.chunked:
            try:
                data = self._chunks.read(-1 if size is None else size)
            except FramingError as err:
                raise http.client.HTTPException('bad chunked body: %s' % err.reason) from None
            except ClosedEarly:
                raise http.client.IncompleteRead(b'') from None
            self._done = self._chunks.done
            return data
        if self.length is None:   # until the connection closes
            if size is None:
                parts = []
                while True:
                    data = self._reader.read_some(1 << 20)
                    if not data:
                        break
                    parts.append(data)
                self._done = True
                return b''.join(parts)
            data = self._reader.read_some(size)
            self._done = not data
            return data
        want = self.length if size is None else min(size, self.length)
        data = self._reader.read(want)
        self.length -= len(data)
        if len(data) < want:
            self._done = True
            raise http.client.IncompleteRead(data, self.length)
        self._done = self.length == 0
        return data


_NO_LIMIT = 1 << 62
# A request target we send: visible ASCII only (http.client's rule too: no
# space, no control character, so nothing can end the request line early).
_BAD_TARGET = re.compile(r'[^!-~]')


class Connection:
    """One keep-alive connection to a node: a request head (and a small
    body) goes in one send; responses are read from one SocketReader for the
    connection's life."""

    def __init__(self, host, port, timeout=10.0):
        self.host = host
        self.port = port
        self.timeout = timeout
        self.sock = None
        self.reader = None
        self._method = None

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self.reader = SocketReader(sock)

    def settimeout(self, timeout):
        self.timeout = timeout
        if self.sock is not None:
            self.sock.settimeout(timeout)

    def send(self, data):
        if self.sock is None:
            raise http.client.NotConnected()
        self.sock.sendall(data)

    def send_head(self, method, path, headers, body=None):
        """The request line, Host and `headers`, with `body` (bytes) in the
        same send when it is small. A value with a CR or LF in it, or a
        target with a space or control character, is a ValueError (it would
        end the line early) and nothing is sent."""
        if _BAD_TARGET.search(path):
            raise http.client.InvalidURL('bad request target %r' % path[:128])
        lines = ['%s %s HTTP/1.1\r\n' % (method, path), 'Host: %s:%s\r\n' % (self.host, self.port)]
        lines.extend(['%s: %s\r\n' % item for item in headers.items()])
        lines.append('\r\n')
        head = ''.join(lines)
        if head.count('\n') != len(lines) or head.count('\r') != len(lines):
            raise ValueError('a header name or value holds a line break')
        head = head.encode('latin-1')
        self._method = method
        if body and len(body) <= _JOIN_BODY_BYTES:
            self.send(head + body)
        else:
            self.send(head)
            if body:
                self.send(body)

    def getresponse(self, method=None):
        return Response(self.reader, method or self._method)

    def close(self):
        sock, self.sock = self.sock, None
        self.reader = None
        if sock is not None:
            sock.close()


class BackendResponse:
    """Status, lower-cased headers and a body reader of one backend answer."""

    method = None

    def __init__(self, node, status, headers, resp=None, conn=None, pool=None):
        self.node = node
        self.status = status
        self.headers = headers
        self._resp = resp
        self._conn = conn
        self._pool = pool

    def read(self, size=None):
        if self._resp is None:
            return b''
        data = self._resp.read(size) if size else self._resp.read()
        if not data or self._resp.isclosed():
            self.release()
        return data

    def discard(self, limit=65536):
        """Done with this answer: read a small rest so the connection can be
        reused, else close it."""
        if self._resp is None:
            return
        length = self._resp.length
        if length is not None and length <= limit:
            try:
                self.read()
            except (OSError, ValueError, http.client.HTTPException):
                pass
            self.release()
        else:
            self.close()

    def release(self):
        """Give the connection back to the pool if fully read, else close it."""
        resp, conn = self._resp, self._conn
        self._resp = self._conn = None
        if conn is None:
            return
        if resp is not None and resp.isclosed() and not resp.will_close and self._pool:
            self._pool.put(self.node, conn)
        else:
            conn.close()

    def close(self):
        conn = self._conn
        self._resp = self._conn = None
        if conn is not None:
            conn.close()


class ConnectionPool:
    """Idle keep-alive connections per (ip, port), most recently used first."""

    def __init__(self, max_idle=MAX_IDLE_PER_NODE):
        self.max_idle = max_idle
        self._idle = {}

    def get(self, node):
        idle = self._idle.get((node['ip'], node['port']))
        if idle:
            return idle.pop()
        return None

    def put(self, node, conn):
        idle = self._idle.setdefault((node['ip'], node['port']), [])
        if len(idle) < self.max_idle:
            idle.append(conn)
        else:
            conn.close()


# A body up to this size goes in the same send as the request head: one
# system call and one segment, not two.
_JOIN_BODY_BYTES = 64 << 10


def _new_connection(node, conn_timeout, timeout):
    ip = node['ip']
    try:
        with Timeout(conn_timeout, ConnectionTimeout('connect to %s:%s timed out'
                                                     % (ip, node['port']))):
            conn = Connection(ip.strip('[]'), node['port'], timeout=timeout)
            conn.connect()
    except OSError as err:
        raise ConnectionTimeout('connect to %s:%s failed: %s' % (ip, node['port'], err))
    return conn


def _read_response(conn, node, timeout, method, pool):
    with Timeout(timeout, ConnectionTimeout('response from %s:%s timed out'
                                            % (node['ip'], node['port']))):
        resp = conn.getresponse(method)
    return BackendResponse(node, resp.status, resp.headers, resp, conn, pool)


def request(pool, node, method, path, headers, body=b'', query=None,
            conn_timeout=0.5, timeout=10.0):
    """Send a whole request (small body); the response body is left unread.

    Raises ConnectionTimeout on any connection problem.
    """
    if query:
        path = path + '?' + query
    headers = dict(headers)
    if body or method in ('PUT', 'POST'):
        headers['Content-Length'] = str(len(body))
    for attempt in (0, 1):
        conn = pool.get(node) if attempt == 0 else None
        reused = conn is not None
        if conn is None:
            conn = _new_connection(node, conn_timeout, timeout)
        try:
            conn.settimeout(timeout)
            conn.send_head(method, path, headers, body or None)
            resp = _read_response(conn, node, timeout, method, pool)
            resp.method = method
            return resp
        except (OSError, http.client.HTTPException, ConnectionTimeout) as err:
            conn.close()
            if reused and not isinstance(err, (ConnectionTimeout, TimeoutError)):
                continue
            raise ConnectionTimeout('%s to %s:%s failed: %s'
                                    % (method, node['ip'], node['port'], err))
    raise ConnectionTimeout('%s to %s:%s failed' % (method, node['ip'], node['port']))


class Putter:
    """One streaming PUT to an object server, opened with Expect: 100-continue;
    its body goes chunked."""

    def __init__(self, node, conn):
        self.node = node
        self.conn = conn
        self.failed = False

    def send(self, data, framed=None):
        """Send body bytes; `framed` is `data` already framed as a chunk
        (chunk_frame), for a body sent to several putters alike."""
        if self.failed:
            return
        try:
            self.conn.send(framed if framed is not None else chunk_frame(data))
        except OSError:
            self.failed = True

    def finish(self, last=LAST_CHUNK):
        """End the body: `last` is the last chunk and the trailer."""
        if not self.failed:
            try:
                self.conn.send(last)
            except OSError:
                self.failed = True

    def response(self, pool, timeout):
        if self.failed:
            self.conn.close()
            raise ConnectionTimeout('sending to %s:%s failed' % (self.node['ip'], self.node['port']))
        try:
            resp = _read_response(self.conn, self.node, timeout, 'PUT', pool)
            resp.read()
            return resp
        except (OSError, http.client.HTTPException) as err:
            self.conn.close()
            raise ConnectionTimeout('PUT to %s:%s failed: %s' % (self.node['ip'], self.node['port'], err))

    def close(self):
        self.conn.close()


def _read_interim(conn, timeout):
    """Read the first response head after sending headers with Expect.

    Returns (status, headers); a 100 means 'send the body'.
    """
    reader = conn.reader
    with Timeout(timeout, ConnectionTimeout('no answer to Expect: 100-continue')):
        _version, status, _reason = _status_line(reader.readline(MAX_LINE + 1))
        headers = _read_headers(reader)
    return status, headers


def open_put(pool, node, path, headers, conn_timeout=0.5, timeout=10.0):
    """Open a PUT whose body goes chunked, and wait for 100 Continue.

    Returns a Putter, or a BackendResponse when the server answered at once
    (507, 409 ...). Raises ConnectionTimeout on connection problems.
    """
    headers = dict(headers)
    headers['Expect'] = '100-continue'
    headers['Transfer-Encoding'] = 'chunked'
    headers.pop('Content-Length', None)
    for attempt in (0, 1):
        conn = pool.get(node) if attempt == 0 else None
        reused = conn is not None
        if conn is None:
            conn = _new_connection(node, conn_timeout, timeout)
        try:
            conn.settimeout(timeout)
            conn.send_head('PUT', path, headers)
            status, resp_headers = _read_interim(conn, timeout)
        except (OSError, http.client.HTTPException, ConnectionTimeout) as err:
            conn.close()
            if reused and not isinstance(err, (ConnectionTimeout, TimeoutError)):
                continue
            raise ConnectionTimeout('PUT to %s:%s failed: %s' % (node['ip'], node['port'], err))
        if status == 100:
            return Putter(node, conn)
        conn.close()
        return BackendResponse(node, status, resp_headers)
    raise ConnectionTimeout('PUT to %s:%s failed' % (node['ip'], node['port']))


def storage_path(device, partition, account, container=None, obj=None):
    parts = [device, str(partition), account]
    if container is not None:
        parts.append(container)
        if obj is not None:
            parts.append(obj)
    return quote('/' + '/'.join(parts), safe='/')


def http_connect(ip, port, method, path, headers=None, query_string=None,
                 conn_timeout=0.5, timeout=10.0):
    """Open a fresh connection and send the request line and headers (the
    caller streams the body and reads the response)."""
    node = {'ip': ip.strip('[]'), 'port': port}
    if query_string:
        path += '?' + query_string
    conn = _new_connection(node, conn_timeout, timeout)
    headers = dict(headers or {})
    try:
        conn.send_head(method, path, {k: str(v) for k, v in headers.items()})
    except OSError as err:
        conn.close()
        raise ConnectionTimeout('%s to %s:%s failed: %s' % (method, ip, port, err))
    return conn


def fetch(node, method, path, headers=None, body=None, query_string=None,
          conn_timeout=0.5, timeout=10.0, pool=None):
    """A whole request to node {'ip', 'port'} with a small body; returns
    (status, {lower-case header: value}, body bytes). Connection problems
    raise ConnectionTimeout (a 503-class error)."""
    if isinstance(body, str):
        body = body.encode('utf-8')
    headers = {k: str(v) for k, v in (headers or {}).items()}
    if body is not None:
        headers['Content-Length'] = str(len(body))
    resp = request(pool or _NO_POOL, node, method, path, headers, body or b'', query_string,
                   conn_timeout, timeout)
    try:
        with Timeout(timeout, ConnectionTimeout('response from %s:%s timed out'
                                                % (node['ip'], node['port']))):
            data = resp.read()
    except (OSError, ValueError, http.client.HTTPException) as err:
        resp.close()
        raise ConnectionTimeout('%s %s to %s:%s failed: %s' % (method, path, node['ip'],
                                                               node['port'], err))
    resp.release()
    return resp.status, {k.lower(): v for k, v in resp.headers.items()}, data


class _NoPool(ConnectionPool):
    """For one-off requests: nothing is kept."""

    def get(self, node):
        return None

    def put(self, node, conn):
        conn.close()


_NO_POOL = _NoPool()
