"""Entry points of the four servers: `swiftlike-<type>-server CONF`, and
`swiftlike-storage-server CONF [CONF ...]`, which runs several storage servers
(say a node's object, container and account servers) in one process.

A storage server module exposes CONF_SECTION, Conf (dataclass) and App
(constructed as App(conf)); the proxy module exposes load(conf_path) ->
(WsgiConf, app_factory).
"""
import importlib
import os
import sys

from swiftlike import metrics
from swiftlike.config import load_section, read_ini
from swiftlike.exceptions import ConfigError
from swiftlike.hashing import hash_secrets, locate_cluster_conf
from swiftlike.recon.middleware import ReconMiddleware
from swiftlike.wsgi import exit_with_error, run_servers, run_wsgi

USAGE = 'usage: swiftlike-%s-server CONFIG_FILE'
STORAGE_USAGE = 'usage: swiftlike-storage-server CONFIG_FILE [CONFIG_FILE ...]'
# Server section of a config file -> the module serving it.
STORAGE_MODULES = {
    'object-server': 'swiftlike.obj.server',
    'container-server': 'swiftlike.container.server',
    'account-server': 'swiftlike.account.server',
}


def _conf_path(kind):
    args = sys.argv[1:]
    if len(args) != 1 or args[0] in ('-h', '--help'):
        exit_with_error(USAGE % kind)
    if not os.path.isfile(args[0]):
        exit_with_error('%s: config file not found' % args[0])
    return args[0]


def _storage_service(path, module_name):
    """(app factory, conf) of the storage server configured in `path`."""
    module = importlib.import_module(module_name)
    conf = load_section(path, module.CONF_SECTION, module.Conf)
    if conf.prometheus_enabled:
        metrics.setup(metrics.default_dir(conf))
    locate_cluster_conf(conf.swift_dir)
    hash_secrets()
    return (lambda: ReconMiddleware(module.App(conf), conf)), conf


def _run_storage(kind, module_name):
    path = _conf_path(kind)
    try:
        factory, conf = _storage_service(path, module_name)
    except ConfigError as err:
        exit_with_error(str(err))
    return run_wsgi(factory, conf)


def storage_kind(path):
    """The one storage server section ([object-server], ...) in config `path`."""
    found = [name for name in read_ini(path) if name in STORAGE_MODULES]
    if len(found) != 1:
        raise ConfigError('%s: needs exactly one of [%s], found %s' % (
            path, '], ['.join(STORAGE_MODULES), ', '.join(found) or 'none'))
    return found[0]


def storage_server(argv=None):
    paths = sys.argv[1:] if argv is None else argv
    if not paths or any(p in ('-h', '--help') for p in paths):
        exit_with_error(STORAGE_USAGE)
    services, ports = [], set()
    try:
        for path in paths:
            if not os.path.isfile(path):
                raise ConfigError('%s: config file not found' % path)
            factory, conf = _storage_service(path, STORAGE_MODULES[storage_kind(path)])
            if (conf.bind_ip, conf.bind_port) in ports:
                raise ConfigError('%s: %s:%d is already served by another config file'
                                  % (path, conf.bind_ip, conf.bind_port))
            ports.add((conf.bind_ip, conf.bind_port))
            services.append((factory, conf))
    except ConfigError as err:
        exit_with_error(str(err))
    return run_servers(services)


def object_server():
    return _run_storage('object', 'swiftlike.obj.server')


def container_server():
    return _run_storage('container', 'swiftlike.container.server')


def account_server():
    return _run_storage('account', 'swiftlike.account.server')


def proxy_server():
    path = _conf_path('proxy')
    try:
        module = importlib.import_module('swiftlike.proxy.server')
        conf, app_factory = module.load(path)
        if conf.prometheus_enabled:
            metrics.setup(metrics.default_dir(conf, storage=False))
        hash_secrets()
    except ConfigError as err:
        exit_with_error(str(err))
    return run_wsgi(app_factory, conf)


if __name__ == '__main__':
    kinds = {'object': object_server, 'container': container_server,
             'account': account_server, 'proxy': proxy_server, 'storage': storage_server}
    kind = sys.argv.pop(1) if len(sys.argv) > 1 else ''
    if kind not in kinds:
        exit_with_error('usage: python -m swiftlike.cli.servers {%s} CONFIG_FILE ...' % '|'.join(kinds))
    sys.exit(kinds[kind]())
