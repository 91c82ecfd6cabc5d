"""Rate limiting and abuse control (Swift's ratelimit, and HAProxy's stick
tables), early in the proxy pipeline (after tempurl, before auth).

Every request is tracked under up to four keys: its source address (the
peer's, or from X-Forwarded-For when the peer is one of `trusted_proxies`),
its account, its container ('<account>/<container>') and its token's user
('<account>:<user>', from a token tempauth would accept). Per key, the rules
of the config (ratelimit_rules.py) limit the request rate, the bytes in and
out over windows of their own (sliding windows, ratelimit_window.py), and
the requests in flight; the action is to delay, to refuse (429, or 498 as
Swift, with Retry-After), or to mark the key for a while: every request of
a marked key is refused with the mark page until the mark ends, whatever its
rate by then. A bytes_out limit is also enforced while a body streams: the
body is cut off when the key goes over (or paced, for `delay`).

Swift's own options do what Swift's ratelimit does: container PUT/DELETE per
account (`account_ratelimit`), object writes and container listings per
container, by the container's size (`container_ratelimit_<size>`,
`container_listing_ratelimit_<size>`), by delaying up to
`max_sleep_time_seconds` and refusing beyond (GCRA, `rate_buffer_seconds`
of burst). Blacklisted accounts get 497; allow-listed accounts, sources and
users are never limited nor refused.

Counters live in a table in the proxy process (ratelimit_table.py), or in
memcached when `memcache_servers` is set (ratelimit_memcache.py), so all
proxies share them; memcached failing means counting locally for a while,
with a log line. Reseller admins see and clear the table at `admin_path`
(ratelimit_admin.py; the `swiftlike-ratelimit` CLI). /healthcheck, the admin
path and the info lookups of other middlewares are not counted.
"""
import ipaddress
import math
import sys
import time

from swiftlike import concurrency
from swiftlike.config import build
from swiftlike.logs import get_logger
from swiftlike.middleware import info, toolkit
from swiftlike.middleware.ratelimit_admin import AdminView, Stats, describe_entry
from swiftlike.middleware.ratelimit_memcache import BYTES_FLUSH, MemcacheStore, parse_servers
from swiftlike.middleware.ratelimit_rules import (Conf, parse_networks,
                                                  split_swift_sizes)
from swiftlike.middleware.ratelimit_table import LocalTable
from swiftlike.middleware.ratelimit_window import (estimate, interpolate,
                                                   wait_until_fits)
from swiftlike.middleware.tempauth_tokens import default_secret, verify_token
from swiftlike.exceptions import SwiftlikeError

STATUS_LINES = {429: '429 Too Many Requests', 498: '498 Rate Limited',
                497: '497 Blacklisted'}
BLACKLIST_BODY = 'Your account has been blacklisted\n'
SKIPPED_PATHS = ('/healthcheck',)


def request_counter(rule):
    """The count a requests rule reads: every attempt for a mark rule, the
    requests let through for the others."""
    return 'attempts' if rule.action == 'mark' else 'requests'


class BodyCutOff(SwiftlikeError):
    """A response body ended early: its key went over a bytes_out limit."""
    http_status = 429


class Limiter:
    """The rules, the store and the counts; no WSGI (the admin view and the
    middleware share it)."""

    def __init__(self, conf, logger=None, clock=time.time, store=None):
        self.conf = conf
        self.clock = clock
        self.logger = logger
        self.rules = conf.rule_list
        self.stats = Stats()
        longest = max([r.window for r in self.rules] + [0.0])
        self.table = LocalTable(conf.table_size, max(conf.table_expire, 2 * longest))
        servers = parse_servers(conf.memcache_servers)
        if store is not None:
            self.store = store
        elif servers:
            self.store = MemcacheStore(servers, self.table, conf.memcache_timeout,
                                       conf.memcache_retry_interval, conf.mark_cache_seconds,
                                       logger, clock, stats=self.stats,
                                       sync_interval=conf.memcache_sync_interval)
        else:
            self.store = self.table
        self.kinds = frozenset(r.kind for r in self.rules)
        # Only these kinds can be marked (by their mark rules, or by memcached).
        self.mark_kinds = frozenset(r.kind for r in self.rules if r.action == 'mark')

    @property
    def shared(self):
        return bool(getattr(self.store, 'shared', False))

    def describe(self, kind, key):
        return describe_entry(self.store, self.table, self.rules, kind, key, self.clock())

    def clear(self, kind, key):
        """Drop a key's mark and counters (admin). True when it was tracked."""
        now = self.clock()
        known = self.table.get(kind, key) is not None or bool(self.store.mark_until(kind, key,
                                                                                   now))
        self.store.clear_mark(kind, key)
        reset = getattr(self.store, 'reset', None)
        if reset:
            reset(kind, key, [(request_counter(r) if r.counter == 'requests' else r.counter,
                              r.window) for r in self.rules if r.kind == kind])
        return known


