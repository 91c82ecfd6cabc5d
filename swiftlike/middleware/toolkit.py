"""What proxy middlewares share: the environ keys they agree on, and how they
ask the cluster about an account (a HEAD subrequest through the app below them).

A middleware never talks to storage nodes itself. It builds a subrequest with
`subrequest_env`, runs it through its own `app` with `call_app`, and reads the
answer. `account_info(env, app)` is the common case: status, counts, user
metadata and system metadata of an account, cached in the request's environ so
one client request costs at most one lookup per account. The proxy answers that
subrequest from its per-worker info cache (the same cache its controllers use),
so it costs no backend request while the cache is fresh.
"""
# The environ keys middlewares agree on live in environ_keys; they are named
# here too, where most middlewares import them from.
from swiftlike.middleware.environ_keys import (  # noqa: F401 - re-exported
    AUTHORIZE_KEY, AUTHORIZE_OVERRIDE_KEY, FEATURES_KEY, GENERATOR_HEADER, IDENTIFY_KEY,
    INFO_CACHE_KEY, INFO_REQUEST_KEY, OWNER_KEY, RESELLER_REQUEST_KEY, RESERVED_NAMES_KEY,
    SOURCE_KEY, TEMPURL_USER, TXN_KEY, WRITE_ONCE_READ_KEY)
from swiftlike.middleware.subrequest import TRANSPORT_KEYS, call, make_environ


def override_authorization(env, hook):
    """Settle this request's authorization by `hook` (same contract as
    AUTHORIZE_KEY: hook(env, read_acl, write_acl, is_object) -> None when
    allowed, else (status line, reason)) instead of the auth middleware's."""
    env[AUTHORIZE_OVERRIDE_KEY] = True
    env[AUTHORIZE_KEY] = hook


def _allow_all(env, read_acl='', write_acl='', is_object=False):
    return None


class PreAuthorized:
    """The app below, for a middleware's own info lookups (account_info,
    container_info) made for a request that has no token: they are marked
    authorised, as Swift's pre-authorised info requests are."""

    def __init__(self, app):
        self.app = app

    def __call__(self, env, start_response):
        override_authorization(env, _allow_all)
        return self.app(env, start_response)


def split_account_path(path):
    """'/v1/<a>[/<c>[/<o>]]' (WSGI str) -> (account, container, obj), missing
    parts None; None when it is not a well-formed API path with an account."""
    if not path.startswith('/'):
        return None
    version, _, rest = path[1:].partition('/')
    if version not in ('v1', 'v1.0'):
        return None
    account, _, rest = rest.partition('/')
    if not account:
        return None
    container, _, obj = rest.partition('/')
    if obj and not container:
        return None     # '/v1/a//o': the proxy refuses it
    return account, container or None, obj or None


def subrequest_env(env, method, path, source, headers=None):
    """A fresh environ for an internal request with no identity of the
    client's (no token, no user; the caller adds an authorization if it needs
    one), no client headers and an empty body. subrequest.make_environ is the
    one that carries the requester's identity."""
    return make_environ(env, method, path, headers=headers, source=source, carried=TRANSPORT_KEYS)


def call_app(app, env):
    """Run a subrequest: (status int, [(name, value)], body bytes)."""
    sub = call(app, env)
    return sub.status, sub.header_list, sub.read()


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


# The counters of an account's or a container's HEAD answer, by info key.
_COUNTS = {'account': {'container_count': 'x-account-container-count',
                       'object_count': 'x-account-object-count',
                       'bytes': 'x-account-bytes-used'},
           'container': {'object_count': 'x-container-object-count',
                         'bytes': 'x-container-bytes-used'}}


# A container's ACLs, by info key (container_info only; middlewares that act
# for a requester ask the auth hook with them).
_ACLS = {'read_acl': 'x-container-read', 'write_acl': 'x-container-write'}


