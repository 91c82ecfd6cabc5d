"""The slow-node detector: per storage node (ip:port/device) latency
percentiles and error-limit state, as this proxy worker saw them.

THE API (what other code, e.g. an operator console, calls):

    from swiftlike.proxy import node_stats
    tracker = node_stats.current()      # this process's NodeStats (never None)
    rows = tracker.snapshot()           # list of dicts, one per node, sorted by name
    tracker.slow_nodes()                # the rows flagged slow

Each row of `snapshot()` is a plain dict (JSON-ready):

    {'node': '10.0.0.1:6200/sdb',   # ip:port/device, the node's name everywhere
     'ip': '10.0.0.1', 'port': 6200, 'device': 'sdb',
     'count': 812,                  # requests recorded (all time, this worker)
     'errors': 3,                   # of which failed (timeout, refused, 5xx)
     'samples': 256,                # latencies in the window the percentiles use
     'p50': 0.0031, 'p90': 0.0102, 'p99': 0.0410, 'max': 0.0532,   # seconds
     'last_seen': 1765000000.1,     # wall-clock time of the last request (0: never)
     'error_limited': False,        # the proxy skips it now (error limiting)
     'recent_errors': 0,            # errors counted toward the limit
     'slow': False}                 # p90 > slow_factor x the median node's p90

A latency is the time from sending a request to a node until its status line
and headers arrived (first byte), for every backend request the proxy makes:
reads, writes (until 100-continue or the final answer), info lookups. Failures
count as errors, and their time is recorded too (a node timing out is slow).

Cost and bounds: each node keeps a ring buffer of its last `window` latencies
(a preallocated list, O(1) per request); percentiles are computed only when
snapshot() is called (sorting `window` floats per node). Nodes not seen for
`forget_after` seconds are dropped, so a ring change does not grow it forever.

Scope: one NodeStats per proxy process (worker). With workers > 1 each worker
sees the requests it served; the per-node latency histograms on /metrics
(`swiftlike_proxy_backend_seconds`) add up every worker exactly, and the
`swiftlike_proxy_node_latency_seconds` gauges show the view a worker last
published (each publishes its own every second).
"""
import threading
import time

from swiftlike.proxy.node_iter import node_key

DEFAULT_WINDOW = 256
# A node is "slow" when its p90 exceeds this many times the median node's p90
# (and SLOW_FLOOR seconds: on an idle loopback cluster, 2 ms vs 0.5 ms is not
# a slow disk) with at least MIN_SAMPLES samples.
SLOW_FACTOR = 3.0
SLOW_FLOOR = 0.05
MIN_SAMPLES = 8


def node_name(node):
    """'ip:port/device', the name a node has in metrics and the console."""
    ip = node['ip']
    if ':' in ip and not ip.startswith('['):
        ip = '[%s]' % ip
    return '%s:%s/%s' % (ip, node['port'], node['device'])


