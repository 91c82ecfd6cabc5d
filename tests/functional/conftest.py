"""The `cluster` fixture: a real all-in-one cluster, once per test session.

It runs the same code as `swiftlike-aio` (swiftlike.aio.cluster.AioCluster):
a proxy and 4 storage nodes, each node with its own device, zone and
object/container/account server, on ports the OS says are free, in a temporary
data dir. Servers run with workers=0 (one process each) and without the
background daemons; `run_daemon` runs one pass of a daemon on demand.

The cluster's hash secrets are the test-suite ones (tests/conftest.py), so
`swiftlike.hashing.hash_path` and `Ring(cluster.swift_dir, ...)` in the test
process place things exactly where the servers do.
"""
import json
import os
import urllib.error
import urllib.request

import pytest

from swiftlike.aio import configs
from swiftlike.aio.cluster import AioCluster
from swiftlike.aio.devices import release_devices
from swiftlike.aio.layout import STORAGE_KINDS, new_layout
from swiftlike.aio.supervisor import ChildFailed
from tests.conftest import TEST_HASH_PREFIX, TEST_HASH_SUFFIX


class ServerInfo:
    """One server process of the cluster; `pid` is None while it is down."""

    def __init__(self, cluster, kind, index, ip, port, conf_path, device='', devices_root=''):
        self._cluster = cluster
        self.kind = kind
        self.index = index
        self.name = cluster.aio.process_of(kind, index)
        self.ip = ip
        self.port = port
        self.conf_path = conf_path
        self.device = device
        self.devices_root = devices_root
        self.device_path = os.path.join(devices_root, device) if device else ''

    @property
    def pid(self):
        return self._cluster.aio.server_pid(self.kind, self.index)

    @property
    def url(self):
        return 'http://%s:%d' % (self.ip, self.port)

    @property
    def log_path(self):
        return os.path.join(self._cluster.aio.layout.log_dir, self.name + '.log')

    def __repr__(self):
        return '<%s %s:%d pid=%s>' % (self.name, self.ip, self.port, self.pid)


class Cluster:
    """What the tests see of the running aio."""

    def __init__(self, aio):
        self.aio = aio
        layout = aio.layout
        self.layout = layout
        self.data_dir = layout.data_dir
        self.swift_dir = layout.etc_dir
        self.cluster_conf = layout.cluster_conf
        self.hash_secrets = (TEST_HASH_PREFIX, TEST_HASH_SUFFIX)
        self.proxy_url = aio.proxy_url
        self.auth_url = aio.auth_url
        self.users = {u.name: u for u in aio.users}
        self.proxy = ServerInfo(self, 'proxy', 0, layout.bind_ip, aio.proxy_port,
                                layout.proxy_conf)
        self.servers = {}
        for kind in STORAGE_KINDS:
            self.servers[kind] = [
                ServerInfo(self, kind, node.index, layout.bind_ip, node.ports[kind],
                           layout.server_conf(kind, node.index), node.device, node.devices_root)
                for node in layout.nodes]
        self.object_servers = self.servers['object']
        self.container_servers = self.servers['container']
        self.account_servers = self.servers['account']

    def server(self, kind, index=0):
        """ServerInfo of ('proxy', 0) or (kind, node index 1..4)."""
        return self.proxy if kind == 'proxy' else self.servers[kind][index - 1]

    def stop_server(self, kind, index=0, timeout=15.0):
        """Graceful stop (SIGTERM, then SIGKILL after `timeout`)."""
        self.aio.stop_server(kind, index, timeout)

    def kill_server(self, kind, index=0):
        """kill -9 the server (and any workers it forked)."""
        self.aio.kill_server(kind, index)

    kill = kill_server

    def start_server(self, kind, index=0, timeout=60.0):
        """Start a stopped server and wait until it accepts connections."""
        self.aio.start_server(kind, index, timeout)

    def restart_server(self, kind, index=0):
        self.stop_server(kind, index)
        self.start_server(kind, index)

    def ensure_running(self):
        """Restart whatever a test stopped or killed, so later tests get a whole cluster."""
        for name, _status in self.aio.supervisor.exited():
            self.aio.supervisor.forget(name)
        for info in [self.proxy] + [s for kind in STORAGE_KINDS for s in self.servers[kind]]:
            if info.pid is None:
                self.start_server(info.kind, info.index)

    def run_daemon(self, daemon, index=1, timeout=120.0):
        """One pass (--once) of e.g. 'object-replicator' for node `index`:
        returns (exit status, output)."""
        return self.aio.run_daemon_once(daemon, index, timeout)

    def get_auth(self, user='test:tester', key=None):
        """(storage_url, token) for `user` via the proxy's v1 auth."""
        key = key if key is not None else self.users[user].key
        req = urllib.request.Request(self.auth_url, headers={'X-Auth-User': user,
                                                             'X-Auth-Key': key})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.headers['X-Storage-Url'], resp.headers['X-Auth-Token']

    def swiftclient_conf(self):
        """Keyword arguments for swiftclient.client.Connection."""
        return {'authurl': self.auth_url, 'user': 'test:tester', 'key': 'testing'}

    def all_pids(self):
        return self.aio.all_pids()


