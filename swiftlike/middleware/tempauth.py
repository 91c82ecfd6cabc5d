"""Temporary auth in the style of Swift's tempauth, but stateless.

GET /auth/v1.0 with X-Auth-User: <account>:<user> and X-Auth-Key (or
X-Storage-User / X-Storage-Pass) returns a token and the storage URL
(<first reseller prefix>_<account>). Users and tokens: tempauth_tokens.py.

tempauth answers for the accounts of its reseller prefixes ("AUTH, SERVICE":
AUTH_x and SERVICE_x). Who may do what, as in Swift's tempauth:
- .reseller_admin users: everything on every such account;
- owners (an account's .admin users): everything on their account under every
  prefix, except creating/deleting the account itself. `<PREFIX>_require_group
  = <group>` adds a condition for that prefix's accounts: the request must also
  carry an X-Service-Token of a user in <group> (Swift's "service tokens": e.g.
  a service keeps its data for a user in SERVICE_<user>, which the user can only
  change through the service);
- account ACLs (X-Account-Access-Control, set by owners; tempauth_acl.py):
  admin = what owners may do; read-write = list the account, anything on its
  containers and objects; read-only = GET/HEAD everywhere. Owner-only headers
  (container ACLs, sync keys, temp-url keys) stay with owners and ACL admins.
  Unlike Swift, an ACL admin may not PUT/DELETE the account either;
- anyone else: what a container's X-Container-Read / -Write grants. The proxy
  asks env[AUTHORIZE_KEY](env, read_acl, write_acl, is_object) once it has the
  container's ACLs;
- OPTIONS is allowed on every account of ours.
A bad token of ours is a 401; no access is a 403 with a token, else a 401 with
`Www-Authenticate: Swift realm="<quoted account>"`.

The account ACL is kept as system metadata (X-Account-Sysmeta-Core-Access-Control,
canonical JSON), read through toolkit.account_info and shown as
X-Account-Access-Control to those who may change it.
"""
import dataclasses
import hmac
import json
import time
from urllib.parse import quote

from swiftlike.config import build
from swiftlike.exceptions import ConfigError
from swiftlike.middleware import info
from swiftlike.middleware.tempauth_acl import (account_acl_level, acl_allows,
                                               format_account_acl, parse_account_acl,
                                               parse_acl)
from swiftlike.middleware.tempauth_tokens import (  # noqa: F401 (re-exported)
    TOKEN_PREFIX, User, _b64, default_secret, parse_users, sign_token, user_groups,
    verify_token)
from swiftlike.middleware.toolkit import (AUTHORIZE_KEY, AUTHORIZE_OVERRIDE_KEY, IDENTIFY_KEY,
                                          OWNER_KEY, RESELLER_REQUEST_KEY, account_info,
                                          cors_headers, split_account_path)

ACL_ENV = 'HTTP_X_ACCOUNT_ACCESS_CONTROL'
ACL_SYSMETA_ENV = 'HTTP_X_ACCOUNT_SYSMETA_CORE_ACCESS_CONTROL'
ACL_SYSMETA = 'x-account-sysmeta-core-access-control'
ACL_SYSMETA_KEY = 'core-access-control'   # its key in account_info()['sysmeta']
REQUIRE_GROUP_SUFFIX = '_require_group'
_PREFIX_CHARS = frozenset('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.')

# Verified tokens a proxy worker remembers (cleared whole when full).
_VERIFIED_MAX = 4096


def parse_prefixes(value):
    """'AUTH, SERVICE' -> ['AUTH_', 'SERVICE_']; ValueError when unusable."""
    prefixes = []
    for item in value.replace(',', ' ').split():
        name = item[:-1] if item.endswith('_') else item
        if not name or not set(name) <= _PREFIX_CHARS:
            raise ValueError('reseller_prefix %r: use letters, digits, "-" and "." '
                             '(an empty prefix is not supported)' % item)
        if name + '_' in prefixes:
            raise ValueError('reseller_prefix %r is listed twice' % item)
        prefixes.append(name + '_')
    if not prefixes:
        raise ValueError('reseller_prefix is empty')
    return prefixes


@dataclasses.dataclass
class Conf:
    # Accounts are <prefix>_<name>. A list ("AUTH, SERVICE") makes tempauth
    # answer for several; storage URLs and tokens use the first.
    reseller_prefix: str = 'AUTH'
    auth_prefix: str = '/auth/'
    token_life: int = 86400
    # HMAC key for tokens, the same on every proxy. Empty: derived from the
    # cluster's [hash] secrets in swiftlike.conf (already shared by all nodes).
    token_secret: str = ''
    # 'default' uses the scheme the request came in with; or 'http' / 'https'.
    storage_url_scheme: str = 'default'

    def validate(self):
        if self.token_life <= 0:
            raise ValueError('token_life must be positive')
        if self.storage_url_scheme not in ('default', 'http', 'https'):
            raise ValueError('storage_url_scheme must be default, http or https')
        if not self.auth_prefix.startswith('/') or not self.auth_prefix.endswith('/'):
            raise ValueError('auth_prefix must start and end with /')
        parse_prefixes(self.reseller_prefix)

    @property
    def reseller_prefixes(self):
        return parse_prefixes(self.reseller_prefix)


