"""`swiftlike-node-configs`: the config files of one node of a multi-host
cluster, and the ring commands of doc/deploy.md's worked example.

    swiftlike-node-configs --ip 10.0.0.11 --hash-suffix SECRET --out /etc/swiftlike

writes swiftlike.conf, proxy-server.conf, object-server.conf,
container-server.conf and account-server.conf for a node that is both a proxy
and a storage node (--no-proxy / --no-storage leave one half out). Every node
gets the same files but for its own IP (bind_ip is how a node's daemons find
their own devices in the ring) and the expirer (--expirer, on one node only).

The worked example of doc/deploy.md is made by this module (EXAMPLE_HOSTS,
ring_commands(), drain_commands()): a test checks that the guide's blocks are
exactly what it writes, and the netns probe test runs those very files.
`swiftlike-node-configs --check-doc doc/deploy.md` (or --update-doc) does the
same by hand.
"""
import argparse
import dataclasses
import os
import re
import sys

from swiftlike.config import ini_text
from swiftlike.proxy import pipeline as proxy_pipeline

PORTS = {'object': 6200, 'container': 6201, 'account': 6202}
PROXY_PORT = 8080
DAEMONS = {
    'object': ('object-replicator', 'object-auditor', 'object-updater'),
    'container': ('container-replicator', 'container-updater'),
    'account': ('account-replicator', 'account-reaper'),
}
EXAMPLE_HASH_SUFFIX = '4f1c2b9e0d7a6f3e8b5c1d2a9e7f6b3c'  # the guide's; make your own


@dataclasses.dataclass(frozen=True)
class Host:
    """One machine of the cluster as the guide and the ring see it."""
    name: str
    ip: str
    zone: int
    devices: tuple = ('sdb',)
    proxy: bool = True
    storage: bool = True
    expirer: bool = False


# The worked example: four identical hosts, each a proxy and a storage node with
# one disk, one zone per host (a host is the unit that fails).
EXAMPLE_HOSTS = (
    Host('host1', '10.0.0.11', 1, expirer=True),
    Host('host2', '10.0.0.12', 2),
    Host('host3', '10.0.0.13', 3),
    Host('host4', '10.0.0.14', 4),
)
EXAMPLE_PART_POWER, EXAMPLE_REPLICAS, EXAMPLE_MIN_PART_HOURS = 10, 3, 1
EXAMPLE_WEIGHT = 100
# Users of the example's tempauth (keys to change on a real cluster).
EXAMPLE_USERS = (
    ('admin', 'admin', 'CHANGE-admin-key', '.admin .reseller_admin'),
    ('test', 'tester', 'testing', '.admin'),
)


@dataclasses.dataclass(frozen=True)
class Paths:
    """Where a node keeps its configs and devices (the test moves them under a
    temporary directory; every other line of every file stays the same)."""
    swift_dir: str = '/etc/swiftlike'
    devices: str = '/srv/node'


def _ini(header, sections):
    return header.rstrip('\n') + '\n\n' + ini_text(sections)


def cluster_conf(hash_suffix):
    return _ini('# Shared by every node; never change it once data is stored.',
                [('hash', {'path_suffix': hash_suffix})])


def storage_conf(host, kind, paths=Paths(), workers=2):
    defaults = {'bind_ip': host.ip, 'devices': paths.devices, 'mount_check': 'true',
                'swift_dir': paths.swift_dir}
    daemons = list(DAEMONS[kind])
    if kind == 'object' and host.expirer:
        daemons.append('object-expirer')
    sections = [('DEFAULT', defaults),
                ('%s-server' % kind, {'bind_port': str(PORTS[kind]), 'workers': str(workers)})]
    sections += [(name, {}) for name in daemons]
    return _ini('# %s: %s-server.conf' % (host.name, kind), sections)


def proxy_conf(host, paths=Paths(), workers=2, users=EXAMPLE_USERS):
    tempauth = {'use': proxy_pipeline.module_name('tempauth')}
    for account, user, key, groups in users:
        tempauth['user_%s_%s' % (account, user)] = ('%s %s' % (key, groups)).strip()
    sections = [
        ('DEFAULT', {'swift_dir': paths.swift_dir}),
        ('pipeline:main', {'pipeline': ' '.join(proxy_pipeline.DEFAULT + (proxy_pipeline.APP,))}),
        ('proxy-server', {'bind_ip': host.ip, 'bind_port': str(PROXY_PORT),
                          'workers': str(workers)}),
        ('filter:tempauth', tempauth),
    ]
    return _ini('# %s: proxy-server.conf' % host.name, sections)


def node_files(host, hash_suffix=EXAMPLE_HASH_SUFFIX, paths=Paths(), workers=2):
    """{file name: text} of one node's config directory."""
    files = {'swiftlike.conf': cluster_conf(hash_suffix)}
    if host.proxy:
        files['proxy-server.conf'] = proxy_conf(host, paths, workers)
    if host.storage:
        for kind in PORTS:
            files['%s-server.conf' % kind] = storage_conf(host, kind, paths, workers)
    return files


def write_node(directory, files):
    os.makedirs(directory, exist_ok=True)
    for name, text in files.items():
        tmp = os.path.join(directory, '.%s.tmp' % name)
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(text)
        os.replace(tmp, os.path.join(directory, name))


# -- the rings ---------------------------------------------------------------------
def device_spec(host, kind, device):
    return 'r1z%d-%s:%d/%s' % (host.zone, host.ip, PORTS[kind], device)


