"""A small in-process cache of account/container info with a short TTL.

Only positive answers (2xx) are cached: a worker that cached "absent" would
otherwise refuse uploads into a container another worker just created.
"""
import time


class InfoCache:
    def __init__(self, ttl=3.0, max_entries=10000, clock=time.monotonic):
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries = {}

    def get(self, key, fetch):
        now = self.clock()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]
        value = fetch()
        if self.ttl > 0 and 200 <= value.get('status', 0) < 300:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = (now + self.ttl, value)
        else:
            self._entries.pop(key, None)
        return value

    def pop(self, key):
        self._entries.pop(key, None)

    def add_usage(self, key, size):
        """Count one more object of `size` bytes in a cached container's or
        account's info (after a write this worker made), so quotas judged
        from the cache see it before the entry expires. An overwrite counts
        again: the cache errs on the full side until it is refreshed."""
        entry = self._entries.get(key)
        if entry is None:
            return
        info = dict(entry[1])
        info['bytes'] = info.get('bytes', 0) + size
        info['object_count'] = info.get('object_count', 0) + 1
        self._entries[key] = (entry[0], info)
