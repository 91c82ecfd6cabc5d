"""The ratelimit middleware's configuration: its typed Conf, read once, and
the rules it holds (pure: parsing and validation only).

Swift's options keep Swift's names and meaning (account_ratelimit,
container_ratelimit_<size>, container_listing_ratelimit_<size>,
max_sleep_time_seconds, log_sleep_time_seconds, rate_buffer_seconds,
account_whitelist, account_blacklist). Our own rules are lines of `rules`:

    <kind> <counter> <limit>[/<window>] <action> [<duration>]

    kind     source | account | container | user
    counter  requests | bytes_in | bytes_out | concurrent (no window)
    limit    a number, with k M G (x1000) or Ki Mi Gi (x1024) for bytes
    window   seconds, or with s m h: 10s, 1m, 100s, 1h (default 1s)
    action   delay (requests: paced by GCRA, one per window/limit; bytes_out: the
             body is paced; waits up to max_sleep_time_seconds, else reject) |
             reject (reject_status with Retry-After) |
             mark <duration> (refuse every request of the key for that long)

e.g. `source requests 600/1m reject` or `source bytes_out 10Gi/1h mark 30m`.
"""
import dataclasses
import ipaddress
import re

KINDS = ('source', 'account', 'container', 'user')
COUNTERS = ('requests', 'bytes_in', 'bytes_out', 'concurrent')
ACTIONS = ('delay', 'reject', 'mark')
_UNITS = {'': 1, 'k': 1000, 'm': 1000 ** 2, 'g': 1000 ** 3, 't': 1000 ** 4,
          'ki': 1024, 'mi': 1024 ** 2, 'gi': 1024 ** 3, 'ti': 1024 ** 4}
_TIME_UNITS = {'': 1, 's': 1, 'm': 60, 'h': 3600, 'd': 86400}
from swiftlike.constraints import is_decimal
SWIFT_PREFIXES = ('container_ratelimit_', 'container_listing_ratelimit_')


@dataclasses.dataclass(frozen=True)
class Rule:
    kind: str
    counter: str
    limit: float
    window: float       # seconds (0 for concurrent)
    action: str
    duration: float = 0.0   # seconds a mark lasts

    def describe(self):
        text = '%s %s %g' % (self.kind, self.counter, self.limit)
        if self.counter != 'concurrent':
            text += '/%gs' % self.window
        text += ' ' + self.action
        if self.action == 'mark':
            text += ' %gs' % self.duration
        return text


def _scaled(text, units, what):
    """'<number><unit>' -> number * units[unit] (no unit: key '')."""
    match = re.fullmatch(r'(\d+(?:\.\d+)?)\s*([a-zA-Z]*)', text.strip())
    if not match or match.group(2).lower() not in units:
        raise ValueError('%r is not %s' % (text, what))
    return float(match.group(1)) * units[match.group(2).lower()]


def parse_amount(text):
    return _scaled(text, _UNITS, 'a number (with k, M, G, Ki, Mi or Gi)')


def parse_seconds(text):
    value = _scaled(text, _TIME_UNITS, 'a duration (seconds, or with s, m, h, d)')
    if value <= 0:
        raise ValueError('%r: a duration must be more than 0' % text)
    return value


def parse_rule(line):
    words = line.split()
    if len(words) < 4:
        raise ValueError('rule %r: expected "<kind> <counter> <limit>[/<window>] <action>"'
                         % line)
    kind, counter, limit_text, action = words[:4]
    rest = words[4:]
    if kind not in KINDS:
        raise ValueError('rule %r: kind must be one of %s' % (line, ', '.join(KINDS)))
    if counter not in COUNTERS:
        raise ValueError('rule %r: counter must be one of %s' % (line, ', '.join(COUNTERS)))
    if action not in ACTIONS:
        raise ValueError('rule %r: action must be one of %s' % (line, ', '.join(ACTIONS)))
    amount, sep, window_text = limit_text.partition('/')
    limit = parse_amount(amount)
    if limit <= 0:
        raise ValueError('rule %r: the limit must be more than 0' % line)
    if counter == 'concurrent':
        if sep:
            raise ValueError('rule %r: concurrent takes no window' % line)
        window = 0.0
    else:
        window = parse_seconds(window_text) if sep else 1.0
    duration = 0.0
    if action == 'mark':
        if len(rest) != 1:
            raise ValueError('rule %r: mark needs a duration (e.g. mark 10m)' % line)
        duration = parse_seconds(rest[0])
    elif rest:
        raise ValueError('rule %r: unexpected %r' % (line, ' '.join(rest)))
    return Rule(kind, counter, limit, window, action, duration)


def parse_rules(text):
    lines = [ln.split('#', 1)[0].strip() for ln in re.split(r'[\n;]', text or '')]
    return tuple(parse_rule(ln) for ln in lines if ln)


def parse_networks(value, option):
    nets = []
    for item in value.replace(',', ' ').split():
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError('%s: %r is not an address or network' % (option, item))
    return tuple(nets)