def ring_commands(hosts=EXAMPLE_HOSTS):
    """The shell lines that build the three rings once (on one machine)."""
    lines = []
    for kind in PORTS:
        builder = '%s.builder' % kind
        lines.append('swiftlike-ring-builder %s create %d %d %d' % (
            builder, EXAMPLE_PART_POWER, EXAMPLE_REPLICAS, EXAMPLE_MIN_PART_HOURS))
        for host in hosts:
            for device in host.devices:
                lines.append('swiftlike-ring-builder %s add %s %d' % (
                    builder, device_spec(host, kind, device), EXAMPLE_WEIGHT))
        lines.append('swiftlike-ring-builder %s rebalance' % builder)
    return lines


def drain_commands(host):
    """Step 1 of removing a node: weight 0 everywhere, rebalance, new rings."""
    lines = []
    for kind in PORTS:
        builder = '%s.builder' % kind
        lines.append('swiftlike-ring-builder %s set_weight %s:%d 0 --yes'
                     % (builder, host.ip, PORTS[kind]))
        lines.append('swiftlike-ring-builder %s pretend_min_part_hours_passed' % builder)
        lines.append('swiftlike-ring-builder %s rebalance' % builder)
    return lines


def remove_commands(host):
    """Step 2, once the drained node holds nothing: out of the rings."""
    lines = []
    for kind in PORTS:
        builder = '%s.builder' % kind
        lines.append('swiftlike-ring-builder %s remove %s:%d --yes'
                     % (builder, host.ip, PORTS[kind]))
        lines.append('swiftlike-ring-builder %s rebalance' % builder)
    return lines


# -- the guide's generated blocks ------------------------------------------------
def node_configs_commands(hosts=EXAMPLE_HOSTS, hash_suffix=EXAMPLE_HASH_SUFFIX):
    """The command that writes each host's config directory, one per host."""
    lines = []
    for host in hosts:
        flags = ['--name %s' % host.name, '--ip %s' % host.ip]
        flags += ['--no-proxy'] if not host.proxy else []
        flags += ['--no-storage'] if not host.storage else []
        flags += ['--expirer'] if host.expirer else []
        lines.append('%s$ swiftlike-node-configs %s --hash-suffix %s --out /etc/swiftlike'
                     % (host.name, ' '.join(flags), hash_suffix))
    return lines


def example_block(key):
    """The text of the guide block named `key` (KeyError when unknown)."""
    hosts = {h.name: h for h in EXAMPLE_HOSTS}
    if key == 'node-configs-commands':
        return '\n'.join(node_configs_commands()) + '\n'
    if key == 'ring-commands':
        return '\n'.join(ring_commands()) + '\n'
    if key.startswith('drain-'):
        return '\n'.join(drain_commands(hosts[key[len('drain-'):]])) + '\n'
    if key.startswith('remove-'):
        return '\n'.join(remove_commands(hosts[key[len('remove-'):]])) + '\n'
    host_name, _, file_name = key.partition('/')
    return node_files(hosts[host_name])[file_name]


_BLOCK = re.compile(r'(<!-- generated: (?P<key>[^ ]+) -->\n```[a-z]*\n)(?P<body>.*?)(```)',
                    re.S)


def render_doc(text):
    """`text` with every generated block's body replaced by what the code
    writes; (new text, [block keys])."""
    keys = []

    def fill(match):
        keys.append(match.group('key'))
        return match.group(1) + example_block(match.group('key')) + match.group(4)
    return _BLOCK.sub(fill, text), keys


def main(argv=None, out=None):
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog='swiftlike-node-configs',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('--ip', help="this node's address (bind_ip of every server)")
    parser.add_argument('--name', default='', help='a label for the headers (default: the IP)')
    parser.add_argument('--hash-suffix', help="the cluster's secret path_suffix (the same "
                                              'on every node)')
    parser.add_argument('--no-proxy', action='store_true')
    parser.add_argument('--no-storage', action='store_true')
    parser.add_argument('--expirer', action='store_true', help='run the object expirer here')
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--swift-dir', default=Paths.swift_dir)
    parser.add_argument('--devices', default=Paths.devices)
    parser.add_argument('--out', help='write the files into this directory (else print)')
    parser.add_argument('--check-doc', metavar='GUIDE',
                        help="exit 1 if the guide's generated blocks are out of date")
    parser.add_argument('--update-doc', metavar='GUIDE', help='rewrite those blocks')
    args = parser.parse_args(argv)
    guide = args.check_doc or args.update_doc
    if guide:
        with open(guide, encoding='utf-8') as f:
            text = f.read()
        new, keys = render_doc(text)
        if args.update_doc:
            with open(guide, 'w', encoding='utf-8') as f:
                f.write(new)
        out.write('%s: %d generated blocks, %s\n' % (
            guide, len(keys), 'up to date' if new == text else
            ('rewritten' if args.update_doc else 'OUT OF DATE')))
        return 0 if new == text or args.update_doc else 1
    if not args.ip or not args.hash_suffix:
        parser.error('--ip and --hash-suffix are required')
    if args.workers < 0:
        parser.error('--workers must be >= 0')
    host = Host(args.name or args.ip, args.ip, 0, proxy=not args.no_proxy,
                storage=not args.no_storage, expirer=args.expirer)
    files = node_files(host, args.hash_suffix, Paths(args.swift_dir, args.devices),
                       args.workers)
    if args.out:
        write_node(args.out, files)
        out.write('wrote %s in %s\n' % (', '.join(sorted(files)), args.out))
    else:
        for name, text in files.items():
            out.write('==> %s <==\n%s\n' % (name, text))
    return 0


def console_main():
    sys.exit(main())


if __name__ == '__main__':
    console_main()
