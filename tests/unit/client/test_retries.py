"""Connection's retry, re-auth, keep-alive and resume logic against a scripted HTTP server on loopback.

The server is real (sockets, HTTP/1.1, keep-alive); its answers are scripted per request so each failure mode
(5xx, dropped connection, expired token, body cut short) happens exactly when the test says.
"""
import collections
import hashlib
import http.server
import threading

import pytest

from swiftlike.client import ClientException, Connection


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:%d' % self.server_address[1]
        self.scripts = collections.defaultdict(list)   # (method, path) -> [action, ...]; last one repeats
        self.requests = []                             # (method, path, headers dict)
        self.connections = 0
        self.valid_tokens = set()
        self.auth_count = 0
        self.lock = threading.Lock()

    def script(self, method, path, *actions):
        self.scripts[(method, path)] = list(actions)

    def next_action(self, method, path):
        with self.lock:
            actions = self.scripts.get((method, path))
            if not actions:
                return ('status', 200 if method != 'PUT' else 201, {}, b'')
            return actions.pop(0) if len(actions) > 1 else actions[0]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def _body(self):
        if self.headers.get('Transfer-Encoding') == 'chunked':
            data = b''
            while True:
                size = int(self.rfile.readline().strip(), 16)
                chunk = self.rfile.read(size + 2)[:size]
                if not size:
                    return data
                data += chunk
        return self.rfile.read(int(self.headers.get('Content-Length') or 0))

    def handle_any(self):
        srv = self.server
        if self.path == '/auth/v1.0':
            with srv.lock:
                srv.auth_count += 1
                token = 'tok%d' % srv.auth_count
                srv.valid_tokens.add(token)
            return self._reply(200, {'X-Storage-Url': srv.url + '/v1/AUTH_t', 'X-Auth-Token': token}, b'')
        body = self._body()
        with srv.lock:
            srv.requests.append((self.command, self.path, dict(self.headers), body))
        if self.path == '/info':                  # public, like a real proxy's /info
            return self._reply(*srv.next_action(self.command, self.path)[1:])
        if self.headers.get('X-Auth-Token') not in srv.valid_tokens:
            return self._reply(401, {}, b'Unauthorized')
        action = srv.next_action(self.command, self.path)
        kind = action[0]
        if kind == 'status':
            return self._reply(*action[1:])
        if kind == 'drop':
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if kind == 'partial':                     # headers promise len(full), send only `cut` bytes
            full, cut, headers = action[1], action[2], action[3] if len(action) > 3 else {}
            self.send_response(200)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header('Content-Length', str(len(full)))
            self.end_headers()
            self.wfile.write(full[:cut])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        raise AssertionError(action)

    def _reply(self, status, headers, body):
        self.send_response(status)
        headers = dict(headers)
        headers.setdefault('X-Trans-Id', 'tx-%s-%d' % (self.command, len(self.server.requests)))
        for name, value in headers.items():
            self.send_header(name, value)
        if self.command != 'HEAD' or 'Content-Length' not in headers:
            self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_COPY = handle_any


@pytest.fixture
def server():
    srv = Server()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def connect(server, **kw):
    kw.setdefault('starting_backoff', 0.01)
    return Connection(server.url + '/auth/v1.0', 't:u', 'k', **kw)


def test_5xx_is_retried_then_succeeds(server):
    server.script('HEAD', '/v1/AUTH_t/c', ('status', 503, {}, b''), ('status', 500, {}, b''),
                  ('status', 204, {'X-Container-Object-Count': '7'}, b''))
    conn = connect(server)
    assert conn.head_container('c')['x-container-object-count'] == '7'
    assert [r[0] for r in server.requests] == ['HEAD'] * 3


