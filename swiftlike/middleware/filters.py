"""What every middleware module shares: typed config and its filter_factory.

A middleware module defines `Conf` (a dataclass, may be empty) and a class
`Middleware(app, conf)`; `filter_factory(local_conf, global_conf)` reads the
`[filter:<name>]` section (plus [DEFAULT]) into Conf and returns
`lambda app: Middleware(app, conf)`.
"""
from swiftlike.config import build


def make_filter_factory(middleware_cls, conf_cls):
    def filter_factory(local_conf, global_conf=None, source='<dict>', section='filter'):
        values = {k: v for k, v in local_conf.items() if k != 'use'}
        conf = build(conf_cls, values, source, section, global_conf)

        def make(app):
            return middleware_cls(app, conf)
        make.conf = conf
        return make
    return filter_factory


def header_name(environ_key):
    """'HTTP_X_AUTH_TOKEN' -> 'x-auth-token'."""
    return environ_key[5:].replace('_', '-').lower()
