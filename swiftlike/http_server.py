"""EXPERIMENTAL: our own HTTP/1.1 server loop (`http_server = native`).

Green sockets (the process is monkey-patched by concurrency.monkey_patch), one
green thread per connection, requests parsed by httptools (llhttp) and then
checked by the rules of swiftlike.http_framing (Host, Content-Length,
Transfer-Encoding, header names and values), the same WSGI applications as
the eventlet loop. Keep-alive; pipelined requests are read in order (only what
the current request needs is read from the socket); `Expect: 100-continue`
answered on the first read of wsgi.input; chunked request and response
bodies; `client_timeout` on every socket read and write.

Known gaps (why it is not the default yet; the full functional suite with
`native` as the default had 33 failures, 4 left after the fixes so far):
- llhttp refuses methods outside its own list: REPLICATE and REPLICATION (the
  daemons' verbs) are 400s, so replication does not work with it yet;
- llhttp refuses raw bytes >= 0x80 and spaces in the request target, where
  Swift reads them (412 for bad UTF-8, a path with a space);
- a chunk larger than any object is refused only once the body passes the size
  limit (413 late); llhttp takes a chunk extension without a name and refuses
  a valid one with BWS or a quoted-pair (`5 ; a="x \\" y"`);
- an explicit `HTTP/0.9` version is a 400 (llhttp reads it as a line without
  a version), not a 505;
- not yet run through the probe suite or benchmarked beyond the 4 KiB ops.
"""
import collections
import errno
import socket
import sys
import time
from email.utils import formatdate
from http.client import responses
from urllib.parse import unquote

import httptools

from swiftlike import concurrency
from swiftlike.constraints import MAX_FILE_SIZE
from swiftlike.http_framing import (MAX_HEADERS, ClosedEarly, FramingError,
                                    body_framing, parse_header_line)

_RECV = 65536
MAX_HEADER_LINE = 8190
_DRAIN_LIMIT = 16 << 20
_MIN_WRITE = 65536


class _Request:
    __slots__ = ('url', 'headers', 'complete', 'body', 'body_size', 'headers_done',
                 'keep_alive', 'version', 'method')

    def __init__(self):
        self.url = b''
        self.headers = []
        self.complete = False
        self.headers_done = False
        self.body = collections.deque()
        self.body_size = 0


class _Protocol:
    """httptools callbacks: parsed requests in arrival order."""

    def __init__(self):
        self.requests = collections.deque()
        self.error = None
        self.parser = None

    def on_message_begin(self):
        self.requests.append(_Request())

    def on_url(self, url):
        self.requests[-1].url += url

    def on_header(self, name, value):
        req = self.requests[-1]
        if len(name) + len(value) > MAX_HEADER_LINE:
            # What eventlet allows (and Swift answers 400 past).
            self.error = FramingError('Header line too long')
            raise self.error
        if len(req.headers) >= MAX_HEADERS:
            self.error = FramingError('More than %d headers' % MAX_HEADERS, 431)
            raise self.error
        try:
            req.headers.append(parse_header_line(name + b':' + value + b'\r\n'))
        except FramingError as err:
            self.error = err
            raise

    def on_headers_complete(self):
        req = self.requests[-1]
        req.headers_done = True
        # What the parser says now is this request's (it moves on to the next).
        req.method = self.parser.get_method().decode('latin-1')
        req.version = self.parser.get_http_version()

    def on_body(self, body):
        req = self.requests[-1]
        req.body.append(body)
        req.body_size += len(body)
        if req.body_size > MAX_FILE_SIZE:
            self.error = FramingError('Request body too large', 413)
            raise self.error

    def on_message_complete(self):
        self.requests[-1].complete = True


class _Input:
    """wsgi.input over one request's body: never reads past it."""

    def __init__(self, conn, req, continue_line):
        self.conn = conn
        self.req = req
        self.continue_line = continue_line
        self.buffered = b''

    def _more(self):
        """Some more body bytes (b'' at its end)."""
        req = self.req
        while True:
            if req.body:
                return req.body.popleft()
            if req.complete:
                return b''
            if self.continue_line:
                line, self.continue_line = self.continue_line, None
                if not self.conn.response_started:
                    self.conn.sock.sendall(line)
            self.conn.fill()

    def read(self, size=-1):
        parts = [self.buffered] if self.buffered else []
        got = len(self.buffered)
        self.buffered = b''
        while size is None or size < 0 or got < size:
            data = self._more()
            if not data:
                break
            parts.append(data)
            got += len(data)
        data = b''.join(parts)
        if size is not None and 0 <= size < len(data):
            data, self.buffered = data[:size], data[size:]
        return data

    def readline(self, size=-1):
        data = self.buffered
        self.buffered = b''
        while b'\n' not in data and (size is None or size < 0 or len(data) < size):
            more = self._more()
            if not more:
                break
            data += more
        end = data.find(b'\n') + 1 or len(data)
        if size is not None and 0 <= size < end:
            end = size
        data, self.buffered = data[:end], data[end:]
        return data

    def __iter__(self):
        return iter(lambda: self.readline(), b'')


