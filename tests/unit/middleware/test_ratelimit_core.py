"""The ratelimit middleware's pure parts: the sliding window and GCRA
arithmetic, the local table (expiry, size cap) and the rules."""
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swiftlike.config import build
from swiftlike.exceptions import ConfigError
from swiftlike.middleware import ratelimit
from swiftlike.middleware.ratelimit_rules import Conf, Rule, parse_rule, parse_rules
from swiftlike.middleware.ratelimit_table import LocalTable
from swiftlike.middleware.ratelimit_window import (Window, estimate, gcra, interpolate,
                                                   wait_until_fits)


@pytest.mark.parametrize('prev,cur,now,window,expected', [
    (0, 0, 100.0, 10, 0.0),
    (10, 0, 100.0, 10, 10.0),       # start of a bucket: all of prev counts
    (10, 0, 105.0, 10, 5.0),        # half way: half of it
    (10, 4, 109.0, 10, 5.0),
    (0, 7, 103.3, 10, 7.0),
])
def test_estimate_table(prev, cur, now, window, expected):
    assert estimate(prev, cur, now, window) == pytest.approx(expected)


@pytest.mark.parametrize('prev,cur,now,limit,cost,expected', [
    (0, 0, 100.0, 10, 1, 0.0),
    (0, 10, 100.0, 10, 0, 0.0),         # exactly at the limit fits
    (10, 0, 100.0, 10, 1, 1.0),         # prev weighs 10 * (1 - f): 9 at f = 0.1
    (0, 10, 105.0, 10, 1, 6.0),         # next bucket, then 10 * (1 - g) <= 9: g = 0.1
    (0, 20, 100.0, 10, 0, 15.0),        # g = 0.5 into the next bucket
    (0, 0, 100.0, 10, 11, math.inf),    # never fits
])
def test_wait_until_fits_table(prev, cur, now, limit, cost, expected):
    assert wait_until_fits(prev, cur, now, 10, limit, cost) == pytest.approx(expected)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 1000), st.integers(0, 1000), st.floats(0, 10000, allow_nan=False),
       st.integers(1, 3600), st.integers(1, 2000))
def test_after_the_wait_it_fits(prev, cur, now, window, limit):
    wait = wait_until_fits(prev, cur, now, window, limit)
    def rate_at(t):
        # The counts rolled to `t` as the window would.
        win = Window()
        win.index, win.prev, win.cur = int(now // window), prev, cur
        return win.rate(t, window)
    assert rate_at(now + wait + 1e-6) <= limit + 1e-6
    if wait > 1e-3:
        # ... and not much earlier (the wait is not longer than needed).
        assert rate_at(now + wait * 0.99 - 1e-6) > limit - 1e-6


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 50, allow_nan=False), min_size=1, max_size=300),
       st.integers(1, 20), st.integers(1, 30))
def test_admitted_never_exceed_twice_the_limit(gaps, window, limit):
    """The documented bound: admitting while estimate <= limit lets at most
    `limit` through per aligned bucket, so at most 2 * limit in any window,
    and the estimate never strays from the true count by more than prev."""
    win, now, admitted = Window(), 0.0, []
    for gap in gaps:
        now += gap / 10.0
        prev, cur = win.counts(now, window)
        if estimate(prev, cur + 1, now, window) <= limit:
            win.add(now, window, 1)
            admitted.append(now)
        prev, cur = win.counts(now, window)
        true = sum(1 for t in admitted if now - window < t <= now)
        assert cur <= true <= cur + prev
        assert abs(estimate(prev, cur, now, window) - true) <= prev + 1e-9
    for t in admitted:
        assert sum(1 for u in admitted if t <= u < t + window) <= 2 * limit


def test_gcra_bursts_then_paces():
    tat, waits = None, []
    for _ in range(8):
        tat, wait = gcra(tat, 100.0, 0.5, 1.0)     # 2/s with 1 s of burst
        waits.append(wait)
    assert waits == [0, 0, 0, 0.5, 1.0, 1.5, 2.0, 2.5]
    # Idle long: back to the burst allowance, not a credit of the whole gap.
    tat, wait = gcra(tat, 1000.0, 0.5, 1.0)
    assert wait == 0 and tat == 999.5


@pytest.mark.parametrize('size,expected', [(5, None), (10, 100), (55, 75), (100, 50),
                                           (10 ** 9, 50)])
def test_interpolate_as_swift(size, expected):
    assert interpolate([(10, 100), (100, 50)], size) == expected


