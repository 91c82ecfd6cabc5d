"""Entry points of the four servers: `swiftlike-<type>-server CONF`.

A storage server module exposes CONF_SECTION, Conf (dataclass) and App
(constructed as App(conf)); the proxy module exposes load(conf_path) ->
(WsgiConf, app_factory).
"""
import importlib
import os
import sys

from swiftlike.config import load_section
from swiftlike.exceptions import ConfigError
from swiftlike.wsgi import exit_with_error, run_wsgi

USAGE = 'usage: swiftlike-%s-server CONFIG_FILE'


def _conf_path(kind):
    args = sys.argv[1:]
    if len(args) != 1 or args[0] in ('-h', '--help'):
        exit_with_error(USAGE % kind)
    if not os.path.isfile(args[0]):
        exit_with_error('%s: config file not found' % args[0])
    return args[0]


def locate_cluster_conf(swift_dir):
    """Point $SWIFTLIKE_CONF at <swift_dir>/swiftlike.conf unless already set."""
    candidate = os.path.join(swift_dir, 'swiftlike.conf')
    if 'SWIFTLIKE_CONF' not in os.environ and os.path.exists(candidate):
        os.environ['SWIFTLIKE_CONF'] = candidate


def _run_storage(kind, module_name):
    path = _conf_path(kind)
    try:
        module = importlib.import_module(module_name)
        conf = load_section(path, module.CONF_SECTION, module.Conf)
        locate_cluster_conf(conf.swift_dir)
        from swiftlike.hashing import hash_secrets
        hash_secrets()
    except ConfigError as err:
        exit_with_error(str(err))
    return run_wsgi(lambda: module.App(conf), conf)


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
        from swiftlike.hashing import hash_secrets
        hash_secrets()
    except ConfigError as err:
        exit_with_error(str(err))
    return run_wsgi(app_factory, conf)


if __name__ == '__main__':
    kinds = {'object': object_server, 'container': container_server,
             'account': account_server, 'proxy': proxy_server}
    kind = sys.argv.pop(1) if len(sys.argv) > 1 else ''
    if kind not in kinds:
        exit_with_error('usage: python -m swiftlike.cli.servers {%s} CONFIG_FILE' % '|'.join(kinds))
    sys.exit(kinds[kind]())
