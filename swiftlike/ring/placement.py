"""Partition placement: pure functions over a builder's tables, no I/O.

Devices sit in a failure-domain tree: root > region > zone > server (ip) >
device. Each node gets an integer target of partition-replicas: the parent's
target split by weight, but no child may take more than its fair spread of a
partition's replicas (so dispersion wins over weight when they disagree) and no
device more than one replica of a partition. A rebalance then

1. frees replicas on removed devices,
2. frees one replica of each movable partition that is not as dispersed as
   the tree allows,
3. frees replicas from devices above their target (movable partitions only,
   preferring ones an under-filled device can take without hurting dispersion),
4. places every free replica by walking down the tree, at each level taking
   the child that holds fewest replicas of the partition, then the one that
   wants most, with heaps so a placement costs O(depth * log(children)).

"Movable" means: no replica of the partition moved yet in this rebalance and
its last move is at least min_part_hours old.
"""
import heapq
import math
import random
from collections import Counter

from swiftlike.exceptions import RingError
from swiftlike.ring.io import NONE_DEV

LEVELS = 4  # region, zone, server, device
MAX_ROUNDS = 6


def tier_keys(dev):
    region, zone, ip = dev['region'], dev['zone'], dev['ip']
    return ((region,), (region, zone), (region, zone, ip), (region, zone, ip, dev['id']))


def _split(total, kids, weight, limit, parts):
    """Split an integer total among kids by weight; a kid takes at most
    `limit` replicas of each partition, and no more than an even spread
    unless the others cannot hold the rest."""
    if not kids or total <= 0:
        return {kid: 0 for kid in kids}
    spread = max(1, math.ceil(total / parts / len(kids) - 1e-9))
    while sum(min(spread, limit[k]) for k in kids) * parts < total:
        spread += 1
    cap = {k: min(spread, limit[k]) * parts for k in kids}
    shares = {}
    active = list(kids)
    remaining = total
    while active:
        wsum = sum(weight[k] for k in active)
        over = [k for k in active if remaining * weight[k] / wsum > cap[k]]
        if not over:
            break
        for k in over:
            shares[k] = cap[k]
            remaining -= cap[k]
            active.remove(k)
    if active:
        wsum = sum(weight[k] for k in active)
        for k in active:
            shares[k] = remaining * weight[k] / wsum
    result = {k: min(cap[k], int(math.floor(shares[k] + 1e-9))) for k in kids}
    left = total - sum(result.values())
    by_fraction = sorted(kids, key=lambda k: (result[k] - shares[k], k))
    while left > 0:
        progress = False
        for k in by_fraction:
            if left and result[k] < cap[k]:
                result[k] += 1
                left -= 1
                progress = True
        if not progress:
            raise RingError('cannot place %d partition-replicas' % left)
    return result


class Tree:
    """The failure-domain tree with integer targets for every node."""

    def __init__(self, devs, parts, replicas):
        self.parts = parts
        self.replicas = replicas
        self.keys = [()]
        node_of = {(): 0}
        parent, weight, capacity = [-1], [0.0], [0]
        self.dev_tiers = {}
        for dev in devs:
            if dev is None:
                continue
            ids, prev = [], 0
            for key in tier_keys(dev):
                nid = node_of.get(key)
                if nid is None:
                    nid = node_of[key] = len(self.keys)
                    self.keys.append(key)
                    parent.append(prev)
                    weight.append(0.0)
                    capacity.append(0)
                ids.append(nid)
                prev = nid
            self.dev_tiers[dev['id']] = tuple(ids)
            if dev['weight'] > 0:
                for nid in [0] + ids:
                    weight[nid] += dev['weight']
                    capacity[nid] += 1
        count = len(self.keys)
        self.children = [[] for _ in range(count)]
        for nid in range(1, count):
            if capacity[nid]:
                self.children[parent[nid]].append(nid)
        for kids in self.children:
            kids.sort(key=lambda nid: self.keys[nid])
        self.capacity = capacity
        self.weight = weight
        self.zone_of = {d: tiers[1] for d, tiers in self.dev_tiers.items()}
        self.region_of = {d: tiers[0] for d, tiers in self.dev_tiers.items()}
        # below[n][level]: the weighted tier nodes at `level` under node n
        levels = [-1] + [len(key) - 1 for key in self.keys[1:]]
        below = [[set() for _ in range(LEVELS)] for _ in range(count)]
        for dev in devs:
            if dev is not None and dev['weight'] > 0:
                tiers = self.dev_tiers[dev['id']]
                for top in (0,) + tiers:
                    for level in range(levels[top] + 1, LEVELS):
                        below[top][level].add(tiers[level])
        self.width = [len(below[0][level]) for level in range(LEVELS)]
        # limit[n]: most replicas of one partition node n may hold while its
        # parent keeps them on distinct nodes at the highest level it can
        self.limit = [replicas] + [1] * (count - 1)
        self.target = [0] * count
        if capacity[0] < replicas:
            return
        self.target[0] = parts * replicas
        for nid in range(count):  # parents were numbered before their children
            kids = self.children[nid]
            if not kids:
                continue
            per_part = max(1, math.ceil(self.target[nid] / parts - 1e-9))
            level = next((lvl for lvl in range(levels[nid] + 1, LEVELS)
                          if len(below[nid][lvl]) >= per_part), LEVELS - 1)
            for kid in kids:
                self.limit[kid] = 1 if levels[kid] >= level else len(below[kid][level])
            for kid, share in _split(self.target[nid], kids, weight, self.limit,
                                     parts).items():
                self.target[kid] = share

    def dev_target(self, dev_id):
        tiers = self.dev_tiers.get(dev_id)
        return self.target[tiers[-1]] if tiers else 0