def _reply(start_response, status, body=b'', headers=()):
    if isinstance(body, str):
        body = body.encode('utf-8')
    all_headers = [('Content-Length', str(len(body)))]
    if body:
        all_headers.append(('Content-Type', 'text/plain; charset=UTF-8'))
    all_headers.extend(headers)
    start_response(status, all_headers)
    return [body]


def _text(wsgi_value):
    """Real text of a WSGI (latin-1) string; None when it is not UTF-8."""
    try:
        return wsgi_value.encode('latin-1').decode('utf-8')
    except UnicodeError:
        return None


def _realm(account):
    return quote(account.encode('latin-1', 'replace'), safe='') if account else 'unknown'


class TempAuth:
    def __init__(self, app, conf, users, require_groups=None):
        self.app = app
        self.conf = conf
        self.users = users
        self.prefixes = conf.reseller_prefixes
        self.token_name = self.prefixes[0][:-1]
        self.require_groups = dict(require_groups or {})
        self.secret = conf.token_secret.encode('utf-8') if conf.token_secret else default_secret()
        # token -> (groups, expires) of tokens verified already: the HMAC and
        # the JSON of a token were ~5% of a proxy worker's Python time on a
        # 4 KiB GET.
        self._verified = {}
        info.register('tempauth', account_acls=True)

    # -- the request path ------------------------------------------------------------

    def __call__(self, env, start_response):
        env[IDENTIFY_KEY] = self.token_groups
        path = env.get('PATH_INFO', '')
        if path.startswith(self.conf.auth_prefix):
            return self.handle_auth(env, start_response)
        if path[1:].split('/', 1)[0] not in ('v1', 'v1.0') or not path.startswith('/'):
            return self.app(env, start_response)    # /info, /healthcheck, ...
        parts = split_account_path(path)
        start_response = self._wrap_start_response(env, start_response, parts)
        if env.get(AUTHORIZE_OVERRIDE_KEY):
            # A middleware before us (TempURL, FormPost) settled it by its own rule.
            return self.app(env, start_response)
        groups = self.identify(env)
        if groups is None:
            # With the CORS headers the proxy would give, so a page of an
            # allowed origin sees the 401 (and can get a new token).
            cors = cors_headers(env, self.app, parts[0], parts[1], 'TA') if parts else []
            return _reply(start_response, '401 Unauthorized', 'Invalid or expired token\n',
                          cors)
        if groups:
            env['REMOTE_USER'] = ','.join(groups)
            if '.reseller_admin' in groups:
                env[RESELLER_REQUEST_KEY] = True
        # Whatever is not settled here, the proxy settles by asking authorize().
        env[AUTHORIZE_KEY] = self.authorize
        if parts is None:
            # '/v1' or a malformed path: the proxy refuses it, serving nothing.
            return self.app(env, start_response)
        account, container, _obj = parts
        prefix = self.prefix_of(account)
        if prefix is None:
            return self.deny(env, start_response)
        acl = None
        if ACL_ENV in env:
            try:
                acl = self.check_acl_header(env.pop(ACL_ENV))
            except ValueError as err:
                return _reply(start_response, '400 Bad Request',
                              'X-Account-Access-Control invalid: %s\n' % err)
        method = env.get('REQUEST_METHOD', '')
        if container and not self.is_owner(groups, account, prefix, container, method):
            # Not an owner: the container's ACLs may still allow it; the proxy
            # asks authorize() once it has them.
            return self.app(env, start_response)
        denied = self.authorize(env)
        if denied:
            return _reply(start_response, denied[0], denied[1] + '\n')
        if acl is not None and env.get(OWNER_KEY) and not container and method in ('PUT', 'POST'):
            # An empty ACL is sent as an empty value, which removes the metadata.
            env[ACL_SYSMETA_ENV] = format_account_acl(acl) if acl else ''
        return self.app(env, start_response)

    def identify(self, env):
        """The requester's groups: [] when anonymous (or the token is not one
        of ours), None when it is ours but not valid. An X-Service-Token adds
        its user's groups."""
        token = env.get('HTTP_X_AUTH_TOKEN') or env.get('HTTP_X_STORAGE_TOKEN')
        if not token or not token.startswith(self.prefixes[0]):
            return []
        groups = self.token_groups(token)
        if groups is None:
            return None
        service_token = env.get('HTTP_X_SERVICE_TOKEN')
        if service_token:
            extra = self.token_groups(service_token) or []
            groups.extend(g for g in extra if g not in groups)
        return groups

    def token_groups(self, token):
        """The groups of a valid token's user (a list of the caller's own),
        None for a token that is not valid (or no longer)."""
        now = time.time()
        known = self._verified.get(token)
        if known is not None:
            if now < known[1]:
                return list(known[0])
            self._verified.pop(token, None)
        identity = verify_token(self.secret, self.token_name, token, now)
        if identity is None:
            return None
        user = self.users.get('%s:%s' % (identity[0], identity[1]))
        if user is None:
            return None
        groups = user_groups(user, self.prefixes)
        if len(self._verified) >= _VERIFIED_MAX:
            self._verified.clear()
        self._verified[token] = (tuple(groups), identity[3])
        return groups

    def prefix_of(self, account):
        for prefix in self.prefixes:
            if account.startswith(prefix):
                return prefix
        return None

    def is_owner(self, groups, account, prefix, container, method):
        if '.reseller_admin' in groups and account != prefix:
            return True
        if _text(account) in groups and (container or method not in ('PUT', 'DELETE')):
            needed = self.require_groups.get(prefix)
            return not needed or needed in groups
        return False

    def deny(self, env, start_response):
        status, reason = self.denial(env)
        return _reply(start_response, status, reason + '\n')

    @staticmethod
    def denial(env):
        if env.get('REMOTE_USER'):
            return '403 Forbidden', 'Access denied'
        return '401 Unauthorized', 'Authentication required'

    # -- account ACLs ------------------------------------------------------------------

    @staticmethod
    def check_acl_header(value):
        """The parsed X-Account-Access-Control; ValueError with the reason."""
        text = _text(value)
        if text is None:
            raise ValueError('not UTF-8')
        return parse_account_acl(text)

    def account_acl(self, env, account):
        """The account's ACL ({} when none or unreadable)."""
        found = account_info(env, self.app, account, source='tempauth')
        stored = found['sysmeta'].get(ACL_SYSMETA_KEY) if 200 <= found['status'] < 300 else None
        if not stored:
            return {}
        try:
            return self.check_acl_header(stored)
        except ValueError:
            return {}

    def account_acl_level(self, env, account, groups):
        if not groups:
            return None     # anonymous: account ACLs name users, never "anyone"
        return account_acl_level(self.account_acl(env, account), groups)

    # -- the proxy's callback, once it knows the container's ACLs ----------------------

    def authorize(self, env, read_acl='', write_acl='', is_object=False):
        """None if the request `env` describes is allowed, else (status line,
        reason). Judged afresh from its path, method and REMOTE_USER (so a
        caller may ask about another path, e.g. a copy's source); sets
        env[OWNER_KEY] for owners and account-ACL admins."""
        parts = split_account_path(env.get('PATH_INFO', ''))
        prefix = self.prefix_of(parts[0]) if parts is not None else None
        if prefix is None:
            return self.denial(env)
        account, container, obj = parts
        method = env.get('REQUEST_METHOD', '')
        groups = [g for g in env.get('REMOTE_USER', '').split(',') if g]
        if self.is_owner(groups, account, prefix, container, method):
            env[OWNER_KEY] = True
            return None
        if method == 'OPTIONS':
            return None
        if container is not None and self.container_acl_allows(
                env, method, groups, read_acl, write_acl, is_object or obj is not None):
            return None
        level = self.account_acl_level(env, account, groups)
        if level == 'admin' and (container is not None or method not in ('PUT', 'DELETE')):
            env[OWNER_KEY] = True
            return None
        if level == 'read-write' and (container is not None or method in ('GET', 'HEAD')):
            return None
        if level == 'read-only' and method in ('GET', 'HEAD'):
            return None
        return self.denial(env)

    @staticmethod
    def container_acl_allows(env, method, groups, read_acl, write_acl, is_object):
        if method in ('GET', 'HEAD'):
            return acl_allows(parse_acl(read_acl), groups, env.get('HTTP_REFERER', ''),
                              listing=not is_object)
        if is_object and method in ('PUT', 'POST', 'DELETE', 'COPY'):
            return acl_allows(parse_acl(write_acl), groups, '', listing=False, referrers=False)
        return False

    # -- responses ---------------------------------------------------------------------

    def _wrap_start_response(self, env, start_response, parts):
        """Every 401 names the account as its realm; account answers show the
        account ACL to those who may change it (and its sysmeta to nobody)."""
        realm = _realm(parts[0] if parts else None)
        account_level = parts is not None and parts[1] is None

        def wrapped(status, headers, exc_info=None):
            if status.startswith('401') and \
                    not any(k.lower() == 'www-authenticate' for k, _v in headers):
                headers = list(headers) + [('Www-Authenticate', 'Swift realm="%s"' % realm)]
            if account_level:
                headers = self._account_acl_headers(env, headers)
            return start_response(status, headers, exc_info)
        return wrapped

    def _account_acl_headers(self, env, headers):
        stored = None
        out = []
        for name, value in headers:
            lname = name.lower()
            if lname == ACL_SYSMETA:
                stored = value
            elif lname != 'x-account-access-control':
                out.append((name, value))
        if stored and env.get(OWNER_KEY):
            try:
                acl = self.check_acl_header(stored)
            except ValueError:
                acl = None
            if acl:
                out.append(('X-Account-Access-Control', format_account_acl(acl)))
        return out

    # -- login ---------------------------------------------------------------------------

    def handle_auth(self, env, start_response):
        path = env.get('PATH_INFO', '')
        rest = path[len(self.conf.auth_prefix):]
        if rest not in ('v1.0', 'v1', 'v1.0/', 'v1/') and not rest.startswith(('v1/', 'v1.0/')):
            return _reply(start_response, '404 Not Found', 'Unknown auth path\n')
        if env.get('REQUEST_METHOD') not in ('GET', 'HEAD'):
            return _reply(start_response, '405 Method Not Allowed', 'Use GET\n',
                          [('Allow', 'GET, HEAD')])
        login = env.get('HTTP_X_AUTH_USER') or env.get('HTTP_X_STORAGE_USER') or ''
        key = env.get('HTTP_X_AUTH_KEY') or env.get('HTTP_X_STORAGE_PASS') or ''
        user = self.users.get(login)
        if user is None or not hmac.compare_digest(user.key.encode('utf-8', 'surrogateescape'),
                                                   key.encode('latin-1', 'replace')):
            return _reply(start_response, '401 Unauthorized', 'Bad user or key\n',
                          [('Www-Authenticate', 'Swift realm="auth"')])
        expires = int(time.time()) + self.conf.token_life
        groups = user_groups(user, self.prefixes)
        token = sign_token(self.secret, self.token_name, user.account, user.user, groups, expires)
        url = self.storage_url(env, user.account)
        body = json.dumps({'storage': {'default': 'local', 'local': url}}).encode('utf-8')
        start_response('200 OK', [
            ('X-Auth-Token', token), ('X-Storage-Token', token), ('X-Storage-Url', url),
            ('X-Auth-Token-Expires', str(self.conf.token_life)),
            ('Content-Type', 'application/json; charset=utf-8'),
            ('Content-Length', str(len(body)))])
        return [body if env.get('REQUEST_METHOD') == 'GET' else b'']

    def storage_url(self, env, account):
        scheme = self.conf.storage_url_scheme
        if scheme == 'default':
            scheme = env.get('wsgi.url_scheme', 'http')
        host = env.get('HTTP_HOST')
        if not host:
            host = '%s:%s' % (env.get('SERVER_NAME', 'localhost'), env.get('SERVER_PORT', '80'))
        return '%s://%s/v1/%s' % (scheme, host, quote('%s%s' % (self.prefixes[0], account)))


