"""A statsd client (UDP, Graphite's dotted names), configured as Swift's is.

Settings (every server's and daemon's section, or [DEFAULT]):
  log_statsd_host                 empty: statsd off (no socket, no cost)
  log_statsd_port                 8125
  log_statsd_metric_prefix        put before every name, with a dot
  log_statsd_default_sample_rate  the sample rate of metrics that do not give one
  log_statsd_sample_rate_factor   multiplies every sample rate (thin out all
                                  metrics of a busy server at once)

Wire format (etsy statsd): `name:value|c` (counter), `name:value|ms` (timing,
milliseconds), `name:value|g` (gauge), with `|@rate` appended when the rate is
below 1 (the server scales the value back up). Every metric is sampled on its
own: it is sent with probability `rate`.

Batching: `many()` sends the metrics of one request in one
datagram, lines separated by '\\n' (etsy statsd and its successors split
datagrams on newlines), at most `max_datagram` bytes each: a proxy request
emits 3-6 metrics, and one send instead of six is most of the client's cost.
Sends never block and never raise: a metric that cannot be sent is dropped.
"""
import dataclasses
import random
import socket


@dataclasses.dataclass
class StatsdConf:
    log_statsd_host: str = ''
    log_statsd_port: int = 8125
    log_statsd_metric_prefix: str = ''
    log_statsd_default_sample_rate: float = 1.0
    log_statsd_sample_rate_factor: float = 1.0

    def validate_statsd(self):
        if not 0 < self.log_statsd_port < 65536:
            raise ValueError('log_statsd_port must be a port number')
        for name in ('log_statsd_default_sample_rate', 'log_statsd_sample_rate_factor'):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError('%s must be between 0 and 1' % name)


def format_line(name, value, kind, rate=1.0):
    """One statsd line: 'name:value|kind' plus '|@rate' below 1. Floats (the
    timings, in ms) keep at most 3 decimals (microseconds)."""
    if value.__class__ is float:
        value = '%.3f' % value
        if value.endswith('0'):
            value = value.rstrip('0').rstrip('.')
    if rate < 1.0:
        return '%s:%s|%s|@%s' % (name, value, kind, ('%.6f' % rate).rstrip('0'))
    return '%s:%s|%s' % (name, value, kind)


class StatsdClient:
    """Sends metrics named `<prefix>.<base>.<name>` (parts left out when empty).

    `base` is the server or daemon name (`proxy-server`, `object-server`,
    `object-replicator`), so names are Swift's: proxy-server.object.GET.200.timing.
    """

    max_datagram = 1400   # fits one Ethernet frame with IP/UDP headers

    def __init__(self, host, port=8125, prefix='', base='', default_sample_rate=1.0,
                 sample_rate_factor=1.0, rand=random.random):
        self.address = None
        self.sock = None
        self.default_sample_rate = default_sample_rate
        self.sample_rate_factor = sample_rate_factor
        self.random = rand
        self.prefix = '.'.join(p.strip('.') for p in (prefix, base) if p and p.strip('.'))
        if self.prefix:
            self.prefix += '.'
        if host:
            try:
                info = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)[0]
            except (OSError, UnicodeError):
                info = None
            if info is not None:
                from swiftlike.concurrency import native_udp_socket
                self.address = info[4]
                self.sock = native_udp_socket(info[0])

    @classmethod
    def from_conf(cls, conf, base):
        """A client for `conf` (a StatsdConf), or None when statsd is off."""
        if not getattr(conf, 'log_statsd_host', ''):
            return None
        return cls(conf.log_statsd_host, conf.log_statsd_port, conf.log_statsd_metric_prefix,
                   base, conf.log_statsd_default_sample_rate,
                   conf.log_statsd_sample_rate_factor)

    # -- metric kinds ----------------------------------------------------
    def increment(self, name, rate=None):
        self.update_stats(name, 1, rate)

    def decrement(self, name, rate=None):
        self.update_stats(name, -1, rate)

    def update_stats(self, name, value, rate=None):
        """A counter changed by `value`."""
        self._emit(name, value, 'c', rate)

    def timing(self, name, milliseconds, rate=None):
        self._emit(name, float(milliseconds), 'ms', rate)

    def timing_since(self, name, start, rate=None, now=None):
        import time
        self.timing(name, ((now if now is not None else time.time()) - start) * 1000.0, rate)

    def gauge(self, name, value, rate=None):
        self._emit(name, value, 'g', rate)

    # -- sending -----------------------------------------------------------
    def _emit(self, name, value, kind, rate):
        if self.sock is None:
            return
        rate = (self.default_sample_rate if rate is None else rate) * self.sample_rate_factor
        if rate < 1.0 and self.random() >= rate:
            return
        self._send(format_line(self.prefix + name, value, kind, rate))

    def _send(self, payload):
        try:
            self.sock.sendto(payload.encode('utf-8'), self.address)
        except (OSError, UnicodeError):
            pass   # a full buffer or an unreachable statsd loses the metric, never the request

    def many(self, metrics):
        """Emit several metrics, (name, value, kind, rate) each (kind 'c', 'ms'
        or 'g'; rate None for the default), sampled one by one and sent in as
        few datagrams as fit. No green thread switch happens inside, so
        concurrent requests never mix their batches."""
        if self.sock is None:
            return
        lines = []
        for name, value, kind, rate in metrics:
            rate = (self.default_sample_rate if rate is None else rate) * self.sample_rate_factor
            if rate < 1.0 and self.random() >= rate:
                continue
            lines.append(format_line(self.prefix + name, float(value) if kind == 'ms' else value,
                                     kind, rate))
        if lines:
            self.flush(lines)

    def flush(self, lines):
        chunk, size = [], 0
        for line in lines:
            if chunk and size + len(line) + 1 > self.max_datagram:
                self._send('\n'.join(chunk))
                chunk, size = [], 0
            chunk.append(line)
            size += len(line) + 1
        if chunk:
            self._send('\n'.join(chunk))

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

