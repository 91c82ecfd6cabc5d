"""Daemon base: run_once / run_forever, an interval, I/O rate limits, recon stats.

A concrete daemon subclasses Daemon, sets `name` (its config section, e.g.
'object-replicator') and `recon_kind` ('object', 'container' or 'account'),
and implements `sweep()`, which does one pass and returns a dict of counters.
The base times the pass, logs one summary line, and merges the counters into
the recon cache file `<recon_cache_path>/<recon_kind>.recon` (JSON, written
atomically under a lock so several daemons can share one file). A daemon that
counts per device (`self.counters(keys).of(device)`) also gets its entry's
`per_device`: {device: counters}, so a failing disk shows by name.

Swift's recon endpoints read other keys of the same files (replication_stats,
object_auditor_stats_ALL, async_pending, ...): a daemon returns them from
`swift_recon()` after a pass that completed, and they are written in the same
locked update (see swiftlike/recon/endpoints.py for who reads what).
"""
import ctypes
import dataclasses
import fcntl
import json
import os
import platform
import signal
import socket
import time

from swiftlike import fs, metrics
from swiftlike.fs import write_atomically
from swiftlike.metrics import MetricsConf
from swiftlike.logs import get_logger, new_txn_id, set_txn_id

# Every daemon: command name -> (module, class, the server section of its conf).
DAEMON_CLASSES = {
    'object-replicator': ('swiftlike.obj.replicator', 'ObjectReplicator', 'object-server'),
    'object-auditor': ('swiftlike.obj.auditor', 'ObjectAuditor', 'object-server'),
    'object-updater': ('swiftlike.obj.updater', 'ObjectUpdater', 'object-server'),
    'object-expirer': ('swiftlike.obj.expirer', 'ObjectExpirer', 'object-server'),
    'container-replicator': ('swiftlike.container.replicator', 'ContainerReplicator',
                             'container-server'),
    'container-updater': ('swiftlike.container.updater', 'ContainerUpdater',
                          'container-server'),
    'account-replicator': ('swiftlike.account.replicator', 'AccountReplicator',
                           'account-server'),
    'account-reaper': ('swiftlike.account.reaper', 'AccountReaper', 'account-server'),
}

# Keys a daemon takes from its server's section when its own section and
# [DEFAULT] do not set them: where the devices are and who the server is.
INHERITED_KEYS = ('devices', 'mount_check', 'swift_dir', 'bind_ip', 'bind_port',
                  'log_level', 'conn_timeout', 'node_timeout', 'recon_cache_path',
                  # the metrics settings: set once for a server and its daemons
                  'log_statsd_host', 'log_statsd_port', 'log_statsd_metric_prefix',
                  'log_statsd_default_sample_rate', 'log_statsd_sample_rate_factor',
                  'prometheus_enabled', 'prometheus_dir')


@dataclasses.dataclass
class DaemonConf(MetricsConf):
    devices: str = '/srv/node'
    mount_check: bool = True
    swift_dir: str = '/etc/swiftlike'
    # The server this daemon runs beside: how it finds its own devices in the ring.
    bind_ip: str = '0.0.0.0'
    bind_port: int = 0
    log_level: str = 'INFO'
    log_file: str = ''
    # Seconds between the starts of two passes in run_forever.
    interval: float = 30.0
    # Where the recon cache lives; empty means <devices>/.recon (one per node).
    recon_cache_path: str = ''
    conn_timeout: float = 0.5
    node_timeout: float = 10.0
    concurrency: int = 1
    # 0 means unlimited.
    files_per_second: float = 0.0
    bytes_per_second: float = 0.0
    # The daemon process's CPU and disk share beside the servers of its node:
    # nice value added at start (0-19), and the I/O scheduling class
    # ('' = leave as is, 'best-effort' with ionice_priority 0-7, or 'idle').
    nice_priority: int = 10
    ionice_class: str = ''
    ionice_priority: int = 7

    def validate(self):
        if self.interval < 0:
            raise ValueError('interval must be >= 0')
        if self.concurrency < 1:
            raise ValueError('concurrency must be >= 1')
        if self.files_per_second < 0 or self.bytes_per_second < 0:
            raise ValueError('rate limits must be >= 0')
        if not 0 <= self.nice_priority <= 19:
            raise ValueError('nice_priority must be 0-19')
        if self.ionice_class not in IONICE_CLASSES or not 0 <= self.ionice_priority <= 7:
            raise ValueError('ionice_class must be one of %s, ionice_priority 0-7'
                             % ', '.join(repr(c) for c in IONICE_CLASSES))


