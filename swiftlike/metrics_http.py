"""What the servers do with metrics per request: a storage server's request
metrics and its `GET /metrics` (swiftlike.metrics holds the metrics
themselves; the proxy's side is swiftlike/middleware/metrics.py).

Storage servers answer `GET /metrics` to anyone who can reach them: they sit on
the cluster's internal network, as their REPLICATE verb does (the proxy's
/metrics, reachable by clients, has an allow-list).
"""
from swiftlike import metrics
from swiftlike.constraints import is_decimal


def swift_timing_name(verb, status):
    """Swift's storage-server timing name: `<VERB>.timing`, or
    `<VERB>.errors.timing` for an error (4xx/5xx; a 404 is not an error)."""
    if status < 400 or status == 404:
        return verb + '.timing'
    return verb + '.errors.timing'


class RequestMetrics:
    """A storage server's per-request metrics: the server_request_seconds
    histogram and byte counters (labelled server=<type>-server), and
    statsd's `<type>-server.<VERB>[.errors].timing`."""

    def __init__(self, server_name, conf, verbs):
        self.server = server_name
        self.prometheus = conf.prometheus_enabled
        self.statsd = metrics.configure_statsd(conf, server_name)
        self.on = self.prometheus or self.statsd is not None
        self.verbs = frozenset(verbs)
        self.devices = getattr(conf, 'devices', None)

    def observe(self, environ, status, bytes_out, elapsed):
        verb = environ['REQUEST_METHOD']
        if verb not in self.verbs:
            verb = 'BAD_METHOD'
        if self.prometheus:
            metrics.observe('server_request_seconds', (self.server, verb, str(status)), elapsed)
            length = environ.get('CONTENT_LENGTH')
            if length and is_decimal(length) and length != '0':
                metrics.count('server_received_bytes', (self.server, verb), int(length))
            if bytes_out:
                metrics.count('server_sent_bytes', (self.server, verb), bytes_out)
        if self.statsd is not None:
            self.statsd.timing(swift_timing_name(verb, status), elapsed * 1000.0)

    def serve(self, environ, start_response, kind):
        """GET /metrics: this node's metrics of this kind of server (its
        daemons' too) and the fill of its devices."""
        if not self.prometheus:
            start_response('404 Not Found', [('Content-Type', 'text/plain'),
                                             ('Content-Length', '28')])
            return [b'prometheus_enabled is false\n']
        collectors = []
        if self.devices:
            collectors.append(metrics.DeviceCollector(self.devices, count_async=kind == 'object'))
        content_type, body = metrics.exposition((kind + '-',), collectors)
        start_response('200 OK', [('Content-Type', content_type),
                                  ('Content-Length', str(len(body)))])
        return [] if environ['REQUEST_METHOD'] == 'HEAD' else [body]


def publish_node_stats(rows):
    """Copy the slow-node detector's view (node_stats snapshot rows) into the
    proxy_node_* gauges, just before a scrape reads them."""
    for row in rows:
        name = row['node']
        for quantile in ('p50', 'p90', 'p99'):
            metrics.child('proxy_node_latency_seconds', name,
                          '0.' + quantile[1:]).set(row[quantile])
        metrics.child('proxy_node_error_limited', name).set(1 if row['error_limited'] else 0)
        metrics.child('proxy_node_slow', name).set(1 if row['slow'] else 0)
