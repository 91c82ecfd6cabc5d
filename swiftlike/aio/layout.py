"""Where an all-in-one cluster keeps things, and which ports it uses.

A data dir holds:
  etc/      swiftlike.conf, proxy-server.conf, <kind>-server/<n>.conf, rings
  nodes/nN/dN   node N's one device (a directory, or an XFS loopback mount)
  images/   the XFS image files (with --xfs)
  log/      one log file per process
  run/      aio.json: the running cluster (urls, pids) for scripts and tests
The layout (ports, devices, ring shape) is saved in etc/aio-layout.json the
first time, so later starts reuse the same rings and data.
"""
import dataclasses
import json
import os
import socket

from swiftlike.exceptions import ConfigError

STORAGE_KINDS = ('object', 'container', 'account')
NODE_COUNT = 4
# node n (1-based) of kind k listens on base_port + KIND_OFFSET[k] + n - 1:
# object 6210-6213, container 6220-6223, account 6230-6233 by default.
KIND_OFFSET = {'object': 0, 'container': 10, 'account': 20}
DEFAULT_BASE_PORT = 6210
DEFAULT_PART_POWER = 10
DEFAULT_REPLICAS = 3
LAYOUT_FILE = 'aio-layout.json'


@dataclasses.dataclass
class Node:
    """One storage node: a device of its own, in a zone of its own, and a port per kind."""
    index: int
    zone: int
    device: str
    devices_root: str
    ports: dict

    @property
    def device_path(self):
        return os.path.join(self.devices_root, self.device)


@dataclasses.dataclass
class Layout:
    data_dir: str
    bind_ip: str = '127.0.0.1'
    base_port: int = DEFAULT_BASE_PORT
    xfs: bool = False
    xfs_size_mb: int = 1024
    part_power: int = DEFAULT_PART_POWER
    replicas: int = DEFAULT_REPLICAS
    nodes: list = dataclasses.field(default_factory=list)

    @property
    def etc_dir(self):
        return os.path.join(self.data_dir, 'etc')

    @property
    def log_dir(self):
        return os.path.join(self.data_dir, 'log')

    @property
    def run_dir(self):
        return os.path.join(self.data_dir, 'run')

    @property
    def images_dir(self):
        return os.path.join(self.data_dir, 'images')

    @property
    def cluster_conf(self):
        return os.path.join(self.etc_dir, 'swiftlike.conf')

    @property
    def proxy_conf(self):
        return os.path.join(self.etc_dir, 'proxy-server.conf')

    @property
    def state_file(self):
        return os.path.join(self.run_dir, 'aio.json')

    def server_conf(self, kind, index):
        return os.path.join(self.etc_dir, '%s-server' % kind, '%d.conf' % index)

    def node(self, index):
        for node in self.nodes:
            if node.index == index:
                return node
        raise KeyError('no node %r (nodes are 1..%d)' % (index, len(self.nodes)))

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values):
        values = dict(values)
        nodes = [Node(**n) for n in values.pop('nodes', [])]
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(nodes=nodes, **{k: v for k, v in values.items() if k in known})


def free_ports(count, ip='127.0.0.1'):
    """`count` distinct ports the OS says are free right now on `ip`."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET6 if ':' in ip else socket.AF_INET)
            sock.bind((ip, 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


def new_layout(data_dir, bind_ip='127.0.0.1', base_port=DEFAULT_BASE_PORT, xfs=False,
               xfs_size_mb=1024, part_power=DEFAULT_PART_POWER, replicas=DEFAULT_REPLICAS):
    """A fresh layout; base_port 0 asks the OS for any free ports instead of a fixed range."""
    if not 1 <= replicas <= NODE_COUNT:
        raise ConfigError('replicas must be between 1 and %d' % NODE_COUNT)
    if not 1 <= part_power <= 20:
        raise ConfigError('part power must be between 1 and 20')
    if base_port and not 1024 <= base_port <= 65535 - 30:
        raise ConfigError('base port must be 0 or between 1024 and %d' % (65535 - 30))
    data_dir = os.path.abspath(data_dir)
    chosen = free_ports(NODE_COUNT * len(STORAGE_KINDS), bind_ip) if base_port == 0 else None
    nodes = []
    for n in range(1, NODE_COUNT + 1):
        ports = {}
        for k, kind in enumerate(STORAGE_KINDS):
            if chosen:
                ports[kind] = chosen[k * NODE_COUNT + n - 1]
            else:
                ports[kind] = base_port + KIND_OFFSET[kind] + n - 1
        nodes.append(Node(index=n, zone=n, device='d%d' % n,
                          devices_root=os.path.join(data_dir, 'nodes', 'n%d' % n), ports=ports))
    return Layout(data_dir=data_dir, bind_ip=bind_ip, base_port=base_port, xfs=xfs,
                  xfs_size_mb=xfs_size_mb, part_power=part_power, replicas=replicas, nodes=nodes)


def layout_path(data_dir):
    return os.path.join(os.path.abspath(data_dir), 'etc', LAYOUT_FILE)


def load_layout(data_dir):
    """The saved layout of `data_dir`, or None when it has none yet."""
    path = layout_path(data_dir)
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding='utf-8') as f:
            layout = Layout.from_dict(json.load(f))
    except (OSError, ValueError, TypeError) as err:
        raise ConfigError('%s: unreadable aio layout: %s' % (path, err))
    # A moved data dir keeps working: paths are re-rooted where we found it.
    root = os.path.abspath(data_dir)
    if layout.data_dir != root:
        for node in layout.nodes:
            node.devices_root = os.path.join(root, 'nodes', 'n%d' % node.index)
        layout.data_dir = root
    return layout


def save_layout(layout):
    os.makedirs(layout.etc_dir, exist_ok=True)
    path = layout_path(layout.data_dir)
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(layout.to_json() + '\n')
    os.replace(tmp, path)


def check_reuse(layout, bind_ip=None, base_port=None, xfs=None):
    """Refuse flags that contradict a data dir's saved layout (its rings hold them).

    None means "not given on the command line": the saved value is kept.
    """
    problems = []
    if bind_ip is not None and bind_ip != layout.bind_ip:
        problems.append('--bind-ip %s (data dir uses %s)' % (bind_ip, layout.bind_ip))
    if base_port is not None and base_port != layout.base_port:
        problems.append('--base-port %d (data dir uses %d)' % (base_port, layout.base_port))
    if xfs is not None and xfs != layout.xfs:
        problems.append('--xfs (data dir was made %s XFS)' % ('with' if layout.xfs else 'without'))
    if problems:
        raise ConfigError('%s was created with other settings: %s; use another --data-dir '
                          'or the original flags' % (layout.data_dir, '; '.join(problems)))
