"""doc/deploy.md's worked example on four network-namespace hosts.

Each host is a namespace with the guide's own address (10.0.0.11-14) on a veth
into a bridge that has no address in the test's namespace, so nothing here is
routed to or from the machine (and two runs side by side cannot collide). A
fifth namespace is the client. Each host's files are exactly what
swiftlike-node-configs writes for the guide, moved under a temporary
directory (swift_dir and devices are the only differences); each device is a
tmpfs mount, so mount_check = true holds as on a real node. The processes
are started, stopped and run once with bin/swiftlike-init, inside the host's
namespace, as an operator would on the host.
"""
import contextlib
import ctypes
import http.client as http_client
import io
import os
import shlex
import shutil
import subprocess
import sys
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

from swiftlike.cli import node_configs
from swiftlike.cli.ring_builder import main as ring_builder

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INIT = os.path.join(REPO, 'bin', 'swiftlike-init')
CLIENT_IP = '10.0.0.100'
CLONE_NEWNET = 0x40000000


def _ip(*args, check=True):
    return subprocess.run(['ip'] + list(args), capture_output=True, text=True, check=check)


class DeployHost:
    def __init__(self, spec, root, tag):
        self.spec = spec
        self.root = root
        self.ns = 'swd%s-%s' % (tag, spec.name[-1])
        self.veth = 'swdv%s-%s' % (tag, spec.name[-1])
        self.paths = node_configs.Paths(swift_dir=os.path.join(root, 'etc', 'swiftlike'),
                                        devices=os.path.join(root, 'srv', 'node'))
        self.run_dir = os.path.join(root, 'run')
        self.log_dir = os.path.join(root, 'log')

    @property
    def ip(self):
        return self.spec.ip

    def device_path(self, device):
        return os.path.join(self.paths.devices, device)

    def init(self, *args, timeout=600):
        """bin/swiftlike-init ARGS run on this host; (status, output)."""
        argv = ['ip', 'netns', 'exec', self.ns, sys.executable, INIT,
                '--conf-dir', self.paths.swift_dir, '--run-dir', self.run_dir,
                '--log-dir', self.log_dir] + list(args)
        env = {k: v for k, v in os.environ.items() if k != 'SWIFTLIKE_CONF'}
        start = time.monotonic()
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
        # Shown with pytest -s: where a slow run spends its time.
        print('%s: swiftlike-init %s: %.1fs' % (self.spec.name, ' '.join(args),
                                                time.monotonic() - start))
        return done.returncode, done.stdout + done.stderr


