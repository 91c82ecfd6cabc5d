"""Streamed object PUTs (Expect: 100-continue) against the in-memory cluster:
refusals before the body, nodes failing mid-body, conditional creates."""
import pytest

from tests.unit.proxy.fake_backend import call

PATH = '/a/c/o'
BODY = b'a streamed body of some length'


def stream_app(cluster, **conf):
    # Every body is streamed, four bytes at a time.
    return cluster.app(buffered_put_size=0, client_chunk_size=4, **conf)


def stored(cluster, path=PATH):
    return {i: n.objects[path].body for i, n in enumerate(cluster.object_nodes)
            if path in n.objects and not n.objects[path].deleted}


@pytest.mark.parametrize('chunked', [False, True])
def test_streamed_put_stores_three_replicas(cluster, chunked):
    resp = call(stream_app(cluster), 'PUT', '/v1' + PATH, body=BODY, chunked=chunked)
    assert resp.status == 201
    assert stored(cluster) == {0: BODY, 1: BODY, 2: BODY}
    assert all(h.get('expect') is None for *_x, h in cluster.requests('PUT', PATH)) or chunked


@pytest.mark.parametrize('status', [507, 503])
def test_a_refusal_before_the_body_moves_to_a_handoff(cluster, status):
    cluster.object_nodes[1].expect_status = status
    app = stream_app(cluster)
    assert call(app, 'PUT', '/v1' + PATH, body=BODY).status == 201
    assert stored(cluster) == {0: BODY, 2: BODY, 3: BODY}
    limited = app.limiter.is_limited(cluster.object_nodes[1].dev)
    assert limited == (status == 507)      # a 503 counts as one error


def test_refusals_everywhere_are_503(cluster):
    for node in cluster.object_nodes[1:]:
        node.expect_status = 507
    assert call(stream_app(cluster), 'PUT', '/v1' + PATH, body=BODY).status == 503
    assert stored(cluster) == {}


@pytest.mark.parametrize('fail_after', [0, 5, len(BODY) - 1])
def test_a_node_failing_mid_body_still_leaves_a_quorum(cluster, fail_after):
    cluster.object_nodes[2].put_fail_after = fail_after
    resp = call(stream_app(cluster), 'PUT', '/v1' + PATH, body=BODY)
    assert resp.status == 201
    assert stored(cluster) == {0: BODY, 1: BODY}


def test_two_nodes_failing_mid_body_is_503_and_stores_nothing(cluster):
    cluster.object_nodes[0].put_fail_after = 3
    cluster.object_nodes[1].put_fail_after = 9
    resp = call(stream_app(cluster), 'PUT', '/v1' + PATH, body=BODY)
    assert resp.status == 503
    assert stored(cluster) == {}


@pytest.mark.parametrize('buffered', [False, True])
@pytest.mark.parametrize('existing_on', [(0,), (2,), (0, 1, 2)])
def test_if_none_match_refused_by_one_node_is_412(cluster, buffered, existing_on):
    """One replica with the object is enough to refuse a create-only PUT,
    and no replica is written (a newer write would otherwise replace the
    existing object everywhere once replicas converge)."""
    cluster.put_object(PATH, b'original', nodes=existing_on)
    app = cluster.app() if buffered else stream_app(cluster)
    resp = call(app, 'PUT', '/v1' + PATH, body=BODY, headers={'If-None-Match': '*'})
    assert resp.status == 412
    assert stored(cluster) == {i: b'original' for i in existing_on}


def test_an_empty_create_only_put_is_refused_by_one_node(cluster):
    # No Expect for an empty body: the refusal comes with the final answers.
    cluster.put_object(PATH, b'original', nodes=[1])
    resp = call(stream_app(cluster), 'PUT', '/v1' + PATH, headers={'If-None-Match': '*'})
    assert resp.status == 412
    assert stored(cluster)[1] == b'original'


def test_if_none_match_creates_when_no_replica_has_it(cluster):
    cluster.put_object(PATH, b'original', nodes=[1], deleted=True)
    resp = call(stream_app(cluster), 'PUT', '/v1' + PATH, body=BODY,
                headers={'If-None-Match': '*'})
    assert resp.status == 201
    assert stored(cluster) == {0: BODY, 1: BODY, 2: BODY}


def test_etag_mismatch_is_422_everywhere(cluster):
    resp = call(stream_app(cluster), 'PUT', '/v1' + PATH, body=BODY,
                headers={'ETag': 'd41d8cd98f00b204e9800998ecf8427e'})
    assert resp.status == 422
    assert stored(cluster) == {}


def test_a_slow_node_before_100_continue_is_replaced(cluster):
    slow = cluster.object_nodes[0]
    slow.slow = True
    resp = call(stream_app(cluster, node_timeout=0.01), 'PUT', '/v1' + PATH, body=BODY)
    slow.wake.send()
    assert resp.status == 201
    assert stored(cluster) == {1: BODY, 2: BODY, 3: BODY}


@pytest.mark.parametrize('buffered', [False, True])
def test_a_client_stopping_short_stores_nothing(cluster, buffered):
    cluster.put_object(PATH, b'original')
    app = cluster.app() if buffered else stream_app(cluster)
    resp = call(app, 'PUT', '/v1' + PATH, body=BODY, content_length=len(BODY) + 10)
    assert resp.status == 499
    assert stored(cluster) == {0: b'original', 1: b'original', 2: b'original'}


@pytest.mark.parametrize('size,timeout', [
    (1, 60.0), (65536, 60.0), (65537, 60.0 * 65537 / 65536), (1 << 20, 960.0), (0, 60.0),
])
def test_a_client_may_take_client_timeout_per_64_kib_of_a_read(size, timeout):
    # A bigger client_chunk_size asks no more speed of a slow client than
    # 64 KiB reads did (a client sending nothing is caught per receive).
    from swiftlike.constraints import body_read_timeout
    assert body_read_timeout(size, 60.0) == pytest.approx(timeout)
