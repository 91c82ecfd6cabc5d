"""The proxy: reads proxy-server.conf once, builds the middleware pipeline,
and routes /v1/<account>[/<container>[/<object>]] to the controllers."""
import dataclasses
import importlib
from urllib.parse import parse_qsl

from swiftlike.config import build, read_ini
from swiftlike.constraints import (MAX_ACCOUNT_NAME_LENGTH, MAX_CONTAINER_NAME_LENGTH,
                                   MAX_OBJECT_NAME_LENGTH, check_name_length, check_utf8)
from swiftlike.exceptions import (BadRequest, ConfigError, NotFound, PreconditionFailed,
                                  RingError, SwiftlikeError)
from swiftlike.http import Request
from swiftlike import metrics, policies
from swiftlike.logs import get_logger
from swiftlike.backend_http import ConnectionPool
from swiftlike.proxy.controllers.account import AccountController
from swiftlike.proxy.controllers.base import Reply, error_reply
from swiftlike.proxy.controllers.container import ContainerController
from swiftlike.proxy.controllers.obj import ObjectController
from swiftlike.middleware.toolkit import RESERVED_NAMES_KEY
from swiftlike.proxy.info_cache import InfoCache
from swiftlike.proxy import node_stats, pipeline
from swiftlike.proxy.node_iter import ErrorLimiter
from swiftlike.proxy.unsupported import FEATURES_KEY, all_handled, refused_feature
from swiftlike.wsgi import WsgiConf

CONF_SECTION = 'proxy-server'
PIPELINE_SECTION = 'pipeline:main'


@dataclasses.dataclass
class Conf(WsgiConf):
    swift_dir: str = '/etc/swiftlike'
    conn_timeout: float = 0.5
    node_timeout: float = 10.0
    error_suppression_limit: int = 3
    error_suppression_interval: float = 5.0
    container_info_ttl: float = 3.0
    account_autocreate: bool = True
    allow_account_management: bool = False
    # Bytes read from a client per chunk of an upload, framed as one chunk to
    # each replica: 1 MiB costs a 64 MiB upload ~40% less CPU in the object
    # servers and ~20% less in the proxy than 64 KiB (doc/benchmarks.md),
    # for up to ~2 MiB of memory per upload in flight. Likewise a download's
    # chunks from a backend (~25% less proxy CPU per 64 MiB GET, up to ~1 MiB
    # each).
    client_chunk_size: int = 1048576
    object_chunk_size: int = 1048576
    object_read_fanout: int = 2
    buffered_put_size: int = 65536
    request_node_count: int = 0
    max_idle_connections_per_node: int = 16
    expiring_objects_account: str = '.expiring_objects'
    expiring_objects_container_divisor: int = 86400
    cors_allow_origin: str = ''
    strict_cors_mode: bool = True
    cors_expose_headers: str = ''

    @property
    def cors_origins(self):
        return [o for o in self.cors_allow_origin.replace(',', ' ').split() if o]

    @property
    def cors_expose(self):
        return [h for h in self.cors_expose_headers.replace(',', ' ').split() if h]

    def validate(self):
        if self.conn_timeout <= 0 or self.node_timeout <= 0:
            raise ValueError('timeouts must be positive')
        if self.client_chunk_size <= 0 or self.object_chunk_size <= 0:
            raise ValueError('chunk sizes must be positive')
        if self.object_read_fanout < 1:
            raise ValueError('object_read_fanout must be at least 1')
        if self.expiring_objects_container_divisor <= 0:
            raise ValueError('expiring_objects_container_divisor must be positive')


class App:
    """The proxy application at the end of the pipeline."""

    def __init__(self, conf, logger=None, account_ring=None, container_ring=None,
                 object_ring=None):
        self.conf = conf
        self.logger = logger or get_logger('proxy-server', conf.log_level, conf.log_file or None)
        self._rings = {'account': account_ring, 'container': container_ring,
                       'object': object_ring}
        self.limiter = ErrorLimiter(conf.error_suppression_limit, conf.error_suppression_interval)
        self.node_stats = node_stats.register(node_stats.NodeStats(limiter=self.limiter))
        self.pool = ConnectionPool(conf.max_idle_connections_per_node)
        self.info_cache = InfoCache(conf.container_info_ttl)
        from swiftlike.middleware import info
        info.register('swift', version=_version(), account_autocreate=conf.account_autocreate,
                      allow_account_management=conf.allow_account_management,
                      policies=policies.info(), strict_cors_mode=conf.strict_cors_mode)

    def _ring(self, name):
        ring = self._rings[name]
        if ring is None:
            from swiftlike.ring import Ring
            ring = self._rings[name] = Ring(self.conf.swift_dir, ring_name=name)
        return ring

    @property
    def account_ring(self):
        return self._ring('account')

    @property
    def container_ring(self):
        return self._ring('container')

    @property
    def object_ring(self):
        return self._ring('object')

    def backend_done(self, node, method, status, seconds):
        """Every backend request's outcome (status None: no answer), timed to
        its first byte: the slow-node detector's and the metrics' one hook."""
        name = self.node_stats.observe(node, seconds, status is not None and status < 500)
        if self.conf.prometheus_enabled:
            metrics.observe('proxy_backend_seconds', (name,), seconds)
            if status is None or status >= 500:
                kind = 'timeout' if status is None else '507' if status == 507 else '5xx'
                metrics.count('proxy_backend_errors', (name, kind))

    def request_node_count(self, replicas):
        """How many handoffs a read may try after the primaries."""
        return self.conf.request_node_count or replicas

    def __call__(self, environ, start_response):
        try:
            reply = self.handle(environ)
        except (RingError, SwiftlikeError, UnicodeError) as err:
            reply = self.error(err)
        return reply(environ, start_response)

    def error(self, err):
        """The reply for a domain error (mapped here, once)."""
        if isinstance(err, RingError):
            self.logger.error('ERROR ring unavailable: %s', err.reason)
            return error_reply(503, 'Service unavailable: ring not loaded')
        if isinstance(err, UnicodeError):
            return error_reply(400, 'Invalid UTF-8 in the request')
        return error_reply(err.http_status, err.reason, err.headers)

    def handle(self, environ):
        account, container, obj = parse_path(environ.get('PATH_INFO', ''),
                                             bool(environ.get(RESERVED_NAMES_KEY)))
        req = Request(environ)
        method = req.method
        if obj is not None:
            cls = ObjectController
        elif container is not None:
            cls = ContainerController
        else:
            cls = AccountController
        handler = getattr(cls, method, None) if method in cls.verbs else None
        if handler is None:
            return error_reply(405, 'Method not allowed: %s' % method[:16],
                               {'Allow': ', '.join(cls.verbs)})
        handled = environ.get(FEATURES_KEY, ())
        refused = None if all_handled(handled) else refused_feature(
            method, cls.server_type, req.headers.items(),
            dict(parse_qsl(req.query_string, keep_blank_values=True, errors='replace')),
            handled)
        if refused:
            # 400, not 501: clients retry a 5xx for minutes before giving up.
            return error_reply(400, '%s: not supported by this cluster; the request '
                                    'was not carried out' % refused)
        controller = cls(self, req, account, container, obj)
        try:
            reply = handler(controller)
        except (RingError, SwiftlikeError, UnicodeError) as err:
            reply = self.error(err)
        if 'HTTP_ORIGIN' in environ:
            reply.headers.extend(controller.cors_headers(reply.headers))
        return reply


