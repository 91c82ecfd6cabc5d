"""The JSON of each `GET /recon/<what>` a storage server answers.

Shapes follow Swift's recon middleware, so swift-recon habits and existing
dashboards read them; `diskio` and `daemons` are ours. Figures the daemons
compute are read from the recon cache files they write
(`<recon_cache_path>/{object,container,account}.recon`, see swiftlike/daemon.py);
the rest is read from /proc, the devices directory and swift_dir when asked.
Any storage server (object, container or account) answers every endpoint for
its node: they share the devices directory and the recon cache.

    load              {"1m": 0.5, "5m": 0.4, "15m": 0.3, "tasks": "2/345", "processes": 4321}
    mem               {"MemTotal": "2052444 kB", ...}  (/proc/meminfo as the kernel writes it)
    mounted           [{"device": "/dev/loop3", "path": "/srv/node/d1"}, ...]  (every mount)
    devices           {"<devices dir>": ["d1", ...]}
    unmounted         [{"device": "d1", "mounted": false}, ...]  (devices not usable now:
                      not a mount point while mount_check is on, or not a directory)
    diskusage         [{"device": "d1", "mounted": true, "size": bytes, "used": bytes,
                        "avail": bytes}, ...]; an unmounted device has
                      {"mounted": false, "size": "", "used": "", "avail": ""}
    ringmd5           {"<swift_dir>/object.ring.gz": "<md5 hex>", ...}  (every *.ring.gz)
    swiftconfmd5      {"<path of swiftlike.conf>": "<md5 hex>"}
    quarantined       {"objects": n, "containers": n, "accounts": n,
                       "policies": {"0": {"objects": n}}}  (entries under
                      <device>/quarantined/<kind>s, summed over the devices)
    sockstat          {"tcp_in_use": n, "orphan": n, "time_wait": n,
                       "tcp_mem_allocated_bytes": n, "tcp6_in_use": n}
    async             {"async_pending": n, "async_pending_last": epoch}  (object updater)
    replication       same as replication/object (Swift's older form)
    replication/object    {"replication_time": minutes, "replication_last": epoch,
                       "object_replication_time": minutes, "object_replication_last": epoch,
                       "replication_stats": {"attempted", "success", "failure",
                       "failure_nodes": {ip: {device: n}}, "hashmatch", "remove", "rsync",
                       "suffix_count", "suffix_hash", "suffix_sync", "start"}}
    replication/container, replication/account
                      {"replication_time": seconds, "replication_last": epoch,
                       "replication_stats": {"attempted", "success", "failure",
                       "failure_nodes", "no_change", "hashmatch", "diff", "diff_capped",
                       "rsync", "remote_merge", "remove", "empty", "ts_repl", "start"}}
    auditor/object    {"object_auditor_stats_ALL": {"audit_time", "bytes_processed",
                       "errors", "passes", "quarantined", "start_time"},
                       "object_auditor_stats_ZBF": null}
    auditor/container {"container_audits_passed", "container_audits_failed",
                       "container_audits_since", "container_auditor_pass_completed"}
    auditor/account   the same with "account_" (null: swiftlike has no DB auditor yet)
    updater/object    {"object_updater_sweep": seconds}
    updater/container {"container_updater_sweep": seconds}
    expirer/object    {"object_expiration_pass": seconds, "expired_last_pass": n}
    driveaudit        {"drive_audit_errors": n or null}  (drive.recon, from a drive audit tool)
    time              epoch seconds (a bare JSON number)
    version           {"swiftversion": "<swiftlike version>"}
    diskio            {"interval": s, "time": epoch, "cpu": {"user_pct", "nice_pct",
                       "system_pct", "idle_pct", "iowait_pct", "irq_pct", "softirq_pct",
                       "steal_pct"}, "devices": [{"device": "d1", "path", "block_device":
                       "loop3", "disk": "loop3", "major_minor": "7:3", "reads_per_s",
                       "writes_per_s", "read_mb_per_s", "write_mb_per_s",
                       "read_merged_per_s", "write_merged_per_s", "read_await_ms",
                       "write_await_ms", "await_ms", "queue_size", "util_pct", "in_flight",
                       "totals": {"reads", "writes", "read_bytes", "write_bytes", "io_ms"}}]}
                      (a device without a block device has "block_device": null and a
                      "reason"); ?interval=S (0.1-10, default 1) is how long to measure
                      when no earlier sample of this process is 0.5 s to 5 min old
    server_type_check "object-server" (or container-server, account-server): which server
                      answered, so a ring pointing at the wrong port shows
    daemons           {"object": {"object_replicator": {...}, ...}, "container": {...},
                       "account": {...}}: each daemon's own last-pass entry (counters,
                       pass_time, last_pass, ok, per_device)

A key nobody has written yet is null, as in Swift. Anything else under /recon
answers 404 with the reason.
"""
import hashlib
import os
import time

