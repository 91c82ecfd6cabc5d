"""swiftlike-aio: a whole cluster on this machine with one command.

The first start makes the data dir (devices, hash secrets, rings, configs);
later starts reuse it. Ctrl-C or SIGTERM stops every process it started.
"""
import argparse
import ipaddress
import os
import signal
import sys
import time

from swiftlike.aio import configs
from swiftlike.aio.cluster import AioCluster
from swiftlike.aio.devices import release_devices
from swiftlike.aio.layout import (DEFAULT_BASE_PORT, DEFAULT_PART_POWER, DEFAULT_REPLICAS,
                                  check_reuse, load_layout, new_layout)
from swiftlike.aio.supervisor import ChildFailed, tail
from swiftlike.exceptions import ConfigError

DESCRIPTION = """\
Run a whole swiftlike cluster on this machine: a proxy and 4 storage nodes
(each with its own device, zone, and object/container/account server ports),
3-replica rings, and tempauth users. Everything lives in --data-dir; a second
start reuses it. Ctrl-C (or SIGTERM) stops every process.

Storage ports: object BASE..BASE+3, container BASE+10..BASE+13,
account BASE+20..BASE+23 (BASE = --base-port, 6210 by default).
"""

USERS_HELP = """\
default users (account:user key, groups), as in Swift's SAIO:
  admin:admin     admin     .admin .reseller_admin
  test:tester     testing   .admin           (storage account AUTH_test)
  test2:tester2   testing2  .admin           (AUTH_test2)
  test:tester3    testing3  (not an admin of AUTH_test)
  test5:tester5   testing5  service
"""

# Restarted children back off up to this long between attempts.
MAX_BACKOFF = 30.0
# A child that stayed up this long is healthy again: its back-off is reset.
HEALTHY_AFTER = 60.0


def port(text):
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError('%s is not a port number' % text)
    return value


def non_negative(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError('must be 0 or more')
    return value


def ip_address(text):
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError('%r is not an IP address' % text)


def xfs_size(text):
    value = int(text)
    if value < 300:  # mkfs.xfs refuses smaller file systems
        raise argparse.ArgumentTypeError('must be at least 300 (MB)')
    return value


def user(text):
    try:
        return configs.parse_user(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err))


def parser():
    p = argparse.ArgumentParser(
        prog='swiftlike-aio', description=DESCRIPTION, epilog=USERS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data-dir', default=os.path.join('.', 'var', 'aio'),
                   help='where devices, rings, configs and logs live (default ./var/aio)')
    p.add_argument('--bind-ip', type=ip_address, default=None,
                   help='address every server listens on (default 127.0.0.1)')
    p.add_argument('--port', type=port, default=8080,
                   help='proxy port (default 8080; 0 picks a free one)')
    p.add_argument('--base-port', type=port, default=None,
                   help='first storage port (default %d; 0 picks free ports once, kept '
                        'in the data dir)' % DEFAULT_BASE_PORT)
    p.add_argument('--xfs', action='store_true', default=None,
                   help='XFS loopback devices (sparse images + mkfs.xfs + mount -o loop, '
                        'mount_check on); needs root and xfsprogs')
    p.add_argument('--xfs-size', type=xfs_size, default=1024, metavar='MB',
                   help='size of each XFS image (sparse; default 1024)')
    p.add_argument('--part-power', type=non_negative, default=DEFAULT_PART_POWER,
                   help='ring partition power for a new data dir (default %d)'
                        % DEFAULT_PART_POWER)
    p.add_argument('--replicas', type=non_negative, default=DEFAULT_REPLICAS,
                   help='replicas for a new data dir, 1-4 (default %d)' % DEFAULT_REPLICAS)
    p.add_argument('--workers', type=non_negative, default=None,
                   help='worker processes forked per server (default 0: each server serves '
                        'in its own process, the least memory; on two cores, 4 KiB GETs are '
                        'bound by one proxy process, and --workers 2 --storage-workers 0 '
                        'serves them faster, as Swift\'s SAIO runs)')
    p.add_argument('--storage-workers', type=non_negative, default=None,
                   help='worker processes per storage server (default --workers)')
    p.add_argument('--processes', choices=('node', 'server'), default='node',
                   help='node (default): each node\'s three servers share a process and its '
                        'daemons another, for the least memory; server: a process per server '
                        'and per daemon, so each can be stopped alone')
    p.add_argument('--no-daemons', action='store_true',
                   help='do not run the replicators, auditors, updaters, expirer and reaper')
    p.add_argument('--user', type=user, action='append', default=[],
                   metavar='ACCOUNT:USER:KEY[:GROUPS]',
                   help='add a tempauth user, or replace a default one of the same name; '
                        'GROUPS is comma-separated, e.g. .admin (repeatable)')
    p.add_argument('--log-level', default='INFO',
                   choices=('DEBUG', 'INFO', 'WARNING', 'ERROR'),
                   help='server log level (logs go to DATA_DIR/log/)')
    p.add_argument('--setup-only', action='store_true',
                   help='make the data dir, rings and configs, then exit without starting')
    return p