class RateLimit:
    def __init__(self, app, conf, clock=time.time, store=None):
        self.app = app
        self.conf = conf
        self.clock = clock
        self.logger = get_logger('proxy-server', conf.log_level, conf.log_file or None)
        self.limiter = Limiter(conf, self.logger, clock, store)
        self.stats = self.limiter.stats
        self.rules = self.limiter.rules
        self.info_app = toolkit.PreAuthorized(app)
        self.trusted = parse_networks(conf.trusted_proxies, 'trusted_proxies')
        self.source_allow = parse_networks(conf.source_allowlist, 'source_allowlist')
        self.user_allow = conf.words('user_allowlist')
        self.account_allow = conf.words('account_whitelist')
        self.account_deny = conf.words('account_blacklist')
        self._secret = conf.token_secret.encode('utf-8') if conf.token_secret else None
        self._users = {}    # token -> (user, expiry): verified once
        self.admin = AdminView(conf.admin_path, self.limiter, self.secret,
                               conf.token_prefix) if conf.admin_path else None
        self.flush_bytes = BYTES_FLUSH if self.limiter.shared else 0
        self.by_counter = {c: [r for r in self.rules if r.counter == c]
                           for c in ('requests', 'bytes_in', 'bytes_out', 'concurrent')}
        # The smallest limit reading each shared count (kind, window, counter).
        self.count_limits = {}
        for rule in self.rules:
            counter = request_counter(rule) if rule.counter == 'requests' else rule.counter
            ident = (rule.kind, rule.window, counter)
            self.count_limits[ident] = min(self.count_limits.get(ident, rule.limit), rule.limit)
        info.register('ratelimit', account_ratelimit=conf.account_ratelimit,
                      max_sleep_time_seconds=conf.max_sleep_time_seconds,
                      container_ratelimits=[list(p) for p in conf.container_ratelimits],
                      container_listing_ratelimits=[
                          list(p) for p in conf.container_listing_ratelimits],
                      rules=[r.describe() for r in self.rules],
                      reject_status=conf.reject_status)

    def secret(self):
        if self._secret is None:
            self._secret = default_secret()
        return self._secret

    # -- who is asking ----------------------------------------------------------------

    def _trusted(self, addr):
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            return False
        return any(ip in net for net in self.trusted)

    def source_of(self, env):
        """The client's address: the peer's, unless the peer is a trusted
        proxy; then the last X-Forwarded-For address that is not one (a
        client may put anything in front of the list, so it is read from the
        right)."""
        addr = env.get('REMOTE_ADDR', '')
        forwarded = env.get('HTTP_X_FORWARDED_FOR')
        if not forwarded or not self.trusted or not self._trusted(addr):
            return addr
        for item in reversed(forwarded.split(',')):
            item = item.strip()
            try:
                candidate = str(ipaddress.ip_address(item.strip('[]')))
            except ValueError:
                return addr     # garbage: the last address we could trust
            if not self._trusted(candidate):
                return candidate
            addr = candidate
        return addr

    def user_of(self, env):
        token = env.get('HTTP_X_AUTH_TOKEN') or env.get('HTTP_X_STORAGE_TOKEN')
        if not token:
            return None
        cached = self._users.get(token)
        now = self.clock()
        if cached is not None and cached[1] > now:
            return cached[0]
        identity = verify_token(self.secret(), self.conf.token_prefix, token)
        if identity is None:
            return None
        user = '%s:%s' % (identity[0], identity[1])
        if len(self._users) >= 10000:
            self._users.clear()
        self._users[token] = (user, identity[3])
        return user

    def _allowed_source(self, source):
        if not self.source_allow:
            return False
        try:
            ip = ipaddress.ip_address(source)
        except ValueError:
            return False
        return any(ip in net for net in self.source_allow)

    # -- the request path -----------------------------------------------------------------

    def __call__(self, env, start_response):
        result = self.handle(env, start_response)
        if not isinstance(result, MeteredBody):
            self.limiter.store.flush()
        return result

    def handle(self, env, start_response):
        path = env.get('PATH_INFO', '')
        if self.admin is not None and self.admin.matches(path):
            return self.admin(env, start_response)
        if path in SKIPPED_PATHS or env.get(toolkit.INFO_REQUEST_KEY):
            return self.app(env, start_response)
        source = self.source_of(env)
        if self._allowed_source(source):
            return self.app(env, start_response)
        parts = toolkit.split_account_path(path)
        account, container, obj = parts if parts else (None, None, None)
        if account is not None:
            if account in self.account_allow:
                return self.app(env, start_response)
            if account in self.account_deny:
                self.stats.blacklisted += 1
                return self.refuse(env, start_response, 497, BLACKLIST_BODY)
        user = self.user_of(env) if ('user' in self.limiter.kinds or self.user_allow) else None
        if user is not None and user in self.user_allow:
            return self.app(env, start_response)
        keys = {'source': source, 'account': account, 'user': user,
                'container': '%s/%s' % (account, container) if container else None}
        now = self.clock()
        store = self.limiter.store
        for kind in self.limiter.mark_kinds:
            key = keys[kind]
            if key is None:
                continue
            until = store.mark_until(kind, key, now)
            if until:
                self.stats.marked += 1
                return self.refuse(env, start_response, self.conf.mark_status,
                                   self.conf.mark_body, until - now)
        broken = []     # (rule, key, seconds until it fits)
        # Rules of one kind and window share one count: of the requests let
        # through ('requests', for delay and reject rules), or of every
        # attempt ('attempts', for mark rules: an abuser is one who keeps
        # asking). A refused request is taken off the 'requests' counts again.
        counted = {}
        paced = []
        for rule in self.by_counter['requests']:
            key = keys[rule.kind]
            if key is None:
                continue
            if rule.action == 'delay':
                # Paced by GCRA: a queue of waiting requests is accounted for
                # (a sliding window's wait assumes no one else is waiting).
                paced.append((rule, key))
                continue
            counter = request_counter(rule)
            ident = (rule.kind, rule.window, counter)
            if ident not in counted:
                counted[ident] = store.add(rule.kind, key, counter, rule.window, 1, now,
                                           self.count_limits[ident])
            prev, cur = counted[ident]
            if estimate(prev, cur, now, rule.window) > rule.limit:
                broken.append((rule, key, wait_until_fits(prev, cur - 1, now, rule.window,
                                                          rule.limit, 1)))
        for rule in self.by_counter['bytes_in'] + self.by_counter['bytes_out']:
            key = keys[rule.kind]
            if key is None:
                continue
            prev, cur = store.counts(rule.kind, key, rule.counter, rule.window, now)
            # (>=: a request starts only with room for some bytes)
            if estimate(prev, cur, now, rule.window) >= rule.limit:
                broken.append((rule, key, wait_until_fits(prev, cur, now, rule.window,
                                                          rule.limit)))
        for rule in self.by_counter['concurrent']:
            key = keys[rule.kind]
            entry = self.limiter.table.get(rule.kind, key) if key is not None else None
            if entry is not None and entry.concurrent >= rule.limit:
                # Waiting for others to finish is no delay we could know: 1 s.
                broken.append((rule, key, math.inf if rule.action == 'delay' else 1.0))
        delay = 0.0
        if broken:
            verdict = self.over(env, start_response, broken, now)
            if not isinstance(verdict, float):
                for (kind, window, counter) in counted:
                    if counter == 'requests':
                        store.add(kind, keys[kind], counter, window, -1, now)
                return verdict
            delay = verdict
        entered = []
        for rule, key in paced:
            interval = rule.window / rule.limit
            wait = store.gcra(rule.kind, key, 'delay/%g' % rule.window, now, interval,
                              min(self.conf.rate_buffer_seconds, rule.window - interval),
                              self.conf.max_sleep_time_seconds)
            if wait is None:
                self.stats.rejected += 1
                return self.refuse(env, start_response, self.conf.reject_status,
                                   self.conf.reject_body, self.conf.max_sleep_time_seconds)
            delay = max(delay, wait)
        if parts and container and (self.conf.account_ratelimit or
                                    self.conf.container_ratelimits or
                                    self.conf.container_listing_ratelimits):
            wait = self.swift_wait(env, account, container, obj, now)
            if wait is None:
                self.stats.rejected += 1
                return self.refuse(env, start_response, self.conf.reject_status,
                                   'Slow down\n', self.conf.max_sleep_time_seconds)
            delay = max(delay, wait)
        if delay > 0:
            self.stats.throttled += 1
            if self.conf.log_sleep_time_seconds and delay > self.conf.log_sleep_time_seconds:
                self.logger.info('ratelimit: delayed %s for %.2fs' % (path, delay))
            concurrency.sleep(delay)
        for rule in self.by_counter['concurrent']:
            key = keys[rule.kind]
            if key is not None:
                entered.append(store.enter(rule.kind, key, now))
        counted_in = [(r, keys[r.kind]) for r in self.by_counter['bytes_in']
                      if keys[r.kind] is not None]
        if counted_in and 'wsgi.input' in env:
            env['wsgi.input'] = MeteredInput(env['wsgi.input'], self, counted_in)
        counted_out = [(r, keys[r.kind]) for r in self.by_counter['bytes_out']
                       if keys[r.kind] is not None]
        if not counted_out and not entered:
            return self.app(env, start_response)
        try:
            body = self.app(env, start_response)
        except BaseException:
            for entry in entered:
                store.leave(entry)
            raise
        return MeteredBody(body, self, counted_out, entered, env, start_response)

    def over(self, env, start_response, broken, now):
        """Act on the rules a request went over [(rule, key, wait)]: marks
        first, then refusals, then delays. A WSGI answer (refused), or the
        seconds to wait (float)."""
        max_sleep = self.conf.max_sleep_time_seconds
        marks = [(r, k) for r, k, _w in broken if r.action == 'mark']
        if marks:
            for rule, key in marks:
                self.limiter.store.set_mark(rule.kind, key, now + rule.duration, now)
                self.stats.marks_set += 1
                self.logger.warning('ratelimit: %s %s marked for %gs (%s)'
                                    % (rule.kind, key, rule.duration, rule.describe()))
            self.stats.marked += 1
            return self.refuse(env, start_response, self.conf.mark_status, self.conf.mark_body,
                               max(r.duration for r, _k in marks))
        refused = [w for r, _k, w in broken if r.action == 'reject' or w > max_sleep]
        if refused:
            self.stats.rejected += 1
            return self.refuse(env, start_response, self.conf.reject_status,
                               self.conf.reject_body, max(refused))
        return float(max(w for _r, _k, w in broken))

    def refuse(self, env, start_response, status, text, retry_after=None):
        body = text if text.endswith('\n') else text + '\n'
        data = body.encode('utf-8')
        ctype = 'text/html; charset=utf-8' if body.lstrip().startswith('<') \
            else 'text/plain; charset=utf-8'
        headers = [('Content-Type', ctype), ('Content-Length', str(len(data)))]
        if retry_after is not None:
            retry = 1 if retry_after == math.inf else retry_after
            headers.append(('Retry-After', str(max(int(math.ceil(retry)), 1))))
        start_response(STATUS_LINES.get(status, '%d Too Many Requests' % status), headers)
        return [b'' if env.get('REQUEST_METHOD') == 'HEAD' else data]

    # -- Swift's write and listing limits -------------------------------------------------

    def swift_wait(self, env, account, container, obj, now):
        """Seconds to delay by Swift's options (0: none); None: refuse."""
        method = env.get('REQUEST_METHOD')
        conf = self.conf
        limits = []
        if obj is None and method in ('PUT', 'DELETE') and conf.account_ratelimit:
            limits.append(('account', account, 'account_ratelimit', conf.account_ratelimit))
        points = None
        if obj is not None and method in ('PUT', 'DELETE', 'POST'):
            points, name = conf.container_ratelimits, 'container_ratelimit'
        elif obj is None and method == 'GET':
            points, name = conf.container_listing_ratelimits, 'container_listing_ratelimit'
        if points:
            cinfo = toolkit.container_info(env, self.info_app, account, container, 'RL')
            rate = interpolate(points, cinfo.get('object_count') or 0) \
                if 200 <= cinfo.get('status', 0) < 300 else None
            if rate:
                limits.append(('container', '%s/%s' % (account, container), name, rate))
        wait = 0.0
        for kind, key, name, rate in limits:
            got = self.limiter.store.gcra(kind, key, name, now, 1.0 / rate,
                                          conf.rate_buffer_seconds, conf.max_sleep_time_seconds)
            if got is None:
                return None
            wait = max(wait, got)
        return wait

    # -- bytes ------------------------------------------------------------------------

    def count_bytes(self, counted, counter, amount):
        """Count `amount` bytes on every rule of `counted`: None when all are
        within their limits, else ('cut' | seconds to pace)."""
        now = self.clock()
        worst = None
        done = {}
        for rule, key in counted:
            ident = (rule.kind, rule.window)
            if ident not in done:
                done[ident] = self.limiter.store.add(rule.kind, key, counter, rule.window,
                                                     amount, now,
                                                     self.count_limits[(rule.kind, rule.window,
                                                                        counter)])
            prev, cur = done[ident]
            if estimate(prev, cur, now, rule.window) <= rule.limit:
                continue
            if rule.action == 'delay':
                wait = wait_until_fits(prev, cur, now, rule.window, rule.limit)
                if wait <= self.conf.max_sleep_time_seconds:
                    worst = worst if worst == 'cut' else max(worst or 0.0, wait)
                    continue
            if rule.action == 'mark':
                self.limiter.store.set_mark(rule.kind, key, now + rule.duration, now)
                self.stats.marks_set += 1
            worst = 'cut'
        return worst


