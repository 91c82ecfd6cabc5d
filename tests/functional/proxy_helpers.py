"""Helpers for the proxy API tests: an authenticated client and raw requests."""
import http.client
import socket
import uuid
from urllib.parse import quote, urlsplit


def unique(prefix='c'):
    return '%s-%s' % (prefix, uuid.uuid4().hex[:12])


class Api:
    """Requests to one account through the proxy with a user's token."""

    def __init__(self, cluster, user='test:tester'):
        self.cluster = cluster
        self.storage_url, self.token = cluster.get_auth(user)
        parts = urlsplit(self.storage_url)
        self.host, self.port = parts.hostname, parts.port
        self.account_path = parts.path

    def request(self, method, path='', headers=None, body=None, token=True, query=None):
        """path is relative to the account ('' or '/c' or '/c/o'), unquoted str."""
        full = self.account_path + quote(path, safe='/')
        if query:
            full += '?' + query
        hdrs = dict(headers or {})
        if token and 'X-Auth-Token' not in hdrs:
            hdrs['X-Auth-Token'] = self.token
        return raw(self.host, self.port, method, full, hdrs, body)

    def put_container(self, name=None, headers=None):
        name = name or unique()
        status, _h, body = self.request('PUT', '/' + name, headers)
        assert status in (201, 202), (status, body)
        return name

    def put_object(self, container, name, body=b'data', headers=None):
        hdrs = {'Content-Length': str(len(body))}
        hdrs.update(headers or {})
        status, h, rbody = self.request('PUT', '/%s/%s' % (container, name), hdrs, body)
        assert status == 201, (status, rbody)
        return h


def raw(host, port, method, path, headers=None, body=None, timeout=30):
    """(status, {lower-case header: value}, body); path may be bytes (sent as is)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        if isinstance(path, bytes):
            path = path.decode('latin-1')
        hdrs = dict(headers or {})
        conn.putrequest(method, path, skip_accept_encoding=True, skip_host='Host' in hdrs)
        if body is not None and 'Content-Length' not in hdrs and \
                'Transfer-Encoding' not in hdrs:
            hdrs['Content-Length'] = str(len(body))
        for key, value in hdrs.items():
            conn.putheader(key, value)
        conn.endheaders()
        if body:
            if hdrs.get('Transfer-Encoding') == 'chunked':
                for i in range(0, len(body), 1000):
                    piece = body[i:i + 1000]
                    conn.send(b'%x\r\n%s\r\n' % (len(piece), piece))
                conn.send(b'0\r\n\r\n')
            else:
                conn.send(body)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def raw_bytes(host, port, request_bytes, timeout=30):
    """Send literal request bytes; return (status, response bytes)."""
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        sock.sendall(request_bytes)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                data = sock.recv(65536)
            except socket.timeout:
                break
            if not data:
                break
            chunks.append(data)
        out = b''.join(chunks)
    finally:
        sock.close()
    status = int(out.split(b' ', 2)[1]) if out.startswith(b'HTTP/') else None
    return status, out
