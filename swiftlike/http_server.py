"""Our own HTTP/1.1 server loop (`http_server = native`).

Green sockets (the process is monkey-patched by concurrency.monkey_patch), one
green thread per connection, and the same WSGI applications as eventlet's
loop. Requests are read by the strict rules of swiftlike.http_framing, the
same functions eventlet's loop calls (so both loops refuse exactly the same
requests): the request line, the header block, the body's framing and a
chunked body. What this loop saves is eventlet's machinery around them: the
buffered socket files, the BaseHTTPRequestHandler layers, the environ built
twice, and a response head and small body written in several sends.

Keep-alive; pipelined requests are read in order (only what the current
request needs is taken from the buffer); `Expect: 100-continue` answered on
the first read of wsgi.input; chunked request and response bodies;
`client_timeout` on every socket read and write; a body the application did
not read is drained (up to 16 MiB) before the next request, else the
connection closes.

Why not httptools (llhttp): it was measured (doc/benchmarks.md) and parses a
head in 5-9 us against 10-20 us here, but parsing is ~1% of a storage
request, and llhttp's rules are not Swift's API: it refuses the REPLICATE
method, raw UTF-8 and spaces in a path, and some valid chunk extensions, and
reads an oversized chunk only as its bytes arrive.
"""
import errno
import socket
import sys
import time
from urllib.parse import unquote

from swiftlike import concurrency
from swiftlike.http_framing import (LAST_CHUNK, ChunkedReader, ClosedEarly, FramingError,
                                    body_framing, chunk_frame, parse_request_line,
                                    read_header_block, refusal)
from swiftlike.socket_reader import RECV_SIZE as _RECV, SocketReader
from swiftlike.timestamp import http_date_now

MAX_REQUEST_LINE = 8192     # as eventlet's loop: longer is a 414
MAX_HEADER_LINE = 8192      # as eventlet's loop: a longer header line is a 400
MAX_HEAD = 65536            # all header lines together
_DRAIN_LIMIT = 16 << 20
_MIN_WRITE = 65536
_CONTINUE = b'HTTP/1.1 100 Continue\r\n\r\n'


class _Reader(SocketReader):
    """A request's reader: SocketReader with the server's header limits."""
    __slots__ = ('head_left',)

    def __init__(self, sock):
        super().__init__(sock)
        self.head_left = None   # bytes a header block may still take

    def header_block(self):
        """The request's headers as (name, value) pairs. When the whole
        block is in the buffer already (the usual case) it is checked in one
        pass; else, or when that check fails, it is read line by line, which
        names the fault."""
        # Shorter than one line's limit: no line can be over it.
        pairs = self.whole_block(MAX_HEADER_LINE - 1)
        if pairs is not None:
            return pairs
        self.head_left = MAX_HEAD
        return read_header_block(self.header_line)

    def header_line(self, limit=-1):
        """readline for a header block: eventlet's limits on a line and on
        the whole block, as its loop applies them."""
        line = self.readline(MAX_HEADER_LINE)
        if len(line) >= MAX_HEADER_LINE:
            raise FramingError('Header line too long')
        self.head_left -= len(line)
        if self.head_left < 0:
            raise FramingError('Headers too large')
        return line


class _Input:
    """wsgi.input over one request's body: never reads past it."""

    def __init__(self, conn, kind, length, continue_line):
        self.conn = conn
        self.reader = conn.reader
        self.left = length if kind == 'length' else None
        self.chunks = ChunkedReader(conn.reader, conn.framing_failed) if kind == 'chunked' else None
        self.continue_line = continue_line

    @property
    def complete(self):
        return self.chunks.done if self.chunks is not None else not self.left

    def _start(self):
        line, self.continue_line = self.continue_line, None
        if not self.conn.response_started:
            self.conn.sock.sendall(line)

    def read(self, size=-1):
        return self._take(size, 'read')

    def readline(self, size=-1):
        return self._take(size, 'readline')

    def _take(self, size, how):
        """Up to `size` body bytes (all for a negative size) by the chunked
        reader's or the buffer's `how` (read or readline)."""
        if self.continue_line is not None:
            self._start()
        if self.chunks is not None:
            return getattr(self.chunks, how)(size)
        left = self.left
        if size is None or size < 0 or size > left:
            size = left
        if not size:
            return b''
        data = getattr(self.reader, how)(size)
        # A short read is the end of the stream (read), or a line's end (readline).
        self.left = left - len(data) if data and (how == 'readline' or len(data) == size) else 0
        return data

    def __iter__(self):
        return iter(self.readline, b'')


