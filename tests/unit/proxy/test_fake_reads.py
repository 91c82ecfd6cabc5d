"""Object reads against the in-memory cluster: down and slow nodes, X-Newest,
stale replicas, tombstones, and resuming a broken body on another replica."""
import pytest
from hypothesis import given, settings, strategies as st

from swiftlike.middleware.environ_keys import WRITE_ONCE_READ_KEY
from swiftlike.timestamp import Timestamp
from tests.unit.proxy.fake_backend import FakeCluster, call

PATH = '/a/c/o'
BODY = b'0123456789abcdefghij'


def test_a_down_primary_is_skipped(cluster):
    cluster.put_object(PATH, BODY)
    cluster.object_nodes[0].down = True
    app = cluster.app()
    resp = call(app, 'GET', '/v1' + PATH)
    assert (resp.status, resp.body) == (200, BODY)
    assert resp.headers['Content-Length'] == str(len(BODY))
    assert 'sda' in [dev for dev, *_ in cluster.requests('GET', PATH)]


def test_a_slow_primary_times_out_and_another_answers(cluster):
    cluster.put_object(PATH, BODY)
    slow = cluster.object_nodes[0]
    slow.slow = True
    app = cluster.app(node_timeout=0.01)
    resp = call(app, 'GET', '/v1' + PATH)
    slow.wake.send()       # its answer would come now: too late
    assert (resp.status, resp.body) == (200, BODY)


@pytest.mark.parametrize('method', ['GET', 'HEAD'])
@pytest.mark.parametrize('order', [(1, 2, 3), (3, 2, 1), (2, 3, 1)])
def test_x_newest_returns_the_newest_of_three_replicas(cluster, method, order):
    for i, ts in enumerate(order):
        cluster.put_object(PATH, b'version %d' % ts, ts=ts, nodes=[i])
    resp = call(cluster.app(), method, '/v1' + PATH, headers={'X-Newest': 'true'})
    assert resp.status == 200
    assert resp.headers['Content-Length'] == '9'
    assert resp.headers['X-Timestamp'] == '0000000003.00000'
    if method == 'GET':
        assert resp.body == b'version 3'


def test_x_newest_with_a_primary_down_asks_a_handoff(cluster):
    cluster.put_object(PATH, b'old', ts=1, nodes=[1, 2])
    cluster.put_object(PATH, b'new', ts=2, nodes=[3])
    cluster.object_nodes[0].down = True
    resp = call(cluster.app(), 'GET', '/v1' + PATH, headers={'X-Newest': 'yes'})
    assert resp.body == b'new'


def test_a_write_that_reached_one_primary_is_found_with_x_newest(cluster):
    cluster.put_object(PATH, b'v1', ts=1)
    app = cluster.app()
    cluster.object_nodes[0].down = cluster.object_nodes[1].down = True
    assert call(app, 'PUT', '/v1' + PATH, body=b'v2').status == 201
    cluster.object_nodes[0].down = cluster.object_nodes[1].down = False
    # Two primaries still hold v1: the default read quorum sees only them.
    assert call(app, 'GET', '/v1' + PATH).body == b'v1'
    assert call(app, 'GET', '/v1' + PATH, headers={'X-Newest': 'true'}).body == b'v2'


@pytest.mark.parametrize('get_fault', ['status', 'down'])
def test_a_newer_version_is_fetched_elsewhere_when_its_node_fails_the_get(cluster, get_fault):
    cluster.put_object(PATH, b'old', ts=1, nodes=[0])
    cluster.put_object(PATH, b'new', ts=2, nodes=[1, 2])
    probed = cluster.object_nodes[1]
    probed.fault_methods = {'GET'}         # its HEAD answers, its GET fails
    if get_fault == 'status':
        probed.status = 503
    else:
        probed.down = True
    resp = call(cluster.app(), 'GET', '/v1' + PATH)
    assert (resp.status, resp.body) == (200, b'new')


def test_the_older_body_is_served_when_no_node_gives_the_newer(cluster):
    cluster.put_object(PATH, b'old', ts=1, nodes=[0, 2])
    cluster.put_object(PATH, b'new', ts=2, nodes=[1])
    cluster.object_nodes[1].fault_methods = {'GET'}
    cluster.object_nodes[1].status = 503
    resp = call(cluster.app(), 'GET', '/v1' + PATH)
    assert (resp.status, resp.body) == (200, b'old')


@pytest.mark.parametrize('fanout,expected', [
    (1, b'stale'),     # one node asked: the first primary's answer
    (2, b'fresh'),     # the second primary's HEAD shows a newer version
    (3, b'fresh'),
])
def test_read_fanout_avoids_a_stale_replica_it_sees(cluster, fanout, expected):
    cluster.put_object(PATH, b'stale', ts=1, nodes=[0])
    cluster.put_object(PATH, b'fresh', ts=2, nodes=[1, 2])
    resp = call(cluster.app(object_read_fanout=fanout), 'GET', '/v1' + PATH)
    assert (resp.status, resp.body) == (200, expected)
    # One body is read; the other replicas were only asked for their version.
    assert len(cluster.requests('GET', PATH)) == (1 if expected == b'stale' else 2)


