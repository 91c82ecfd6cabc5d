"""Proxy request metrics (Prometheus and statsd) and the proxy's `GET /metrics`.

Per client request to /v1/... (others, like /auth or /info, are not counted):
- Prometheus: swiftlike_proxy_request_seconds{type,verb,status,policy} (a
  histogram: its _count is the request count), swiftlike_proxy_first_byte_seconds
  (GETs), swiftlike_proxy_received_bytes_total / _sent_bytes_total;
- statsd, Swift's names: proxy-server.<type>.<verb>.<status>.timing,
  proxy-server.<type>.GET.<status>.first-byte.timing,
  proxy-server.<type>.<verb>.<status>.xfer (bytes in + out), and for objects the
  same under proxy-server.object.policy.<index>.<verb>.<status>.*;
  all of one request in one datagram.
<type> is account, container or object; <verb> one of
`log_statsd_valid_http_methods`, else BAD_METHOD; <status> what the client got
(499 when it went away mid-body).

`GET /metrics` (Prometheus text) answers only clients whose address is in
`metrics_allow` (addresses or networks, `*` for anyone): it shows which nodes
are slow or error-limited and how busy the cluster is, which is the operator's
business. It is answered before auth, so a scraper needs no token; 403
otherwise. It holds every worker's counts and the serving worker's view of
per-node latency percentiles (swiftlike.proxy.node_stats).
"""
import dataclasses
import ipaddress
import time

from swiftlike import metrics
from swiftlike.metrics_http import publish_node_stats
from swiftlike.middleware.filters import make_filter_factory
from swiftlike.middleware.proxy_logging import _InputCounter  # the one body counter
from swiftlike.statsd import StatsdConf

POLICY_INDEX = '0'   # the one storage policy (swiftlike.policies)


def _publish_node_stats():
    """This worker's slow-node view into the proxy_node_* gauges (at every
    periodic flush, and before this worker serves a scrape)."""
    from swiftlike.proxy import node_stats
    publish_node_stats(node_stats.current().snapshot())


@dataclasses.dataclass
class Conf(StatsdConf):
    # Who may GET /metrics on the proxy: addresses and networks (CIDR), or *.
    metrics_allow: str = '127.0.0.1 ::1'
    # Verbs counted under their own name; any other is BAD_METHOD.
    log_statsd_valid_http_methods: str = 'GET,HEAD,POST,PUT,DELETE,COPY,OPTIONS'

    def validate(self):
        self.allowed_networks()

    def allowed_networks(self):
        """None for anyone, else a list of ip_network."""
        items = self.metrics_allow.replace(',', ' ').split()
        if '*' in items:
            return None
        try:
            return [ipaddress.ip_network(item, strict=False) for item in items]
        except ValueError as err:
            raise ValueError('metrics_allow: %s' % err)


def request_type(path):
    """'account', 'container' or 'object' for /v1/a[/c[/o]], else None."""
    if not path.startswith('/v1'):
        return None
    parts = path.split('/', 4)
    if len(parts) < 3 or parts[1] not in ('v1', 'v1.0') or not parts[2]:
        return None
    if len(parts) == 3 or not parts[3]:
        return 'account'
    if len(parts) == 4 or not parts[4]:
        return 'container'
    return 'object'


