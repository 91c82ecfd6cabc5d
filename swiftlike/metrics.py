"""Metrics of every server and daemon: Prometheus (`GET /metrics`) and statsd.

Prometheus, across processes. A server runs several forked workers and its
node's daemons run in other processes, yet a scrape must see exact totals. We
use prometheus_client's multiprocess mode: every process writes its values to
memory-mapped files in one directory (`prometheus_dir`), and a scrape adds up
the files of every process, the dead ones included, so nothing a worker counted
is lost when it exits. `setup(directory)` switches this process to it and must
run before the first metric is created (the CLI does, before forking):
- a storage node uses `<devices>/.metrics` (next to `.recon`), shared by its
  object, container and account servers and by its daemons. Every sample has
  a `server` label (object-server, object-replicator, ...); a storage server's
  /metrics shows the samples of its kind (`object-*` on the object server), so
  the daemons, which have no HTTP server, are scraped through the server of
  their node, and one scrape per server counts nothing twice;
- a proxy uses `/tmp/swiftlike-metrics/proxy-<bind_port>` unless set.
When a server starts, the files of processes no longer running are removed (a
restart is a counter reset to Prometheus, which rate() handles); a worker that
dies while its server runs keeps its files, so the counts stay exact, and so
does a daemon's `--once` pass until the server's next start.

Without `setup()` (tests that build an app in-process) metrics live in this
process's memory, in a registry of their own.

Gauges are "mostrecent" across processes: a worker's per-node latency view,
refreshed when it serves a scrape.

statsd: `statsd_client(base)` is the process's client for a server or daemon
name (see swiftlike/statsd.py), configured by `configure_statsd(conf, base)`;
None while statsd is off, so callers test it and pay nothing.
"""
import bisect
import dataclasses
import glob
import os
import re
import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST, values
from prometheus_client import multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from swiftlike.recon import diskio, procfs
from swiftlike.statsd import StatsdClient, StatsdConf

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0, 30.0)


@dataclasses.dataclass
class MetricsConf(StatsdConf):
    """The metrics settings every server and daemon section takes."""
    # Serve GET /metrics (Prometheus text exposition).
    prometheus_enabled: bool = True
    # The multiprocess directory; empty: <devices>/.metrics on storage nodes,
    # /tmp/swiftlike-metrics/proxy-<bind_port> on a proxy.
    prometheus_dir: str = ''


# name -> (class, help, labels, extra kwargs). Counters get _total on the wire.
DEFINITIONS = {
    'proxy_request_seconds': (
        Histogram, 'Client requests through the proxy, start to last byte, by type '
        '(account/container/object), verb, status and storage policy',
        ('type', 'verb', 'status', 'policy'), {'buckets': LATENCY_BUCKETS}),
    'proxy_first_byte_seconds': (
        Histogram, 'Client GETs through the proxy, start to response headers',
        ('type', 'verb', 'status', 'policy'), {'buckets': LATENCY_BUCKETS}),
    'proxy_received_bytes': (
        Counter, 'Request body bytes received from clients', ('type', 'verb', 'policy'), {}),
    'proxy_sent_bytes': (
        Counter, 'Response body bytes sent to clients', ('type', 'verb', 'policy'), {}),
    'proxy_backend_seconds': (
        Histogram, 'Proxy to storage node requests, to the first byte of the answer, by node '
        '(ip:port/device): the slow-node detector', ('node',), {'buckets': LATENCY_BUCKETS}),
    'proxy_ratelimit_actions': (
        Counter, 'What the ratelimit middleware did: throttled (delayed), rejected, marked '
        '(refused while marked), marks_set, cut_off (bytes_out), blacklisted, memcache_errors',
        ('action',), {}),
    'proxy_backend_errors': (
        Counter, 'Proxy to storage node requests that failed, by node and kind '
        '(timeout: no answer, 5xx, 507: full or unmounted)', ('node', 'kind'), {}),
    'proxy_node_latency_seconds': (
        Gauge, 'A proxy worker\'s latency percentiles of each node (last 256 requests)',
        ('node', 'quantile'), {'multiprocess_mode': 'mostrecent'}),
    'proxy_node_error_limited': (
        Gauge, '1 while the proxy skips the node after errors (error limiting)', ('node',),
        {'multiprocess_mode': 'mostrecent'}),
    'proxy_node_slow': (
        Gauge, '1 when the node\'s p90 latency is far above the median node\'s', ('node',),
        {'multiprocess_mode': 'mostrecent'}),
    'server_request_seconds': (
        Histogram, 'Requests to a storage server, start to last byte, by verb and status',
        ('server', 'verb', 'status'), {'buckets': LATENCY_BUCKETS}),
    'server_received_bytes': (
        Counter, 'Request body bytes a storage server received', ('server', 'verb'), {}),
    'server_sent_bytes': (
        Counter, 'Response body bytes a storage server sent', ('server', 'verb'), {}),
    'events': (
        Counter, 'Things that happened: async_pendings (container updates left for the '
        'updater), quarantines, errors', ('server', 'event'), {}),
    'daemon_passes': (
        Counter, 'Daemon passes, by result (ok/failed)', ('server', 'result'), {}),
    'daemon_pass_seconds': (
        Gauge, 'How long the last pass of the daemon took', ('server',),
        {'multiprocess_mode': 'mostrecent'}),
    'daemon_last_pass_timestamp_seconds': (
        Gauge, 'When the last pass of the daemon started (Unix time)', ('server',),
        {'multiprocess_mode': 'mostrecent'}),
    'daemon_items': (
        Counter, 'What daemon passes did, by counter (partitions, files_checked, quarantined, '
        'successes, ...) and device', ('server', 'counter', 'device'), {}),
}
PREFIX = 'swiftlike_'