def targets(devs, parts, replicas):
    """{dev id: integer partition-replica target} for every present device."""
    tree = Tree(devs, parts, replicas)
    return {dev_id: tree.dev_target(dev_id) for dev_id in tree.dev_tiers}


def dispersion_offender(tree, devs_of_part, excess):
    """Index (into devs_of_part) of a replica to move so the partition spreads
    as widely as the tree allows, or None if it already does."""
    held = [d for d in devs_of_part if d != NONE_DEV]
    if len({tree.zone_of[d] for d in held}) == len(held) and \
            len({tree.region_of[d] for d in held}) >= min(len(held), tree.width[0]):
        return None  # zones all distinct and regions as spread as they can be
    tiers = tree.dev_tiers
    for level in range(LEVELS):
        nodes = Counter(tiers[d][level] for d in held)
        if len(nodes) >= min(len(held), tree.width[level]):
            continue
        crowded = [i for i, d in enumerate(devs_of_part)
                   if d != NONE_DEV and nodes[tiers[d][level]] > 1]
        return max(crowded, key=lambda i: (excess.get(devs_of_part[i], 0), -i))
    return None


class Placer:
    """One rebalance over tables (list of array('H'), mutated in place)."""

    def __init__(self, tables, devs, ages, min_part_hours, seed):
        self.tables = tables
        self.devs = devs
        self.ages = ages
        self.min_part_hours = min_part_hours
        self.parts = len(ages)
        self.replicas = len(tables)
        self.tree = Tree(devs, self.parts, self.replicas)
        weighted = self.tree.capacity[0]
        if weighted < self.replicas:
            raise RingError('%d replicas need at least %d devices with weight > 0, have %d'
                            % (self.replicas, self.replicas, weighted))
        self.rng = random.Random(seed)
        self.moved = bytearray(self.parts)
        self.weighted = {d['id'] for d in devs if d is not None and d['weight'] > 0}
        self.assigned = Counter()
        for table in tables:
            self.assigned.update(table)
        self.assigned.pop(NONE_DEV, None)
        tree = self.tree
        self.dev_target = {dev_id: tree.dev_target(dev_id) for dev_id in tree.dev_tiers}
        self.zone_of = tree.zone_of
        self.node_dev = {tiers[-1]: d for d, tiers in tree.dev_tiers.items()}
        self.wanted = list(tree.target)
        for dev_id, count in self.assigned.items():
            for nid in tree.dev_tiers.get(dev_id, ()):
                self.wanted[nid] -= count
        self.heaps = []
        self.usage = [0] * len(tree.keys)
        self.full = [0] * len(tree.keys)

    def movable(self, part):
        return not self.moved[part] and self.ages[part] >= self.min_part_hours

    def _free(self, replica, part):
        dev = self.tables[replica][part]
        self.tables[replica][part] = NONE_DEV
        self.moved[part] = 1
        if dev != NONE_DEV and dev in self.tree.dev_tiers:
            self.assigned[dev] -= 1
            for nid in self.tree.dev_tiers[dev]:
                self.wanted[nid] += 1
        return dev

    def excess(self):
        return {d: self.assigned[d] - self.dev_target.get(d, 0) for d in self.assigned
                if self.assigned[d] > self.dev_target.get(d, 0)}

    # --- gathering ---------------------------------------------------------

    def free_removed(self):
        gone = {d for d in self.assigned if d not in self.tree.dev_tiers}
        if not gone:
            return
        for replica, table in enumerate(self.tables):
            for part, dev in enumerate(table):
                if dev in gone:
                    self._free(replica, part)
        for dev in gone:
            del self.assigned[dev]

    def free_undispersed(self):
        mph, ages, moved = self.min_part_hours, self.ages, self.moved
        excess = self.excess()
        for part, devs_of_part in enumerate(zip(*self.tables)):
            if moved[part] or ages[part] < mph:
                continue
            index = dispersion_offender(self.tree, devs_of_part, excess)
            if index is not None:
                self._free(index, part)

    def free_excess(self):
        """Free replicas of over-target devices; returns how many."""
        excess = self.excess()
        if not excess:
            return 0
        under = [d for d in self.weighted if self.assigned[d] < self.dev_target[d]]
        under_zones = {self.zone_of[d] for d in under}
        zone_of = self.zone_of
        few_zones = len({zone_of[d] for d in self.weighted}) < self.replicas
        freed, total = 0, sum(excess.values())
        start = self.rng.randrange(self.parts)
        tables = self.tables
        for step in range(self.parts):
            part = (start + step) % self.parts
            if not self.movable(part):
                continue
            devs_of_part = [t[part] for t in tables]
            for replica, dev in enumerate(devs_of_part):
                if excess.get(dev, 0) <= 0:
                    continue
                if not few_zones and zone_of[dev] not in under_zones:
                    others = {zone_of[d] for d in devs_of_part if d != NONE_DEV and d != dev}
                    if not under_zones - others:
                        continue  # nowhere useful to put it without crowding a zone
                self._free(replica, part)
                excess[dev] -= 1
                freed += 1
                break
            if freed >= total:
                break
        return freed

    # --- placing -----------------------------------------------------------

    def _pick(self, node):
        heap = self.heaps[node]
        usage, full = self.usage, self.full
        capacity, limit = self.tree.capacity, self.tree.limit
        skipped = []
        chosen = None
        while heap:
            item = heapq.heappop(heap)
            if usage[item[2]] == 0:
                chosen = item
                break
            skipped.append(item)
        if chosen is None:
            eligible = [it for it in skipped if usage[it[2]] < limit[it[2]]] or \
                [it for it in skipped if full[it[2]] < capacity[it[2]]]
            chosen = min(eligible, key=lambda it: (usage[it[2]], it[0], it[1]))
            skipped.remove(chosen)
        kid = chosen[2]
        self.wanted[kid] -= 1
        # a fresh random tie-break keeps equal devices from settling into a
        # fixed rotation (which would pair the same devices in every partition)
        heapq.heappush(heap, (-self.wanted[kid], self.rng.random(), kid))
        for item in skipped:
            heapq.heappush(heap, item)
        return kid

    def place(self, replica, part):
        tiers_of = self.tree.dev_tiers
        usage, full, weighted = self.usage, self.full, self.weighted
        touched = []
        for table in self.tables:
            dev = table[part]
            if dev != NONE_DEV:
                tiers = tiers_of[dev]
                touched.append(tiers)
                for nid in tiers:
                    usage[nid] += 1
                if dev in weighted:
                    for nid in tiers:
                        full[nid] += 1
        node = 0
        for _ in range(LEVELS):
            node = self._pick(node)
        for tiers in touched:
            for nid in tiers:
                usage[nid] = 0
                full[nid] = 0
        dev = self.node_dev[node]
        self.tables[replica][part] = dev
        self.assigned[dev] += 1
        self.ages[part] = 0
        self.moved[part] = 1

    def _build_heaps(self):
        self.heaps = []
        for kids in self.tree.children:
            heap = [(-self.wanted[k], self.rng.random(), k) for k in kids]
            heapq.heapify(heap)
            self.heaps.append(heap)

    def place_free(self):
        self._build_heaps()
        for part, devs_of_part in enumerate(zip(*self.tables)):
            if NONE_DEV in devs_of_part:
                for replica, dev in enumerate(devs_of_part):
                    if dev == NONE_DEV:
                        self.place(replica, part)

    def run(self):
        self.free_removed()
        self.free_undispersed()
        self.free_excess()
        self.place_free()
        for _ in range(MAX_ROUNDS):
            if not self.free_excess():
                break
            self.place_free()


def rebalance(tables, devs, ages, min_part_hours, seed=None):
    """Rebalance tables in place (filling empty ones); return replicas moved."""
    before = [table[:] for table in tables]
    Placer(tables, devs, ages, min_part_hours, seed).run()
    moved = 0
    for old, new in zip(before, tables):
        if old != new:
            moved += sum(1 for a, b in zip(old, new) if a != b and a != NONE_DEV)
    return moved