# ioprio_set(2): class numbers, and the syscall's number per architecture.
IONICE_CLASSES = {'': None, 'best-effort': 2, 'idle': 3}
_SYS_IOPRIO_SET = {'x86_64': 251, 'aarch64': 30, 'i686': 289, 'armv7l': 314,
                   'ppc64le': 273, 's390x': 282}


def lower_priority(confs, logger=None):
    """Give this daemon process the CPU and disk share its confs ask for (when
    several daemons share a process, the one asking for the most wins)."""
    nice = min(conf.nice_priority for conf in confs)
    if nice:
        os.setpriority(os.PRIO_PROCESS, 0, min(19, os.getpriority(os.PRIO_PROCESS, 0) + nice))
    classes = [IONICE_CLASSES[conf.ionice_class] for conf in confs]
    if None in classes:
        return
    io_class = min(classes)
    level = min(conf.ionice_priority for conf in confs
                if IONICE_CLASSES[conf.ionice_class] == io_class)
    number = _SYS_IOPRIO_SET.get(platform.machine())
    libc = ctypes.CDLL(None, use_errno=True)
    # ioprio_set(IOPRIO_WHO_PROCESS = 1, 0 = this process, class << 13 | level)
    if number is None or libc.syscall(number, 1, 0, (io_class << 13) | level) != 0:
        if logger:
            logger.warning('cannot set the I/O priority (%s)',
                           os.strerror(ctypes.get_errno()) if number else platform.machine())


# Swift's statsd names for our daemons' counters ({device}: the device name;
# a counter kept for the whole pass leaves it out). Others: <daemon>.<counter>.
STATSD_NAMES = {
    'object-replicator': {'partitions': 'partition.update.count.{device}',
                          'handoffs_reverted': 'partition.delete.count.{device}',
                          'suffixes_differed': 'suffix.syncs', 'quarantined': 'quarantines'},
    'object-auditor': {'quarantined': 'quarantines'},
    'object-updater': {'bad_records': 'quarantines'},
    'object-expirer': {'objects_expired': 'objects', 'failures': 'errors'},
    'container-replicator': {'dbs': 'attempts', 'no_change': 'no_changes',
                             'complete_ships': 'remote_merges',
                             'handoffs_removed': 'removes.{device}'},
    'account-replicator': {'dbs': 'attempts', 'no_change': 'no_changes',
                           'complete_ships': 'remote_merges',
                           'handoffs_removed': 'removes.{device}'},
    'container-updater': {'reported': 'successes', 'report_failures': 'failures'},
    'account-reaper': {'failures': 'errors'},
}


def statsd_name(daemon, counter, device=''):
    """The statsd name (after the `<daemon>.` base) of a daemon's counter."""
    name = STATSD_NAMES.get(daemon, {}).get(counter, counter)
    if '{device}' in name:
        name = name.replace('.{device}', '.' + device if device else '')
    return name


class RateLimiter:
    """Keeps a long-run average of at most `rate` units per second.

    consume(n) sleeps as long as needed so the units consumed so far do not
    run ahead of rate * elapsed by more than one second's worth (the burst that
    lets small items through without a sleep each). Idle time is not banked.
    """

    def __init__(self, rate, clock=time.monotonic, sleep=time.sleep):
        self.rate = float(rate or 0)
        self.clock = clock
        self.sleep = sleep
        self._allowance_end = None  # the instant when everything consumed is "paid"

    def consume(self, units=1):
        if self.rate <= 0 or units <= 0:
            return 0.0
        now = self.clock()
        start = max(self._allowance_end or now, now)
        self._allowance_end = start + units / self.rate
        delay = self._allowance_end - now - 1.0
        if delay > 0:
            self.sleep(delay)
            return delay
        return 0.0


def default_recon_path(conf):
    if conf.recon_cache_path:
        return conf.recon_cache_path
    return os.path.join(conf.devices, '.recon')


def dump_recon(path, key, value):
    """Merge {key: value} into the JSON file at path, atomically and under a lock."""
    dump_recon_entries(path, {key: value})


def dump_recon_entries(path, entries):
    """Merge the top-level `entries` into the JSON file at path in one locked update."""
    directory = os.path.dirname(path) or '.'
    os.makedirs(directory, exist_ok=True)
    with open(path + '.lock', 'a') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = read_recon(path)
        data.update(entries)
        write_atomically(path, json.dumps(data, sort_keys=True).encode('utf-8'))


