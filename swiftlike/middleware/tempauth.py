"""Temporary auth in the style of Swift's tempauth, but stateless.

Users come from the filter section, one key per user:

    user_<account>_<user> = <key> [.admin] [.reseller_admin]
    user64_<b64 account>_<b64 user> = ...   (names containing '_')

GET /auth/v1.0 with X-Auth-User: <account>:<user> and X-Auth-Key (or
X-Storage-User / X-Storage-Pass) returns a token. A token is
'AUTH_tk' + base64(json([account, user, groups, expires])) + '.' + an
HMAC-SHA256 of that payload under the cluster's token secret, so every proxy
verifies it without shared state; it stops working at `expires` or when the
user is removed from the config.

Who may do what (as in Swift's tempauth):
- .reseller_admin users: everything on every account;
- .admin users of an account (the account owners): everything on that account
  except creating/deleting the account itself;
- anyone else: only what a container's X-Container-Read / -Write ACL grants.
The proxy calls env['swiftlike.authorize'](env, acl) once it knows the ACL.
"""
import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
import time

from swiftlike.config import build
from swiftlike.exceptions import ConfigError
from swiftlike.middleware import info
from swiftlike.middleware.tempauth_acl import acl_allows, parse_acl

AUTHORIZE_KEY = 'swiftlike.authorize'
OWNER_KEY = 'swiftlike.owner'
TOKEN_PREFIX = 'tk'


@dataclasses.dataclass
class Conf:
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


@dataclasses.dataclass
class User:
    account: str
    user: str
    key: str
    groups: tuple


def parse_users(values, source='<dict>', section='filter:tempauth'):
    """Split user_* / user64_* keys out of a section: (users, other keys)."""
    users = {}
    rest = {}
    for key, value in values.items():
        if key.startswith('user64_'):
            try:
                a64, u64 = key[len('user64_'):].split('_', 1)
                account = base64.b64decode(a64 + '=' * (-len(a64) % 4)).decode('utf-8')
                user = base64.b64decode(u64 + '=' * (-len(u64) % 4)).decode('utf-8')
            except (ValueError, binascii.Error, UnicodeDecodeError):
                raise ConfigError('%s [%s]: bad user64 key %r' % (source, section, key))
        elif key.startswith('user_'):
            account, sep, user = key[len('user_'):].partition('_')
            if not sep or not account or not user:
                raise ConfigError('%s [%s]: bad user key %r (user_<account>_<user>)'
                                  % (source, section, key))
        else:
            rest[key] = value
            continue
        items = value.split()
        if not items:
            raise ConfigError('%s [%s]: user %r has no key' % (source, section, key))
        groups = tuple(items[1:])
        unknown = [g for g in groups if g.startswith('.') and g not in ('.admin', '.reseller_admin')]
        if unknown:
            raise ConfigError('%s [%s]: unknown group %r for %r' % (source, section, unknown[0], key))
        users['%s:%s' % (account, user)] = User(account, user, items[0], groups)
    return users, rest


def user_groups(user, reseller_prefix):
    groups = ['%s:%s' % (user.account, user.user), user.account]
    groups.extend(g for g in user.groups if not g.startswith('.'))
    if '.admin' in user.groups or '.reseller_admin' in user.groups:
        groups.append('%s_%s' % (reseller_prefix, user.account))
    if '.reseller_admin' in user.groups:
        groups.append('.reseller_admin')
    return groups


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode('ascii')


def _unb64(text):
    return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))


def sign_token(secret, reseller_prefix, account, user, groups, expires):
    payload = _b64(json.dumps([account, user, list(groups), int(expires)],
                              separators=(',', ':')).encode('utf-8'))
    sig = hmac.new(secret, payload.encode('ascii'), hashlib.sha256).hexdigest()
    return '%s_%s%s.%s' % (reseller_prefix, TOKEN_PREFIX, payload, sig)