_lock = threading.Lock()
_state = {'dir': None, 'registry': None}
_metrics = {}
_children = {}
_statsd = {}


def setup(directory, clean=True):
    """Count this process's metrics in `directory` (multiprocess mode).

    Call once, before any metric is used; a later call with another directory
    changes nothing (a process has one). Returns the directory in use.
    `clean`: first remove the files of processes no longer running (servers
    do, at start; daemons do not, so a `--once` pass's counts stay until the
    node's server restarts)."""
    with _lock:
        if _state['dir'] is not None or _metrics:
            return _state['dir']
        os.makedirs(directory, exist_ok=True)
        if clean:
            remove_dead_files(directory)
        os.environ['PROMETHEUS_MULTIPROC_DIR'] = directory
        values.ValueClass = values.MultiProcessValue()
        _state['dir'] = directory
        return directory


def remove_dead_files(directory):
    """Remove the value files of processes that no longer run."""
    for path in glob.glob(os.path.join(directory, '*.db')):
        match = re.search(r'_(\d+)\.db$', path)
        if not match:
            continue
        pid = int(match.group(1))
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            try:
                os.unlink(path)
            except OSError:
                pass
        except PermissionError:
            pass


def directory():
    """The multiprocess directory of this process (None: in-memory)."""
    return _state['dir']


def default_dir(conf, storage=True):
    """Where a server's or daemon's metrics go, from its conf."""
    if getattr(conf, 'prometheus_dir', ''):
        return conf.prometheus_dir
    if storage:
        return os.path.join(conf.devices, '.metrics')
    return os.path.join('/tmp', 'swiftlike-metrics', 'proxy-%s' % conf.bind_port)


def metric(name):
    """The metric object called `name` in DEFINITIONS (made on first use)."""
    found = _metrics.get(name)
    if found is not None:
        return found
    with _lock:
        found = _metrics.get(name)
        if found is None:
            cls, doc, labels, extra = DEFINITIONS[name]
            if _state['dir'] is None and _state['registry'] is None:
                _state['registry'] = CollectorRegistry()
            found = cls(PREFIX + name, doc, labels, registry=_state['registry'], **extra)
            _metrics[name] = found
    return found


def child(name, *labels):
    """metric(name).labels(*labels), cached (labels() costs a lock and a dict)."""
    key = (name, labels)
    found = _children.get(key)
    if found is None:
        found = _children[key] = metric(name).labels(*labels)
    return found


# -- the hot path: buffered in this process, flushed every FLUSH_INTERVAL ------
#
# A request's counts go into a dict here (about a microsecond) instead of the
# multiprocess files (a lock and an mmap write per value, ~10 per GET); a green
# thread of each process adds them to the files every FLUSH_INTERVAL seconds,
# and a process serving a scrape flushes its own first. So a scrape sees every
# request of the serving worker and those of the other workers up to one
# interval ago; nothing is dropped (a worker stopping flushes as it exits).

FLUSH_INTERVAL = 1.0
_pending = {}          # prometheus value object -> amount to add
_targets = {}          # (name, labels) -> counter value / (sum, buckets, bounds)
_flusher = {'pid': None}
_before_flush = []     # functions each periodic flush calls first (gauges a process keeps)


