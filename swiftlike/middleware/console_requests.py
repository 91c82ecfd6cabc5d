"""Client request figures for the console, and request rates.

`client_requests()` reads this proxy's own Prometheus metrics (the `metrics`
middleware's `swiftlike_proxy_request_seconds` histogram; in multiprocess mode
it holds every worker's counts) and sums them by type and verb: requests,
5xx answers, mean latency, and p50/p99 interpolated within the histogram's
buckets as Prometheus' histogram_quantile() does. Empty when the metrics
middleware is not in the pipeline. `RateTracker` turns growing counts into
per-second rates between polls.
"""
import math
import time

from prometheus_client.parser import text_string_to_metric_families

from swiftlike import metrics

FAMILY = 'swiftlike_proxy_request_seconds'


def histograms(text):
    """{(type, verb): {'count', 'sum', 'errors', 'buckets': {le: cumulative}}}
    from Prometheus text, summed over status and policy."""
    out = {}
    for family in text_string_to_metric_families(text):
        if family.name != FAMILY:
            continue
        for sample in family.samples:
            labels = sample.labels
            entry = out.setdefault((labels.get('type', ''), labels.get('verb', '')),
                                   {'count': 0.0, 'sum': 0.0, 'errors': 0.0, 'buckets': {}})
            if sample.name == FAMILY + '_count':
                entry['count'] += sample.value
                if labels.get('status', '').startswith('5'):
                    entry['errors'] += sample.value
            elif sample.name == FAMILY + '_sum':
                entry['sum'] += sample.value
            elif sample.name == FAMILY + '_bucket':
                le = float(labels['le'])
                entry['buckets'][le] = entry['buckets'].get(le, 0.0) + sample.value
    return out


def quantile(buckets, q):
    """The q-quantile (0..1) of a cumulative histogram {upper bound: count},
    linearly interpolated within its bucket; None without observations."""
    bounds = sorted(buckets)
    if not bounds or not buckets[bounds[-1]]:
        return None
    total = buckets[bounds[-1]]
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower        # beyond the last finite bucket: its bound
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


def client_requests(text=None):
    """{'object GET': {'count', 'errors', 'mean_ms', 'p50_ms', 'p99_ms'}, ...}."""
    if text is None:
        text = metrics.exposition()[1].decode('utf-8')
    out = {}
    for (kind, verb), entry in sorted(histograms(text).items()):
        if not entry['count']:
            continue
        p50, p99 = quantile(entry['buckets'], 0.5), quantile(entry['buckets'], 0.99)
        out['%s %s' % (kind, verb)] = {
            'count': int(entry['count']), 'errors': int(entry['errors']),
            'mean_ms': 1000.0 * entry['sum'] / entry['count'],
            'p50_ms': None if p50 is None else 1000.0 * p50,
            'p99_ms': None if p99 is None else 1000.0 * p99}
    return out


class RateTracker:
    """Per-second rates of growing counts, measured over at least `span`
    seconds (a poll sooner than that gets the last rate again)."""

    def __init__(self, span=1.5, clock=time.monotonic):
        self.span = span
        self.clock = clock
        self._seen = {}     # key -> (when, count, rate)

    def rate(self, key, count):
        now = self.clock()
        before = self._seen.get(key)
        if before is None:
            self._seen[key] = (now, count, None)
            return None
        when, last, rate = before
        if now - when < self.span:
            return rate
        rate = max(0.0, (count - last) / (now - when))
        self._seen[key] = (now, count, rate)
        return rate
