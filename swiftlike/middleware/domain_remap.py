"""Domain remap (Swift's `domain_remap`): a container or an account as a web
site under its own host name.

A request whose Host is `<container>.<account>.<storage_domain>` is served
as `/v1/<account>/<container><path>`, one for `<account>.<storage_domain>`
as `/v1/<account><path>`. Host names cannot hold `_`, so an account may be
written with a `-` after its reseller prefix (`auth-test` for `AUTH_test`);
the prefix is matched case-insensitively and given back in its configured
case. Hosts outside the storage domains, and account names without one of
the reseller prefixes, pass through untouched.

The part of the path the remap added is kept in the environ (REMAP_PREFIX_KEY)
so a middleware building a URL for the client (static web's redirects) can
give the host-relative path the client used.
"""
import dataclasses

from swiftlike.middleware import info
from swiftlike.middleware.filters import make_filter_factory

# The path prefix domain_remap added to PATH_INFO ('/v1/AUTH_a[/c]'), if any.
REMAP_PREFIX_KEY = 'swiftlike.remap_prefix'


@dataclasses.dataclass
class Conf:
    # Domains under which host names name an account (and container),
    # comma-separated; Swift's default.
    storage_domain: str = 'example.com'
    # The API version the remapped paths get.
    path_root: str = 'v1'
    # Account prefixes a host name's account part may carry (as tempauth's).
    reseller_prefixes: str = 'AUTH'
    # Added to an account part carrying none of the prefixes ('' = leave
    # such hosts alone).
    default_reseller_prefix: str = ''

    def __post_init__(self):
        self.domains = [d.strip().strip('.').lower() for d in self.storage_domain.split(',')
                        if d.strip().strip('.')]
        self.prefixes = [p.strip().rstrip('_') for p in self.reseller_prefixes.split(',')
                         if p.strip()]
        self.path_root = self.path_root.strip('/')


def remap(host, conf):
    """(account, container or None) named by a Host header value, or None."""
    host = (host or '').strip()
    if host.startswith('['):
        return None     # an IPv6 literal names no account
    host = host.rsplit(':', 1)[0] if ':' in host else host
    lower = host.lower()
    for domain in sorted(conf.domains, key=len, reverse=True):
        if lower == domain or not lower.endswith('.' + domain):
            continue
        # Names keep the case the client wrote (container names are case-sensitive).
        labels = host[:-len(domain) - 1].split('.')
        if len(labels) > 2 or not all(labels):
            return None
        container = labels[0] if len(labels) == 2 else None
        account = _account(labels[-1], conf)
        return (account, container) if account else None
    return None


def _account(label, conf):
    for prefix in conf.prefixes:
        head = label[:len(prefix) + 1].lower()
        if head in (prefix.lower() + '_', prefix.lower() + '-') and len(label) > len(prefix) + 1:
            return prefix + '_' + label[len(prefix) + 1:]
    if conf.default_reseller_prefix:
        return conf.default_reseller_prefix.rstrip('_') + '_' + label
    return None


class DomainRemap:
    def __init__(self, app, conf):
        self.app = app
        self.conf = conf
        info.register('domain_remap', default_reseller_prefix=conf.default_reseller_prefix)

    def __call__(self, env, start_response):
        found = remap(env.get('HTTP_HOST') or env.get('SERVER_NAME'), self.conf) \
            if self.conf.domains else None
        if found is not None:
            account, container = found
            prefix = '/%s/%s' % (self.conf.path_root, account)
            if container:
                prefix += '/' + container
            path = env.get('PATH_INFO') or '/'
            env[REMAP_PREFIX_KEY] = prefix
            env['PATH_INFO'] = prefix + (path if path.startswith('/') else '/' + path)
        return self.app(env, start_response)


filter_factory = make_filter_factory(DomainRemap, Conf)
