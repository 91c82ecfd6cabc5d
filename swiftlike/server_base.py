"""Base of the storage servers: verb dispatch, error mapping, device checks."""
import dataclasses
import os
import time

from swiftlike import concurrency
from swiftlike.exceptions import BadRequest, InsufficientStorage, SwiftlikeError
from swiftlike.http import Request, make_response
from swiftlike.logs import get_logger, set_txn_id
from swiftlike.paths import validate_device
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
    log_requests: bool = True


class StorageServer:
    """Subclasses define a method per verb taking a Request, returning a Response.

    Handlers raise SwiftlikeError subclasses; this is the one place they become
    responses. Anything else is a bug: logged with its traceback, answered 500
    with the transaction id and no traceback.
    """
    server_type = 'storage'
    verbs = ('GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'REPLICATE')

    def __init__(self, conf, logger=None):
        self.conf = conf
        self.logger = logger or get_logger('%s-server' % self.server_type, conf.log_level,
                                           conf.log_file or None)
        self.disk = concurrency.DiskExecutor(conf.threads_per_disk)

    def __call__(self, environ, start_response):
        start = time.time()
        req = Request(environ)
        set_txn_id(req.headers.get('X-Trans-Id'))
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
        if self.conf.log_requests:
            self.logger.debug('%s %s %s %.4f', req.method, req.environ.get('PATH_INFO', '')[:256],
                              resp.status_int, time.time() - start)
        return resp(environ, start_response)

    def device_path(self, device, for_write=False, size=0):
        """The device's directory; 507 when unmounted, or when full for writes."""
        validate_device(device)
        path = os.path.join(self.conf.devices, device)
        if self.conf.mount_check and not os.path.ismount(path):
            raise InsufficientStorage('Device %s is not mounted' % device)
        if not os.path.isdir(path):
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


def require_timestamp(req, header='X-Timestamp'):
    """The request's write timestamp; 400 when it is missing or malformed."""
    from swiftlike.timestamp import Timestamp
    value = req.headers.get(header)
    if not value:
        raise BadRequest('Missing %s header' % header)
    try:
        return Timestamp(value)
    except (ValueError, TypeError):
        raise BadRequest('Invalid %s header: %r' % (header, value[:64]))
