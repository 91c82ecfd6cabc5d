"""HTTP to storage nodes: one request, bounded connect and response timeouts.

Works with plain or monkey-patched (green) sockets.
"""
import http.client
from urllib.parse import quote

from swiftlike.concurrency import Timeout
from swiftlike.exceptions import ConnectionTimeout


def storage_path(device, partition, account, container=None, obj=None):
    parts = [device, str(partition), account]
    if container is not None:
        parts.append(container)
        if obj is not None:
            parts.append(obj)
    return quote('/' + '/'.join(parts), safe='/')


def http_connect(ip, port, method, path, headers=None, query_string=None,
                 conn_timeout=0.5, timeout=10.0):
    """Open a connection and send the request line and headers (not a body)."""
    if ':' in ip and not ip.startswith('['):
        ip = '[%s]' % ip
    if query_string:
        path += '?' + query_string
    try:
        with Timeout(conn_timeout, ConnectionTimeout('connect to %s:%s timed out' % (ip, port))):
            conn = http.client.HTTPConnection(ip.strip('[]'), port, timeout=timeout)
            conn.connect()
    except OSError as err:
        raise ConnectionTimeout('connect to %s:%s failed: %s' % (ip, port, err))
    conn.putrequest(method, path, skip_host=bool(headers and 'Host' in headers),
                    skip_accept_encoding=True)
    for key, value in (headers or {}).items():
        conn.putheader(key, str(value))
    conn.endheaders()
    return conn


def request(node, method, path, headers=None, body=None, query_string=None,
            conn_timeout=0.5, timeout=10.0):
    """Whole request to node {'ip','port'}; returns (status, headers, body bytes).

    Connection failures raise ConnectionTimeout (a 503-class error).
    """
    headers = dict(headers or {})
    if body is not None:
        body = body if isinstance(body, bytes) else body.encode('utf-8')
        headers['Content-Length'] = str(len(body))
    conn = http_connect(node['ip'], node['port'], method, path, headers, query_string,
                        conn_timeout, timeout)
    try:
        if body:
            conn.send(body)
        with Timeout(timeout, ConnectionTimeout('response from %s:%s timed out'
                                                % (node['ip'], node['port']))):
            resp = conn.getresponse()
            data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    except (OSError, http.client.HTTPException) as err:
        raise ConnectionTimeout('%s %s to %s:%s failed: %s' % (method, path, node['ip'],
                                                               node['port'], err))
    finally:
        conn.close()