class MeteredBody:
    """A response body whose bytes are counted on bytes_out rules (and cut
    off or paced when a key goes over); it also ends the request's count of
    requests in flight when it is closed. A body cut off before its first
    byte becomes a refusal (its headers are not sent yet)."""

    def __init__(self, body, mw, counted, entered, env, start_response):
        self.body = body
        self.mw = mw
        self.counted = counted
        self.entered = entered
        self.env = env
        self.start_response = start_response
        self.pending = 0
        self.closed = False

    def __iter__(self):
        mw, flush = self.mw, self.mw.flush_bytes
        sent = False
        for chunk in self.body:
            if self.counted and chunk:
                self.pending += len(chunk)
                if self.pending > flush:
                    amount, self.pending = self.pending, 0
                    verdict = mw.count_bytes(self.counted, 'bytes_out', amount)
                    if verdict == 'cut':
                        mw.stats.cut_off += 1
                        if sent:
                            raise BodyCutOff('over a bytes_out limit')
                        yield from self.refused()
                        return
                    if verdict:
                        mw.stats.throttled += 1
                        concurrency.sleep(verdict)
            sent = sent or bool(chunk)
            yield chunk

    def refused(self):
        try:
            raise BodyCutOff('over a bytes_out limit')
        except BodyCutOff:
            exc_info = sys.exc_info()
        conf = self.mw.conf
        return self.mw.refuse(self.env, lambda status, headers: self.start_response(
            status, headers, exc_info), conf.reject_status, conf.reject_body, 1.0)

    def close(self):
        if self.closed:
            return
        self.closed = True
        try:
            if self.pending and self.counted:
                self.mw.count_bytes(self.counted, 'bytes_out', self.pending)
            self.pending = 0
            self.mw.limiter.store.flush()
        finally:
            for entry in self.entered:
                self.mw.limiter.store.leave(entry)
            close = getattr(self.body, 'close', None)
            if close:
                close()


