"""The console's client request figures, from a real Prometheus registry's
text exposition (what the metrics middleware's histogram gives)."""
import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from swiftlike.middleware.console_requests import (RateTracker, client_requests, histograms,
                                                   quantile)

BUCKETS = (0.001, 0.01, 0.1, 1.0)


def exposition(observations):
    registry = CollectorRegistry()
    hist = Histogram('swiftlike_proxy_request_seconds', 'client requests',
                     ('type', 'verb', 'status', 'policy'), buckets=BUCKETS, registry=registry)
    for (kind, verb, status), seconds in observations:
        hist.labels(kind, verb, status, '0').observe(seconds)
    return generate_latest(registry).decode()


def test_counts_errors_and_means_by_type_and_verb():
    text = exposition([(('object', 'PUT', '201'), 0.005)] * 4
                      + [(('object', 'PUT', '503'), 0.5)]
                      + [(('object', 'GET', '200'), 0.05)] * 2
                      + [(('container', 'PUT', '201'), 0.002)])
    figures = client_requests(text)
    assert sorted(figures) == ['container PUT', 'object GET', 'object PUT']
    put = figures['object PUT']
    assert (put['count'], put['errors']) == (5, 1)
    assert put['mean_ms'] == pytest.approx(1000 * (4 * 0.005 + 0.5) / 5)
    # 4 of 5 in (0.001, 0.01]: the median is interpolated in that bucket.
    assert put['p50_ms'] == pytest.approx(1000 * (0.001 + 0.009 * 2.5 / 4))
    assert put['p99_ms'] == pytest.approx(1000 * (0.1 + 0.9 * (4.95 - 4) / 1))
    assert figures['container PUT']['errors'] == 0


@pytest.mark.parametrize('buckets,q,expected', [
    ({}, 0.5, None),
    ({1.0: 0, float('inf'): 0}, 0.5, None),
    ({1.0: 10, float('inf'): 10}, 0.5, 0.5),
    ({1.0: 0, 2.0: 10, float('inf'): 10}, 0.5, 1.5),
    ({1.0: 0, float('inf'): 10}, 0.9, 1.0),          # beyond the last finite bound
])
def test_quantile(buckets, q, expected):
    assert quantile(buckets, q) == expected


def test_other_families_are_ignored():
    assert histograms('# TYPE other counter\nother_total 5\n') == {}
    assert client_requests('') == {}


def test_rates_over_at_least_the_span():
    now = [0.0]
    rates = RateTracker(span=1.5, clock=lambda: now[0])
    assert rates.rate('k', 10) is None
    now[0] = 1.0
    assert rates.rate('k', 20) is None          # too soon: no rate yet
    now[0] = 2.0
    assert rates.rate('k', 30) == 10.0
    now[0] = 2.5
    assert rates.rate('k', 99) == 10.0          # too soon: the last rate
    now[0] = 4.0
    assert rates.rate('k', 50) == 10.0
