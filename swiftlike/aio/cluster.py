"""An all-in-one cluster: prepare a data dir, then run and control its processes.

Used by the `swiftlike-aio` command and by the functional-test fixture, so the
tests run exactly what `make run` runs.
"""
import errno
import fcntl
import json
import os
import socket
import subprocess
import sys
import time

from swiftlike.aio import configs, devices, rings
from swiftlike.aio.layout import STORAGE_KINDS, save_layout
from swiftlike.aio.supervisor import ProcSpec, Supervisor, group_members
from swiftlike.exceptions import ConfigError

# Daemons per storage kind, in the section names they read from their server's conf.
DAEMONS = {
    'object': ('object-replicator', 'object-auditor', 'object-updater', 'object-expirer'),
    'container': ('container-replicator', 'container-updater'),
    'account': ('account-replicator', 'account-reaper'),
}
# One expirer per cluster is enough: they would all work the same queue.
SINGLE_NODE_DAEMONS = ('object-expirer',)

_RUNNER = ('import sys; from %s import %s as main; sys.argv[0] = %r; sys.exit(main())')


_PROBE_DAEMONS = """
import importlib, json
from swiftlike.daemon import DAEMON_CLASSES
ok = []
for name, (module, cls, _section) in DAEMON_CLASSES.items():
    try:
        getattr(importlib.import_module(module), cls)
        ok.append(name)
    except Exception:
        pass
print(json.dumps(ok))
"""


def available_daemons():
    """The daemons whose code exists and imports (checked in a child process,
    so a broken module cannot break the aio itself)."""
    try:
        done = subprocess.run([sys.executable, '-c', _PROBE_DAEMONS], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, timeout=60)
        found = set(json.loads(done.stdout)) if done.returncode == 0 else set()
    except (OSError, ValueError, subprocess.TimeoutExpired):
        found = set()
    return [name for kind in STORAGE_KINDS for name in DAEMONS[kind] if name in found]


def entry_argv(script, module, func, args):
    """argv running console script `script` (its file if installed, else via python -c)."""
    path = os.path.join(os.path.dirname(sys.executable), script)
    if os.path.isfile(path) and os.access(path, os.X_OK):
        return [path] + list(args)
    return [sys.executable, '-c', _RUNNER % (module, func, script)] + list(args)


def server_name(kind, index=0):
    return 'proxy-server' if kind == 'proxy' else '%s-server-%d' % (kind, index)


def node_server_name(index):
    return 'storage-server-%d' % index


def node_daemons_name(index):
    return 'daemons-%d' % index


# How the storage side is split into processes: 'node' runs each node's three
# servers in one process and its daemons in another (the least memory);
# 'server' gives every server and every daemon a process of its own (tests
# that stop one server of a node need that).
PROCESS_GROUPINGS = ('node', 'server')


def port_in_use(ip, port):
    family = socket.AF_INET6 if ':' in ip else socket.AF_INET
    with socket.socket(family) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ip, port))
        except OSError as err:
            return err.errno == errno.EADDRINUSE
    return False


