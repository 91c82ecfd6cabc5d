"""Which storage nodes a request goes to, and how their answers combine (pure).

- quorum arithmetic: a majority of the replicas must agree;
- node iteration: primaries first, then handoffs, skipping error-limited nodes;
- error limiting: a node that keeps failing is skipped, but only briefly, so a
  restarted node is back in use within seconds.
"""
import time


def quorum_size(replicas):
    """Majority of `replicas` (3 -> 2, 4 -> 3, 2 -> 2, 1 -> 1)."""
    return replicas // 2 + 1


def status_class(status):
    return status // 100


def best_status(statuses, replicas):
    """The status a quorum of backends agree on (by class), else 503.

    Within the winning class the most common status is chosen (ties: the
    smallest code, so 201 beats 202 and 404 beats 409).
    """
    quorum = quorum_size(replicas)
    by_class = {}
    for status in statuses:
        by_class.setdefault(status_class(status), []).append(status)
    for klass in (2, 3, 4):
        members = by_class.get(klass, [])
        if len(members) >= quorum:
            return min(set(members), key=lambda s: (-members.count(s), s))
    return 503


def node_key(node):
    return (node['ip'], node['port'], node['device'])


class ErrorLimiter:
    """Counts failures per node; a node with `limit` recent errors is skipped
    until `interval` seconds have passed since its last error."""

    def __init__(self, limit=3, interval=5.0, clock=time.monotonic):
        self.limit = limit
        self.interval = interval
        self.clock = clock
        self._errors = {}   # node key -> [count, time of last error]

    def error(self, node):
        key = node_key(node)
        now = self.clock()
        entry = self._errors.get(key)
        if entry is None or now - entry[1] > self.interval:
            entry = self._errors[key] = [0, now]
        entry[0] += 1
        entry[1] = now

    def limit_now(self, node):
        """Skip this node at once (it said it is full or unmounted)."""
        self._errors[node_key(node)] = [self.limit, self.clock()]

    def success(self, node):
        if self._errors:
            self._errors.pop(node_key(node), None)

    def state(self):
        """{node key: {'errors': n, 'limited': bool}} for the nodes with recent
        errors (expired entries are left out), for metrics and the console."""
        now = self.clock()
        return {key: {'errors': count, 'limited': count >= self.limit}
                for key, (count, last) in list(self._errors.items())
                if now - last <= self.interval}

    def is_limited(self, node):
        if not self._errors:
            return False
        key = node_key(node)
        entry = self._errors.get(key)
        if entry is None:
            return False
        if self.clock() - entry[1] > self.interval:
            del self._errors[key]
            return False
        return entry[0] >= self.limit


def iter_nodes(primaries, handoffs, limiter=None, max_handoffs=None):
    """Yield primaries, then handoffs, skipping error-limited nodes.

    Error-limited nodes are still yielded once the healthy ones run out
    (primaries first): better to try a suspect node, say one just restarted,
    than to fail at once.
    """
    skipped, skipped_handoffs = [], []
    for node in primaries:
        if limiter is not None and limiter.is_limited(node):
            skipped.append(node)
            continue
        yield node
    count = 0
    for node in handoffs:
        if max_handoffs is not None and count >= max_handoffs:
            break
        if limiter is not None and limiter.is_limited(node):
            skipped_handoffs.append(node)
            continue
        count += 1
        yield node
    for node in skipped:
        yield node
    for node in skipped_handoffs:
        if max_handoffs is not None and count >= max_handoffs:
            break
        count += 1
        yield node


def newest(responses, key):
    """The response with the greatest `key(resp)`; first wins on ties."""
    best = None
    best_key = None
    for resp in responses:
        k = key(resp)
        if best is None or (k is not None and (best_key is None or k > best_key)):
            best, best_key = resp, k
    return best


def choose_read_answer(found, missing, other, timestamp):
    """Which backend answer a read returns.

    found: answers with the object (2xx/304/412/416); missing: 404s; other:
    any other 4xx. The newest found answer wins, unless a 404 carries a newer
    timestamp (a tombstone written after it); with nothing found, another 4xx
    is returned as is, else the newest 404.
    """
    if found:
        choice = newest(found, timestamp)
        chosen_ts = timestamp(choice)
        for gone in missing:
            gone_ts = timestamp(gone)
            if gone_ts is not None and chosen_ts is not None and gone_ts > chosen_ts:
                return gone
        return choice
    if other:
        return other[0]
    if missing:
        return newest(missing, timestamp)
    return None
