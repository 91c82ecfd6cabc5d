"""Base of the storage servers: verb dispatch, error mapping, device checks,
and the access log.

The access log is one INFO line per request (DEBUG for replication verbs, which
the daemons send in bulk), as Swift's storage servers keep:

    client_ip method path status bytes_in bytes_out duration txn_id "user_agent"

path is URL-quoted (at most 2048 characters), bytes_in the request's
Content-Length ('-' when chunked), bytes_out the body bytes sent, duration the
seconds until the response was done: for a streamed object GET the line is
written when the body has been sent (or cut short), so it shows the bytes and
time the client really got. txn_id is the X-Trans-Id the proxy sent, '-' when
none. `log_requests = false` turns it off.
"""
import dataclasses
import logging
import os
import stat
import time
from urllib.parse import quote

from swiftlike import concurrency, fs
from swiftlike.exceptions import BadRequest, InsufficientStorage, SwiftlikeError
from swiftlike.http import Request, make_response
from swiftlike.logs import get_logger, log_line, set_txn_id
from swiftlike.metrics_http import RequestMetrics
from swiftlike.paths import validate_device
from swiftlike.timestamp import Timestamp
from swiftlike.wsgi import WsgiConf


@dataclasses.dataclass
class StorageConf(WsgiConf):
    devices: str = '/srv/node'
    mount_check: bool = True
    # Refuse writes when a device has less than this many bytes free
    # (or, when it ends in %, this percent of its size).
    fallocate_reserve: str = '1%'
    threads_per_disk: int = 4
    swift_dir: str = '/etc/swiftlike'
    conn_timeout: float = 0.5
    node_timeout: float = 10.0
    # One access-log line per request (at INFO; replication verbs at DEBUG).
    log_requests: bool = True
    # Where the daemons' recon cache files are (GET /recon/... reads them);
    # empty means <devices>/.recon.
    recon_cache_path: str = ''