def verify_token(secret, reseller_prefix, token, now=None):
    """(account, user, groups, expires) of a valid token, else None."""
    prefix = '%s_%s' % (reseller_prefix, TOKEN_PREFIX)
    if not token or not token.startswith(prefix) or len(token) > 4096:
        return None
    payload, sep, sig = token[len(prefix):].rpartition('.')
    if not sep:
        return None
    try:
        expected = hmac.new(secret, payload.encode('ascii'), hashlib.sha256).hexdigest()
    except UnicodeEncodeError:
        return None
    if not hmac.compare_digest(expected, sig):
        return None
    try:
        account, user, groups, expires = json.loads(_unb64(payload))
    except (ValueError, TypeError, binascii.Error):
        return None
    if (now if now is not None else time.time()) >= expires:
        return None
    return account, user, groups, expires


def _safe_realm(account):
    # The account comes from the URL: keep only printable ASCII so it can
    # never break the header.
    return ''.join(ch for ch in account[:64] if 32 <= ord(ch) < 127 and ch not in '"\\')


def default_secret():
    from swiftlike.hashing import hash_secrets
    prefix, suffix = hash_secrets()
    return hashlib.sha256(b'swiftlike-tempauth\0' + prefix + b'\0' + suffix).digest()


def _reply(start_response, status, body=b'', headers=()):
    if isinstance(body, str):
        body = body.encode('utf-8')
    all_headers = [('Content-Length', str(len(body)))]
    if body:
        all_headers.append(('Content-Type', 'text/plain; charset=UTF-8'))
    all_headers.extend(headers)
    start_response(status, all_headers)
    return [body]


