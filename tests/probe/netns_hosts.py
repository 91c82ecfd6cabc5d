"""A 4-host cluster for probe tests: each storage host in its own network
namespace (veth into a bridge, its own IP, its own zone), the proxy in the
test's namespace. Needs root and `ip netns`.

Addresses are in 10.250.<n>.0/24, inside namespaces this module creates and
removes itself; nothing leaves the machine.
"""
import contextlib
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

from swiftlike.aio import configs
from swiftlike.aio.layout import Layout
from tests.conftest import TEST_HASH_PREFIX, TEST_HASH_SUFFIX

PORTS = {'object': 6200, 'container': 6201, 'account': 6202}
HOSTS = 4


def _ip(*args, check=True):
    return subprocess.run(['ip'] + list(args), capture_output=True, text=True, check=check)


def netns_unavailable():
    """None when namespaces can be made here, else the reason."""
    if os.geteuid() != 0:
        return 'needs root to create network namespaces'
    if shutil.which('ip') is None:
        return 'iproute2 (ip) is not installed'
    name = 'swlchk%d' % (os.getpid() % 100000)
    done = _ip('netns', 'add', name, check=False)
    if done.returncode != 0:
        return 'cannot create a network namespace: %s' % done.stderr.strip()
    _ip('netns', 'del', name, check=False)
    return None