def test_a_write_once_read_asks_one_replica_and_falls_back(cluster):
    # An appendable object's piece (never overwritten): no version probe.
    cluster.put_object(PATH, BODY, ts=1, nodes=[1, 2])
    app = cluster.app(object_read_fanout=3)
    resp = call(app, 'GET', '/v1' + PATH, environ={WRITE_ONCE_READ_KEY: True})
    assert (resp.status, resp.body) == (200, BODY)
    # The first primary lacks it: the read goes on to the next, one at a time.
    assert len(cluster.requests('GET', PATH)) == 2
    assert cluster.requests('HEAD', PATH) == []


@pytest.mark.parametrize('stored,expected', [
    # (node: (ts, deleted)), the status a client gets
    ({0: (3, True), 1: (2, False), 2: (2, False)}, 404),   # newer tombstone wins
    ({0: (1, True), 1: (2, False), 2: (2, False)}, 200),   # older tombstone loses
    ({0: (1, False), 1: (3, True), 2: (3, True)}, 404),    # the probe sees a newer tombstone
    ({0: (1, False), 1: (3, True), 3: (2, False)}, 404),   # ... older data on a handoff
    ({1: (2, False), 2: (3, True)}, 200),                  # the tombstone is not seen
    ({}, 404),                                             # 404 from every primary
    ({2: (2, False)}, 200),                                # two 404s are not enough
    ({0: (1, True), 1: (1, True), 2: (2, False)}, 200),    # a PUT after the DELETE
    ({0: (2, True)}, 404),
    ({0: (2, True), 3: (1, False)}, 404),                  # a handoff is not asked
])
def test_not_found_and_tombstones(cluster, stored, expected):
    for i, (ts, deleted) in stored.items():
        cluster.put_object(PATH, BODY, ts=ts, nodes=[i], deleted=deleted)
    resp = call(cluster.app(), 'GET', '/v1' + PATH)
    assert resp.status == expected
    if expected == 200:
        assert resp.body == BODY


def test_not_found_asks_every_primary_and_no_handoff(cluster):
    assert call(cluster.app(), 'GET', '/v1' + PATH).status == 404
    asked = [dev for dev, _m, path, _h in cluster.log if path == PATH]
    assert asked == ['sda', 'sdb', 'sdc']


def test_a_put_acknowledged_while_two_primaries_were_down_reads_back(cluster):
    app = cluster.app()
    cluster.object_nodes[0].down = cluster.object_nodes[1].down = True
    assert call(app, 'PUT', '/v1' + PATH, body=b'data').status == 201
    # They come back empty (replication has not moved the handoffs' copies yet).
    cluster.object_nodes[0].down = cluster.object_nodes[1].down = False
    for method in ('GET', 'HEAD'):
        resp = call(app, method, '/v1' + PATH)
        assert resp.status == 200
    assert resp.headers['Content-Length'] == '4'


@pytest.mark.parametrize('chunk', [1, 4, 7, 64])
def test_get_resumes_on_another_replica_with_if_match(cluster, chunk):
    cluster.put_object(PATH, BODY)
    cluster.object_nodes[0].fail_after = 5
    resp = call(cluster.app(object_chunk_size=chunk), 'GET', '/v1' + PATH)
    assert resp.error is None
    assert (resp.status, resp.body) == (200, BODY)
    resumed = [h for dev, _m, _p, h in cluster.requests('GET', PATH) if dev != 'sda']
    assert len(resumed) == 1
    assert resumed[0]['range'] == 'bytes=5-'
    assert resumed[0]['if-match'] == cluster.object_nodes[0].objects[PATH].etag


def test_get_resumes_twice(cluster):
    cluster.put_object(PATH, BODY)
    cluster.object_nodes[0].fail_after = 5
    cluster.object_nodes[1].fail_after = 12      # of the whole object
    resp = call(cluster.app(object_chunk_size=3), 'GET', '/v1' + PATH)
    assert (resp.status, resp.body, resp.error) == (200, BODY, None)


def test_a_resume_skips_a_replica_with_another_etag(cluster):
    cluster.put_object(PATH, BODY, ts=2, nodes=[0, 2])
    cluster.put_object(PATH, b'something else entirely', ts=1, nodes=[1])
    cluster.object_nodes[0].fail_after = 5
    resp = call(cluster.app(object_chunk_size=4), 'GET', '/v1' + PATH)
    assert (resp.status, resp.body, resp.error) == (200, BODY, None)
    statuses = [dev for dev, _m, _p, h in cluster.requests('GET', PATH) if 'if-match' in h]
    assert statuses == ['sdb', 'sdc']