from swiftlike import __version__, fs, hashing
from swiftlike.daemon import DAEMON_CLASSES, read_recon
from swiftlike.exceptions import BadRequest, NotFound
from swiftlike.recon import diskio, procfs

KINDS = ('object', 'container', 'account')
QUARANTINE_DIRS = {'objects': 'objects', 'containers': 'containers', 'accounts': 'accounts'}
AUDITOR_KEYS = {
    'object': ('object_auditor_stats_ALL', 'object_auditor_stats_ZBF'),
    'container': ('container_audits_passed', 'container_audits_failed',
                  'container_audits_since', 'container_auditor_pass_completed'),
    'account': ('account_audits_passed', 'account_audits_failed',
                'account_audits_since', 'account_auditor_pass_completed'),
}
REPLICATION_KEYS = {
    'object': ('replication_time', 'replication_stats', 'replication_last',
               'object_replication_time', 'object_replication_last'),
    'container': ('replication_time', 'replication_stats', 'replication_last'),
    'account': ('replication_time', 'replication_stats', 'replication_last'),
}
UPDATER_KEYS = {'object': ('object_updater_sweep',),
                'container': ('container_updater_sweep',)}
EXPIRER_KEYS = ('object_expiration_pass', 'expired_last_pass')
ASYNC_KEYS = ('async_pending', 'async_pending_last')
MIN_DISKIO_INTERVAL, MAX_DISKIO_INTERVAL = 0.1, 10.0