def percentile(sorted_values, fraction):
    """The nearest-rank percentile of an ascending list (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = int(fraction * len(sorted_values) + 0.999999999) - 1
    return sorted_values[min(max(rank, 0), len(sorted_values) - 1)]


class LatencyWindow:
    """The last `size` latencies of one node (a ring buffer) and its counts."""

    __slots__ = ('values', 'size', 'next', 'filled', 'count', 'errors', 'last_seen')

    def __init__(self, size=DEFAULT_WINDOW):
        self.size = size
        self.values = [0.0] * size
        self.next = 0
        self.filled = 0
        self.count = 0
        self.errors = 0
        self.last_seen = 0.0

    def add(self, seconds, ok=True, now=None):
        self.values[self.next] = seconds
        self.next = (self.next + 1) % self.size
        if self.filled < self.size:
            self.filled += 1
        self.count += 1
        if not ok:
            self.errors += 1
        self.last_seen = time.time() if now is None else now

    def sorted(self):
        return sorted(self.values[:self.filled])


class NodeStats:
    """Per-node latency windows plus a view of the proxy's ErrorLimiter."""

    def __init__(self, window=DEFAULT_WINDOW, limiter=None, slow_factor=SLOW_FACTOR,
                 slow_floor=SLOW_FLOOR, forget_after=3600.0, clock=time.time):
        self.window = window
        self.limiter = limiter
        self.slow_factor = slow_factor
        self.slow_floor = slow_floor
        self.forget_after = forget_after
        self.clock = clock
        self._nodes = {}    # node key -> (node dict, LatencyWindow)
        self._lock = threading.Lock()   # snapshot() may run in another OS thread

    def observe(self, node, seconds, ok=True):
        """Record one backend request's latency (to first byte) for `node`;
        returns the node's name (ip:port/device)."""
        key = node_key(node)
        entry = self._nodes.get(key)
        if entry is None:
            entry = self._nodes[key] = (
                {'ip': node['ip'], 'port': node['port'], 'device': node['device'],
                 'name': node_name(node)},
                LatencyWindow(self.window))
        entry[1].add(seconds, ok, self.clock())
        return entry[0]['name']

    def snapshot(self):
        """One dict per node (see the module docstring), sorted by name."""
        now = self.clock()
        limits = self.limiter.state() if self.limiter is not None else {}
        rows = []
        with self._lock:
            for key, (node, win) in list(self._nodes.items()):
                if now - win.last_seen > self.forget_after:
                    self._nodes.pop(key, None)
                    continue
                values = win.sorted()
                limit = limits.get(key, {})
                rows.append({
                    'node': node['name'], 'ip': node['ip'], 'port': node['port'],
                    'device': node['device'], 'count': win.count, 'errors': win.errors,
                    'samples': len(values), 'p50': percentile(values, 0.50),
                    'p90': percentile(values, 0.90), 'p99': percentile(values, 0.99),
                    'max': values[-1] if values else 0.0, 'last_seen': win.last_seen,
                    'error_limited': bool(limit.get('limited')),
                    'recent_errors': limit.get('errors', 0), 'slow': False})
            # Nodes only the limiter knows (limited before any latency was seen).
            seen = {(r['ip'], r['port'], r['device']) for r in rows}
            for key, limit in limits.items():
                if key not in seen:
                    ip, port, device = key
                    node = {'ip': ip, 'port': port, 'device': device}
                    rows.append({'node': node_name(node), 'ip': ip, 'port': port,
                                 'device': device, 'count': 0, 'errors': 0, 'samples': 0,
                                 'p50': 0.0, 'p90': 0.0, 'p99': 0.0, 'max': 0.0,
                                 'last_seen': 0.0, 'error_limited': bool(limit['limited']),
                                 'recent_errors': limit['errors'], 'slow': False})
        mark_slow(rows, self.slow_factor, self.slow_floor)
        rows.sort(key=lambda r: r['node'])
        return rows

    def slow_nodes(self):
        """The rows of snapshot() flagged slow."""
        return [row for row in self.snapshot() if row['slow']]


def mark_slow(rows, factor=SLOW_FACTOR, floor=SLOW_FLOOR):
    """Flag rows whose p90 is above `factor` x the median p90 and `floor`."""
    p90s = sorted(r['p90'] for r in rows if r['samples'] >= MIN_SAMPLES)
    if not p90s:
        return rows
    median = p90s[(len(p90s) - 1) // 2]
    for row in rows:
        row['slow'] = (row['samples'] >= MIN_SAMPLES and row['p90'] > floor
                       and row['p90'] > factor * median)
    return rows


_current = None


def register(tracker):
    """Make `tracker` this process's NodeStats (the proxy app does, at start)."""
    global _current
    _current = tracker
    return tracker


def current():
    """This process's NodeStats: the proxy app's, or an empty one before it
    started (so callers never get None)."""
    global _current
    if _current is None:
        _current = NodeStats()
    return _current
