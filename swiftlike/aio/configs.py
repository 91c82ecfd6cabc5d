"""Writes the aio's config files from its layout.

The hash secrets are made once and never rewritten (changing them would make
every stored object unreachable); the other files are rewritten on each start
so flags like --port or --workers take effect.
"""
import dataclasses
import os

from swiftlike.config import ini_text, read_ini
from swiftlike.exceptions import ConfigError
from swiftlike.proxy import pipeline as proxy_pipeline

RESELLER_PREFIX = 'AUTH_'
# As Swift's SAIO: SERVICE_<account> holds a service's data for a user; a request
# there needs the user's token and an X-Service-Token of a user in this group.
SERVICE_PREFIX = 'SERVICE_'
SERVICE_GROUP = 'service'
# The aio's ratelimit rules: generous (a benchmark on one machine stays under them).
AIO_RATELIMIT_RULES = 'source requests 200000/1m reject; source concurrent 2000 reject'


@dataclasses.dataclass(frozen=True)
class User:
    """A tempauth user: `account:user` with its key and groups."""
    account: str
    user: str
    key: str
    groups: tuple = ()

    @property
    def name(self):
        return '%s:%s' % (self.account, self.user)

    @property
    def is_admin(self):
        return '.admin' in self.groups

    @property
    def storage_account(self):
        return RESELLER_PREFIX + self.account

    def conf_line(self):
        key = 'user_%s_%s' % (self.account, self.user)
        return '%s = %s' % (key, ' '.join((self.key,) + tuple(self.groups)))


# The users of Swift's SAIO, so existing scripts and test configs work unchanged.
DEFAULT_USERS = (
    User('admin', 'admin', 'admin', ('.admin', '.reseller_admin')),
    User('test', 'tester', 'testing', ('.admin',)),
    User('test2', 'tester2', 'testing2', ('.admin',)),
    User('test', 'tester3', 'testing3', ()),
    User('test5', 'tester5', 'testing5', ('service',)),
)

_NAME_CHARS = set('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-')


def parse_user(spec):
    """ACCOUNT:USER:KEY[:GROUP,GROUP...] -> User; ValueError with the reason."""
    parts = spec.split(':')
    if len(parts) not in (3, 4):
        raise ValueError('expected ACCOUNT:USER:KEY[:GROUPS], got %r' % spec)
    account, user, key = parts[:3]
    groups = tuple(g for g in (parts[3].split(',') if len(parts) == 4 else []) if g)
    for label, value in (('account', account), ('user', user)):
        # They become an INI key (user_<account>_<user>): keep them plain.
        if not value or not set(value) <= _NAME_CHARS:
            raise ValueError('%s name %r: use letters, digits and dashes' % (label, value))
    if not key or any(c.isspace() for c in key):
        raise ValueError('key for %s:%s must be non-empty without spaces' % (account, user))
    for group in groups:
        if any(c.isspace() for c in group):
            raise ValueError('group %r has spaces' % group)
        if group.startswith('.') and group not in ('.admin', '.reseller_admin'):
            raise ValueError('group %r: the dotted groups are .admin and .reseller_admin'
                             % group)
    return User(account, user, key, groups)


def merge_users(defaults, extra):
    """Defaults, with users of the same account:user replaced by `extra`."""
    merged = {u.name: u for u in defaults}
    for user in extra:
        merged[user.name] = user
    return list(merged.values())


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(text)
    os.replace(tmp, path)


def ensure_cluster_conf(layout):
    """swiftlike.conf with random hash secrets, made once; returns (prefix, suffix)."""
    path = layout.cluster_conf
    if os.path.exists(path):
        section = read_ini(path).get('hash', {})
        prefix, suffix = section.get('path_prefix', ''), section.get('path_suffix', '')
        if not prefix and not suffix:
            raise ConfigError('%s [hash]: no path_prefix/path_suffix; refusing to invent new '
                              'ones for an existing cluster' % path)
        return prefix, suffix
    # os.urandom, not the secrets module: that one loads OpenSSL (~4 MB) into
    # the long-running aio supervisor for one call.
    prefix, suffix = os.urandom(16).hex(), os.urandom(16).hex()
    _write(path, '# Made by swiftlike-aio. Never change these once data is stored.\n'
           + ini_text([('hash', {'path_prefix': prefix, 'path_suffix': suffix})]))
    return prefix, suffix


