"""Object and container writes against the in-memory cluster: quorum,
handoffs, 507s, and the status a quorum agrees on."""
import pytest

from tests.unit.proxy.fake_backend import FakeCluster, call

PATH = '/a/c/o'


def stored_on(cluster, path=PATH):
    return [i for i, ts in enumerate(cluster.versions(path))
            if ts is not None and not cluster.object_nodes[i].objects[path].deleted]


def test_put_with_one_primary_down_lands_on_a_handoff(cluster):
    cluster.object_nodes[0].down = True
    resp = call(cluster.app(), 'PUT', '/v1' + PATH, body=b'hello')
    assert resp.status == 201
    assert stored_on(cluster) == [1, 2, 3]
    assert cluster.object_nodes[3].objects[PATH].body == b'hello'


@pytest.mark.parametrize('down,expected_on', [
    ((0, 1), [2, 3, 4]),
    ((0, 1, 2), [3, 4, 5]),
    ((1, 3), [0, 2, 4]),       # a handoff down too: the next handoff
])
def test_put_moves_on_through_handoffs(cluster, down, expected_on):
    for i in down:
        cluster.object_nodes[i].down = True
    assert call(cluster.app(), 'PUT', '/v1' + PATH, body=b'x').status == 201
    assert stored_on(cluster) == expected_on


def test_put_without_a_quorum_is_503(monkeypatch):
    cluster = FakeCluster(object_nodes=3)      # no handoffs
    cluster.install(monkeypatch)
    cluster.put_container('a', 'c')
    cluster.object_nodes[0].down = cluster.object_nodes[2].down = True
    resp = call(cluster.app(), 'PUT', '/v1' + PATH, body=b'hello')
    assert resp.status == 503
    assert cluster.open_conns() == []


def test_a_full_node_is_replaced_and_error_limited(cluster):
    cluster.object_nodes[1].status = 507
    app = cluster.app()
    assert call(app, 'PUT', '/v1' + PATH, body=b'one').status == 201
    assert stored_on(cluster) == [0, 2, 3]
    assert app.limiter.is_limited(cluster.object_nodes[1].dev)
    # The next write does not ask it again.
    cluster.log.clear()
    assert call(app, 'PUT', '/v1/a/c/p', body=b'two').status == 201
    assert [dev for dev, *_ in cluster.requests('PUT', '/a/c/p')] == ['sda', 'sdc', 'sdd']


@pytest.mark.parametrize('method,on,down,expected', [
    # statuses per replica, as best_status decides them
    ('POST', (0, 1, 2), (), 202),
    ('POST', (0, 1), (), 202),           # 202 202 404
    ('POST', (0,), (), 404),             # 202 404 404
    ('POST', (), (), 404),
    ('POST', (0, 1, 2), (0,), 202),      # handoff says 404: 202 202 404
    ('POST', (0, 1, 2), (0, 1), 404),    # 202 404 404 (two handoffs)
    ('DELETE', (0, 1, 2), (), 204),
    ('DELETE', (0, 1), (), 204),         # 204 204 404
    ('DELETE', (0,), (), 404),           # 204 404 404
    ('DELETE', (), (), 404),
    ('DELETE', (0, 1, 2), (2,), 204),
])
def test_post_and_delete_statuses(cluster, method, on, down, expected):
    cluster.put_object(PATH, b'data', nodes=on)
    for i in down:
        cluster.object_nodes[i].down = True
    resp = call(cluster.app(), method, '/v1' + PATH, headers={'X-Object-Meta-Color': 'red'})
    assert resp.status == expected


def test_delete_leaves_tombstones_where_it_wrote(cluster):
    cluster.put_object(PATH, b'data', nodes=(0, 1, 2))
    cluster.object_nodes[2].down = True
    assert call(cluster.app(), 'DELETE', '/v1' + PATH).status == 204
    assert [n.objects[PATH].deleted for n in cluster.object_nodes[:4]] == [True, True, False, True]


@pytest.mark.parametrize('holders', [(0, 1, 2), (2,)])
def test_a_delete_answers_with_the_deleted_objects_sysmeta_from_any_replica(cluster, holders):
    # The append middleware learns from it that an appendable object's
    # pieces must go too, even when the answer chosen for the status came
    # from a replica that had missed the object.
    cluster.put_object(PATH, b'data', nodes=(0, 1, 2))
    for i in holders:
        cluster.object_nodes[i].objects[PATH].meta['X-Object-Sysmeta-Append-Format'] = '1'
    resp = call(cluster.app(), 'DELETE', '/v1' + PATH)
    assert resp.status == 204
    assert resp.headers.get('X-Object-Sysmeta-Append-Format') == '1'