def test_retries_exhausted_raise_with_status_body_and_txn(server):
    server.script('GET', '/v1/AUTH_t/c/o', ('status', 503, {'X-Trans-Id': 'tx-last'}, b'no quorum'))
    conn = connect(server, retries=2)
    with pytest.raises(ClientException) as info:
        conn.get_object('c', 'o')
    err = info.value
    assert (err.http_status, err.body, err.transaction_id) == (503, b'no quorum', 'tx-last')
    assert len(server.requests) == 3
    assert str(err) == ('Object GET failed %s/v1/AUTH_t/c/o: 503 Service Unavailable: no quorum (txn: tx-last)'
                        % server.url)


def test_on_retry_hears_of_each_retry_with_its_reason_and_what_is_left(server):
    server.script('HEAD', '/v1/AUTH_t/c', ('status', 503, {}, b''), ('status', 500, {}, b''),
                  ('status', 204, {}, b''))
    heard = []
    conn = connect(server, retries=4, on_retry=lambda *args: heard.append(args))
    assert not conn.succeeded_once
    conn.head_container('c')
    assert heard == [('Container', 'HEAD', '503 Service Unavailable', 4),
                     ('Container', 'HEAD', '500 Internal Server Error', 3)]
    assert conn.succeeded_once


def test_on_retry_hears_of_an_unreachable_auth_server():
    import socket
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()                  # nothing listens there: connection refused, at once
    heard = []
    conn = Connection('http://127.0.0.1:%d/auth/v1.0' % port, 'u', 'k', retries=2, starting_backoff=0.001,
                      on_retry=lambda *args: heard.append(args))
    with pytest.raises(ClientException, match='Auth GET failed after 3 attempts: connection refused'):
        conn.get_auth()
    assert heard == [('Auth', 'GET', 'connection refused', 2), ('Auth', 'GET', 'connection refused', 1)]
    assert not conn.succeeded_once


def test_client_errors_are_not_retried(server):
    server.script('GET', '/v1/AUTH_t/c/o', ('status', 404, {}, b'Not here'))
    with pytest.raises(ClientException) as info:
        connect(server).get_object('c', 'o')
    assert info.value.http_status == 404 and len(server.requests) == 1


def test_dropped_connection_is_retried(server):
    server.script('PUT', '/v1/AUTH_t/c/o', ('drop',), ('status', 201, {'Etag': hashlib.md5(b'data').hexdigest()},
                                                     b''))
    conn = connect(server)
    assert conn.put_object('c', 'o', b'data') == hashlib.md5(b'data').hexdigest()
    assert [r[3] for r in server.requests] == [b'data', b'data']


def test_a_read_iterator_cannot_be_resent(server):
    server.script('PUT', '/v1/AUTH_t/c/o', ('drop',))
    with pytest.raises(ClientException, match='the body cannot be sent again'):
        connect(server).put_object('c', 'o', iter([b'a', b'b']))
    assert len(server.requests) == 1
    assert server.requests[0][2].get('Transfer-Encoding') == 'chunked' and server.requests[0][3] == b'ab'


def test_etag_mismatch_is_an_error(server):
    server.script('PUT', '/v1/AUTH_t/c/o', ('status', 201, {'Etag': 'f' * 32}, b''))
    with pytest.raises(ClientException, match='ETag mismatch'):
        connect(server).put_object('c', 'o', b'data')


def test_expired_token_reauthenticates_once(server):
    conn = connect(server)
    conn.head_account()
    server.valid_tokens.clear()              # the server forgets every token
    conn.head_account()
    assert server.auth_count == 2 and conn.auth_count == 2


def test_threads_share_one_token_and_reauth_once(server):
    conn = connect(server)
    conn.head_account()
    server.valid_tokens.clear()
    errors = []
    barrier = threading.Barrier(16)

    def work():
        barrier.wait()
        try:
            for _ in range(10):
                conn.head_container('c')
        except Exception as err:  # noqa: BLE001
            errors.append(err)
    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert server.auth_count == 2            # 16 threads got 401 at once; one of them re-authenticated
    assert server.connections <= 16 + 2      # one kept-alive connection per thread (+ the auth calls)


