"""In-process storage-server harness for DB server unit tests (no sockets)."""
import os
from urllib.parse import quote

from swiftlike.http import Request


def make_conf(conf_cls, devices, **extra):
    os.makedirs(os.path.join(devices, 'sda'), exist_ok=True)
    return conf_cls(devices=devices, mount_check=False, fallocate_reserve='0',
                    threads_per_disk=0, log_level='ERROR', **extra)


def call(app, method, path, headers=None, query='', quote_path=True, body=None):
    """(status int, headers, body bytes) of one request to a WSGI app."""
    url = quote(path) if quote_path else '/raw'
    if query:
        url += '?' + query
    req = Request.blank(url, method=method, headers=headers or {})
    if quote_path is False:
        req.environ['PATH_INFO'] = path
    if body is not None:
        req.body = body
    resp = req.get_response(app)
    return resp.status_int, resp.headers, resp.body
