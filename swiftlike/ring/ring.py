"""Read-only ring lookup as servers use it; reloads when the file changes."""
import os
import struct
import time

from swiftlike.exceptions import RingError
from swiftlike.hashing import hash_path
from swiftlike.ring import io

DEFAULT_RELOAD_TIME = 15
_TOP32 = struct.Struct('>I')


class Ring:
    """Ring(swift_dir, ring_name='object') loads <swift_dir>/<ring_name>.ring.gz.

    The file's mtime is checked at most every reload_time seconds; a changed
    file is loaded on the next lookup. If the new file is unreadable the old
    ring stays in use (the admin tool writes rings atomically, so this only
    happens on a real mistake) and the check is retried next period.
    """

    def __init__(self, swift_dir, ring_name='object', reload_time=DEFAULT_RELOAD_TIME,
                 path=None):
        self.path = path or os.path.join(swift_dir, ring_name + '.ring.gz')
        self.reload_time = reload_time
        self._mtime = None
        self._load()

    @classmethod
    def load(cls, path, reload_time=DEFAULT_RELOAD_TIME):
        return cls(None, path=path, reload_time=reload_time)

    def _load(self):
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            raise RingError('%s: no such ring file' % self.path)
        part_power, devs, tables = io.read_ring_file(self.path)
        self._part_power = part_power
        self._shift = 32 - part_power
        self._devs = devs
        self._tables = tables
        self._nodes = [None if dev is None else dict(dev) for dev in devs]
        self._weighted = [dev['id'] for dev in devs if dev is not None and dev['weight'] > 0]
        self._tiers = {dev['id']: ((dev['region'],), (dev['region'], dev['zone']),
                                   (dev['region'], dev['zone'], dev['ip']))
                       for dev in devs if dev is not None}
        self._mtime = mtime
        self._next_check = time.monotonic() + self.reload_time

    def _check_reload(self):
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + self.reload_time
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except OSError:
            return
        if mtime != self._mtime:
            try:
                self._load()
            except RingError:
                pass

    def has_changed(self):
        """True if the file on disk differs from the loaded one (no reload)."""
        try:
            return os.stat(self.path).st_mtime_ns != self._mtime
        except OSError:
            return True

    @property
    def part_power(self):
        self._check_reload()
        return self._part_power

    @property
    def replica_count(self):
        self._check_reload()
        return len(self._tables)

    @property
    def partition_count(self):
        self._check_reload()
        return 1 << self._part_power

    @property
    def devs(self):
        self._check_reload()
        return [None if node is None else dict(node) for node in self._nodes]

    def get_part(self, account, container=None, obj=None):
        self._check_reload()
        digest = hash_path(account, container, obj, raw_digest=True)
        return _TOP32.unpack_from(digest)[0] >> self._shift

    def _part_nodes(self, part):
        nodes = self._nodes
        return [dict(nodes[table[part]], index=index)
                for index, table in enumerate(self._tables)]

    def get_part_nodes(self, partition):
        self._check_reload()
        if not 0 <= partition < (1 << self._part_power):
            raise RingError('partition %r out of range' % (partition,))
        return self._part_nodes(partition)

    def get_nodes(self, account, container=None, obj=None):
        part = self.get_part(account, container, obj)
        return part, self._part_nodes(part)

    def _handoff_order(self, part):
        """Devices in a partition-dependent, weight-following order: those
        met walking the table from the next partition on, then the rest."""
        parts = 1 << self._part_power
        wanted = len(self._weighted)
        seen, order = set(), []
        tables = self._tables
        steps = min(parts - 1, 4 * wanted + 16)
        for step in range(1, steps + 1):
            other = (part + step) % parts
            for table in tables:
                dev = table[other]
                if dev not in seen and self._nodes[dev]['weight'] > 0:
                    seen.add(dev)
                    order.append(dev)
            if len(order) == wanted:
                return order
        rest = [d for d in self._weighted if d not in seen]
        shift = part % len(rest) if rest else 0
        return order + rest[shift:] + rest[:shift]

    def get_more_nodes(self, partition):
        """Handoff nodes for a partition: other regions first, then other
        zones, then other servers, then any other device; never a primary."""
        self._check_reload()
        if not 0 <= partition < (1 << self._part_power):
            raise RingError('partition %r out of range' % (partition,))
        primaries = {table[partition] for table in self._tables}
        used = [set(), set(), set()]
        for dev in primaries:
            for level, key in enumerate(self._tiers[dev]):
                used[level].add(key)
        seen = set(primaries)
        order = self._handoff_order(partition)
        for level in range(4):
            for dev in order:
                if dev in seen:
                    continue
                tiers = self._tiers[dev]
                if level < 3 and tiers[level] in used[level]:
                    continue
                seen.add(dev)
                for lvl, key in enumerate(tiers):
                    used[lvl].add(key)
                yield dict(self._nodes[dev], index=None)
