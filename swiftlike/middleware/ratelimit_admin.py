"""The ratelimit middleware's counts and its admin view (HAProxy's `show
table` / `clear table`, over HTTP, for reseller admins).

    GET    <admin_path>                    {"stats": ..., "entries": [...]}
           ?kind=source&limit=100          only one kind, at most `limit` entries
    GET    <admin_path>/<kind>/<key>       one entry (404 when not tracked)
    DELETE <admin_path>/<kind>/<key>       clear its mark and counters (204; 404 if unknown)

<key> is URL-quoted (a container key is 'AUTH_test/photos'). The caller needs
an X-Auth-Token of a reseller admin (401 without a valid token, 403 for
anyone else). Entries are those of the answering proxy process's table (with
memcached, their counts and marks are the cluster's).
"""
import json
import math
from urllib.parse import parse_qsl, unquote

from swiftlike import metrics
from swiftlike.middleware.ratelimit_rules import KINDS
from swiftlike.middleware.ratelimit_window import estimate
from swiftlike.middleware.tempauth_tokens import verify_token

MAX_LIST = 10000


class Stats:
    """What the middleware did, counted per process (the admin view shows
    it); every increase is also counted in the metrics: Prometheus
    `swiftlike_proxy_ratelimit_actions_total{action=...}` and statsd
    `proxy-server.ratelimit.<action>` when statsd is on."""

    FIELDS = ('throttled', 'rejected', 'marked', 'marks_set', 'cut_off', 'blacklisted',
              'memcache_errors')

    def __init__(self):
        for name in self.FIELDS:
            self.__dict__[name] = 0

    def __setattr__(self, name, value):
        added = value - self.__dict__.get(name, 0)
        self.__dict__[name] = value
        if added > 0 and name in self.FIELDS:
            metrics.count('proxy_ratelimit_actions', (name,), added)
            client = metrics.statsd_client('proxy-server')
            if client is not None:
                client.update_stats('ratelimit.' + name, added)

    def as_dict(self):
        return {name: getattr(self, name) for name in self.FIELDS}


def _reply(start_response, status, body=b'', ctype='text/plain; charset=utf-8'):
    if isinstance(body, (dict, list)):
        body = json.dumps(body, sort_keys=True).encode('utf-8')
        ctype = 'application/json; charset=utf-8'
    elif isinstance(body, str):
        body = body.encode('utf-8')
    start_response(status, [('Content-Type', ctype), ('Content-Length', str(len(body)))])
    return [body]


class AdminView:
    def __init__(self, path, limiter, secret_source, token_prefix):
        self.path = path.rstrip('/')
        self.limiter = limiter
        self.secret_source = secret_source
        self.token_prefix = token_prefix

    def matches(self, path):
        return path == self.path or path.startswith(self.path + '/')

    def allowed(self, env):
        """None when a reseller admin asks, else (status line, reason)."""
        token = env.get('HTTP_X_AUTH_TOKEN') or env.get('HTTP_X_STORAGE_TOKEN')
        if not token:
            return '401 Unauthorized', 'a reseller admin token is needed\n'
        identity = verify_token(self.secret_source(), self.token_prefix, token)
        if identity is None:
            return '401 Unauthorized', 'invalid or expired token\n'
        if '.reseller_admin' not in (identity[2] or ()):
            return '403 Forbidden', 'only reseller admins may see the rate limit table\n'
        return None

    def __call__(self, env, start_response):
        body = self.answer(env, start_response)
        return [b''] if env.get('REQUEST_METHOD') == 'HEAD' else body

    def answer(self, env, start_response):
        denied = self.allowed(env)
        if denied:
            return _reply(start_response, denied[0], denied[1])
        method = env.get('REQUEST_METHOD')
        rest = env.get('PATH_INFO', '')[len(self.path):].strip('/')
        if not rest:
            if method not in ('GET', 'HEAD'):
                return _reply(start_response, '405 Method Not Allowed', 'use GET\n')
            try:
                query = dict(parse_qsl(env.get('QUERY_STRING', '')))
                kind = query.get('kind') or None
                limit = int(query.get('limit', MAX_LIST))
                if kind is not None and kind not in KINDS:
                    raise ValueError('kind must be one of %s' % ', '.join(KINDS))
                if not 0 < limit <= MAX_LIST:
                    raise ValueError('limit must be 1..%d' % MAX_LIST)
            except ValueError as err:
                return _reply(start_response, '400 Bad Request', '%s\n' % err)
            return _reply(start_response, '200 OK', self.listing(kind, limit))
        kind, sep, key = rest.partition('/')
        key = unquote(key, encoding='latin-1')
        if not sep or kind not in KINDS or not key:
            return _reply(start_response, '400 Bad Request',
                          'expected %s/<kind>/<key>, kind one of %s\n'
                          % (self.path, ', '.join(KINDS)))
        if method in ('GET', 'HEAD'):
            entry = self.limiter.describe(kind, key)
            if entry is None:
                return _reply(start_response, '404 Not Found', 'not tracked\n')
            return _reply(start_response, '200 OK', entry)
        if method == 'DELETE':
            if not self.limiter.clear(kind, key):
                return _reply(start_response, '404 Not Found', 'not tracked\n')
            return _reply(start_response, '204 No Content')
        return _reply(start_response, '405 Method Not Allowed', 'use GET or DELETE\n')

    def listing(self, kind, limit):
        limiter = self.limiter
        now = limiter.clock()
        entries = []
        for entry in reversed(limiter.table.items(now)):     # most recent first
            if kind is None or entry.kind == kind:
                entries.append(limiter.describe(entry.kind, entry.key))
                if len(entries) >= limit:
                    break
        return {'stats': limiter.stats.as_dict(), 'tracked': len(limiter.table),
                'evicted': limiter.table.evicted, 'shared': limiter.shared,
                'rules': [r.describe() for r in limiter.rules], 'entries': entries}


def describe_entry(store, table, rules, kind, key, now):
    """The admin view of one tracked key (None when not tracked)."""
    entry = table.get(kind, key, now)
    mark = store.mark_until(kind, key, now)
    if entry is None and not mark:
        return None
    rates = {}
    for rule in rules:
        if rule.kind != kind or rule.counter == 'concurrent':
            continue
        counter = 'attempts' if rule.counter == 'requests' and rule.action == 'mark' \
            else rule.counter
        prev, cur = store.counts(kind, key, counter, rule.window, now)
        rates['%s/%gs' % (counter, rule.window)] = round(
            estimate(prev, cur, now, rule.window), 3)
    return {'kind': kind, 'key': key, 'rates': rates,
            'concurrent': entry.concurrent if entry else 0,
            'marked_for': math.ceil(mark - now) if mark else 0,
            'idle': round(now - entry.last_seen, 3) if entry else None}