class ReconEndpoints:
    """Answers recon questions for one node. `sleep` is how diskio waits
    between its two samples (green inside a server)."""

    def __init__(self, devices, swift_dir, recon_cache_path='', mount_check=True,
                 proc_root='/proc', sys_root='/sys', sleep=time.sleep, server_type=None):
        self.server_type = server_type
        self.devices = devices
        self.swift_dir = swift_dir
        self.recon_cache_path = recon_cache_path or os.path.join(devices, '.recon')
        self.mount_check = mount_check
        self.proc_root = proc_root
        self.sampler = diskio.Sampler(proc_root, sys_root, sleep=sleep)
        self._md5_cache = {}
        self.handlers = {
            'load': self.load, 'mem': self.mem, 'mounted': self.mounted,
            'devices': self.device_list, 'unmounted': self.unmounted,
            'diskusage': self.diskusage, 'ringmd5': self.ringmd5,
            'swiftconfmd5': self.swiftconfmd5, 'quarantined': self.quarantined,
            'sockstat': self.sockstat, 'async': self.async_pending,
            'replication': self.replication, 'auditor': self.auditor,
            'updater': self.updater, 'expirer': self.expirer,
            'driveaudit': self.driveaudit, 'time': self.time, 'version': self.version,
            'diskio': self.diskio, 'daemons': self.daemons,
            'server_type_check': self.server_type_check,
        }
        # Endpoints that take a /<type>; the others take none.
        self.typed = {'replication': KINDS, 'auditor': KINDS,
                      'updater': tuple(UPDATER_KEYS), 'expirer': ('object',)}

    # -- dispatch ----------------------------------------------------------------
    def answer(self, what, rtype=None, query=None):
        """The JSON-able answer to /recon/<what>[/<rtype>]; NotFound or BadRequest."""
        handler = self.handlers.get(what)
        if handler is None:
            raise NotFound('Unknown recon endpoint %r; known: %s'
                           % (what[:64], ', '.join(sorted(self.handlers))))
        if what in self.typed:
            kinds = self.typed[what]
            if rtype is None and what == 'replication':
                rtype = 'object'
            if rtype not in kinds:
                raise NotFound('/recon/%s needs a type: %s' % (what, ', '.join(
                    '/recon/%s/%s' % (what, k) for k in kinds)))
            return handler(rtype)
        if rtype is not None:
            raise NotFound('/recon/%s takes no type (got %r)' % (what, rtype[:64]))
        if what == 'diskio':
            return handler(query or {})
        return handler()

    # -- helpers -------------------------------------------------------------------
    def _cache(self, kind):
        return read_recon(os.path.join(self.recon_cache_path, '%s.recon' % kind))

    def _from_cache(self, kind, keys):
        data = self._cache(kind)
        return {key: data.get(key) for key in keys}

    def device_names(self):
        try:
            names = sorted(os.listdir(self.devices))
        except OSError:
            return []
        return [n for n in names if not n.startswith('.')
                and os.path.isdir(os.path.join(self.devices, n))]

    def is_mounted(self, name):
        path = os.path.join(self.devices, name)
        if not os.path.isdir(path):
            return False
        return fs.is_mount_point(path) if self.mount_check else True

    def _md5(self, path):
        try:
            st = os.stat(path)
        except OSError:
            return None
        key = (path, st.st_mtime_ns, st.st_size)
        cached = self._md5_cache.get(path)
        if cached and cached[0] == key:
            return cached[1]
        digest = hashlib.md5(usedforsecurity=False)
        try:
            with open(path, 'rb') as f:
                for chunk in iter(lambda: f.read(65536), b''):
                    digest.update(chunk)
        except OSError:
            return None
        self._md5_cache[path] = (key, digest.hexdigest())
        return digest.hexdigest()

    # -- /proc ---------------------------------------------------------------------
    def load(self):
        return procfs.parse_loadavg(procfs.read(os.path.join(self.proc_root, 'loadavg')))

    def mem(self):
        return procfs.parse_meminfo(procfs.read(os.path.join(self.proc_root, 'meminfo')))

    def mounted(self):
        return [{'device': m['device'], 'path': m['path']} for m in procfs.parse_mounts(
            procfs.read(os.path.join(self.proc_root, 'mounts')))]

    def sockstat(self):
        return procfs.parse_sockstat(
            procfs.read(os.path.join(self.proc_root, 'net', 'sockstat')),
            procfs.read(os.path.join(self.proc_root, 'net', 'sockstat6')),
            os.sysconf('SC_PAGE_SIZE'))

    # -- devices ---------------------------------------------------------------------
    def device_list(self):
        return {self.devices: self.device_names()}

    def unmounted(self):
        return [{'device': name, 'mounted': False}
                for name in self.device_names() if not self.is_mounted(name)]

    def diskusage(self):
        result = []
        for name in self.device_names():
            if not self.is_mounted(name):
                result.append({'device': name, 'mounted': False, 'size': '', 'used': '',
                               'avail': ''})
                continue
            try:
                st = os.statvfs(os.path.join(self.devices, name))
            except OSError as err:
                result.append({'device': name, 'mounted': str(err), 'size': '',
                               'used': '', 'avail': ''})
                continue
            size = st.f_blocks * st.f_frsize
            avail = st.f_bavail * st.f_frsize
            used = (st.f_blocks - st.f_bfree) * st.f_frsize
            result.append({'device': name, 'mounted': True, 'size': size, 'used': used,
                           'avail': avail})
        return result

    def quarantined(self):
        counts = dict.fromkeys(QUARANTINE_DIRS, 0)
        for name in self.device_names():
            if not self.is_mounted(name):
                continue
            base = os.path.join(self.devices, name, 'quarantined')
            for key, sub in QUARANTINE_DIRS.items():
                try:
                    counts[key] += len(os.listdir(os.path.join(base, sub)))
                except OSError:
                    pass
        counts['policies'] = {'0': {'objects': counts['objects']}}
        return counts

    def diskio(self, query):
        raw = query.get('interval', '1')
        try:
            interval = float(raw)
        except (TypeError, ValueError):
            raise BadRequest('interval must be a number of seconds, not %r' % str(raw)[:32])
        if not MIN_DISKIO_INTERVAL <= interval <= MAX_DISKIO_INTERVAL:
            raise BadRequest('interval must be between %s and %s seconds'
                             % (MIN_DISKIO_INTERVAL, MAX_DISKIO_INTERVAL))
        devices = [(n, os.path.join(self.devices, n)) for n in self.device_names()]
        report = self.sampler.report(devices, interval)
        for entry in report['devices']:
            entry['mounted'] = self.is_mounted(entry['device'])
        return report

    # -- files -----------------------------------------------------------------------
    def ringmd5(self):
        try:
            names = sorted(n for n in os.listdir(self.swift_dir) if n.endswith('.ring.gz'))
        except OSError:
            return {}
        result = {}
        for name in names:
            path = os.path.join(self.swift_dir, name)
            result[path] = self._md5(path)
        return result

    def swiftconfmd5(self):
        path = hashing.conf_path()
        if not os.path.exists(path):
            path = os.path.join(self.swift_dir, 'swiftlike.conf')
        return {path: self._md5(path)}

    # -- the daemons' cache ------------------------------------------------------------
    def async_pending(self):
        return self._from_cache('object', ASYNC_KEYS)

    def replication(self, kind):
        return self._from_cache(kind, REPLICATION_KEYS[kind])

    def auditor(self, kind):
        return self._from_cache(kind, AUDITOR_KEYS[kind])

    def updater(self, kind):
        return self._from_cache(kind, UPDATER_KEYS[kind])

    def expirer(self, kind):
        return self._from_cache(kind, EXPIRER_KEYS)

    def driveaudit(self):
        return self._from_cache('drive', ('drive_audit_errors',))

    def daemons(self):
        caches = {kind: self._cache(kind) for kind in KINDS}
        result = {kind: {} for kind in KINDS}
        for name, (_module, _cls, server) in DAEMON_CLASSES.items():
            kind = server.split('-')[0]
            key = name.replace('-', '_')
            if caches[kind].get(key) is not None:
                result[kind][key] = caches[kind][key]
        return result

    # -- the rest ----------------------------------------------------------------------
    def time(self):
        return time.time()

    def server_type_check(self):
        return '%s-server' % self.server_type if self.server_type else None

    def version(self):
        return {'swiftversion': __version__}