class AioCluster:
    def __init__(self, layout, proxy_port=8080, users=configs.DEFAULT_USERS, workers=0,
                 daemons=True, log_level='INFO', storage_workers=None, processes='node'):
        if processes not in PROCESS_GROUPINGS:
            raise ConfigError('processes must be one of %s' % ', '.join(PROCESS_GROUPINGS))
        self.layout = layout
        self.processes = processes
        self._servers = []   # process names of the servers, storage ones first
        self.proxy_port = proxy_port
        self.users = list(users)
        self.workers = workers
        # None: the same as the proxy's.
        self.storage_workers = workers if storage_workers is None else storage_workers
        self.daemons = available_daemons() if daemons else []
        self.log_level = log_level
        env = dict(os.environ, SWIFTLIKE_CONF=layout.cluster_conf, PYTHONUNBUFFERED='1')
        self.supervisor = Supervisor(env)
        self._lock_fd = None

    # -- set-up ---------------------------------------------------------------
    @property
    def proxy_url(self):
        host = '[%s]' % self.layout.bind_ip if ':' in self.layout.bind_ip else self.layout.bind_ip
        return 'http://%s:%d' % (host, self.proxy_port)

    @property
    def auth_url(self):
        return self.proxy_url + '/auth/v1.0'

    def lock(self):
        """One aio per data dir: a second one would fight over ports and files."""
        os.makedirs(self.layout.run_dir, exist_ok=True)
        fd = os.open(os.path.join(self.layout.run_dir, 'aio.lock'), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise ConfigError('%s is in use by another swiftlike-aio' % self.layout.data_dir)
        self._lock_fd = fd

    @property
    def locked(self):
        return self._lock_fd is not None

    def unlock(self):
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def prepare(self):
        """Devices, secrets, rings and configs: whatever is missing is made, the rest kept."""
        if self.proxy_port == 0:
            from swiftlike.aio.layout import free_ports
            self.proxy_port = free_ports(1, self.layout.bind_ip)[0]
        for path in (self.layout.etc_dir, self.layout.log_dir, self.layout.run_dir):
            os.makedirs(path, exist_ok=True)
        save_layout(self.layout)
        devices.ensure_devices(self.layout)
        configs.ensure_cluster_conf(self.layout)
        rings.ensure_rings(self.layout)
        sections = {kind: [d for d in DAEMONS[kind] if d in self.daemons] for kind in STORAGE_KINDS}
        configs.write_storage_confs(self.layout, self.storage_workers, self.log_level, sections)
        configs.write_proxy_conf(self.layout, self.proxy_port, self.users, self.workers,
                                 self.log_level)
        self._add_specs()

    def _add(self, name, argv, **ready):
        self.supervisor.add(ProcSpec(name, argv, os.path.join(self.layout.log_dir, name + '.log'),
                                     **ready))

    def _add_specs(self):
        self._servers = []
        for node in self.layout.nodes:
            if self.processes == 'node':
                self._add_node(node)
            else:
                self._add_per_server(node)
        self._add('proxy-server', entry_argv('swiftlike-proxy-server', 'swiftlike.cli.servers',
                                             'proxy_server', [self.layout.proxy_conf]),
                  ready_url=self.proxy_url + '/healthcheck')
        self._servers.append('proxy-server')

    def node_daemons(self, index):
        """The daemons that run for node `index` (one expirer per cluster)."""
        return [d for kind in STORAGE_KINDS for d in DAEMONS[kind] if d in self.daemons
                and (d not in SINGLE_NODE_DAEMONS or index == 1)]

    def _add_node(self, node):
        confs = [self.layout.server_conf(kind, node.index) for kind in STORAGE_KINDS]
        name = node_server_name(node.index)
        # Ready when the last port to be bound (account) accepts connections.
        self._add(name, entry_argv('swiftlike-storage-server', 'swiftlike.cli.servers',
                                   'storage_server', confs),
                  ready_addr=(self.layout.bind_ip, node.ports[STORAGE_KINDS[-1]]))
        self._servers.append(name)
        daemons = self.node_daemons(node.index)
        if daemons:
            self._add(node_daemons_name(node.index),
                      entry_argv('swiftlike-daemons', 'swiftlike.cli.daemons', 'run_daemons',
                                 confs + ['--only', ','.join(daemons)]))

    def _add_per_server(self, node):
        for kind in STORAGE_KINDS:
            name = server_name(kind, node.index)
            conf = self.layout.server_conf(kind, node.index)
            self._add(name, entry_argv('swiftlike-%s-server' % kind, 'swiftlike.cli.servers',
                                       '%s_server' % kind, [conf]),
                      ready_addr=(self.layout.bind_ip, node.ports[kind]))
            self._servers.append(name)
        for daemon in self.node_daemons(node.index):
            self._add('%s-%d' % (daemon, node.index), self.daemon_argv(daemon, node.index))

    def daemon_argv(self, daemon, index, once=False):
        kind = daemon.split('-')[0]
        args = [self.layout.server_conf(kind, index)] + (['--once'] if once else [])
        return entry_argv('swiftlike-' + daemon, 'swiftlike.cli.daemons',
                          daemon.replace('-', '_'), args)

    def ports(self):
        """{process name: port} of every server."""
        found = {'proxy-server': self.proxy_port}
        for node in self.layout.nodes:
            for kind in STORAGE_KINDS:
                found[server_name(kind, node.index)] = node.ports[kind]
        return found

    def check_ports(self):
        busy = ['%d (%s)' % (port, name) for name, port in self.ports().items()
                if port_in_use(self.layout.bind_ip, port)]
        if busy:
            raise ConfigError('port(s) already in use on %s: %s. Is another swiftlike-aio '
                              'running? Choose others with --port/--base-port.'
                              % (self.layout.bind_ip, ', '.join(busy)))

    # -- processes ------------------------------------------------------------
    def server_names(self):
        return list(self._servers)

    def process_of(self, kind, index=0):
        """The process serving `kind` on node `index`: with processes='node',
        a node's three servers share one (stopping one stops all three)."""
        if kind != 'proxy' and self.processes == 'node':
            return node_server_name(index)
        return server_name(kind, index)

    def start(self, timeout=90.0):
        """Start every process; storage servers first so the proxy finds them up."""
        names = self.server_names()
        storage = [n for n in names if n != 'proxy-server']
        for name in storage:
            self.supervisor.start(name)
        self.supervisor.wait_ready(storage, timeout)
        self.supervisor.start('proxy-server')
        self.supervisor.wait_ready(['proxy-server'], timeout)
        for name in self.supervisor.specs:
            if name not in names:
                self.supervisor.start(name)
        self.write_state()

    def stop(self, timeout=15.0):
        self.supervisor.stop_all(timeout)
        try:
            os.unlink(self.layout.state_file)
        except OSError:
            pass

    def start_server(self, kind, index=0, timeout=60.0):
        name = self.process_of(kind, index)
        self.supervisor.start(name)
        self.supervisor.wait_ready([name], timeout)
        self.write_state()

    def stop_server(self, kind, index=0, timeout=15.0):
        self.supervisor.stop(self.process_of(kind, index), timeout)

    def kill_server(self, kind, index=0):
        self.supervisor.kill(self.process_of(kind, index))

    def server_pid(self, kind, index=0):
        return self.supervisor.pid(self.process_of(kind, index))

    def run_daemon_once(self, daemon, index, timeout=120.0):
        """Run one pass of `daemon` for node `index`; returns (exit status, output)."""
        done = subprocess.run(self.daemon_argv(daemon, index, once=True),
                              env=self.supervisor.base_env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=timeout)
        return done.returncode, done.stdout

    def all_pids(self):
        """Every live pid of the cluster: children and the workers they forked."""
        pids = []
        for name in self.supervisor.specs:
            pid = self.supervisor.pid(name)
            if pid:
                pids.extend(group_members(pid) or [pid])
        return sorted(set(pids))

    def state(self):
        return {
            'pid': os.getpid(),
            'data_dir': self.layout.data_dir,
            'proxy_url': self.proxy_url,
            'auth_url': self.auth_url,
            'users': {u.name: {'key': u.key, 'groups': list(u.groups),
                               'account': u.storage_account} for u in self.users},
            'children': {n: self.supervisor.pid(n) for n in self.supervisor.specs},
            'started': time.time(),
        }

    def write_state(self):
        path = self.layout.state_file
        tmp = path + '.tmp'
        with open(tmp, 'w', encoding='utf-8') as f:
            json.dump(self.state(), f, indent=2, sort_keys=True)
        os.replace(tmp, path)