def test_post_and_delete_without_a_quorum_are_503(cluster):
    cluster.put_object(PATH, b'data')
    for node in cluster.object_nodes[1:]:
        node.status = 503
    app = cluster.app()
    assert call(app, 'POST', '/v1' + PATH).status == 503
    assert call(app, 'DELETE', '/v1' + PATH).status == 503
    # The one node that answered kept the object: no half-done delete shows.
    assert not cluster.object_nodes[0].objects[PATH].deleted or \
        cluster.object_nodes[1].objects[PATH].body == b'data'


def test_a_newer_replica_turns_a_put_into_202(cluster):
    cluster.put_object(PATH, b'future', ts=4102444800, nodes=(0, 1, 2))
    resp = call(cluster.app(), 'PUT', '/v1' + PATH, body=b'now')
    assert resp.status == 202
    assert [cluster.object_nodes[i].objects[PATH].body for i in (0, 1, 2)] == [b'future'] * 3


def test_put_into_a_missing_container_is_404(cluster):
    resp = call(cluster.app(), 'PUT', '/v1/a/nope/o', body=b'x')
    assert resp.status == 404
    assert cluster.requests('PUT', '/a/nope/o') == []


def test_container_put_and_listing_with_a_node_down(cluster):
    cluster.container_nodes[0].down = True
    app = cluster.app()
    assert call(app, 'PUT', '/v1/a/d').status == 201
    assert call(app, 'PUT', '/v1/a/d/x', body=b'12345').status == 201
    listing = call(app, 'GET', '/v1/a/d')
    assert (listing.status, listing.body) == (200, b'x\n')
    head = call(app, 'HEAD', '/v1/a/d')
    assert head.headers['X-Container-Object-Count'] == '1'
    assert head.headers['X-Container-Bytes-Used'] == '5'


@pytest.mark.parametrize('objects_on,expected', [((), 204), ((0,), 204), ((0, 1), 409)])
def test_container_delete_quorum(cluster, objects_on, expected):
    for i in objects_on:
        cluster.container_nodes[i].dbs['/a/c']['rows']['o'] = {'bytes': 1}
    assert call(cluster.app(), 'DELETE', '/v1/a/c').status == expected


@pytest.mark.parametrize('replicas,down,expected', [
    (1, 0, 201), (1, 1, 503),
    (2, 1, 503),                 # quorum of 2 is 2
    (3, 1, 201), (3, 2, 503),
    (4, 1, 201), (4, 2, 503),    # quorum of 4 is 3
    (5, 2, 201), (5, 3, 503),
])
def test_write_quorum_by_replica_count(monkeypatch, replicas, down, expected):
    cluster = FakeCluster(replicas=replicas, object_nodes=replicas)   # no handoffs
    cluster.install(monkeypatch)
    cluster.put_container('a', 'c')
    for node in cluster.object_nodes[:down]:
        node.down = True
    app = cluster.app()
    assert call(app, 'PUT', '/v1' + PATH, body=b'x').status == expected
    stream = cluster.app(buffered_put_size=0)
    assert call(stream, 'PUT', '/v1/a/c/p', body=b'x').status == expected
    assert cluster.open_conns() == []


def test_a_slow_primary_is_replaced_on_write(cluster):
    slow = cluster.object_nodes[2]
    slow.slow = True
    resp = call(cluster.app(node_timeout=0.01), 'PUT', '/v1' + PATH, body=b'x')
    slow.wake.send()
    assert resp.status == 201
    assert stored_on(cluster) == [0, 1, 3]


def test_account_autocreated_by_the_first_container_put(cluster):
    app = cluster.app()
    assert call(app, 'HEAD', '/v1/b').status == 204     # not there yet: looks empty
    assert cluster.account_nodes[0].dbs.get('/b') is None
    cluster.account_nodes[1].down = True
    assert call(app, 'PUT', '/v1/b/c1').status == 201
    assert [('/b' in n.dbs) for n in cluster.account_nodes] == [True, False, True, True]
    listing = call(app, 'GET', '/v1/b', headers={'X-Newest': 'true'})
    assert (listing.status, listing.body) == (200, b'c1\n')