def parse_path(path, allow_reserved=False):
    """'/v1/a[/c[/o]]' (WSGI latin-1 str) -> (account, container, obj) as
    real str. As Swift answers: a path with no account is 412 'Bad URL'; an
    empty first, account or container segment is 404; another API version is
    400; invalid UTF-8 or a NUL is 412 (a NUL is allowed in the reserved names
    of a middleware's own subrequests: `allow_reserved`)."""
    if not path.startswith('/'):
        raise BadRequest('Invalid path')
    version, _, rest = path[1:].partition('/')
    if not version:
        raise NotFound('Not Found')
    account, _, rest = rest.partition('/')
    if not account:
        if rest:
            raise NotFound('Not Found')
        raise PreconditionFailed('Bad URL')
    if version not in ('v1', 'v1.0'):
        raise BadRequest('Invalid path: unknown API version %r' % version[:16])
    container, sep, obj = rest.partition('/')
    if not container and (sep or obj):
        raise NotFound('Not Found')
    names = []
    for raw, limit, what in ((account, MAX_ACCOUNT_NAME_LENGTH, 'Account name'),
                             (container, MAX_CONTAINER_NAME_LENGTH, 'Container name'),
                             (obj, MAX_OBJECT_NAME_LENGTH, 'Object name')):
        if not raw:
            names.append(None)
            continue
        data = valid_name_bytes(raw, allow_reserved)
        check_name_length(data, limit, what)
        names.append(data.decode('utf-8'))
    return tuple(names)


def valid_name_bytes(raw, allow_reserved=False):
    """A path segment's UTF-8 bytes; 412 as Swift gives for bad UTF-8 or NUL."""
    try:
        return check_utf8(raw, allow_nul=allow_reserved)
    except BadRequest:
        raise PreconditionFailed('Invalid UTF8 or contains NULL')


def _version():
    import swiftlike
    return getattr(swiftlike, '__version__', '0')


def pipeline_names(sections, path):
    """The filters of [pipeline:main] (outermost first, without the app),
    with the required ones it leaves out put in their place."""
    line = sections.get(PIPELINE_SECTION, {}).get('pipeline', pipeline.default_line())
    names = line.split()
    if not names or names[-1] != pipeline.APP:
        raise ConfigError('%s [%s]: pipeline must end with proxy-server' % (path, PIPELINE_SECTION))
    return pipeline.complete(names[:-1])[0]


def load(conf_path):
    """(Conf, app_factory): read the config once; app_factory() builds the
    whole pipeline (called in each worker after fork)."""
    sections = read_ini(conf_path)
    defaults = sections.get('DEFAULT', {})
    if CONF_SECTION not in sections:
        raise ConfigError('%s: missing section [%s]' % (conf_path, CONF_SECTION))
    conf = build(Conf, sections[CONF_SECTION], conf_path, CONF_SECTION, defaults)
    from swiftlike.hashing import locate_cluster_conf
    locate_cluster_conf(conf.swift_dir)
    filters = []
    for name in pipeline_names(sections, conf_path):
        section = 'filter:%s' % name
        # A filter without a section (or without `use`) is our own middleware
        # of that name with its defaults.
        values = sections.get(section, {})
        module_name = values.get('use') or pipeline.module_name(name)
        if module_name.startswith('egg:'):
            raise ConfigError('%s [%s]: use = <python module>, not an egg' % (conf_path, section))
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            raise ConfigError('%s [%s]: cannot import %r: %s' % (conf_path, section, module_name, err))
        factory = getattr(module, 'filter_factory', None)
        if factory is None:
            raise ConfigError('%s [%s]: %s has no filter_factory' % (conf_path, section, module_name))
        filters.append(factory(values, defaults, conf_path, section))

    def app_factory():
        app = App(conf)
        for make in reversed(filters):
            app = make(app)
        return app
    return conf, app_factory


__all__ = ['App', 'Conf', 'CONF_SECTION', 'load', 'parse_path', 'Reply']