def prepare_cluster(data_dir, part_power=10, layout_kw=None, **aio_kwargs):
    """A locked AioCluster on free ports in `data_dir`, its configs and rings
    written but nothing started (a test may change a config first).
    layout_kw go to new_layout (xfs, xfs_size_mb), aio_kwargs to AioCluster
    (workers, daemons, users, log_level, processes). Each server gets a
    process of its own unless asked otherwise, so a test can stop one server
    of a node."""
    layout = new_layout(str(data_dir), base_port=0, part_power=part_power, **(layout_kw or {}))
    os.makedirs(layout.etc_dir, exist_ok=True)
    # The test suite's secrets, so in-process hashing agrees with the servers.
    with open(layout.cluster_conf, 'w') as f:
        f.write('[hash]\npath_prefix = %s\npath_suffix = %s\n'
                % (TEST_HASH_PREFIX, TEST_HASH_SUFFIX))
    kwargs = dict(proxy_port=0, users=configs.DEFAULT_USERS, workers=0, daemons=False,
                  processes='server')
    kwargs.update(aio_kwargs)
    aio = AioCluster(layout, **kwargs)
    aio.lock()
    try:
        aio.prepare()
    except BaseException:
        release_devices(layout)
        aio.unlock()
        raise
    return aio


def start_cluster(data_dir, part_power=10, layout_kw=None, **aio_kwargs):
    """prepare_cluster(), then started (used by the fixture). Its ports are
    picked free but bound seconds later (after the devices are made), and
    the suite's other worker may bind one of them meanwhile: a server that
    cannot bind its port fails the start, which is then tried once more on
    fresh ports, in a data dir beside the first."""
    for attempt in (1, 2):
        directory = data_dir if attempt == 1 else '%s-again' % data_dir
        aio = prepare_cluster(directory, part_power, layout_kw, **aio_kwargs)
        try:
            aio.start(timeout=120)
            return aio
        except BaseException as err:
            aio.stop(timeout=5)
            release_devices(aio.layout)
            aio.unlock()
            if attempt == 2 or not (isinstance(err, ChildFailed)
                                    and 'Address already in use' in str(err)):
                raise


def cluster_session(data_dir, part_power=10, layout_kw=None, **aio_kwargs):
    """start_cluster(), yielded as a Cluster and stopped after (the body of
    a cluster fixture)."""
    aio = start_cluster(data_dir, part_power, layout_kw, **aio_kwargs)
    try:
        yield Cluster(aio)
    finally:
        aio.stop(timeout=10)
        release_devices(aio.layout)
        aio.unlock()


@pytest.fixture(scope='session')
def cluster(tmp_path_factory):
    yield from cluster_session(tmp_path_factory.mktemp('aio'))


def http(method, url, headers=None, body=None, timeout=30):
    """(status, headers dict, body bytes) of one request; no exception on 4xx/5xx."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def read_state(data_dir):
    with open(os.path.join(data_dir, 'run', 'aio.json'), encoding='utf-8') as f:
        return json.load(f)
