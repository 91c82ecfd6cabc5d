"""The shared store of the ratelimit middleware: counters and marks in
memcached, so every proxy (and every worker) of a cluster sees the same counts.

Same interface as the embedded LocalTable (which it keeps too: for the
requests in flight, which stay per process, for the admin listing of the keys
this proxy has seen, and as the fallback). Layout in memcached (a key's name is
hashed, so any bytes a client sends make a valid memcached key):

    rl/w/<kind>/<hash>/<counter>/<window>/<bucket index>  a sliding-window bucket (incr)
    rl/g/<kind>/<hash>/<name>                           a GCRA time in ms (incr, as Swift)
    rl/m/<kind>/<hash>                                  a mark: its end (unix seconds)

Buckets and marks carry memcached expiry times, so nothing needs cleaning up.
A bucket that is over (the previous one) no longer changes, so its count is
read once and cached. Far from its limit, a count is read back from
memcached at most every `sync_interval` seconds per key (in between,
increments are sent without waiting for an answer, and the proxy adds its own
to the last read), so a request costs no round trip most of the time; near
the limit, every increment reads the cluster's count. A mark lookup is cached for `mark_cache_seconds`: a mark
set by another proxy is seen within that time.

When memcached fails (down, timeout, refused), the store counts in the local
table for `retry_interval` seconds and logs one line; requests never fail
because of it. While it runs on the table, limits hold per process only.
"""
import hashlib
import time

from swiftlike.constraints import is_decimal
from swiftlike.middleware.ratelimit_table import LocalTable
from swiftlike.middleware.ratelimit_window import bucket_index, estimate

# Above this fraction of its limit, a count is read back on every increment;
# and a proxy sends at most UNSEEN_FRACTION of the limit between two reads
# (so up to 5 proxies together stay under the limit until they read back).
UNSEEN_FRACTION = 0.05
SYNC_FRACTION = 0.75
# A request's bytes are sent to memcached in steps of this many (and at the end).
BYTES_FLUSH = 256 * 1024


def _name(text):
    return hashlib.sha1(text.encode('utf-8', 'surrogateescape')).hexdigest()[:24]


def parse_servers(value):
    """'host:port host2:port2' -> [(host, port)]; ValueError on garbage."""
    servers = []
    for item in value.replace(',', ' ').split():
        host, sep, port = item.rpartition(':')
        if not sep or not host or not is_decimal(port) or not 0 < int(port) < 65536:
            raise ValueError('memcache_servers: %r is not host:port' % item)
        servers.append((host.strip('[]'), int(port)))
    return servers


def make_client(servers, timeout):
    from pymemcache.client.base import PooledClient
    from pymemcache.client.hash import HashClient
    if len(servers) == 1:
        return PooledClient(servers[0], connect_timeout=timeout, timeout=timeout,
                            max_pool_size=64, no_delay=True)
    return HashClient(servers, connect_timeout=timeout, timeout=timeout, use_pooling=True,
                      max_pool_size=64, no_delay=True, retry_attempts=1, dead_timeout=5,
                      ignore_exc=False)


