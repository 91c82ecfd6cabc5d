"""The slow-node detector's pure parts: the ring buffer, percentiles, the
slow flag, the error-limit view."""
from swiftlike.proxy import node_stats
from swiftlike.proxy.node_iter import ErrorLimiter
from swiftlike.proxy.node_stats import LatencyWindow, NodeStats, node_name, percentile


def node(i, device='sda'):
    return {'ip': '10.0.0.%d' % i, 'port': 6200, 'device': device}


def test_percentile_nearest_rank():
    values = sorted(float(v) for v in range(1, 101))
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.9) == 90.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([], 0.5) == 0.0
    assert percentile([7.0], 0.99) == 7.0


def test_window_keeps_only_the_last_values():
    win = LatencyWindow(4)
    for v in (1.0, 2.0, 3.0, 4.0, 5.0, 6.0):
        win.add(v, ok=v != 6.0, now=10.0)
    assert win.sorted() == [3.0, 4.0, 5.0, 6.0]
    assert (win.count, win.errors, win.last_seen) == (6, 1, 10.0)


def test_node_name_brackets_ipv6():
    assert node_name(node(1)) == '10.0.0.1:6200/sda'
    assert node_name({'ip': 'fe80::1', 'port': 6200, 'device': 'd1'}) == '[fe80::1]:6200/d1'


def test_one_slow_node_shows_by_name():
    stats = NodeStats(window=32, clock=lambda: 100.0)
    for i in range(1, 6):
        for _ in range(20):
            stats.observe(node(i), 0.010)
    for _ in range(20):
        stats.observe(node(6, 'sdz'), 0.500)
    rows = stats.snapshot()
    assert [r['node'] for r in rows if r['slow']] == ['10.0.0.6:6200/sdz']
    assert [r['node'] for r in stats.slow_nodes()] == ['10.0.0.6:6200/sdz']
    slow = rows[-1]
    assert (slow['count'], slow['samples'], slow['p50'], slow['p99']) == (20, 20, 0.5, 0.5)


def test_fast_cluster_has_no_slow_node_below_the_floor():
    stats = NodeStats(clock=lambda: 1.0)
    for _ in range(20):
        stats.observe(node(1), 0.0005)
        stats.observe(node(2), 0.004)
    assert stats.slow_nodes() == []


def test_few_samples_are_never_slow():
    stats = NodeStats(clock=lambda: 1.0)
    for _ in range(20):
        stats.observe(node(1), 0.01)
    stats.observe(node(2), 5.0)
    assert stats.slow_nodes() == []


def test_error_limited_nodes_show_even_without_latencies():
    now = [50.0]
    limiter = ErrorLimiter(limit=2, interval=5.0, clock=lambda: now[0])
    stats = NodeStats(limiter=limiter, clock=lambda: now[0])
    stats.observe(node(1), 0.01, ok=False)
    limiter.error(node(1))
    limiter.limit_now(node(2))
    rows = {r['node']: r for r in stats.snapshot()}
    assert rows['10.0.0.1:6200/sda']['error_limited'] is False
    assert rows['10.0.0.1:6200/sda']['recent_errors'] == 1
    assert rows['10.0.0.1:6200/sda']['errors'] == 1
    assert rows['10.0.0.2:6200/sda']['error_limited'] is True
    assert rows['10.0.0.2:6200/sda']['count'] == 0
    now[0] = 60.0   # past the interval: no longer limited
    assert all(not r['error_limited'] for r in stats.snapshot())


def test_nodes_not_seen_for_long_are_forgotten():
    now = [0.0]
    stats = NodeStats(forget_after=10.0, clock=lambda: now[0])
    stats.observe(node(1), 0.01)
    now[0] = 11.0
    assert stats.snapshot() == []


def test_current_is_never_none_and_register_replaces_it():
    assert node_stats.current() is not None
    mine = NodeStats()
    assert node_stats.register(mine) is node_stats.current() is mine