def make_cluster(args):
    layout = load_layout(args.data_dir)
    if layout is None:
        layout = new_layout(
            args.data_dir, bind_ip=args.bind_ip or '127.0.0.1',
            base_port=DEFAULT_BASE_PORT if args.base_port is None else args.base_port,
            xfs=bool(args.xfs), xfs_size_mb=args.xfs_size, part_power=args.part_power,
            replicas=args.replicas)
    else:
        check_reuse(layout, args.bind_ip, args.base_port, args.xfs)
    users = configs.merge_users(configs.DEFAULT_USERS, args.user)
    workers = args.workers or 0
    storage_workers = workers if args.storage_workers is None else args.storage_workers
    return AioCluster(layout, proxy_port=args.port, users=users, workers=workers,
                      daemons=not args.no_daemons, log_level=args.log_level,
                      storage_workers=storage_workers, processes=args.processes)


class _Stop(Exception):
    pass


def _raise_stop(signum, frame):
    raise _Stop(signum)


def banner(cluster):
    layout = cluster.layout
    lines = ['swiftlike-aio: cluster is up (pid %d)' % os.getpid(),
             '  data dir  %s (logs in %s)' % (layout.data_dir, layout.log_dir),
             '  proxy     %s' % cluster.proxy_url,
             '  auth URL  %s' % cluster.auth_url]
    for u in cluster.users:
        lines.append('  user      %-14s key %-9s %s' % (u.name, u.key, ' '.join(u.groups)))
    first = next((u for u in cluster.users if u.is_admin and u.account != 'admin'),
                 cluster.users[0])
    lines += ['  nodes     %s' % ', '.join(
        '%s z%d obj:%d cont:%d acct:%d' % (n.device, n.zone, n.ports['object'],
                                          n.ports['container'], n.ports['account'])
        for n in layout.nodes),
        '  daemons   %s' % (', '.join(cluster.daemons) or 'none'),
        'try:  curl -i -H "X-Auth-User: %s" -H "X-Auth-Key: %s" %s'
        % (first.name, first.key, cluster.auth_url),
        'Ctrl-C stops the cluster.']
    print('\n'.join(lines), flush=True)


def watch(cluster):
    """Restart children that die, with back-off, until a signal stops us."""
    sup = cluster.supervisor
    started = {name: time.monotonic() for name in sup.specs}
    failures = {}
    due = {}
    while True:
        now = time.monotonic()
        for name, status in sup.exited():
            if name in due:
                continue
            if now - started.get(name, now) > HEALTHY_AFTER:
                failures[name] = 0
            failures[name] = failures.get(name, 0) + 1
            delay = min(MAX_BACKOFF, 2.0 ** (failures[name] - 1))
            print('swiftlike-aio: %s exited (status %s); restarting in %.0fs. Last log lines:\n%s'
                  % (name, status, delay, tail(sup.specs[name].log_path, 5)), flush=True)
            due[name] = now + delay
        for name, when in list(due.items()):
            if now >= when:
                del due[name]
                sup.forget(name)
                sup.start(name)
                started[name] = time.monotonic()
                cluster.write_state()
        time.sleep(0.5)


def main(argv=None):
    args = parser().parse_args(argv)
    old = {sig: signal.signal(sig, _raise_stop)
           for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    cluster = None
    status = 0
    try:
        cluster = make_cluster(args)
        cluster.lock()
        print('swiftlike-aio: preparing %s' % cluster.layout.data_dir, flush=True)
        cluster.prepare()
        if args.setup_only:
            print('swiftlike-aio: data dir ready; configs in %s' % cluster.layout.etc_dir)
            return 0
        cluster.check_ports()
        cluster.start()
        banner(cluster)
        watch(cluster)
    except _Stop:
        print('\nswiftlike-aio: stopping', flush=True)
    except ConfigError as err:
        sys.stderr.write('swiftlike-aio: %s\n' % err)
        status = 2
    except OSError as err:  # e.g. --data-dir is a file, or not writable
        sys.stderr.write('swiftlike-aio: %s: %s\n' % (getattr(err, 'filename', '') or
                                                     args.data_dir, err.strerror or err))
        status = 2
    except ChildFailed as err:
        sys.stderr.write('swiftlike-aio: %s\n' % err)
        status = 1
    finally:
        # A second Ctrl-C must not interrupt the clean-up itself.
        for sig in old:
            signal.signal(sig, signal.SIG_IGN)
        # Only the aio holding the data dir's lock may touch its processes and
        # state (a refused second aio must not stop the first one's).
        if cluster is not None and cluster.locked:
            cluster.stop()
            release_devices(cluster.layout)
            cluster.unlock()
        for sig, handler in old.items():
            signal.signal(sig, handler)
    if status == 0 and cluster is not None and not args.setup_only:
        print('swiftlike-aio: stopped', flush=True)
    return status


if __name__ == '__main__':
    sys.exit(main())