def before_flush(func):
    """Have `func()` called before every periodic flush of this process (it
    sets gauges from state the process keeps, such as the proxy's per-node
    latencies, so every worker's view reaches the shared files, not only the
    view of the worker that serves a scrape). Registered once per func."""
    if func not in _before_flush:
        _before_flush.append(func)


def count(name, labels, amount=1):
    """Add `amount` to the counter `name` with `labels` (a tuple)."""
    value = _targets.get((name, labels))
    if value is None:
        value = _targets[(name, labels)] = child(name, *labels)._value
    _pending[value] = _pending.get(value, 0) + amount
    if _flusher['pid'] != _pid():
        _start_flusher()


def observe(name, labels, amount):
    """Observe `amount` in the histogram `name` with `labels` (a tuple)."""
    target = _targets.get((name, labels))
    if target is None:
        hist = child(name, *labels)
        target = _targets[(name, labels)] = (hist._sum, hist._buckets, hist._upper_bounds)
    total, buckets, bounds = target
    _pending[total] = _pending.get(total, 0.0) + amount
    bucket = buckets[bisect.bisect_left(bounds, amount)]
    _pending[bucket] = _pending.get(bucket, 0) + 1
    if _flusher['pid'] != _pid():
        _start_flusher()


def flush():
    """Write this process's buffered counts to its metric values."""
    if not _pending:
        return
    items = list(_pending.items())
    _pending.clear()
    for value, amount in items:
        value.inc(amount)


# os.getpid() is a system call each time: the pid is kept, and renewed in a
# forked child.
_PID = [os.getpid()]
os.register_at_fork(after_in_child=lambda: _PID.__setitem__(0, os.getpid()))


def _pid():
    return _PID[0]


def _start_flusher():
    _flusher['pid'] = _pid()
    if _state['dir'] is None:
        return   # in memory: exposition() flushes, nobody else reads
    from swiftlike import concurrency

    def loop():
        while True:
            concurrency.sleep(FLUSH_INTERVAL)
            for func in list(_before_flush):
                try:
                    func()
                except Exception:  # noqa: BLE001 - a gauge is not worth a worker
                    pass
            flush()
    concurrency.spawn(loop)


def event(server, what, count_=1):
    """Count an event (e.g. 'object-server', 'async_pendings') in Prometheus
    and, when statsd is on, as the statsd counter `<server>.<what>`. Events
    are rare and may be counted from a disk thread: written at once, under
    prometheus_client's lock, not buffered."""
    child('events', server, what).inc(count_)
    client = _statsd.get(server)
    if client is not None:
        client.update_stats(what, count_)


# -- statsd ---------------------------------------------------------------

def configure_statsd(conf, base):
    """Make (or replace) the statsd client named `base` from `conf`; None
    when log_statsd_host is empty."""
    old = _statsd.pop(base, None)
    if old is not None:
        old.close()
    client = StatsdClient.from_conf(conf, base)
    if client is not None:
        _statsd[base] = client
    return client


def statsd_client(base):
    return _statsd.get(base)


# -- exposition -------------------------------------------------------------

class _ServerFilter:
    """Only the samples whose `server` label starts with one of `prefixes`
    (samples without that label pass)."""

    def __init__(self, source, prefixes):
        self.source = source
        self.prefixes = tuple(prefixes)

    def collect(self):
        for family in self.source.collect():
            samples = [s for s in family.samples
                       if 'server' not in s.labels or s.labels['server'].startswith(self.prefixes)]
            if samples:
                family.samples = samples
                yield family


class DeviceCollector:
    """Disk fill and queued async pendings of each device under `devices`,
    read when scraped (statvfs, and a count of async_pending files); the I/O
    counters of the block device under each (/proc/diskstats, as node_exporter
    gives them: rate() of them is iostat -x) and the node's CPU time by mode
    (/proc/stat, steal included)."""

    def __init__(self, devices, count_async=True, proc_root='/proc', sys_root='/sys'):
        self.devices = devices
        self.count_async = count_async
        self.proc_root = proc_root
        self.sys_root = sys_root

    def collect(self):
        size = GaugeMetricFamily(PREFIX + 'device_size_bytes', 'Size of the device\'s filesystem',
                                 labels=['device'])
        avail = GaugeMetricFamily(PREFIX + 'device_avail_bytes',
                                  'Bytes free for the server on the device', labels=['device'])
        used = GaugeMetricFamily(PREFIX + 'device_used_ratio',
                                 'Fill of the device (0..1)', labels=['device'])
        pending = GaugeMetricFamily(PREFIX + 'async_pending_files',
                                    'Container updates queued for the object updater',
                                    labels=['device'])
        try:
            names = sorted(os.listdir(self.devices))
        except OSError:
            names = []
        io = _DiskIoFamilies()
        diskstats = procfs.parse_diskstats(procfs.read(os.path.join(self.proc_root, 'diskstats')))
        for name in names:
            path = os.path.join(self.devices, name)
            if name.startswith('.') or not os.path.isdir(path):
                continue
            io.add(name, diskio.block_device_of(path, self.sys_root), diskstats)
            try:
                st = os.statvfs(path)
            except OSError:
                continue
            total = st.f_blocks * st.f_frsize
            free = st.f_bavail * st.f_frsize
            size.add_metric([name], total)
            avail.add_metric([name], free)
            used.add_metric([name], (total - st.f_bfree * st.f_frsize) / total if total else 0.0)
            if self.count_async:
                pending.add_metric([name], count_async_pendings(path))
        yield size
        yield avail
        yield used
        yield from io.families()
        yield _cpu_family(self.proc_root)
        if self.count_async:
            yield pending