class MeteredInput:
    """wsgi.input, with the bytes read counted on bytes_in rules (a key over
    its limit is refused from its next request on)."""

    def __init__(self, wsgi_input, mw, counted):
        self.input = wsgi_input
        self.mw = mw
        self.counted = counted

    def _count(self, data):
        if data:
            self.mw.count_bytes(self.counted, 'bytes_in', len(data))
        return data

    def read(self, *args):
        return self._count(self.input.read(*args))

    def readline(self, *args):
        return self._count(self.input.readline(*args))

    def __iter__(self):
        for line in self.input:
            yield self._count(line)

    def __getattr__(self, name):
        return getattr(self.input, name)


def filter_factory(local_conf, global_conf=None, source='<dict>', section='filter:ratelimit'):
    values = {k: v for k, v in local_conf.items() if k != 'use'}
    from swiftlike.exceptions import ConfigError
    try:
        rest, sizes = split_swift_sizes(values)
    except ValueError as err:
        raise ConfigError('%s [%s]: %s' % (source, section, err))
    defaults = {k: v for k, v in (global_conf or {}).items()
                if not k.startswith(('container_ratelimit_', 'container_listing_ratelimit_'))}
    conf = build(Conf, rest, source, section, defaults)
    conf.container_ratelimits = tuple(sizes['container_ratelimits'])
    conf.container_listing_ratelimits = tuple(sizes['container_listing_ratelimits'])

    def make(app):
        return RateLimit(app, conf)
    make.conf = conf
    return make