@pytest.mark.parametrize('others', ['down', 'other etag', 'gone'])
def test_when_no_replica_can_resume_the_body_ends_short(cluster, others):
    cluster.put_object(PATH, BODY, ts=2, nodes=[0])
    for node in cluster.object_nodes[1:3]:
        if others == 'down':
            cluster.put_object(PATH, BODY, ts=2, nodes=[1, 2])
            node.down = True
        elif others == 'other etag':
            cluster.put_object(PATH, b'older and different', ts=1, nodes=[1, 2])
    cluster.object_nodes[0].fail_after = 7
    resp = call(cluster.app(object_chunk_size=4, object_read_fanout=1), 'GET', '/v1' + PATH)
    assert resp.status == 200
    assert resp.headers['Content-Length'] == str(len(BODY))
    # A short read the client can detect, never other bytes in its place.
    assert resp.body == BODY[:7]
    assert resp.error is not None


def test_a_ranged_get_is_not_resumed(cluster):
    cluster.put_object(PATH, BODY)
    cluster.object_nodes[0].fail_after = 2
    resp = call(cluster.app(object_read_fanout=1), 'GET', '/v1' + PATH,
                headers={'Range': 'bytes=3-9'})
    assert resp.status == 206
    assert resp.body == BODY[3:5] and resp.error is not None


def test_a_client_leaving_mid_body_closes_the_backend_connection(cluster):
    from swiftlike.http import Request
    cluster.put_object(PATH, BODY)
    app = cluster.app(object_chunk_size=4)
    body = app(Request.blank('/v1' + PATH).environ, lambda *a: None)
    assert next(iter(body)) == BODY[:4]
    body.close()
    assert cluster.open_conns() == []


def test_container_listing_x_newest_and_a_down_node(cluster):
    for i, names in enumerate(({'a': 1}, {'a': 1, 'b': 2}, {'a': 1})):
        cluster.container_nodes[i].dbs['/a/c']['rows'] = {
            n: {'bytes': size, 'hash': ''} for n, size in names.items()}
        cluster.container_nodes[i].dbs['/a/c']['ts'] = Timestamp(i + 1)
    cluster.container_nodes[0].down = True
    app = cluster.app()
    # One node asked: the next primary in place of the down one.
    assert call(app, 'GET', '/v1/a/c').body == b'a\nb\n'
    # Every primary (a handoff for the down one): the newest database.
    assert call(app, 'GET', '/v1/a/c', headers={'X-Newest': 'true'}).body == b'a\n'
    cluster.container_nodes[2].down = True
    assert call(app, 'GET', '/v1/a/c', headers={'X-Newest': 'true'}).body == b'a\nb\n'


# Per primary: nothing, an object or a tombstone; timestamps differ (no two
# writes share one), and any primary may be down.
replica_kind = st.sampled_from(['absent', 'object', 'tombstone'])


@settings(max_examples=60, deadline=None)
@given(kinds=st.lists(replica_kind, min_size=3, max_size=3),
       stamps=st.permutations([1, 2, 3]),
       down=st.lists(st.booleans(), min_size=3, max_size=3))
def test_x_newest_answers_with_the_newest_reachable_primary(kinds, stamps, down):
    with pytest.MonkeyPatch.context() as mp:
        cluster = FakeCluster()
        cluster.install(mp)
        cluster.put_container('a', 'c')
        newest_seen = None
        for i, (kind, ts) in enumerate(zip(kinds, stamps)):
            if kind == 'absent':
                continue
            cluster.put_object(PATH, b'v%d' % ts, ts=ts, nodes=[i], deleted=kind == 'tombstone')
            if not down[i] and (newest_seen is None or ts > newest_seen[0]):
                newest_seen = (ts, kind)
        for i, is_down in enumerate(down):
            cluster.object_nodes[i].down = is_down
        resp = call(cluster.app(), 'GET', '/v1' + PATH, headers={'X-Newest': 'true'})
        if newest_seen is None or newest_seen[1] == 'tombstone':
            assert resp.status == 404
        else:
            assert (resp.status, resp.body) == (200, b'v%d' % newest_seen[0])
        assert cluster.open_conns() == []


@settings(max_examples=60, deadline=None)
@given(holders=st.sets(st.integers(0, 2), min_size=2),
       newest_kind=st.sampled_from(['object', 'tombstone']),
       older=st.lists(replica_kind, min_size=3, max_size=3),
       down=st.sampled_from([None, 0, 1, 2]))
def test_a_read_never_misses_a_write_a_quorum_of_primaries_holds(holders, newest_kind, older,
                                                                 down):
    with pytest.MonkeyPatch.context() as mp:
        cluster = FakeCluster()
        cluster.install(mp)
        cluster.put_container('a', 'c')
        for i in range(3):
            kind, ts = (newest_kind, 9) if i in holders else (older[i], i + 1)
            if kind != 'absent':
                cluster.put_object(PATH, b'v%d' % ts, ts=ts, nodes=[i],
                                   deleted=kind == 'tombstone')
        if down is not None:
            cluster.object_nodes[down].down = True
        resp = call(cluster.app(), 'GET', '/v1' + PATH)
        if newest_kind == 'tombstone':
            assert resp.status == 404
        else:
            assert (resp.status, resp.body) == (200, b'v9')
