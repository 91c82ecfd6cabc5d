"""Entry points of the background daemons: `swiftlike-<daemon> CONF [--once]`.

CONF is the config file of the server the daemon runs beside (e.g.
object-server.conf); the daemon reads its own section ([object-replicator],
...) and takes devices/swift_dir/bind_port from the server's section when its
own section does not set them.
"""
import argparse
import importlib
import os
import sys

from swiftlike.exceptions import ConfigError
from swiftlike.wsgi import exit_with_error

# command name -> (module, class, server section)
DAEMONS = {
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


def build_daemon(name, conf_path, overrides=None):
    """Load the daemon class and its config; returns the daemon object."""
    from swiftlike.cli.servers import locate_cluster_conf
    from swiftlike.daemon import load_daemon_conf
    from swiftlike.hashing import hash_secrets
    module_name, class_name, server_section = DAEMONS[name]
    cls = getattr(importlib.import_module(module_name), class_name)
    conf = load_daemon_conf(conf_path, name, cls.conf_class, server_section, overrides)
    locate_cluster_conf(conf.swift_dir)
    hash_secrets()
    return cls(conf)


def main(name, argv=None):
    parser = argparse.ArgumentParser(prog='swiftlike-' + name,
                                     description='Run the %s daemon.' % name)
    parser.add_argument('conf', help='the config file of the server it runs beside')
    parser.add_argument('--once', action='store_true', help='run one pass and exit')
    parser.add_argument('--devices', help='only these devices (comma-separated)')
    parser.add_argument('-o', '--option', action='append', default=[], metavar='KEY=VALUE',
                        help='override a key of the config section (repeatable)')
    args = parser.parse_args(argv)
    overrides = {}
    for item in args.option:
        key, sep, value = item.partition('=')
        if not sep or not key.strip():
            exit_with_error('--option needs KEY=VALUE, got %r' % item)
        overrides[key.strip()] = value.strip()
    if not os.path.isfile(args.conf):
        exit_with_error('%s: config file not found' % args.conf)
    from swiftlike import concurrency
    concurrency.monkey_patch()
    try:
        daemon = build_daemon(name, args.conf, overrides)
    except ConfigError as err:
        exit_with_error(str(err))
    if args.devices:
        daemon.only_devices = set(d for d in args.devices.split(',') if d)
    if args.once:
        daemon.run_once()
        return 0 if daemon.last_pass_ok else 1
    daemon.run_forever()
    return 0


def _entry(name):
    def run():
        sys.exit(main(name))
    run.__name__ = name.replace('-', '_')
    return run


object_replicator = _entry('object-replicator')
object_auditor = _entry('object-auditor')
object_updater = _entry('object-updater')
object_expirer = _entry('object-expirer')
container_replicator = _entry('container-replicator')
container_updater = _entry('container-updater')
account_replicator = _entry('account-replicator')
account_reaper = _entry('account-reaper')

if __name__ == '__main__':
    if len(sys.argv) < 2 or sys.argv[1] not in DAEMONS:
        exit_with_error('usage: python -m swiftlike.cli.daemons {%s} CONF [--once]'
                        % '|'.join(sorted(DAEMONS)))
    sys.exit(main(sys.argv[1], sys.argv[2:]))