def storage_conf_sections(layout, kind, node, workers=0, log_level='INFO', daemons=()):
    """A node's <kind>-server conf. Shared keys go in [DEFAULT] so the daemons'
    sections in the same file (empty: their defaults) read them too."""
    defaults = {
        'devices': node.devices_root,
        'mount_check': 'true' if layout.xfs else 'false',
        'swift_dir': layout.etc_dir,
        'bind_ip': layout.bind_ip,
        'log_level': log_level,
    }
    server = {'bind_port': str(node.ports[kind]), 'workers': str(workers)}
    return ([('DEFAULT', defaults), ('%s-server' % kind, server)]
            + [(daemon, {}) for daemon in daemons])


def write_storage_confs(layout, workers=0, log_level='INFO', daemon_sections=None):
    """Every node's object/container/account server conf; returns their paths.

    daemon_sections maps a kind to the [section] names of its daemons.
    """
    paths = []
    for node in layout.nodes:
        for kind in ('object', 'container', 'account'):
            sections = storage_conf_sections(layout, kind, node, workers, log_level,
                                             (daemon_sections or {}).get(kind, ()))
            path = layout.server_conf(kind, node.index)
            write_merged(path, sections, 'node %d' % node.index)
            paths.append(path)
    return paths


def pipeline():
    """[(filter name, module)] of the proxy pipeline: swiftlike.proxy.pipeline's
    default, the same as etc/proxy-server.conf."""
    return [(name, proxy_pipeline.module_name(name)) for name in proxy_pipeline.DEFAULT]


def proxy_conf_sections(layout, port, users, workers=1, log_level='INFO', filters=None):
    filters = pipeline() if filters is None else filters
    defaults = {'swift_dir': layout.etc_dir, 'log_level': log_level}
    # As in Swift's SAIO: accounts appear on first use, and a reseller admin
    # may create/delete accounts (the functional tests of both rely on it).
    proxy = {'bind_ip': layout.bind_ip, 'bind_port': str(port), 'workers': str(workers),
             'account_autocreate': 'true', 'allow_account_management': 'true',
             # the proxy's Prometheus multiprocess files, in the data dir
             'prometheus_dir': os.path.join(layout.data_dir, 'run', 'metrics-proxy')}
    sections = [('DEFAULT', defaults),
                ('pipeline:main', {'pipeline': ' '.join([n for n, _ in filters]
                                                        + ['proxy-server'])}),
                ('proxy-server', proxy)]
    for name, module in filters:
        values = {'use': module}
        if name == 'tempauth':
            values['reseller_prefix'] = '%s, %s' % (RESELLER_PREFIX.rstrip('_'),
                                                    SERVICE_PREFIX.rstrip('_'))
            # Lower case: INI keys are read that way (and merged by name on rewrite).
            values['%srequire_group' % SERVICE_PREFIX.lower()] = SERVICE_GROUP
            for user in users:
                key, _, value = user.conf_line().partition(' = ')
                values[key] = value
        if name == 'ratelimit':
            # On, with limits no fair client of one machine reaches.
            values['rules'] = AIO_RATELIMIT_RULES
        sections.append(('filter:%s' % name, values))
    return sections


def write_proxy_conf(layout, port, users, workers=1, log_level='INFO', filters=None):
    write_merged(layout.proxy_conf,
                 proxy_conf_sections(layout, port, users, workers, log_level, filters), 'proxy')
    return layout.proxy_conf


MERGE_NOTE = ('# Made by swiftlike-aio (%s). On every start the keys it sets follow its\n'
              '# flags; keys and sections you add are kept.\n')


def write_merged(path, sections, what):
    """Write `sections` to `path`, keeping keys and sections a person added to
    an earlier version of the file (the aio's own keys take the new values)."""
    merged = [(name, dict(values)) for name, values in sections]
    if os.path.exists(path):
        try:
            old = read_ini(path)
        except ConfigError:
            old = {}  # unreadable: replaced by a fresh one
        ours = {name: values for name, values in merged}
        for name, values in old.items():
            if name in ours:
                for key, value in values.items():
                    ours[name].setdefault(key, value)
            else:
                merged.append((name, dict(values)))
    _write(path, MERGE_NOTE % what + ini_text(merged))
