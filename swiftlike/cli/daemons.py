"""Entry points of the background daemons: `swiftlike-<daemon> CONF [--once]`,
and `swiftlike-daemons CONF [CONF ...]`, which runs several daemons (say all
of a node's) as green threads of one process.

CONF is the config file of the server the daemon runs beside (e.g.
object-server.conf); the daemon reads its own section ([object-replicator],
...) and takes devices/swift_dir/bind_port from the server's section when its
own section does not set them.
"""
import argparse
import importlib
import os
import signal
import sys

from swiftlike.exceptions import ConfigError
from swiftlike.wsgi import exit_with_error

from swiftlike.daemon import DAEMON_CLASSES as DAEMONS


def build_daemon(name, conf_path, overrides=None):
    """Load the daemon class and its config; returns the daemon object."""
    from swiftlike.daemon import load_daemon_conf
    from swiftlike.hashing import hash_secrets, locate_cluster_conf
    module_name, class_name, server_section = DAEMONS[name]
    cls = getattr(importlib.import_module(module_name), class_name)
    conf = load_daemon_conf(conf_path, name, cls.conf_class, server_section, overrides)
    if conf.prometheus_enabled:
        # The node's storage server exposes what the daemon counts there.
        from swiftlike import metrics
        metrics.setup(metrics.default_dir(conf), clean=False)
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
    from swiftlike.malloc_tuning import tune_malloc
    concurrency.monkey_patch()
    tune_malloc()
    try:
        daemon = build_daemon(name, args.conf, overrides)
    except ConfigError as err:
        exit_with_error(str(err))
    from swiftlike.daemon import lower_priority
    lower_priority([daemon.conf], daemon.logger)
    if args.devices:
        daemon.only_devices = set(d for d in args.devices.split(',') if d)
    if args.once:
        daemon.run_once()
        return 0 if daemon.last_pass_ok else 1
    daemon.run_forever()
    return 0


def daemons_for(paths, only=None):
    """[(daemon name, conf path)]: for each config file, the daemons of its
    server's kind whose section it has, or, with `only`, those named there."""
    from swiftlike.cli.servers import storage_kind
    from swiftlike.config import read_ini
    chosen = []
    for path in paths:
        if not os.path.isfile(path):
            raise ConfigError('%s: config file not found' % path)
        server_section, sections = storage_kind(path), read_ini(path)
        for name, (_module, _cls, section) in DAEMONS.items():
            if section == server_section and (
                    name in only if only is not None else name in sections):
                chosen.append((name, path))
    unknown = sorted(set(only or ()) - set(DAEMONS))
    if unknown:
        raise ConfigError('unknown daemon %r (known: %s)' % (unknown[0], ', '.join(DAEMONS)))
    unmatched = sorted(set(only or ()) - {name for name, _path in chosen})
    if unmatched:
        raise ConfigError('no config file given is for %s' % unmatched[0])
    return chosen


def run_daemons(argv=None):
    """swiftlike-daemons: many daemons, one process (one Python heap, not one each)."""
    parser = argparse.ArgumentParser(
        prog='swiftlike-daemons',
        description='Run the daemons configured in these server config files '
                    '(each file\'s daemon sections) in one process.')
    parser.add_argument('conf', nargs='+', help='config files of the servers they run beside')
    parser.add_argument('--only', help='just these daemons (comma-separated names)')
    parser.add_argument('--once', action='store_true', help='one pass of each, then exit')
    args = parser.parse_args(argv)
    only = [n.strip() for n in args.only.split(',') if n.strip()] if args.only else None
    from swiftlike import concurrency
    from swiftlike.malloc_tuning import tune_malloc
    concurrency.monkey_patch()
    tune_malloc()
    try:
        daemons = [build_daemon(name, path) for name, path in daemons_for(args.conf, only)]
    except ConfigError as err:
        exit_with_error(str(err))
    if not daemons:
        exit_with_error('no daemon is configured in %s' % ', '.join(args.conf))
    from swiftlike.daemon import lower_priority
    lower_priority([d.conf for d in daemons], daemons[0].logger)

    def stop_all(signum, frame):
        for daemon in daemons:
            daemon.stop()
    signal.signal(signal.SIGTERM, stop_all)
    signal.signal(signal.SIGINT, stop_all)
    if args.once:
        work = [concurrency.spawn(d.run_once) for d in daemons]
    else:
        work = [concurrency.spawn(d.run_forever, handle_signals=False) for d in daemons]
    for thread in work:
        thread.wait()
    return 0 if all(d.last_pass_ok for d in daemons) else 1


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