class MemcacheStore:
    def __init__(self, servers, table=None, timeout=0.3, retry_interval=5.0,
                 mark_cache_seconds=1.0, logger=None, clock=time.time, client=None,
                 stats=None, sync_interval=0.1):
        self.servers = servers
        self.table = table if table is not None else LocalTable()
        self.client = client if client is not None else make_client(servers, timeout)
        self.retry_interval = retry_interval
        self.mark_cache_seconds = mark_cache_seconds
        self.logger = logger
        self.clock = clock
        self.down_until = 0.0
        self.stats = stats
        self._closed_buckets = {}
        self._states = {}
        self._pending = []
        self.sync_interval = sync_interval
        self._marks = {}

    # -- failure handling -------------------------------------------------------------

    def _usable(self):
        return self.down_until <= self.clock()

    def _failed(self, err):
        if self.stats is not None:
            self.stats.memcache_errors += 1
        self.down_until = self.clock() + self.retry_interval
        if self.logger:
            self.logger.warning('ratelimit: memcached %s failed (%s: %s); counting in this '
                                'process for %.0fs' % (
                                    ' '.join('%s:%d' % s for s in self.servers),
                                    type(err).__name__, err, self.retry_interval))

    @property
    def shared(self):
        return self._usable()

    def _incr(self, key, amount, expire):
        client = self.client
        value = client.incr(key, amount, noreply=False)
        if value is None:
            if client.add(key, str(amount), expire=expire, noreply=False):
                return amount
            value = client.incr(key, amount, noreply=False)
        return int(value or 0)

    # -- counters ---------------------------------------------------------------------

    def _bucket_keys(self, kind, key, counter, window, now):
        base = 'rl/w/%s/%s/%s/%d/' % (kind, _name(key), counter, int(window))
        index = bucket_index(now, window)
        return base + str(index), base + str(index - 1)

    def _prev(self, prev_key):
        value = self._closed_buckets.get(prev_key)
        if value is None:
            value = int(self.client.get(prev_key) or 0)
            if len(self._closed_buckets) > 50000:
                self._closed_buckets.clear()
            self._closed_buckets[prev_key] = value
        return value

    def _state(self, ident, cur_key):
        state = self._states.get(ident)
        if state is None or state[0] != cur_key:
            if len(self._states) > 100000:
                self._states.clear()
            # [bucket key, cluster count at the last read, ours since, read at]
            state = self._states[ident] = [cur_key, 0, 0, -1e18]
        return state

    def add(self, kind, key, counter, window, amount, now, limit=None):
        """Count `amount`: (prev, cur) of the cluster. While the count is
        below SYNC_FRACTION of `limit` (the smallest limit that reads it), it
        is read back at most every `sync_interval` seconds, or once this proxy
        sent UNSEEN_FRACTION of the limit since: in between, the
        increment is sent without waiting, and cur is the last read plus our
        own increments since (other proxies' increments of the last
        `sync_interval` seconds are missing, which matters only far from the
        limit). Near the limit every increment waits for the cluster's count,
        so the limit holds across proxies as it does in one."""
        self.table.touch(kind, key, now, 2 * window)
        if self._usable():
            cur_key, prev_key = self._bucket_keys(kind, key, counter, window, now)
            state = self._state((kind, key, counter, window), cur_key)
            amount = int(amount)
            try:
                prev = self._prev(prev_key)
                if amount < 0:      # taking back a refused request's count
                    self._later('decr', cur_key, -amount)
                    state[2] += amount
                    return prev, max(state[1] + state[2], 0)
                guess = estimate(prev, state[1] + state[2] + amount, now, window)
                if now - state[3] >= self.sync_interval or \
                        (limit is not None and (guess > SYNC_FRACTION * limit or
                                                state[2] + amount > UNSEEN_FRACTION * limit)):
                    state[1], state[2], state[3] = self._incr(cur_key, amount,
                                                              int(2 * window) + 2), 0, now
                else:
                    self._later('incr', cur_key, amount)
                    state[2] += amount
                return prev, state[1] + state[2]
            except Exception as err:     # any client failure: count locally
                self._failed(err)
        return self.table.add(kind, key, counter, window, amount, now)

    def _later(self, verb, key, amount):
        self._pending.append(b'%s %s %d noreply\r\n' % (verb.encode(), key.encode(), amount))

    def flush(self):
        """Send the increments of the request that need no answer, in one
        write (a request costs one packet to memcached, not one per count)."""
        if not self._pending:
            return
        data, self._pending = b''.join(self._pending), []
        try:
            pool = getattr(self.client, 'client_pool', None)
            if pool is None:        # several servers: one command each
                for line in data.splitlines():
                    verb, key, amount, _ = line.split(b' ')
                    getattr(self.client, verb.decode())(key.decode(), int(amount), noreply=True)
                return
            with pool.get_and_release(destroy_on_fail=True) as client:
                if client.sock is None:
                    client._connect()
                client.sock.sendall(data)
        except Exception as err:
            self._failed(err)

    def counts(self, kind, key, counter, window, now):
        if self._usable():
            cur_key, prev_key = self._bucket_keys(kind, key, counter, window, now)
            state = self._states.get((kind, key, counter, window))
            try:
                if state is not None and state[0] == cur_key and \
                        now - state[3] < self.sync_interval:
                    return self._prev(prev_key), state[1] + state[2]
                got = self.client.get_many([cur_key, prev_key])
                state = self._state((kind, key, counter, window), cur_key)
                state[1], state[2], state[3] = int(got.get(cur_key) or 0), 0, now
                return int(got.get(prev_key) or 0), state[1]
            except Exception as err:
                self._failed(err)
        return self.table.counts(kind, key, counter, window, now)

    def gcra(self, kind, key, name, now, interval, buffer, max_wait):
        self.table.touch(kind, key, now, buffer + interval)
        if not self._usable():
            return self.table.gcra(kind, key, name, now, interval, buffer, max_wait)
        mkey = 'rl/g/%s/%s/%s' % (kind, _name(key), name)
        step, now_ms, buffer_ms = max(int(interval * 1000), 1), int(now * 1000), int(buffer * 1000)
        expire = int(buffer + interval) + 60
        try:
            tat = self._incr(mkey, step, expire)
            if tat == step:             # new key: it starts from now
                self.client.set(mkey, str(now_ms - buffer_ms + step), expire=expire)
                return 0.0
            before = tat - step
            if before < now_ms - buffer_ms:
                self.client.set(mkey, str(now_ms - buffer_ms + step), expire=expire)
                return 0.0
            wait = max(before - now_ms, 0) / 1000.0
            if wait > max_wait:
                self.client.decr(mkey, step, noreply=True)
                return None
            return wait
        except Exception as err:
            self._failed(err)
            return self.table.gcra(kind, key, name, now, interval, buffer, max_wait)

    # -- marks ------------------------------------------------------------------------

    def set_mark(self, kind, key, until, now):
        self.table.set_mark(kind, key, until, now)
        self._marks[(kind, key)] = (now, until)
        if self._usable():
            try:
                self.client.set('rl/m/%s/%s' % (kind, _name(key)), str(int(until) + 1),
                                expire=max(int(until - now) + 2, 1), noreply=False)
            except Exception as err:
                self._failed(err)

    def mark_until(self, kind, key, now):
        local = self.table.mark_until(kind, key, now)
        if not self._usable():
            return local
        cached = self._marks.get((kind, key))
        if cached is not None and cached[0] + self.mark_cache_seconds > now:
            until = cached[1]
        else:
            try:
                until = float(self.client.get('rl/m/%s/%s' % (kind, _name(key))) or 0)
            except Exception as err:
                self._failed(err)
                return local
            if len(self._marks) > 50000:
                self._marks.clear()
            self._marks[(kind, key)] = (now, until)
            if until > now:
                self.table.set_mark(kind, key, until, now)
        return until if until > now else 0.0

    def clear_mark(self, kind, key):
        had = self.table.clear_mark(kind, key)
        self._marks.pop((kind, key), None)
        if self._usable():
            try:
                had = self.client.delete('rl/m/%s/%s' % (kind, _name(key)), noreply=False) or had
            except Exception as err:
                self._failed(err)
        return had

    def reset(self, kind, key, pairs):
        """Forget a key's sliding-window counts [(counter, window)] (admin)."""
        now = self.clock()
        if not self._usable():
            return
        keys = [k for counter, window in pairs
                for k in self._bucket_keys(kind, key, counter, window, now)]
        try:
            if keys:
                self.client.delete_many(keys)
        except Exception as err:
            self._failed(err)
        for k in keys:
            self._closed_buckets.pop(k, None)
        self._states.clear()

    # -- what stays per process ---------------------------------------------------------

    def enter(self, kind, key, now):
        return self.table.enter(kind, key, now)

    leave = staticmethod(LocalTable.leave)