def test_keep_alive_reuses_one_socket(server):
    conn = connect(server)
    for _ in range(20):
        conn.head_container('c')
    conn.get_object('c', 'o')
    assert server.connections == 1


def test_abandoned_stream_does_not_break_the_next_request(server):
    server.script('GET', '/v1/AUTH_t/c/o', ('status', 200, {}, b'x' * 200000))
    conn = connect(server)
    _, body = conn.get_object('c', 'o', resp_chunk_size=10)
    next(iter(body))                         # read a bit, then do something else on the same thread
    assert conn.head_container('c') is not None
    body.close()
    assert conn.get_object('c', 'o')[1] == b'x' * 200000


def test_get_resumes_mid_body_with_range_and_if_match(server):
    data = bytes(range(256)) * 1000
    etag = hashlib.md5(data).hexdigest()
    server.script('GET', '/v1/AUTH_t/c/o', ('partial', data, 100000, {'Etag': etag}),
                  ('status', 206, {'Etag': etag, 'Content-Range': 'bytes 100000-%d/%d' % (len(data) - 1, len(data))},
                   data[100000:]))
    conn = connect(server)
    headers, body = conn.get_object('c', 'o', resp_chunk_size=65536)
    assert hashlib.md5(b''.join(body)).hexdigest() == etag
    assert body.resumes == 1
    second = server.requests[1][2]
    assert second['Range'] == 'bytes=100000-' and second['If-Match'] == etag


def test_whole_get_resumes_too(server):
    data = b'0123456789' * 10000
    server.script('GET', '/v1/AUTH_t/c/o', ('partial', data, 12345, {'Etag': hashlib.md5(data).hexdigest()}),
                  ('status', 206, {}, data[12345:]))
    assert connect(server).get_object('c', 'o')[1] == data


def test_a_ranged_get_is_not_resumed(server):
    data = b'x' * 1000
    server.script('GET', '/v1/AUTH_t/c/o', ('partial', data, 10))
    with pytest.raises(ClientException, match='mid-body after 10 bytes'):
        connect(server).get_object('c', 'o', headers={'Range': 'bytes=0-999'})


def test_delete_whose_first_attempt_broke_off_and_then_404s_counts_as_done(server):
    server.script('DELETE', '/v1/AUTH_t/c/o', ('drop',), ('status', 404, {}, b''))
    connect(server).delete_object('c', 'o')
    assert len(server.requests) == 2
    server.requests.clear()
    with pytest.raises(ClientException):     # a plain 404 is still an error
        connect(server).delete_object('c', 'o')


def test_listing_pages_through_markers(server):
    import json
    server.script('GET', '/v1/AUTH_t/c?format=json',
                  ('status', 200, {}, json.dumps([{'name': 'a'}, {'name': 'b'}]).encode()))
    server.script('GET', '/v1/AUTH_t/c?format=json&marker=b',
                  ('status', 200, {}, json.dumps([{'subdir': 'c/'}]).encode()))
    server.script('GET', '/v1/AUTH_t/c?format=json&marker=c%2F', ('status', 200, {}, b'[]'))
    _, listing = connect(server).get_container('c', full_listing=True)
    assert listing == [{'name': 'a'}, {'name': 'b'}, {'subdir': 'c/'}]


def test_names_are_quoted(server):
    conn = connect(server)
    conn.head_object('c c', 'dir/a b?#%')
    assert server.requests[0][1] == '/v1/AUTH_t/c%20c/dir/a%20b%3F%23%25'


def test_an_iterator_body_never_rides_an_idle_kept_alive_socket(server):
    conn = connect(server)
    conn.head_container('c')
    assert server.connections == 1
    server.script('PUT', '/v1/AUTH_t/c/o', ('status', 201, {'Etag': hashlib.md5(b'ab').hexdigest()}, b''))
    conn.put_object('c', 'o', iter([b'a', b'b']))
    assert server.connections == 2          # a fresh socket: a stale one could not be retried with this body
    conn.head_container('c')
    assert server.connections == 2          # the idle one is still there for requests that can be resent
