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
from urllib.parse import quote

from swiftlike.concurrency import Timeout
from swiftlike.constraints import is_decimal
from swiftlike.exceptions import ConnectionTimeout
from swiftlike.http_framing import LAST_CHUNK, chunk_frame, read_header_block

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


class FastResponse(http.client.HTTPResponse):
    """http.client's response with a plain header parser: the stock one goes
    through the email package, the biggest cost of a small proxied request."""

    def begin(self):
        if self.headers is not None:
            return
        while True:
            version, status, reason = self._read_status()
            if status != http.client.CONTINUE:
                break
            while self.fp.readline(65537) not in (b'\r\n', b'\n', b''):
                pass
        self.code = self.status = status
        self.reason = reason.strip()
        if version == 'HTTP/1.1':
            self.version = 11
        elif version.startswith('HTTP/1.'):
            self.version = 10
        else:
            raise http.client.UnknownProtocol(version)
        headers = self.headers = self.msg = header_dict(
            read_header_block(self.fp.readline, lenient=True))
        self.chunked = 'chunked' in headers.get('transfer-encoding', '').lower()
        self.chunk_left = None
        self.will_close = self._check_close()
        self.length = None
        length = headers.get('content-length')
        if length is not None and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            else:
                if self.length < 0:
                    self.length = None
        if status in (http.client.NO_CONTENT, http.client.NOT_MODIFIED) or \
                100 <= status < 200 or self._method == 'HEAD':
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True

    def getheaders(self):
        return list(self.headers.items())


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


class _Connection(http.client.HTTPConnection):
    """http.client's connection, sending a small body in the same send as the
    request head: one system call and one segment, not two."""

    def _send_output(self, message_body=None, encode_chunked=False):
        if isinstance(message_body, bytes) and len(message_body) <= _JOIN_BODY_BYTES:
            self._buffer.extend((b'', message_body))
            message = b'\r\n'.join(self._buffer)
            del self._buffer[:]
            self.send(message)
            return
        super()._send_output(message_body, encode_chunked)


_JOIN_BODY_BYTES = 64 << 10


def _new_connection(node, conn_timeout, timeout):
    ip = node['ip']
    try:
        with Timeout(conn_timeout, ConnectionTimeout('connect to %s:%s timed out'
                                                     % (ip, node['port']))):
            conn = _Connection(ip.strip('[]'), node['port'], timeout=timeout)
            conn.response_class = FastResponse
            conn.connect()
    except OSError as err:
        raise ConnectionTimeout('connect to %s:%s failed: %s' % (ip, node['port'], err))
    return conn


def _send_head(conn, method, path, headers, body=None):
    """Send the request head, and `body` (bytes) with it when given."""
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    conn.putheader('Host', '%s:%s' % (conn.host, conn.port))
    for key, value in headers.items():
        conn.putheader(key, value)
    conn.endheaders(body)


def _read_response(conn, node, timeout, method, pool):
    with Timeout(timeout, ConnectionTimeout('response from %s:%s timed out'
                                            % (node['ip'], node['port']))):
        resp = conn.getresponse()
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
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            _send_head(conn, method, path, headers, body or None)
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
    fp = conn.sock.makefile('rb')
    try:
        with Timeout(timeout, ConnectionTimeout('no answer to Expect: 100-continue')):
            line = fp.readline(65537)
            parts = line.decode('latin-1').split(None, 2)
            if len(parts) < 2 or not is_decimal(parts[1]):
                raise http.client.BadStatusLine(line)
            status = int(parts[1])
            headers = header_dict(read_header_block(fp.readline, lenient=True))
    finally:
        fp.close()
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
            conn.timeout = timeout
            conn.sock.settimeout(timeout)
            _send_head(conn, 'PUT', path, headers)
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
    conn.response_class = http.client.HTTPResponse
    headers = dict(headers or {})
    try:
        _send_head(conn, method, path, {k: str(v) for k, v in headers.items()})
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