class StorageServer:
    """Subclasses define a method per verb taking a Request, returning a Response.

    Handlers raise SwiftlikeError subclasses; this is the one place they become
    responses. Anything else is a bug: logged with its traceback, answered 500
    with the transaction id and no traceback.
    """
    server_type = 'storage'
    verbs = ('GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'REPLICATE')
    # Daemon traffic: logged at DEBUG, as Swift does.
    quiet_verbs = ('REPLICATE', 'REPLICATION')

    def __init__(self, conf, logger=None):
        self.conf = conf
        self.server_name = '%s-server' % self.server_type
        self.logger = logger or get_logger(self.server_name, conf.log_level,
                                           conf.log_file or None)
        self.disk = concurrency.DiskExecutor(conf.threads_per_disk)
        self.metrics = RequestMetrics(self.server_name, conf, self.verbs + self.quiet_verbs)

    def __call__(self, environ, start_response):
        start = time.time()
        if environ.get('PATH_INFO') == '/metrics' and environ['REQUEST_METHOD'] in ('GET', 'HEAD'):
            return self.metrics.serve(environ, start_response, self.server_type)
        req = Request(environ)
        set_txn_id(environ.get('HTTP_X_TRANS_ID'))
        try:
            if req.method not in self.verbs:
                resp = make_response(405, 'Method not allowed: %s' % req.method[:16])
            else:
                resp = getattr(self, req.method)(req)
        except SwiftlikeError as err:
            resp = make_response(err.http_status, err.reason, err.headers)
        except Exception:
            self.logger.exception('ERROR handling %s %s', req.method, req.environ.get('PATH_INFO', '')[:256])
            resp = make_response(500, 'Internal server error (txn %s)'
                                 % req.headers.get('X-Trans-Id', '-'))
        body = resp(environ, start_response)
        level = None
        if self.conf.log_requests:
            level = logging.DEBUG if req.method in self.quiet_verbs else logging.INFO
            if not self.logger.isEnabledFor(level):
                level = None
        if level is None and not self.metrics.on:
            return body
        if req.method == 'HEAD':
            self.request_done(level, environ, resp.status_int, 0, start)
        elif isinstance(body, list):
            self.request_done(level, environ, resp.status_int, sum(map(len, body)), start)
        else:
            return _LoggedBody(body, self, level, environ, resp.status_int, start)
        return body

    def request_done(self, level, environ, status, bytes_out, start):
        """A request's access-log line (level None: none) and metrics."""
        if level is not None:
            self.log_request(level, environ, status, bytes_out, start)
        if self.metrics.on:
            self.metrics.observe(environ, status, bytes_out, time.time() - start)

    def log_request(self, level, environ, status, bytes_out, start):
        """The access-log line of one request."""
        method = environ['REQUEST_METHOD']
        if method not in self.verbs and method not in self.quiet_verbs:
            method = quote(method[:32], safe='')
        agent = environ.get('HTTP_USER_AGENT')
        txn_id = environ.get('HTTP_X_TRANS_ID')
        log_line(
            self.logger, level, '%s %s %s %s %s %d %.4f %s "%s"',
            environ.get('REMOTE_ADDR') or '-', method,
            quote(environ.get('PATH_INFO', '').encode('latin-1', 'replace'),
                  safe='/:@')[:2048],
            status, environ.get('CONTENT_LENGTH') or (
                '-' if environ.get('HTTP_TRANSFER_ENCODING') else '0'),
            bytes_out, time.time() - start,
            quote(txn_id[:256], safe=_TXN_SAFE) if txn_id else '-',
            quote(agent[:256], safe=_AGENT_SAFE) if agent else '-')

    def device_path(self, device, for_write=False, size=0):
        """The device's directory; 507 when unmounted, or when full for writes."""
        validate_device(device)
        path = os.path.join(self.conf.devices, device)
        if self.conf.mount_check:
            st = fs.mount_point_stat(path)
            if st is None:
                raise InsufficientStorage('Device %s is not mounted' % device)
            is_dir = stat.S_ISDIR(st.st_mode)
        else:
            is_dir = os.path.isdir(path)
        if not is_dir:
            raise InsufficientStorage('Device %s does not exist' % device)
        if for_write:
            self.check_free_space(device, path, size)
        return path

    def check_free_space(self, device, path, size=0):
        st = os.statvfs(path)
        free = st.f_bavail * st.f_frsize
        reserve = self.conf.fallocate_reserve.strip()
        if reserve.endswith('%'):
            needed = st.f_blocks * st.f_frsize * float(reserve[:-1]) / 100.0
        else:
            needed = float(reserve or 0)
        if free - size < needed:
            raise InsufficientStorage('Device %s is below its free-space reserve' % device)


# What stays as it is in the user agent: printable ASCII but '"', '%' and '\'
# (the rest is %-escaped, so a line always splits into the same fields); in the
# txn id, not the space either.
_AGENT_SAFE = " !#$&'()*+,/:;<=>?@[]^_`{|}~"
_TXN_SAFE = _AGENT_SAFE[1:]


class _LoggedBody:
    """A streamed body that logs its request when the server closes it."""

    __slots__ = ('body', 'server', 'level', 'environ', 'status', 'start', 'sent')

    def __init__(self, body, server, level, environ, status, start):
        self.body = body
        self.server = server
        self.level = level
        self.environ = environ
        self.status = status
        self.start = start
        self.sent = 0

    def __iter__(self):
        for chunk in self.body:
            self.sent += len(chunk)
            yield chunk

    def close(self):
        try:
            close = getattr(self.body, 'close', None)
            if close is not None:
                close()
        finally:
            if self.server is not None:
                server, self.server = self.server, None
                server.request_done(self.level, self.environ, self.status, self.sent,
                                    self.start)


def require_timestamp(req, header='X-Timestamp'):
    """The request's write timestamp; 400 when it is missing or malformed."""
    value = req.headers.get(header)
    if not value:
        raise BadRequest('Missing %s header' % header)
    try:
        return Timestamp(value)
    except (ValueError, TypeError):
        raise BadRequest('Invalid %s header: %r' % (header, value[:64]))