def parse_size_rates(values, prefix):
    """{'container_ratelimit_100': '50', ...} -> [(100, 50.0)] sorted by size."""
    points = []
    for key, value in values.items():
        size = key[len(prefix):]
        if not is_decimal(size):
            raise ValueError('%s: the part after %s must be a container size' % (key, prefix))
        try:
            rate = _scaled(value, {'': 1.0}, 'a rate (requests per second)')
        except ValueError as err:
            raise ValueError('%s: %s' % (key, err))
        points.append((int(size), rate))
    return sorted(points)


@dataclasses.dataclass
class Conf:
    # -- Swift's options (same names and meaning) --
    # Container PUT/DELETE per second per account (0 = no limit).
    account_ratelimit: float = 0.0
    # A request that would wait longer than this is refused instead.
    max_sleep_time_seconds: float = 60.0
    # Waits longer than this are logged (0 = none).
    log_sleep_time_seconds: float = 0.0
    # How far a key idle for a while may burst (seconds of its rate).
    rate_buffer_seconds: float = 5.0
    # Accounts never limited (comma or space separated); they win over everything.
    account_whitelist: str = ''
    # Accounts refused outright (497, as Swift).
    account_blacklist: str = ''
    # -- our own --
    rules: str = ''
    # Peers whose X-Forwarded-For names the real client (addresses or networks).
    trusted_proxies: str = ''
    # Sources (addresses or networks) and users (account:user) never limited.
    source_allowlist: str = ''
    user_allowlist: str = ''
    # Status of a refused request: 429 (with Retry-After) or 498 as Swift.
    reject_status: int = 429
    reject_body: str = 'Too many requests; retry after the time given in Retry-After.'
    # Status and page of every request of a marked key until the mark ends.
    mark_status: int = 429
    mark_body: str = ('Your requests are refused for a while because of abusive traffic. '
                      'Retry after the time given in Retry-After.')
    # The table of tracked keys: at most table_size entries; an entry unused for
    # table_expire seconds (or twice its longest window) is dropped.
    table_size: int = 200000
    table_expire: float = 120.0
    # memcached servers (host:port, space separated) shared by every proxy;
    # empty: counters live in each proxy process.
    memcache_servers: str = ''
    memcache_timeout: float = 0.3
    # After a memcached failure, count in this process for this many seconds.
    memcache_retry_interval: float = 5.0
    # Seconds between reads of a shared count (in between, this proxy adds its
    # own increments to the last read; 0 = read on every request).
    memcache_sync_interval: float = 0.1
    # A mark set by another proxy is seen within this many seconds.
    mark_cache_seconds: float = 1.0
    # The admin view (reseller admins only); empty: none.
    admin_path: str = '/ratelimit'
    # How user keys and the admin's token are verified: tempauth's settings.
    token_secret: str = ''
    token_prefix: str = 'AUTH'
    log_level: str = 'INFO'
    log_file: str = ''
    # Not fields: filled by filter_factory from container_ratelimit_<size> and
    # container_listing_ratelimit_<size> keys, as [(size, rate)].
    container_ratelimits = ()
    container_listing_ratelimits = ()

    def validate(self):
        for name in ('max_sleep_time_seconds', 'log_sleep_time_seconds', 'rate_buffer_seconds',
                     'account_ratelimit', 'memcache_retry_interval', 'mark_cache_seconds',
                     'memcache_sync_interval'):
            if getattr(self, name) < 0:
                raise ValueError('%s must not be negative' % name)
        if self.reject_status not in (429, 498):
            raise ValueError('reject_status must be 429 or 498')
        if not 400 <= self.mark_status <= 499:
            raise ValueError('mark_status must be a 4xx status')
        if self.table_size < 1 or self.table_expire <= 0 or self.memcache_timeout <= 0:
            raise ValueError('table_size, table_expire and memcache_timeout must be positive')
        if self.admin_path and not self.admin_path.startswith('/'):
            raise ValueError('admin_path must start with /')
        if self.admin_path.rstrip('/').split('/')[1:2] in (['v1'], ['v1.0'], ['auth']):
            raise ValueError('admin_path must not be under /v1 or /auth')
        self.rule_list      # noqa: B018 (parses, raising ValueError)
        parse_networks(self.trusted_proxies, 'trusted_proxies')
        parse_networks(self.source_allowlist, 'source_allowlist')
        from swiftlike.middleware.ratelimit_memcache import parse_servers
        parse_servers(self.memcache_servers)

    @property
    def rule_list(self):
        return parse_rules(self.rules)

    def words(self, name):
        return frozenset(w for w in getattr(self, name).replace(',', ' ').split() if w)


def split_swift_sizes(values):
    """Take the container_[listing_]ratelimit_<size> keys out of a section:
    (other keys, {'container_ratelimits': ..., 'container_listing_ratelimits': ...})."""
    rest, found = {}, {p: {} for p in SWIFT_PREFIXES}
    for key, value in values.items():
        prefix = next((p for p in SWIFT_PREFIXES if key.startswith(p)), None)
        if prefix is None:
            rest[key] = value
        else:
            found[prefix][key] = value
    return rest, {'container_ratelimits': parse_size_rates(found[SWIFT_PREFIXES[0]],
                                                           SWIFT_PREFIXES[0]),
                  'container_listing_ratelimits': parse_size_rates(found[SWIFT_PREFIXES[1]],
                                                                   SWIFT_PREFIXES[1])}