def info_from_headers(status, headers, level='account'):
    """The account_info (or container_info) dict of a HEAD answer."""
    counts = _COUNTS[level]
    by_header = {header: key for key, header in counts.items()}
    info = dict({key: 0 for key in counts}, status=status, meta={}, sysmeta={})
    if level == 'container':
        info.update((key, '') for key in _ACLS)
        by_header.update((header, key) for key, header in _ACLS.items())
    meta, sysmeta = 'x-%s-meta-' % level, 'x-%s-sysmeta-' % level
    for name, value in headers:
        lname = name.lower()
        if lname in by_header:
            key = by_header[lname]
            info[key] = value if key in _ACLS else _int(value)
        elif lname.startswith(meta):
            info['meta'][lname[len(meta):]] = value
        elif lname.startswith(sysmeta):
            info['sysmeta'][lname[len(sysmeta):]] = value
    return info


def info_headers(info, level):
    """The HEAD answer's headers for an info dict (what the proxy sends back
    for an info subrequest it answers from its cache)."""
    headers = [(header, str(info.get(key, 0))) for key, header in _COUNTS[level].items()]
    if level == 'container':
        headers.extend((header, info[key]) for key, header in _ACLS.items() if info.get(key))
    headers.extend(('x-%s-meta-%s' % (level, k), v) for k, v in info.get('meta', {}).items())
    headers.extend(('x-%s-sysmeta-%s' % (level, k), v)
                   for k, v in info.get('sysmeta', {}).items())
    return headers


def account_info(env, app, account=None, source='toolkit'):
    """{'status', 'container_count', 'object_count', 'bytes', 'meta', 'sysmeta'}
    of `account` (WSGI str; default: the request's), by a HEAD through `app`;
    meta/sysmeta keys are the lower-case header suffixes. Cached in `env`."""
    if account is None:
        parts = split_account_path(env.get('PATH_INFO', ''))
        if parts is None:
            raise ValueError('no account in the request path')
        account = parts[0]
    cache = env.setdefault(INFO_CACHE_KEY, {})
    info = cache.get(account)
    if info is None:
        sub = subrequest_env(env, 'HEAD', '/v1/' + account, source)
        sub[INFO_REQUEST_KEY] = True
        status, headers, _body = call_app(app, sub)
        info = cache[account] = info_from_headers(status, headers)
    return info


def container_info(env, app, account, container, source='toolkit'):
    """{'status', 'object_count', 'bytes', 'read_acl', 'write_acl', 'meta',
    'sysmeta'} of a container
    (names as WSGI str), by a HEAD through `app` that the proxy answers from
    its per-worker info cache; cached in `env` for the request."""
    cache = env.setdefault(INFO_CACHE_KEY, {})
    key = (account, container)
    info = cache.get(key)
    if info is None:
        sub = subrequest_env(env, 'HEAD', '/v1/%s/%s' % (account, container), source)
        sub[INFO_REQUEST_KEY] = True
        status, headers, _body = call_app(app, sub)
        info = info_from_headers(status, headers, 'container')
        cache[key] = info
    return info


class EnvironHeaders:
    """Request header lookup by name in a WSGI environ (what the conditional
    and range helpers read)."""

    def __init__(self, environ):
        self.environ = environ

    def get(self, name, default=None):
        return self.environ.get('HTTP_' + name.upper().replace('-', '_'), default)


def cors_headers(env, app, account, container, source='toolkit'):
    """The Access-Control-* headers the proxy gives the request's Origin for
    a container, for an answer a middleware makes itself (a form upload's, an
    auth refusal's), so a page of that origin can read it as it can read the
    proxy's own answers. Asked with a HEAD the proxy answers from its info
    cache; [] without an Origin or a container."""
    origin = env.get('HTTP_ORIGIN')
    if not origin or not container:
        return []
    sub = subrequest_env(env, 'HEAD', '/v1/%s/%s' % (account, container), source,
                         {'Origin': origin})
    sub[INFO_REQUEST_KEY] = True
    override_authorization(sub, _allow_all)
    _status, headers, _body = call_app(app, sub)
    return [(k, v) for k, v in headers if k.lower().startswith('access-control-')]


def mark_feature(env, name):
    """Tell the proxy that a middleware implements feature `name`, so requests
    relying on it are not refused (see swiftlike/proxy/unsupported.py)."""
    env.setdefault(FEATURES_KEY, set()).add(name)
