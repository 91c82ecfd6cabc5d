"""The embedded store of the ratelimit middleware: a table of tracked keys in
the proxy process, like an HAProxy stick table.

An entry is one (kind, key) pair ('source', '203.0.113.9'): its sliding-window
counters (by counter name and window), its GCRA times, the requests it has in
flight and its abuse mark. Entries live in an LRU order: every use moves one
to the end. Memory is bounded two ways, as a stick table's `size` and
`expire`: an entry unused for `expire` seconds (longer than its longest
window; a marked entry lives at least until its mark ends) is dropped, and
past `size` entries the least recently used one is evicted. Both checks look
only at the front of the LRU order, so each costs O(1) per request.

Everything is single-threaded per process (green threads switch only on I/O,
and nothing here does I/O), so no locks are needed.
"""
import collections

from swiftlike.middleware.ratelimit_window import Window, estimate, gcra


class Entry:
    __slots__ = ('kind', 'key', 'windows', 'tats', 'concurrent', 'mark_until', 'last_seen',
                 'expires')

    def __init__(self, kind, key):
        self.kind = kind
        self.key = key
        self.windows = {}       # (counter, window) -> Window
        self.tats = {}          # name -> GCRA tat
        self.concurrent = 0
        self.mark_until = 0.0
        self.last_seen = 0.0
        self.expires = 0.0


class LocalTable:
    def __init__(self, size=200000, expire=120.0):
        self.size = max(int(size), 1)
        self.expire = float(expire)
        self.entries = collections.OrderedDict()
        self.evicted = 0

    def __len__(self):
        return len(self.entries)

    # -- entries --------------------------------------------------------------------

    def get(self, kind, key, now=None):
        """The entry, if tracked (and not expired); no side effects on order."""
        entry = self.entries.get((kind, key))
        if entry is not None and now is not None and self._expired(entry, now):
            return None
        return entry

    def touch(self, kind, key, now, life=0.0):
        """The entry for (kind, key), made if new, moved to the end of the LRU
        order and kept at least `life` (or `expire`) seconds from `now`."""
        ident = (kind, key)
        entry = self.entries.get(ident)
        if entry is None:
            if self.entries:
                self._sweep(now)
            entry = self.entries[ident] = Entry(kind, key)
        else:
            self.entries.move_to_end(ident)
        entry.last_seen = now
        entry.expires = max(entry.expires, now + max(life, self.expire), entry.mark_until)
        return entry

    def _expired(self, entry, now):
        return entry.expires <= now and entry.concurrent <= 0 and entry.mark_until <= now

    def _sweep(self, now):
        """Before a new entry comes in: drop up to two expired entries, and
        make room for it under `size`."""
        entries = self.entries
        for _ in range(2):
            if not entries:
                break
            ident, entry = next(iter(entries.items()))
            if not self._expired(entry, now):
                break
            del entries[ident]
        while len(entries) >= self.size:
            entries.popitem(last=False)
            self.evicted += 1

    def drop(self, kind, key):
        return self.entries.pop((kind, key), None) is not None

    def items(self, now):
        return [e for e in self.entries.values() if not self._expired(e, now)]

    # -- counters -------------------------------------------------------------------

    def add(self, kind, key, counter, window, amount, now, limit=None):
        """Count `amount` on a sliding window: (prev, cur) after it."""
        entry = self.touch(kind, key, now, 2 * window)
        win = entry.windows.get((counter, window))
        if win is None:
            win = entry.windows[(counter, window)] = Window()
        return win.add(now, window, amount)

    def counts(self, kind, key, counter, window, now):
        entry = self.entries.get((kind, key))
        win = entry.windows.get((counter, window)) if entry else None
        return win.counts(now, window) if win else (0, 0)

    def rate(self, kind, key, counter, window, now):
        prev, cur = self.counts(kind, key, counter, window, now)
        return estimate(prev, cur, now, window)

    def gcra(self, kind, key, name, now, interval, buffer, max_wait):
        """Seconds to wait (the request is booked), or None when it would be
        more than max_wait (not booked)."""
        entry = self.touch(kind, key, now, buffer + interval)
        tat, wait = gcra(entry.tats.get(name), now, interval, buffer)
        if wait > max_wait:
            return None
        entry.tats[name] = tat
        entry.expires = max(entry.expires, tat + buffer)
        return wait

    # -- marks and connections --------------------------------------------------------

    def set_mark(self, kind, key, until, now):
        entry = self.touch(kind, key, now)
        entry.mark_until = max(entry.mark_until, until)
        entry.expires = max(entry.expires, until)

    def mark_until(self, kind, key, now):
        entry = self.entries.get((kind, key))
        return entry.mark_until if entry is not None and entry.mark_until > now else 0.0

    def clear_mark(self, kind, key):
        entry = self.entries.get((kind, key))
        if entry is None:
            return False
        had = entry.mark_until > 0
        entry.mark_until = 0.0
        entry.windows.clear()
        entry.tats.clear()
        return had

    def enter(self, kind, key, now):
        entry = self.touch(kind, key, now)
        entry.concurrent += 1
        return entry

    def flush(self):
        """(Nothing is ever pending in the process's own table.)"""

    @staticmethod
    def leave(entry):
        entry.concurrent = max(entry.concurrent - 1, 0)
