"""The arithmetic of rate limiting, pure (no I/O, no clock: `now` is passed in).

Two counters:

Sliding window (request and byte rates over a window of W seconds). Time is
cut into aligned buckets of W seconds; a key keeps the amount counted in the
current bucket (`cur`) and in the one before (`prev`). The rate over the last
W seconds is estimated as

    estimate = prev * (1 - f) + cur,    f = (now - start of current bucket) / W

i.e. the previous bucket is assumed to have been spread evenly over its W
seconds. Error bound: the true amount of the last W seconds lies in
[cur, cur + prev], so |estimate - true| <= prev * max(f, 1 - f) <= prev.
Since a request is let through only while estimate <= limit (and estimate >=
cur), no aligned bucket ever holds more than `limit` admitted units, so any W
seconds admit at most 2 * limit, and a steady (evenly spread) flow is judged
exactly. Two integers per key and counter, and only `incr` on the current
bucket: that is what memcached does atomically, so every proxy shares them.

GCRA (Swift's container/account write throttling, `*_ratelimit` options):
a theoretical arrival time `tat` per key; a request at `now` waits
max(tat - now, 0) and moves `tat` one interval (1 / rate) on. A key idle for
long may burst: `tat` never lags `now` by more than `buffer` seconds
(Swift's rate_buffer_seconds). Exact for its definition: over any T seconds
at most T * rate + buffer * rate + 1 requests pass without waiting.
"""
import math


def bucket_index(now, window):
    """The aligned bucket of `window` seconds `now` falls in."""
    return int(now // window)


def estimate(prev, cur, now, window):
    """The sliding-window estimate of the amount counted over the last
    `window` seconds (see the module docstring)."""
    f = (now - bucket_index(now, window) * window) / window
    return prev * (1.0 - f) + cur


def wait_until_fits(prev, cur, now, window, limit, cost=0):
    """Seconds (>= 0) until `cost` more fits under `limit`, counting no new
    arrivals: 0 when it fits now; math.inf when it never can (cost > limit)."""
    room = limit - cost
    if room < 0:
        return math.inf
    start = bucket_index(now, window) * window
    f = (now - start) / window
    if prev * (1.0 - f) + cur <= room:
        return 0.0
    if cur <= room:
        # Within this bucket: prev's weight falls linearly to 0 at its end.
        g = 1.0 - (room - cur) / prev
        return max(start + g * window - now, 0.0)
    # In the next bucket, cur becomes prev (and the new cur is 0).
    g = 1.0 - room / cur if cur else 0.0
    return (start + window - now) + g * window


class Window:
    """One sliding-window counter held in memory (the embedded store)."""

    __slots__ = ('index', 'prev', 'cur')

    def __init__(self):
        self.index = None
        self.prev = 0
        self.cur = 0

    def roll(self, now, window):
        index = bucket_index(now, window)
        if self.index is None:
            self.index = index
        elif index == self.index + 1:
            self.prev, self.cur, self.index = self.cur, 0, index
        elif index > self.index + 1:
            self.prev, self.cur, self.index = 0, 0, index
        # (index < self.index: the clock stepped back; keep the current bucket)

    def add(self, now, window, amount):
        """Count `amount`; returns (prev, cur) after it."""
        self.roll(now, window)
        self.cur = max(self.cur + amount, 0)
        return self.prev, self.cur

    def counts(self, now, window):
        self.roll(now, window)
        return self.prev, self.cur

    def rate(self, now, window):
        prev, cur = self.counts(now, window)
        return estimate(prev, cur, now, window)


def gcra(tat, now, interval, buffer):
    """One request under GCRA: (new tat, seconds it must wait). `tat` None
    is a key never seen."""
    base = now - buffer if tat is None else max(tat, now - buffer)
    return base + interval, max(base - now, 0.0)


def interpolate(points, size):
    """Swift's container_ratelimit_<size> reading: `points` is [(size,
    rate)] sorted by size; below the first size there is no limit (None),
    between two sizes the rate is interpolated linearly, past the last one it
    is the last rate."""
    if not points or size < points[0][0]:
        return None
    for (s0, r0), (s1, r1) in zip(points, points[1:]):
        if s0 <= size < s1:
            return r0 + (r1 - r0) * (size - s0) / float(s1 - s0)
    return points[-1][1]