class _Connection:
    def __init__(self, sock, addr, app, timeout):
        self.sock = sock
        self.addr = addr
        self.app = app
        self.timeout = timeout
        self.proto = _Protocol()
        self.parser = self.proto.parser = httptools.HttpRequestParser(self.proto)
        self.response_started = False
        self.idle = True
        sock.settimeout(timeout)
        self.server_addr = sock.getsockname()

    def fill(self):
        data = self.sock.recv(_RECV)
        if not data:
            raise ClosedEarly('client closed the connection')
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            raise FramingError('Upgrade is not supported')
        except (httptools.HttpParserError, httptools.HttpParserCallbackError) as err:
            if self.proto.error is not None:
                raise self.proto.error
            if 'Invalid HTTP version' in str(err):
                raise FramingError('HTTP version not supported', 505)
            raise FramingError('Bad request (%s)' % err)

    def refuse(self, status, reason):
        body = reason.encode('latin-1', 'replace') + b'\n'
        try:
            self.sock.sendall(b'HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n'
                              b'Content-Length: %d\r\nConnection: close\r\n\r\n%s'
                              % (status, responses.get(status, 'Error').encode(), len(body), body))
            self.sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + 2.0
            self.sock.settimeout(2.0)
            while time.monotonic() < deadline and self.sock.recv(_RECV):
                pass
        except OSError:
            pass

    def serve(self):
        try:
            while True:
                self.idle = True
                requests = self.proto.requests
                while not (requests and requests[0].headers_done):
                    self.fill()
                self.idle = False
                if not self.handle(requests[0]):
                    return
                requests.popleft()
        except FramingError as err:
            self.refuse(err.http_status, err.reason)
        except (ClosedEarly, OSError):
            pass
        finally:
            try:
                self.sock.close()
            except OSError:
                pass

    def handle(self, req):
        """Run one request; True to keep the connection."""
        version = req.version
        major, _sep, minor = version.partition('.')
        number = (int(major), int(minor or 0))
        if number == (0, 9):
            # llhttp reads a request line without a version as HTTP/0.9.
            raise FramingError('Bad request line (no HTTP version)')
        if number[0] != 1:
            raise FramingError('HTTP version %s is not supported' % version, 505)
        kind, length = body_framing(req.headers, number)
        method = req.method
        env = self.environ(req, method, number, length if kind == 'length' else None)
        keep = number >= (1, 1)
        for name, value in req.headers:
            if name.lower() == 'connection':
                tokens = [t.strip().lower() for t in value.split(',')]
                if 'close' in tokens:
                    keep = False
                elif 'keep-alive' in tokens:
                    keep = True
        keep = self.respond(env, method, number, keep)
        if keep and not req.complete:
            # The app answered without reading the whole body: read the rest
            # (a client still sending would otherwise get a reset), up to a
            # limit; past it, close.
            body = env['swiftlike.input']
            drained = 0
            while not req.complete or req.body:
                data = body.read(_RECV)
                drained += len(data)
                if not data or drained > _DRAIN_LIMIT:
                    break
            keep = req.complete and not req.body
        return keep

    def environ(self, req, method, number, length):
        url = req.url.decode('latin-1')
        path, _sep, query = url.partition('?')
        env = {
            'REQUEST_METHOD': method, 'SCRIPT_NAME': '', 'RAW_PATH_INFO': path,
            'PATH_INFO': unquote(path, encoding='latin-1'), 'QUERY_STRING': query,
            'SERVER_PROTOCOL': 'HTTP/1.0', 'SERVER_NAME': self.server_addr[0],
            'SERVER_PORT': str(self.server_addr[1]), 'REMOTE_ADDR': self.addr[0],
            'REMOTE_PORT': str(self.addr[1]), 'GATEWAY_INTERFACE': 'CGI/1.1',
            'wsgi.version': (1, 0), 'wsgi.url_scheme': 'http', 'wsgi.errors': sys.stderr,
            'wsgi.multithread': True, 'wsgi.multiprocess': False, 'wsgi.run_once': False,
            'eventlet.posthooks': [],
        }
        if not query:
            del env['QUERY_STRING']
        content_type = None
        # The client's own header list (swiftlike.http.client_content_type
        # tells an absent Content-Type from the default by it).
        env['headers_raw'] = tuple(req.headers)
        for name, value in req.headers:
            key = name.upper().replace('-', '_')
            if '_' in name:
                continue
            if key == 'CONTENT_TYPE':
                content_type = value if content_type is None else content_type
                continue
            if key == 'CONTENT_LENGTH':
                env['CONTENT_LENGTH'] = value
                continue
            key = 'HTTP_' + key
            env[key] = env[key] + ',' + value if key in env else value
        env['CONTENT_TYPE'] = content_type if content_type is not None else 'text/plain'
        expect = env.get('HTTP_EXPECT', '').lower() == '100-continue' and number >= (1, 1)
        env['wsgi.input'] = env['eventlet.input'] = env['swiftlike.input'] = _Input(
            self, req, b'HTTP/1.1 100 Continue\r\n\r\n' if expect and not req.complete else None)
        return env

    def respond(self, env, method, number, keep):
        state = {'status': None, 'headers': None, 'sent': False, 'chunked': False,
                 'bodyless': False}
        self.response_started = False

        def start_response(status, headers, exc_info=None):
            if exc_info and state['sent']:
                raise exc_info[1].with_traceback(exc_info[2])
            state['status'], state['headers'] = status, headers
            return write

        def send_head(body_length):
            status = state['status']
            code = int(status.split(' ', 1)[0])
            bodyless = state['bodyless'] = method == 'HEAD' or code in (204, 304) or code < 200
            names = set()
            lines = ['HTTP/1.1 %s\r\n' % status]
            for name, value in state['headers']:
                names.add(name.lower())
                lines.append('%s: %s\r\n' % (name, value))
            if 'date' not in names:
                lines.append('Date: %s\r\n' % formatdate(usegmt=True))
            if 'content-length' not in names and not bodyless:
                if body_length is not None:
                    lines.append('Content-Length: %d\r\n' % body_length)
                elif number >= (1, 1):
                    state['chunked'] = True
                    lines.append('Transfer-Encoding: chunked\r\n')
                else:
                    state['keep'] = False
            body_input = env['swiftlike.input']
            if body_input.continue_line is not None and not body_input.req.complete:
                # Answered before 100 Continue: the client may or may not send
                # the body; only a new connection is certain.
                state['keep'] = False
            if not state.get('keep', True) or not keep:
                state['keep'] = False
                lines.append('Connection: close\r\n')
            lines.append('\r\n')
            state['sent'] = True
            self.response_started = True
            return ''.join(lines).encode('latin-1')

        def write(data):
            out = b'' if state['sent'] else send_head(None)
            if state['bodyless']:
                pass
            elif state['chunked']:
                if data:
                    out += b'%x\r\n%s\r\n' % (len(data), data)
            else:
                out += data
            if out:
                self.sock.sendall(out)

        result = None
        try:
            result = self.app(env, start_response)
            if not state['sent'] and isinstance(result, list):
                head = send_head(sum(map(len, result)))
                self.sock.sendall(head if state['bodyless'] else head + b''.join(result))
            else:
                minimum = int(env.get('eventlet.minimum_write_chunk_size', _MIN_WRITE))
                pending, size = [], 0
                for data in result:
                    if not data:
                        continue
                    pending.append(data)
                    size += len(data)
                    if size >= minimum:
                        write(b''.join(pending))
                        pending, size = [], 0
                if pending or not state['sent']:
                    write(b''.join(pending))
                if state['chunked']:
                    self.sock.sendall(b'0\r\n\r\n')
        except FramingError:
            raise
        except (OSError, concurrency.Timeout):
            return False
        except Exception:
            if state['sent']:
                return False
            body = b'Internal server error\n'
            self.sock.sendall(b'HTTP/1.1 500 Internal Server Error\r\nContent-Length: %d\r\n'
                              b'Connection: close\r\n\r\n%s' % (len(body), body))
            return False
        finally:
            if hasattr(result, 'close'):
                result.close()
            for hook, args, kwargs in env['eventlet.posthooks']:
                hook(env, *args, **kwargs)
        return state.get('keep', True) and keep


def native_server(sock, app, pool, client_timeout):
    """Accept connections on `sock` and serve `app` on each in `pool` until
    killed; then close idle keep-alive connections and wait for the rest."""
    connections = set()

    def serve(conn):
        connections.add(conn)
        try:
            conn.serve()
        finally:
            connections.discard(conn)

    try:
        while True:
            try:
                client, addr = sock.accept()
            except OSError as err:
                if err.errno in (errno.EMFILE, errno.ENFILE, errno.ECONNABORTED, errno.EINTR):
                    concurrency.sleep(0.05)
                    continue
                raise
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pool.spawn_n(serve, _Connection(client, addr, app, client_timeout))
    finally:
        for conn in list(connections):
            if conn.idle:
                try:
                    conn.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        pool.waitall()