def read_recon(path):
    """The recon cache as a dict; {} when absent or unreadable."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def local_ips():
    """Addresses this host answers on (best effort, no external calls)."""
    ips = {'127.0.0.1', '::1', 'localhost'}
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            ips.add(info[4][0])
    except OSError:
        pass
    try:
        import subprocess
        out = subprocess.run(['ip', '-o', 'addr'], capture_output=True, text=True,
                             timeout=5).stdout
        for line in out.splitlines():
            fields = line.split()
            if len(fields) > 3 and fields[2] in ('inet', 'inet6'):
                ips.add(fields[3].split('/')[0])
    except (OSError, ValueError, Exception):
        pass
    return ips


class DeviceCounters:
    """One pass's counters, kept per device; totals() sums them up."""

    def __init__(self, keys):
        self.keys = tuple(keys)
        self.by_device = {}

    def of(self, device):
        return self.by_device.setdefault(device, dict.fromkeys(self.keys, 0))

    def totals(self):
        totals = dict.fromkeys(self.keys, 0)
        for counts in self.by_device.values():
            for key, value in counts.items():
                totals[key] = totals.get(key, 0) + value
        return totals


class Daemon:
    name = 'daemon'
    recon_kind = 'object'

    def __init__(self, conf, logger=None, rings=None):
        self.conf = conf
        self._rings = dict(rings or {})   # name -> Ring; None entries load on first use
        self.logger = logger or get_logger(self.name, conf.log_level, conf.log_file or None)
        self.files_limiter = RateLimiter(conf.files_per_second)
        self.bytes_limiter = RateLimiter(conf.bytes_per_second)
        self.recon_file = os.path.join(default_recon_path(conf), '%s.recon' % self.recon_kind)
        self._stopping = False
        self.only_devices = None   # a set of names limits the pass to them
        self.last_pass_ok = True
        self._device_counters = None
        self.failure_nodes = {}    # this pass: {ip: {device: failures}} (Swift's failure_nodes)
        self.statsd = metrics.configure_statsd(conf, self.name)

    # -- what subclasses implement ---------------------------------------
    def sweep(self):
        """One pass over the local devices; returns {counter: number}."""
        raise NotImplementedError

    # -- helpers -----------------------------------------------------------
    def ring(self, name):
        """The named ring, loaded once (a Ring reloads itself when its file changes)."""
        if self._rings.get(name) is None:
            from swiftlike.ring import Ring
            self._rings[name] = Ring(self.conf.swift_dir, ring_name=name)
        return self._rings[name]

    @property
    def recon_key(self):
        return self.name.replace('-', '_')

    def local_devices(self):
        """Names of the device directories under `devices` that may be used."""
        try:
            names = sorted(os.listdir(self.conf.devices))
        except OSError:
            return []
        result = []
        for name in names:
            path = os.path.join(self.conf.devices, name)
            if not os.path.isdir(path) or name.startswith('.'):
                continue
            if self.only_devices is not None and name not in self.only_devices:
                continue
            if self.conf.mount_check and not fs.is_mount_point(path):
                self.logger.warning('skipping %s: not mounted', path)
                continue
            result.append(name)
        return result

    def is_local(self, node, ips=None):
        """True when a ring node is one of this server's devices."""
        if node is None:
            return False
        if self.conf.bind_port and self.conf.bind_port not in (
                node.get('port'), node.get('replication_port')):
            return False
        if self.conf.bind_ip not in ('0.0.0.0', '::', ''):
            if self.conf.bind_ip not in (node.get('ip'), node.get('replication_ip')):
                return False
        elif ips is not None and node.get('ip') not in ips and \
                node.get('replication_ip') not in ips:
            return False
        return os.path.isdir(os.path.join(self.conf.devices, node['device']))

    def swift_recon(self, stats, start, elapsed):
        """Swift's recon cache keys for a completed pass ({} when the daemon has none)."""
        return {}

    def note_failure(self, node):
        """Count a failed exchange with a ring node, by ip and device."""
        by_device = self.failure_nodes.setdefault(str(node.get('ip')), {})
        device = str(node.get('device'))
        by_device[device] = by_device.get(device, 0) + 1

    def counters(self, keys):
        """Fresh per-device counters for this pass (see DeviceCounters)."""
        self._device_counters = DeviceCounters(keys)
        return self._device_counters

    def limit(self, files=0, nbytes=0):
        """Pace I/O: call once per file with its size."""
        if files:
            self.files_limiter.consume(files)
        if nbytes:
            self.bytes_limiter.consume(nbytes)

    def stop(self):
        self._stopping = True

    # True while run_forever drives the passes: a daemon may then pace its
    # work over the interval (a one-off pass runs flat out).
    pacing = False

    def rate_limiter(self, rate):
        """A RateLimiter of `rate` units per second (tests give it a clock)."""
        return RateLimiter(rate)

    # -- running -----------------------------------------------------------
    def run_once(self):
        """One pass: sweep, then a summary log line and the recon cache entry."""
        set_txn_id(new_txn_id('-' + self.name))
        start = time.time()
        self._device_counters = None
        self.failure_nodes = {}
        try:
            stats = self.sweep() or {}
            ok = True
        except Exception:
            self.logger.exception('%s pass failed', self.name)
            stats, ok = {'errors': 1}, False
        elapsed = time.time() - start
        self.last_pass_ok = ok
        summary = ' '.join('%s=%s' % (k, stats[k]) for k in sorted(stats))
        self.logger.info('%s pass %s in %.2fs: %s', self.name,
                         'done' if ok else 'FAILED', elapsed, summary or '-')
        entry = {'last_pass': start, 'pass_time': round(elapsed, 4), 'ok': ok}
        entry.update(stats)
        if self._device_counters is not None:
            entry['per_device'] = self._device_counters.by_device
        entries = {self.recon_key: entry}
        if ok:
            try:
                entries.update(self.swift_recon(stats, start, elapsed))
            except Exception:
                self.logger.exception('%s: recon figures failed', self.name)
        try:
            dump_recon_entries(self.recon_file, entries)
        except OSError as err:
            self.logger.warning('cannot write recon cache %s: %s', self.recon_file, err)
        self.report_metrics(start, elapsed, ok, stats)
        return stats

    def report_metrics(self, start, elapsed, ok, stats):
        """One pass's figures to Prometheus (daemon_* metrics, labelled with
        this daemon's name) and statsd (Swift's names where it has one, see
        STATSD_NAMES; `<daemon>.<counter>` otherwise)."""
        name = self.name
        metrics.child('daemon_passes', name, 'ok' if ok else 'failed').inc()
        metrics.child('daemon_pass_seconds', name).set(elapsed)
        metrics.child('daemon_last_pass_timestamp_seconds', name).set(start)
        if self._device_counters is not None:
            per_device = self._device_counters.by_device.items()
        else:
            per_device = [('', stats)]
        sends = []
        for device, counts in per_device:
            for key, value in counts.items():
                if not isinstance(value, (int, float)) or isinstance(value, bool) or not value:
                    continue
                metrics.child('daemon_items', name, key, device).inc(value)
                if self.statsd is not None:
                    sends.append((statsd_name(name, key, device), value, 'c', None))
        metrics.flush()
        if self.statsd is not None:
            sends.append(('pass.timing', elapsed * 1000.0, 'ms', None))
            self.statsd.many(sends)

    def run_forever(self, max_passes=None, handle_signals=True):
        """Pass after pass, starting one every `interval` seconds, until SIGTERM
        (or stop(), when several daemons share a process that owns the signals)."""
        if handle_signals:
            def on_signal(signum, frame):
                self.stop()
            signal.signal(signal.SIGTERM, on_signal)
            signal.signal(signal.SIGINT, on_signal)
        passes = 0
        self.pacing = True
        while not self._stopping:
            start = time.time()
            self.run_once()
            passes += 1
            if max_passes is not None and passes >= max_passes:
                break
            deadline = start + self.conf.interval
            while not self._stopping and time.time() < deadline:
                time.sleep(min(0.5, max(0.0, deadline - time.time())))
        return passes


def load_daemon_conf(path, section, conf_class, server_section=None, overrides=None):
    """Read a daemon's section; missing keys come from [DEFAULT], then (for
    INHERITED_KEYS only) from the server's own section in the same file.
    `overrides` ({key: text}, e.g. from the command line) beat the file."""
    from swiftlike.config import build, read_ini
    from swiftlike.exceptions import ConfigError
    sections = read_ini(path)
    if section not in sections and server_section not in sections:
        raise ConfigError('%s: neither [%s] nor [%s] found' % (path, section, server_section))
    defaults = dict(sections.get('DEFAULT', {}))
    known = {f.name for f in dataclasses.fields(conf_class)}
    for key, value in sections.get(server_section or '', {}).items():
        if key in INHERITED_KEYS and key in known:
            defaults.setdefault(key, value)
    values = dict(sections.get(section, {}))
    values.update(overrides or {})
    return build(conf_class, values, path, section, defaults)