def test_table_size_cap_and_expiry():
    table = LocalTable(size=1000, expire=10)
    for i in range(1_000_000):
        table.add('source', '10.%d.%d.%d' % (i >> 16, (i >> 8) & 255, i & 255), 'requests',
                  5, 1, 1000.0 + i * 1e-5)
    assert len(table) == 1000 and table.evicted == 1_000_000 - 1000
    # The most recent keys survive.
    assert table.get('source', '10.15.66.63') is not None
    # Entries unused past their expiry go as new keys come in.
    table2 = LocalTable(size=100, expire=10)
    for i in range(50):
        table2.add('source', 'old%d' % i, 'requests', 1, 1, 0.0)
    for i in range(60):
        table2.add('source', 'new%d' % i, 'requests', 1, 1, 100.0)
    assert len(table2) == 60 and table2.evicted == 0


def test_table_marks_outlive_their_counts():
    table = LocalTable(size=10, expire=10)
    table.set_mark('source', 'a', 500.0, 0.0)
    for i in range(20):
        table.add('source', 'k%d' % i, 'requests', 1, 1, 100.0)
    assert table.mark_until('source', 'a', 100.0) in (0.0, 500.0)  # LRU may evict it
    table = LocalTable(size=10, expire=10)
    table.set_mark('source', 'a', 500.0, 0.0)
    assert table.get('source', 'a', 400.0) is not None
    assert table.mark_until('source', 'a', 400.0) == 500.0
    assert table.mark_until('source', 'a', 500.0) == 0.0
    assert table.clear_mark('source', 'a') and not table.mark_until('source', 'a', 1.0)


@pytest.mark.parametrize('line,rule', [
    ('source requests 600/1m reject', Rule('source', 'requests', 600, 60, 'reject')),
    ('user bytes_out 10Gi/1h mark 30m',
     Rule('user', 'bytes_out', 10 * 1024 ** 3, 3600, 'mark', 1800)),
    ('container bytes_in 5M/100s delay', Rule('container', 'bytes_in', 5e6, 100, 'delay')),
    ('account concurrent 20 reject', Rule('account', 'concurrent', 20, 0, 'reject')),
    ('source requests 10 reject', Rule('source', 'requests', 10, 1, 'reject')),
])
def test_parse_rule(line, rule):
    assert parse_rule(line) == rule


@pytest.mark.parametrize('line', [
    'source requests', 'client requests 1/1s reject', 'source hits 1/1s reject',
    'source requests 1/1s drop', 'source requests x/1s reject', 'source requests 1/0s reject',
    'source requests 0/1s reject', 'source concurrent 5/1s reject', 'source requests 1/1s mark',
    'source requests 1/1s reject 5m', 'source requests 1/1y reject',
])
def test_bad_rules_are_refused(line):
    with pytest.raises(ValueError):
        parse_rule(line)


def test_rules_text_lines_and_comments():
    rules = parse_rules('source requests 5/1s reject  # burst\n  user concurrent 2 reject;'
                        'account bytes_out 1M/1m delay\n')
    assert [r.kind for r in rules] == ['source', 'user', 'account']


@pytest.mark.parametrize('values,message', [
    ({'reject_status': '503'}, 'reject_status'),
    ({'rules': 'source requests 1/1s maybe'}, 'action'),
    ({'trusted_proxies': '10.0.0.0/33'}, 'trusted_proxies'),
    ({'memcache_servers': 'localhost'}, 'memcache_servers'),
    ({'admin_path': '/v1/x'}, 'admin_path'),
    ({'max_sleep_time_seconds': '-1'}, 'max_sleep_time_seconds'),
    ({'container_ratelimit_big': '5'}, 'container_ratelimit_big'),
    ({'container_ratelimit_10': 'fast'}, "container_ratelimit_10: 'fast' is not a rate"),
    ({'container_listing_ratelimit_0': '-3'}, 'container_listing_ratelimit_0'),
    ({'container_ratelimit_10': '5k'}, "'5k' is not a rate"),
    ({'bogus': '1'}, 'bogus'),
])
def test_bad_config_fails_with_the_key(values, message):
    with pytest.raises(ConfigError) as err:
        ratelimit.filter_factory(values, {}, 'proxy.conf', 'filter:ratelimit')
    assert message in str(err.value)


def test_swift_size_options_are_read():
    make = ratelimit.filter_factory({'container_ratelimit_100': '50', 'container_ratelimit_10': '100',
                                     'container_listing_ratelimit_0': '7',
                                     'account_ratelimit': '2.5'}, {})
    assert make.conf.container_ratelimits == ((10, 100.0), (100, 50.0))
    assert make.conf.container_listing_ratelimits == ((0, 7.0),)
    assert make.conf.account_ratelimit == 2.5
    assert build(Conf, {}).reject_status == 429
