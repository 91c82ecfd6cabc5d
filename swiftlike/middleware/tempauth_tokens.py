"""tempauth's users and tokens (pure: no I/O but reading the hash secrets).

Users come from the filter section, one key per user:

    user_<account>_<user> = <key> [.admin] [.reseller_admin] [group ...]
    user64_<b64 account>_<b64 user> = ...   (names containing '_')

A token is '<first reseller prefix>_tk' + base64(json([account, user, groups,
expires])) + '.' + an HMAC-SHA256 of that payload under the cluster's token
secret, so every proxy verifies it without shared state. It stops working at
`expires` or when the user is removed from the config; the groups it grants are
the user's groups in the current config (the signed copy is informative).
"""
import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
import time

from swiftlike.exceptions import ConfigError

TOKEN_PREFIX = 'tk'
DOT_GROUPS = ('.admin', '.reseller_admin')


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
        unknown = [g for g in groups if g.startswith('.') and g not in DOT_GROUPS]
        if unknown:
            raise ConfigError('%s [%s]: unknown group %r for %r' % (source, section, unknown[0], key))
        users['%s:%s' % (account, user)] = User(account, user, items[0], groups)
    return users, rest


def user_groups(user, reseller_prefixes):
    """The ACL groups of a user, in Swift's order: account, account:user, the
    user's own groups, then (for .admin and .reseller_admin users) the account's
    name under every reseller prefix ('AUTH_test', 'SERVICE_test')."""
    if isinstance(reseller_prefixes, str):
        reseller_prefixes = [reseller_prefixes]
    groups = [user.account, '%s:%s' % (user.account, user.user)]
    groups.extend(g for g in user.groups if not g.startswith('.'))
    if '.reseller_admin' in user.groups:
        groups.append('.reseller_admin')
    if '.admin' in user.groups or '.reseller_admin' in user.groups:
        for prefix in reseller_prefixes:
            prefix = prefix if prefix.endswith('_') else prefix + '_'
            groups.append(prefix + user.account)
    return groups


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode('ascii')


def _unb64(text):
    return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))


def sign_token(secret, reseller_prefix, account, user, groups, expires):
    """A token; reseller_prefix without its '_' ('AUTH' -> 'AUTH_tk...')."""
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
    if not isinstance(account, str) or not isinstance(user, str) or \
            not isinstance(expires, (int, float)):
        return None
    if (now if now is not None else time.time()) >= expires:
        return None
    return account, user, groups, expires


def default_secret():
    from swiftlike.hashing import hash_secrets
    prefix, suffix = hash_secrets()
    return hashlib.sha256(b'swiftlike-tempauth\0' + prefix + b'\0' + suffix).digest()
