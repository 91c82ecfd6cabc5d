"""Path hashing with the cluster's secret prefix/suffix (from swiftlike.conf).

Every node must agree on these, so they are read once per process from the
file named by $SWIFTLIKE_CONF (default /etc/swiftlike/swiftlike.conf).
"""
import hashlib
import os

from swiftlike.exceptions import ConfigError

DEFAULT_CONF = '/etc/swiftlike/swiftlike.conf'
_secrets = None


def conf_path():
    return os.environ.get('SWIFTLIKE_CONF', DEFAULT_CONF)


def set_hash_secrets(prefix, suffix):
    """Override the secrets (tests, or a caller that already read the file)."""
    global _secrets
    _secrets = (prefix.encode('utf-8'), suffix.encode('utf-8'))


def hash_secrets():
    global _secrets
    if _secrets is None:
        from swiftlike.config import read_ini
        path = conf_path()
        if not os.path.exists(path):
            raise ConfigError('%s: cluster config not found (set $SWIFTLIKE_CONF)' % path)
        section = read_ini(path).get('hash', {})
        prefix = section.get('path_prefix', '')
        suffix = section.get('path_suffix', '')
        if not prefix and not suffix:
            raise ConfigError('%s [hash]: path_prefix or path_suffix must be set' % path)
        set_hash_secrets(prefix, suffix)
    return _secrets


def _b(value):
    return value if isinstance(value, bytes) else value.encode('utf-8', 'surrogateescape')


def hash_path(account, container=None, obj=None, raw_digest=False):
    """md5(prefix + /account[/container[/obj]] + suffix) as hex (or bytes)."""
    if obj is not None and container is None:
        raise ValueError('an object needs a container')
    parts = [_b(account)]
    if container is not None:
        parts.append(_b(container))
        if obj is not None:
            parts.append(_b(obj))
    prefix, suffix = hash_secrets()
    digest = hashlib.md5(prefix + b'/' + b'/'.join(parts) + suffix, usedforsecurity=False)
    return digest.digest() if raw_digest else digest.hexdigest()


def name_shard(name, count):
    """A stable spread of names over `count` workers: which one takes `name`
    (the account reaper's primaries split a deleted account's containers so)."""
    digest = hashlib.md5(name.encode('utf-8'), usedforsecurity=False).hexdigest()
    return int(digest, 16) % count


def locate_cluster_conf(swift_dir):
    """Point $SWIFTLIKE_CONF at <swift_dir>/swiftlike.conf unless already set."""
    candidate = os.path.join(swift_dir, 'swiftlike.conf')
    if 'SWIFTLIKE_CONF' not in os.environ and os.path.exists(candidate):
        os.environ['SWIFTLIKE_CONF'] = candidate