class NetnsCluster:
    def __init__(self, data_dir):
        self.data_dir = data_dir
        self.tag = '%d' % (os.getpid() % 10000)
        self.subnet = 200 + os.getpid() % 50
        self.bridge = 'swb%s' % self.tag
        self.hosts = []
        for n in range(1, HOSTS + 1):
            self.hosts.append({
                'index': n, 'ns': 'swh%s-%d' % (self.tag, n), 'veth': 'swv%s-%d' % (self.tag, n),
                'ip': '10.250.%d.%d' % (self.subnet, 10 + n), 'device': 'd%d' % n,
                'devices': os.path.join(data_dir, 'h%d' % n)})
        self.gateway = '10.250.%d.1' % self.subnet
        self.etc = os.path.join(data_dir, 'etc')
        self.log_dir = os.path.join(data_dir, 'log')
        self.procs = {}
        self.env = dict(os.environ, SWIFTLIKE_CONF=os.path.join(self.etc, 'swiftlike.conf'),
                        PYTHONUNBUFFERED='1')
        self.proxy_port = None

    # -- network -------------------------------------------------------------------
    def setup_network(self):
        _ip('link', 'add', self.bridge, 'type', 'bridge')
        _ip('addr', 'add', self.gateway + '/24', 'dev', self.bridge)
        _ip('link', 'set', self.bridge, 'up')
        for host in self.hosts:
            _ip('netns', 'add', host['ns'])
            _ip('link', 'add', host['veth'], 'type', 'veth', 'peer', 'name', 'eth0',
                'netns', host['ns'])
            _ip('link', 'set', host['veth'], 'master', self.bridge)
            _ip('link', 'set', host['veth'], 'up')
            _ip('-n', host['ns'], 'addr', 'add', host['ip'] + '/24', 'dev', 'eth0')
            _ip('-n', host['ns'], 'link', 'set', 'eth0', 'up')
            _ip('-n', host['ns'], 'link', 'set', 'lo', 'up')

    def cut(self, n):
        _ip('link', 'set', self.hosts[n - 1]['veth'], 'down')

    def restore(self, n):
        _ip('link', 'set', self.hosts[n - 1]['veth'], 'up')

    def teardown_network(self):
        for host in self.hosts:
            _ip('netns', 'del', host['ns'], check=False)
            _ip('link', 'del', host['veth'], check=False)
        _ip('link', 'del', self.bridge, check=False)

    # -- files -----------------------------------------------------------------------
    def write_files(self):
        os.makedirs(self.etc, exist_ok=True)
        os.makedirs(self.log_dir, exist_ok=True)
        with open(self.env['SWIFTLIKE_CONF'], 'w') as f:
            f.write('[hash]\npath_prefix = %s\npath_suffix = %s\n'
                    % (TEST_HASH_PREFIX, TEST_HASH_SUFFIX))
        for kind, port in PORTS.items():
            builder = os.path.join(self.etc, kind + '.builder')
            self._ring([builder, 'create', 6, 3, 0])
            for host in self.hosts:
                self._ring([builder, 'add', 'r1z%d-%s:%d/%s' % (host['index'], host['ip'], port,
                                                                host['device']), 100])
            self._ring([builder, 'rebalance'], (0, 1))
        for host in self.hosts:
            os.makedirs(os.path.join(host['devices'], host['device']), exist_ok=True)
            for kind, port in PORTS.items():
                with open(self.conf(host, kind), 'w') as f:
                    f.write('[DEFAULT]\ndevices = %s\nmount_check = false\nswift_dir = %s\n'
                            'bind_ip = %s\nlog_level = INFO\nconn_timeout = 0.5\n'
                            'node_timeout = 5\n\n[%s-server]\nbind_port = %d\nworkers = 0\n'
                            'fallocate_reserve = 0\n'
                            % (host['devices'], self.etc, host['ip'], kind, port))
        layout = Layout(data_dir=self.data_dir, bind_ip='127.0.0.1')
        with socket.socket() as sock:
            sock.bind(('127.0.0.1', 0))
            self.proxy_port = sock.getsockname()[1]
        configs.write_proxy_conf(layout, self.proxy_port, configs.DEFAULT_USERS, workers=0)

    def _ring(self, args, allowed=(0,)):
        # The ring-builder command as an operator types it (in-process).
        from swiftlike.cli.ring_builder import main
        out = io.StringIO()
        with contextlib.redirect_stderr(out):
            try:
                status = main([str(a) for a in args], out=out)
            except SystemExit as exc:
                status = exc.code if isinstance(exc.code, int) else 2
        assert status in allowed, out.getvalue()

    def conf(self, host, kind):
        return os.path.join(self.etc, '%s-server-h%d.conf' % (kind, host['index']))

    # -- processes -----------------------------------------------------------------
    def _spawn(self, name, argv, ns=None):
        if ns:
            argv = ['ip', 'netns', 'exec', ns] + argv
        log = open(os.path.join(self.log_dir, name + '.log'), 'ab')
        self.procs[name] = subprocess.Popen(argv, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def start(self, timeout=60):
        for host in self.hosts:
            for kind in PORTS:
                self._spawn('%s-h%d' % (kind, host['index']),
                            [sys.executable, '-m', 'swiftlike.cli.servers', kind,
                             self.conf(host, kind)], host['ns'])
        self._spawn('proxy', [sys.executable, '-m', 'swiftlike.cli.servers', 'proxy',
                              os.path.join(self.etc, 'proxy-server.conf')])
        targets = [(h['ip'], p) for h in self.hosts for p in PORTS.values()]
        targets.append(('127.0.0.1', self.proxy_port))
        deadline = time.time() + timeout
        for addr in targets:
            while True:
                try:
                    socket.create_connection(addr, timeout=1).close()
                    break
                except OSError:
                    if time.time() > deadline:
                        raise RuntimeError('%s:%d never came up' % addr)
                    time.sleep(0.2)

    @property
    def proxy_url(self):
        return 'http://127.0.0.1:%d' % self.proxy_port

    def run_daemon(self, daemon, n, options=None, timeout=300):
        host = self.hosts[n - 1]
        kind = daemon.split('-')[0]
        argv = ['ip', 'netns', 'exec', host['ns'], sys.executable, '-m', 'swiftlike.cli.daemons',
                daemon, self.conf(host, kind), '--once']
        for key, value in (options or {}).items():
            argv += ['-o', '%s=%s' % (key, value)]
        done = subprocess.run(argv, env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        return done.stderr

    def stop(self):
        for proc in self.procs.values():
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