class DeployCluster:
    def __init__(self, data_dir, hosts=node_configs.EXAMPLE_HOSTS):
        self.data_dir = data_dir
        self.tag = '%d' % (os.getpid() % 100000)
        self.bridge = 'swdb%s' % self.tag
        self.client_ns = 'swd%s-c' % self.tag
        self.client_veth = 'swdv%s-c' % self.tag
        self.admin_dir = os.path.join(data_dir, 'admin')  # where the builders live
        self.hosts = [DeployHost(spec, os.path.join(data_dir, spec.name), self.tag)
                      for spec in hosts]
        self.mounts = []
        self._client = None

    # -- network -------------------------------------------------------------------
    def setup_network(self):
        _ip('link', 'add', self.bridge, 'type', 'bridge')
        _ip('link', 'set', self.bridge, 'up')
        ends = [(h.ns, h.veth, h.ip) for h in self.hosts]
        ends.append((self.client_ns, self.client_veth, CLIENT_IP))
        for ns, veth, ip in ends:
            _ip('netns', 'add', ns)
            _ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
            _ip('link', 'set', veth, 'master', self.bridge)
            _ip('link', 'set', veth, 'up')
            _ip('-n', ns, 'addr', 'add', ip + '/24', 'dev', 'eth0')
            _ip('-n', ns, 'link', 'set', 'eth0', 'up')
            _ip('-n', ns, 'link', 'set', 'lo', 'up')

    def teardown_network(self):
        for ns, veth in [(h.ns, h.veth) for h in self.hosts] + [(self.client_ns,
                                                                  self.client_veth)]:
            _ip('netns', 'del', ns, check=False)
            _ip('link', 'del', veth, check=False)
        _ip('link', 'del', self.bridge, check=False)

    # -- files ---------------------------------------------------------------------
    def write_configs(self):
        """Each host's config dir as the guide shows it, and its devices mounted."""
        # `ip netns exec` gives each command a mount namespace of its own, a
        # copy of ours: with the data dir a shared mount, a disk unmounted or
        # mounted here later is seen the same way by every host's processes.
        subprocess.run(['mount', '--bind', self.data_dir, self.data_dir], check=True)
        self.mounts.append(self.data_dir)
        subprocess.run(['mount', '--make-rshared', self.data_dir], check=True)
        for host in self.hosts:
            node_configs.write_node(host.paths.swift_dir,
                                    node_configs.node_files(host.spec, paths=host.paths))
            for device in host.spec.devices:
                path = host.device_path(device)
                os.makedirs(path)
                subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', path],
                               check=True)
                self.mounts.append(path)

    def fail_disk(self, host, device):
        """The disk dies: its file system goes away (lazily, as open files
        keep it alive); an empty, unmounted directory is left."""
        path = host.device_path(device)
        subprocess.run(['umount', '-l', path], check=True)
        self.mounts.remove(path)

    def replace_disk(self, host, device):
        """A new, empty disk in its place (mkfs + mount)."""
        path = host.device_path(device)
        subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', path], check=True)
        self.mounts.append(path)

    def ring_builder(self, lines):
        """Run the guide's swiftlike-ring-builder lines in the admin directory."""
        os.makedirs(self.admin_dir, exist_ok=True)
        for line in lines:
            argv = shlex.split(line)
            assert argv[0] == 'swiftlike-ring-builder', line
            args = [os.path.join(self.admin_dir, argv[1])] + argv[2:]
            out = io.StringIO()
            with contextlib.redirect_stderr(out):
                try:
                    status = ring_builder(args, out=out)
                except SystemExit as exc:
                    status = exc.code if isinstance(exc.code, int) else 2
            # 1 is "done, with a warning" (e.g. balance), as for an operator.
            assert status in (0, 1), '%s: %s' % (line, out.getvalue())

    def copy_rings(self, hosts=None):
        """scp of the admin's *.ring.gz to each host's swift_dir (atomically)."""
        for host in hosts or self.hosts:
            for kind in node_configs.PORTS:
                name = '%s.ring.gz' % kind
                tmp = os.path.join(host.paths.swift_dir, '.%s.tmp' % name)
                shutil.copyfile(os.path.join(self.admin_dir, name), tmp)
                os.replace(tmp, os.path.join(host.paths.swift_dir, name))

    def unmount(self):
        for path in reversed(self.mounts):
            subprocess.run(['umount', '-l', path], check=False)
        self.mounts = []

    # -- processes -----------------------------------------------------------------
    def start_example(self):
        """The guide's steps 3-5: configs, rings built once and copied, every
        host's servers started with swiftlike-init."""
        start = time.monotonic()
        self.write_configs()
        self.ring_builder(node_configs.ring_commands())
        print('configs and rings: %.1fs' % (time.monotonic() - start))
        self.copy_rings()
        for host in self.hosts:
            status, output = host.init('start', 'main')
            assert status == 0, output
            assert output.count(' started (pid ') == 4, output
            status, output = host.init('status', 'main')
            assert status == 0, output

    @property
    def proxies(self):
        return ['http://%s:%d' % (h.ip, node_configs.PROXY_PORT) for h in self.hosts]

    def login(self):
        """(account path /v1/AUTH_test, auth headers) of the guide's test user."""
        status, headers, _ = self.request('GET', self.proxies[0] + '/auth/v1.0',
                                          {'X-Auth-User': 'test:tester',
                                           'X-Auth-Key': 'testing'})
        assert status == 200
        # The path is served by every proxy (tokens are valid on all of them).
        return (headers['X-Storage-Url'].split(self.proxies[0], 1)[1],
                {'X-Auth-Token': headers['X-Auth-Token']})

    def stop_all(self):
        for host in self.hosts:
            host.init('stop', 'all', '--kill-wait', '15')

    # -- the client ----------------------------------------------------------------
    def _pool(self):
        if self._client is None:
            self._client = ThreadPoolExecutor(4, initializer=self._enter_client_ns)
        return self._client

    def request(self, method, url, headers=None, body=None):
        """(status, headers, body), sent from the client namespace."""
        return self._pool().submit(http, method, url, headers or {}, body).result()

    def map(self, func, items):
        """func over items on the client namespace's threads (func may call
        http() directly: it already runs there)."""
        return list(self._pool().map(func, items))

    def _enter_client_ns(self):
        # setns() moves only the calling thread: its sockets live in the client ns.
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open('/run/netns/%s' % self.client_ns, os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), 'setns into %s' % self.client_ns)
        finally:
            os.close(fd)

    def close_client(self):
        if self._client is not None:
            self._client.shutdown()
            self._client = None


def http(method, url, headers=None, body=None):
    parts = urllib.parse.urlsplit(url)
    conn = http_client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        path = parts.path + ('?' + parts.query if parts.query else '')
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()