# /proc/diskstats field -> (metric, help, scale to the metric's unit)
_DISK_COUNTERS = (
    ('reads', 'device_reads_completed', 'Reads completed by the block device under the device', 1),
    ('writes', 'device_writes_completed', 'Writes completed by the block device', 1),
    ('sectors_read', 'device_read_bytes', 'Bytes read by the block device', 512),
    ('sectors_written', 'device_written_bytes', 'Bytes written by the block device', 512),
    ('read_ms', 'device_read_time_seconds', 'Time reads spent queued and served', 0.001),
    ('write_ms', 'device_write_time_seconds', 'Time writes spent queued and served', 0.001),
    ('io_ms', 'device_io_time_seconds', 'Time the block device was busy (rate() is %util / 100)',
     0.001),
)


class _DiskIoFamilies:
    def __init__(self):
        self.by_field = {field: CounterMetricFamily(PREFIX + metric, text,
                                                    labels=['device', 'block_device'])
                         for field, metric, text, _scale in _DISK_COUNTERS}

    def add(self, name, block, diskstats):
        stats = diskstats.get(block.get('name', ''))
        if stats is None:
            return    # no block device (tmpfs, overlay, NFS): no I/O figures
        for field, _metric, _text, scale in _DISK_COUNTERS:
            self.by_field[field].add_metric([name, block['name']], stats.get(field, 0) * scale)

    def families(self):
        return [self.by_field[field] for field, *_rest in _DISK_COUNTERS]


def _cpu_family(proc_root):
    """The node's CPU seconds by mode (steal: what a hypervisor took)."""
    family = CounterMetricFamily(PREFIX + 'node_cpu_seconds',
                                 'CPU time of the node by mode (all CPUs), from /proc/stat',
                                 labels=['mode'])
    try:
        ticks = procfs.parse_cpu_times(procfs.read(os.path.join(proc_root, 'stat')))
    except ValueError:
        return family
    hz = os.sysconf('SC_CLK_TCK') if hasattr(os, 'sysconf') else 100
    for mode in ('user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'):
        family.add_metric([mode], ticks.get(mode, 0) / float(hz))
    return family


def count_async_pendings(device_path, limit=1000000):
    """Files under <device>/async_pending/<suffix>/ (stops counting at limit)."""
    count = 0
    try:
        suffixes = os.scandir(os.path.join(device_path, 'async_pending'))
    except OSError:
        return 0
    with suffixes:
        for entry in suffixes:
            if not entry.is_dir():
                continue
            try:
                count += len(os.listdir(entry.path))
            except OSError:
                continue
            if count >= limit:
                break
    return count


def exposition(server_prefixes=None, collectors=()):
    """The Prometheus text of this process's metrics (every process's, in
    multiprocess mode), limited to `server_prefixes` when given, plus what
    `collectors` yield. Returns (content_type, body bytes)."""
    flush()
    registry = CollectorRegistry(auto_describe=False)
    if _state['dir'] is not None:
        source = multiprocess.MultiProcessCollector(None, path=_state['dir'])
    else:
        source = _state['registry'] or CollectorRegistry()
    registry.register(_ServerFilter(source, server_prefixes) if server_prefixes else source)
    for collector in collectors:
        registry.register(collector)
    return CONTENT_TYPE_LATEST, generate_latest(registry)


def reset_for_tests():
    """Forget every metric and statsd client (a test's fresh start)."""
    with _lock:
        _metrics.clear()
        _children.clear()
        _pending.clear()
        _targets.clear()
        _flusher['pid'] = None
        for client in _statsd.values():
            client.close()
        _statsd.clear()
        _state['registry'] = None