class _Connection:
    def __init__(self, sock, addr, app, timeout):
        self.sock = sock
        self.addr = addr
        self.app = app
        self.reader = _Reader(sock)
        self.response_started = False
        self.failed = False
        self.idle = True
        sock.settimeout(timeout)
        self.server_addr = sock.getsockname()

    def framing_failed(self, err):
        """A chunked body turned out malformed: whatever the application
        answers, this connection ends after it."""
        self.failed = True

    def refuse(self, status, reason):
        try:
            self.sock.sendall(refusal(status, reason))
            # Half-close and read what the client still sends for a moment:
            # closing with unread input resets the connection, and the reset
            # can destroy the answer before the client reads it.
            self.sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + 2.0
            self.sock.settimeout(2.0)
            got = 0
            while time.monotonic() < deadline and got < (1 << 20):
                data = self.sock.recv(_RECV)
                if not data:
                    break
                got += len(data)
        except OSError:
            pass

    def serve(self):
        reader = self.reader
        try:
            while True:
                self.idle = True
                line = reader.readline(MAX_REQUEST_LINE)
                if line in (b'\r\n', b'\n'):
                    # RFC 9112 §2.2: an empty line before a request line is ignored.
                    line = reader.readline(MAX_REQUEST_LINE)
                if not line:
                    return
                self.idle = False
                if len(line) >= MAX_REQUEST_LINE:
                    raise FramingError('Request line too long', 414)
                method, target, version = parse_request_line(line)
                pairs = reader.header_block()
                kind, length = body_framing(pairs, version)
                if not self.handle(method, target, version, pairs, kind, length):
                    return
        except FramingError as err:
            self.refuse(err.http_status, err.reason)
        except (ClosedEarly, OSError, concurrency.Timeout):
            pass
        finally:
            try:
                self.sock.close()
            except OSError:
                pass

    def handle(self, method, target, version, pairs, kind, length):
        """Run one request; True to keep the connection."""
        keep = version >= (1, 1)
        asked = False     # the client asked for keep-alive by name
        expect = False
        for name, value in pairs:
            lower = name.lower()
            if lower == 'connection':
                tokens = [t.strip().lower() for t in value.split(',')]
                if 'close' in tokens:
                    keep = False
                elif 'keep-alive' in tokens:
                    keep = asked = True
            elif lower == 'expect':
                expect = value.lower() == '100-continue' and version >= (1, 1)
        body = _Input(self, kind, length, _CONTINUE if expect and (
            kind == 'chunked' or length) else None)
        env = self.environ(method, target, pairs, body)
        keep = self.respond(env, method, version, keep, body, asked)
        if keep and not body.complete:
            # The app answered without reading the whole body: read the rest
            # (a client still sending would otherwise get a reset), up to a
            # limit; past it, close.
            drained = 0
            try:
                while drained <= _DRAIN_LIMIT:
                    data = body.read(_RECV)
                    if not data:
                        break
                    drained += len(data)
            except FramingError:
                return False
            keep = body.complete
        return keep and not self.failed

    def environ(self, method, target, pairs, body):
        path, _sep, query = target.partition('?')
        env = {
            'REQUEST_METHOD': method, 'SCRIPT_NAME': '', 'RAW_PATH_INFO': path,
            'PATH_INFO': unquote(path, encoding='latin-1'),
            'SERVER_PROTOCOL': 'HTTP/1.0', 'SERVER_NAME': self.server_addr[0],
            'SERVER_PORT': str(self.server_addr[1]), 'REMOTE_ADDR': self.addr[0],
            'REMOTE_PORT': str(self.addr[1]), 'GATEWAY_INTERFACE': 'CGI/1.1',
            'wsgi.version': (1, 0), 'wsgi.url_scheme': 'http', 'wsgi.errors': sys.stderr,
            'wsgi.multithread': True, 'wsgi.multiprocess': False, 'wsgi.run_once': False,
            'eventlet.posthooks': [],
            # The client's own header list (swiftlike.http.client_content_type
            # tells an absent Content-Type from the default by it).
            'headers_raw': tuple(pairs),
        }
        if query:
            env['QUERY_STRING'] = query
        content_type = None
        for name, value in pairs:
            if '_' in name:
                continue
            key = name.upper().replace('-', '_')
            if key == 'CONTENT_TYPE':
                content_type = value if content_type is None else content_type
                continue
            if key == 'CONTENT_LENGTH':
                env['CONTENT_LENGTH'] = value
                continue
            key = 'HTTP_' + key
            env[key] = env[key] + ',' + value if key in env else value
        env['CONTENT_TYPE'] = content_type if content_type is not None else 'text/plain'
        env['wsgi.input'] = env['eventlet.input'] = env['swiftlike.input'] = body
        return env

    def respond(self, env, method, version, keep, body, asked=False):
        """Run the app and write its answer; True to keep the connection.
        A client that asked for keep-alive by name is told it is kept (as
        eventlet's loop and Swift answer)."""
        state = {'status': None, 'headers': None, 'sent': False, 'chunked': False,
                 'bodyless': False, 'keep': keep}
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
            has_date = has_length = False
            lines = ['HTTP/1.1 %s\r\n' % status]
            for name, value in state['headers']:
                lower = name.lower()
                if lower == 'content-length':
                    has_length = True
                elif lower == 'date':
                    has_date = True
                lines.append('%s: %s\r\n' % (name, value))
            if not has_date:
                lines.append('Date: %s\r\n' % http_date_now())
            if not has_length and not bodyless:
                if body_length is not None:
                    lines.append('Content-Length: %d\r\n' % body_length)
                elif version >= (1, 1):
                    state['chunked'] = True
                    lines.append('Transfer-Encoding: chunked\r\n')
                else:
                    state['keep'] = False
            if body.continue_line is not None or self.failed:
                # Answered before 100 Continue: the client may or may not send
                # the body; only a new connection is certain.
                state['keep'] = False
            if not state['keep']:
                lines.append('Connection: close\r\n')
            elif asked:
                lines.append('Connection: keep-alive\r\n')
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
                    out += chunk_frame(data)
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
                    self.sock.sendall(LAST_CHUNK)
        except FramingError:
            if state['sent']:
                return False
            raise
        except (OSError, concurrency.Timeout):
            return False
        except Exception:
            if state['sent']:
                return False
            text = b'Internal server error\n'
            self.sock.sendall(b'HTTP/1.1 500 Internal Server Error\r\nContent-Length: %d\r\n'
                              b'Connection: close\r\n\r\n%s' % (len(text), text))
            return False
        finally:
            if hasattr(result, 'close'):
                result.close()
            for hook, args, kwargs in env['eventlet.posthooks']:
                hook(env, *args, **kwargs)
        return state['keep'] and not self.failed


def native_server(sock, app, pool, client_timeout, balance=None):
    """Accept connections on `sock` and serve `app` on each in `pool` until
    killed; then close idle keep-alive connections and wait for the rest.
    `balance` (swiftlike.accept_balance), in a forked worker, spreads the
    connections evenly over the workers."""
    connections = set()

    def serve(conn):
        connections.add(conn)
        try:
            conn.serve()
        finally:
            connections.discard(conn)
            if balance is not None:
                balance.closed()

    try:
        while True:
            try:
                if balance is None:
                    client, addr = sock.accept()
                else:
                    client, addr = concurrency.accept_balanced(sock, balance)
                    balance.opened()
            except OSError as err:
                if err.errno in (errno.EMFILE, errno.ENFILE, errno.ECONNABORTED, errno.EINTR):
                    concurrency.sleep(0.05)
                    continue
                raise
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pool.spawn_n(serve, _Connection(client, addr, app, client_timeout))
    finally:
        if balance is not None:
            balance.leave()
        for conn in list(connections):
            if conn.idle:
                try:
                    conn.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        pool.waitall()