class TempAuth:
    def __init__(self, app, conf, users):
        self.app = app
        self.conf = conf
        self.users = users
        self.secret = conf.token_secret.encode('utf-8') if conf.token_secret else default_secret()
        self.account_prefix = conf.reseller_prefix + '_'
        info.register('tempauth', account_acls=False)

    def __call__(self, environ, start_response):
        path = environ.get('PATH_INFO', '')
        if path.startswith(self.conf.auth_prefix):
            return self.handle_auth(environ, start_response)
        if not path.startswith('/v1'):
            return self.app(environ, start_response)
        parts = path.split('/', 4)
        account = parts[2] if len(parts) > 2 else ''
        if not account or (len(parts) > 4 and not parts[3]):
            # Not a request on an account, or on an object without a
            # container: the proxy answers it (412 Bad URL, 404), as it would
            # for anyone.
            return self.app(environ, start_response)
        token = environ.get('HTTP_X_AUTH_TOKEN') or environ.get('HTTP_X_STORAGE_TOKEN')
        identity = verify_token(self.secret, self.conf.reseller_prefix, token) if token else None
        if identity and '%s:%s' % (identity[0], identity[1]) not in self.users:
            identity = None
        if token and identity is None:
            return _reply(start_response, '401 Unauthorized', 'Invalid or expired token\n',
                          [('Www-Authenticate', 'Swift realm="%s"' % _safe_realm(account))])
        groups = identity[2] if identity else []
        environ['REMOTE_USER'] = ','.join(groups)
        container = parts[3] if len(parts) > 3 else ''
        if '.reseller_admin' in groups:
            environ[OWNER_KEY] = True
            return self.app(environ, start_response)
        method = environ.get('REQUEST_METHOD')
        if account and account in groups and account.startswith(self.account_prefix):
            if not container and method in ('PUT', 'DELETE'):
                return _reply(start_response, '403 Forbidden',
                              'Only a reseller admin may create or delete accounts\n')
            environ[OWNER_KEY] = True
            # Still asked about other accounts (a cross-account copy).
            environ[AUTHORIZE_KEY] = self.authorize
            return self.app(environ, start_response)
        if not container or method == 'OPTIONS':
            return self.deny(environ, start_response)
        # Not the owner: a container ACL may still allow it; the proxy asks
        # once it has the container's ACLs.
        environ[AUTHORIZE_KEY] = self.authorize
        return self.app(environ, start_response)

    def deny(self, environ, start_response):
        if environ.get('REMOTE_USER'):
            return _reply(start_response, '403 Forbidden', 'Access denied\n')
        return _reply(start_response, '401 Unauthorized', 'Authentication required\n',
                      [('Www-Authenticate', 'Swift realm="unknown"')])

    def authorize(self, environ, read_acl, write_acl, is_object):
        """None if allowed, else (status line, reason)."""
        method = environ.get('REQUEST_METHOD')
        groups = [g for g in environ.get('REMOTE_USER', '').split(',') if g]
        parts = environ.get('PATH_INFO', '').split('/', 3)
        account = parts[2] if len(parts) > 2 else ''
        if account and account in groups and account.startswith(self.account_prefix):
            return None   # an owner of that account
        if is_object or method in ('GET', 'HEAD'):
            if method in ('GET', 'HEAD'):
                allowed = acl_allows(parse_acl(read_acl), groups,
                                     environ.get('HTTP_REFERER', ''), listing=not is_object)
            elif is_object and method in ('PUT', 'POST', 'DELETE', 'COPY'):
                allowed = acl_allows(parse_acl(write_acl), groups, '', listing=False,
                                     referrers=False)
            else:
                allowed = False
            if allowed:
                return None
        if groups:
            return '403 Forbidden', 'Access denied'
        return '401 Unauthorized', 'Authentication required'

    def handle_auth(self, environ, start_response):
        path = environ.get('PATH_INFO', '')
        rest = path[len(self.conf.auth_prefix):]
        if rest not in ('v1.0', 'v1', 'v1.0/', 'v1/') and not rest.startswith(('v1/', 'v1.0/')):
            return _reply(start_response, '404 Not Found', 'Unknown auth path\n')
        if environ.get('REQUEST_METHOD') not in ('GET', 'HEAD'):
            return _reply(start_response, '405 Method Not Allowed', 'Use GET\n',
                          [('Allow', 'GET, HEAD')])
        login = environ.get('HTTP_X_AUTH_USER') or environ.get('HTTP_X_STORAGE_USER') or ''
        key = environ.get('HTTP_X_AUTH_KEY') or environ.get('HTTP_X_STORAGE_PASS') or ''
        user = self.users.get(login)
        if user is None or not hmac.compare_digest(user.key.encode('utf-8', 'surrogateescape'),
                                                   key.encode('latin-1', 'replace')):
            return _reply(start_response, '401 Unauthorized', 'Bad user or key\n',
                          [('Www-Authenticate', 'Swift realm="auth"')])
        expires = int(time.time()) + self.conf.token_life
        groups = user_groups(user, self.conf.reseller_prefix)
        token = sign_token(self.secret, self.conf.reseller_prefix, user.account, user.user,
                           groups, expires)
        url = self.storage_url(environ, user.account)
        body = json.dumps({'storage': {'default': 'local', 'local': url}}).encode('utf-8')
        start_response('200 OK', [
            ('X-Auth-Token', token), ('X-Storage-Token', token), ('X-Storage-Url', url),
            ('X-Auth-Token-Expires', str(self.conf.token_life)),
            ('Content-Type', 'application/json; charset=utf-8'),
            ('Content-Length', str(len(body)))])
        return [body if environ.get('REQUEST_METHOD') == 'GET' else b'']

    def storage_url(self, environ, account):
        scheme = self.conf.storage_url_scheme
        if scheme == 'default':
            scheme = environ.get('wsgi.url_scheme', 'http')
        host = environ.get('HTTP_HOST')
        if not host:
            host = '%s:%s' % (environ.get('SERVER_NAME', 'localhost'), environ.get('SERVER_PORT', '80'))
        from urllib.parse import quote
        return '%s://%s/v1/%s' % (scheme, host, quote('%s%s' % (self.account_prefix, account)))


def filter_factory(local_conf, global_conf=None, source='<dict>', section='filter:tempauth'):
    values = {k: v for k, v in local_conf.items() if k != 'use'}
    users, rest = parse_users(values, source, section)
    defaults = {k: v for k, v in (global_conf or {}).items() if not k.startswith('user')}
    conf = build(Conf, rest, source, section, defaults)

    def make(app):
        return TempAuth(app, conf, users)
    make.conf = conf
    return make
