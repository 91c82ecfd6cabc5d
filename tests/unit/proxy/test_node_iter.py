import pytest
from hypothesis import given, strategies as st

from swiftlike.proxy.node_iter import (ErrorLimiter, best_status, iter_nodes, newest,
                                       quorum_size)


def node(i):
    return {'ip': '10.0.0.%d' % i, 'port': 6000 + i, 'device': 'd%d' % i, 'id': i}


@pytest.mark.parametrize('replicas,quorum', [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (6, 4)])
def test_quorum_size(replicas, quorum):
    assert quorum_size(replicas) == quorum


@pytest.mark.parametrize('statuses,replicas,expected', [
    ([201, 201, 201], 3, 201),
    ([201, 201, 503], 3, 201),
    ([201, 503, 503], 3, 503),
    ([201, 202, 503], 3, 201),
    ([202, 202, 201], 3, 202),
    ([404, 404, 204], 3, 404),
    ([204, 204, 404], 3, 204),
    ([409, 404, 404], 3, 404),
    ([409, 409, 201], 3, 409),
    ([201], 3, 503),
    ([], 3, 503),
    ([201, 201], 4, 503),
    ([201, 201, 201], 4, 201),
    ([507, 507, 201], 3, 503),
])
def test_best_status(statuses, replicas, expected):
    assert best_status(statuses, replicas) == expected


@given(st.lists(st.sampled_from([201, 202, 204, 404, 409, 412, 503, 507]), max_size=6),
       st.integers(min_value=1, max_value=6))
def test_best_status_is_agreed_by_a_quorum(statuses, replicas):
    status = best_status(statuses, replicas)
    if status != 503:
        same_class = [s for s in statuses if s // 100 == status // 100]
        assert len(same_class) >= quorum_size(replicas)
        assert status in statuses


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_error_limiter_limits_after_limit_errors_and_forgets_after_interval():
    clock = Clock()
    limiter = ErrorLimiter(limit=3, interval=5.0, clock=clock)
    n = node(1)
    for _ in range(2):
        limiter.error(n)
    assert not limiter.is_limited(n)
    limiter.error(n)
    assert limiter.is_limited(n)
    assert not limiter.is_limited(node(2))
    clock.now += 4.9
    assert limiter.is_limited(n)
    clock.now += 0.2
    assert not limiter.is_limited(n)
    limiter.error(n)
    assert not limiter.is_limited(n)   # the count started again


def test_error_limiter_old_errors_do_not_accumulate():
    clock = Clock()
    limiter = ErrorLimiter(limit=3, interval=5.0, clock=clock)
    n = node(1)
    for _ in range(5):
        limiter.error(n)
        clock.now += 6
    assert not limiter.is_limited(n)


def test_limit_now_and_success():
    clock = Clock()
    limiter = ErrorLimiter(limit=3, interval=5.0, clock=clock)
    n = node(1)
    limiter.limit_now(n)
    assert limiter.is_limited(n)
    limiter.success(n)
    assert not limiter.is_limited(n)


def test_iter_nodes_primaries_then_handoffs_skipping_limited():
    clock = Clock()
    limiter = ErrorLimiter(limit=1, interval=5.0, clock=clock)
    primaries = [node(1), node(2), node(3)]
    handoffs = [node(4), node(5)]
    assert [n['id'] for n in iter_nodes(primaries, iter(handoffs), limiter)] == [1, 2, 3, 4, 5]
    limiter.error(node(2))
    limiter.error(node(5))
    # Limited nodes are tried last, after every healthy node: primaries first.
    assert [n['id'] for n in iter_nodes(primaries, iter(handoffs), limiter)] == [1, 3, 4, 2, 5]
    assert [n['id'] for n in iter_nodes(primaries, iter(handoffs), limiter,
                                        max_handoffs=0)] == [1, 3, 2]
    assert [n['id'] for n in iter_nodes(primaries, iter(handoffs), limiter,
                                        max_handoffs=1)] == [1, 3, 4, 2]
    limiter.error(node(4))
    assert [n['id'] for n in iter_nodes(primaries, iter(handoffs), limiter,
                                        max_handoffs=1)] == [1, 3, 2, 4]
    clock.now += 6
    assert [n['id'] for n in iter_nodes(primaries, iter(handoffs), limiter)] == [1, 2, 3, 4, 5]


def test_iter_nodes_is_lazy_about_handoffs():
    def handoffs():
        yield node(4)
        raise AssertionError('asked for too many handoffs')
    nodes = iter_nodes([node(1)], handoffs())
    assert next(nodes)['id'] == 1
    assert next(nodes)['id'] == 4


def test_newest():
    items = [('a', 3), ('b', None), ('c', 7), ('d', 7)]
    assert newest(items, lambda x: x[1])[0] == 'c'
    assert newest([('x', None)], lambda x: x[1])[0] == 'x'
    assert newest([], lambda x: x) is None


@pytest.mark.parametrize('found,missing,other,expected', [
    ([('a', 5)], [], [], 'a'),
    ([('a', 5), ('b', 7)], [], [], 'b'),
    ([('a', 7), ('b', 7)], [], [], 'a'),
    ([('a', 5)], [('gone', 6)], [], 'gone'),        # deleted after that version
    ([('a', 5)], [('gone', 4)], [], 'a'),           # deleted, then written again
    ([('a', 5)], [('never', None)], [], 'a'),       # that node never had it
    ([], [('x', None), ('t', 3)], [], 't'),
    ([], [('x', None)], [('bad', None)], 'bad'),
    ([], [], [], None),
])
def test_choose_read_answer(found, missing, other, expected):
    from swiftlike.proxy.node_iter import choose_read_answer
    choice = choose_read_answer(found, missing, other, lambda r: r[1])
    assert (choice[0] if choice else None) == expected