class Metrics:
    def __init__(self, app, conf):
        self.app = app
        self.conf = conf
        self.allowed = conf.allowed_networks()
        self.verbs = frozenset(v.strip().upper() for v in
                               conf.log_statsd_valid_http_methods.split(',') if v.strip())
        self.statsd = metrics.configure_statsd(conf, 'proxy-server')
        metrics.before_flush(_publish_node_stats)

    def __call__(self, environ, start_response):
        path = environ.get('PATH_INFO', '')
        if path == '/metrics':
            return self.serve(environ, start_response)
        kind = request_type(path)
        if kind is None:
            return self.app(environ, start_response)
        record = _Record(self, environ, kind)

        def record_start_response(status, headers, exc_info=None):
            record.status = status[:3]
            record.first_byte = time.time()
            return start_response(status, headers, exc_info)

        return _CountedBody(self.app(environ, record_start_response), record)

    def allows(self, environ):
        if self.allowed is None:
            return True
        try:
            address = ipaddress.ip_address(environ.get('REMOTE_ADDR', '').strip('[]'))
        except ValueError:
            return False
        return any(address in network for network in self.allowed)

    def serve(self, environ, start_response):
        if environ['REQUEST_METHOD'] not in ('GET', 'HEAD'):
            body = b'Method not allowed: GET /metrics only\n'
            start_response('405 Method Not Allowed', [
                ('Allow', 'GET, HEAD'), ('Content-Type', 'text/plain'),
                ('Content-Length', str(len(body)))])
            return [body]
        if not self.allows(environ):
            body = b'Forbidden: this address is not in metrics_allow\n'
            start_response('403 Forbidden', [('Content-Type', 'text/plain'),
                                             ('Content-Length', str(len(body)))])
            return [body]
        _publish_node_stats()
        content_type, body = metrics.exposition()
        start_response('200 OK', [('Content-Type', content_type),
                                  ('Content-Length', str(len(body)))])
        return [] if environ['REQUEST_METHOD'] == 'HEAD' else [body]

    def report(self, record, bytes_out, end):
        kind, verb, status = record.kind, record.verb, record.status
        policy = 'default' if kind == 'object' else ''
        total = end - record.start
        labels = (kind, verb, status, policy)
        metrics.observe('proxy_request_seconds', labels, total)
        first_byte = None
        if verb == 'GET' and record.first_byte is not None:
            first_byte = record.first_byte - record.start
            metrics.observe('proxy_first_byte_seconds', labels, first_byte)
        bytes_in = record.input.bytes if record.input is not None else 0
        if bytes_in:
            metrics.count('proxy_received_bytes', (kind, verb, policy), bytes_in)
        if bytes_out:
            metrics.count('proxy_sent_bytes', (kind, verb, policy), bytes_out)
        if self.statsd is not None:
            prefixes = [kind]
            if kind == 'object':
                prefixes.append('object.policy.' + POLICY_INDEX)
            sends = []
            for prefix in prefixes:
                base = '%s.%s.%s.' % (prefix, verb, status)
                sends.append((base + 'timing', total * 1000.0, 'ms', None))
                if first_byte is not None:
                    sends.append((base + 'first-byte.timing', first_byte * 1000.0, 'ms', None))
                sends.append((base + 'xfer', bytes_in + bytes_out, 'c', None))
            self.statsd.many(sends)


class _Record:
    __slots__ = ('middleware', 'kind', 'verb', 'start', 'status', 'first_byte', 'input')

    def __init__(self, middleware, environ, kind):
        self.middleware = middleware
        self.kind = kind
        verb = environ['REQUEST_METHOD']
        self.verb = verb if verb in middleware.verbs else 'BAD_METHOD'
        self.start = time.time()
        self.status = '499'
        self.first_byte = None
        self.input = None
        length = environ.get('CONTENT_LENGTH')
        if (length and length != '0') or 'HTTP_TRANSFER_ENCODING' in environ:
            self.input = environ['wsgi.input'] = _InputCounter(environ['wsgi.input'])


class _CountedBody:
    """The response body; reports the request when the server closes it."""

    __slots__ = ('body', 'record', 'sent')

    def __init__(self, body, record):
        self.body = body
        self.record = record
        self.sent = 0

    def __iter__(self):
        try:
            for chunk in self.body:
                self.sent += len(chunk)
                yield chunk
        except Exception:
            self.record.status = '499'
            raise

    def close(self):
        close = getattr(self.body, 'close', None)
        try:
            if close is not None:
                close()
        finally:
            record, self.record = self.record, None
            if record is not None:
                record.middleware.report(record, self.sent, time.time())


filter_factory = make_filter_factory(Metrics, Conf)