def require_groups(keys, prefixes, source, section):
    """{'service_require_group': 'service'} -> {'SERVICE_': 'service'}."""
    out = {}
    for key, value in keys.items():
        name = key[:-len(REQUIRE_GROUP_SUFFIX)] + '_'
        matches = [p for p in prefixes if p.lower() == name.lower()]
        if len(matches) != 1:
            raise ConfigError('%s [%s]: %s names no reseller prefix of %s'
                              % (source, section, key, ', '.join(p[:-1] for p in prefixes)))
        group = value.strip()
        if not group or any(c.isspace() or c == ',' for c in group):
            raise ConfigError('%s [%s]: %s must be one group name, got %r'
                              % (source, section, key, value))
        out[matches[0]] = group
    return out


def filter_factory(local_conf, global_conf=None, source='<dict>', section='filter:tempauth'):
    values = {k: v for k, v in local_conf.items() if k != 'use'}
    users, rest = parse_users(values, source, section)
    groups_keys = {k: v for k, v in rest.items() if k.lower().endswith(REQUIRE_GROUP_SUFFIX)}
    rest = {k: v for k, v in rest.items() if k not in groups_keys}
    defaults = {k: v for k, v in (global_conf or {}).items() if not k.startswith('user')}
    conf = build(Conf, rest, source, section, defaults)
    required = require_groups(groups_keys, conf.reseller_prefixes, source, section)

    def make(app):
        return TempAuth(app, conf, users, required)
    make.conf = conf
    make.require_groups = required
    return make
