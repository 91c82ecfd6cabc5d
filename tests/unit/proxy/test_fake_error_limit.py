"""Error limiting seen through requests: a node that keeps failing is left
alone for error_suppression_interval, then used again."""
from tests.unit.proxy.fake_backend import call

PATH = '/a/c/o'


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def asked(cluster, method='GET'):
    devs = [dev for dev, *_ in cluster.requests(method, PATH)]
    cluster.log.clear()
    return devs


def limited_app(cluster, **conf):
    app = cluster.app(error_suppression_limit=3, error_suppression_interval=5.0,
                      object_read_fanout=1, **conf)
    clock = app.limiter.clock = Clock()
    return app, clock


def test_a_failing_node_is_skipped_then_back_after_the_interval(cluster):
    cluster.put_object(PATH, b'data')
    bad = cluster.object_nodes[0]
    bad.status = 503
    app, clock = limited_app(cluster)
    for now in (1000, 1001, 1002):
        clock.now = now
        assert call(app, 'GET', '/v1' + PATH).body == b'data'
        assert asked(cluster) == ['sda', 'sdb']
    # Three errors: the node is left out until 5 s after the last one.
    for now in (1002, 1004, 1006.9):
        clock.now = now
        assert call(app, 'GET', '/v1' + PATH).body == b'data'
        assert asked(cluster) == ['sdb']
    # The node is healthy again; past the interval it is asked first again.
    bad.status = None
    clock.now = 1007.1
    assert call(app, 'GET', '/v1' + PATH).body == b'data'
    assert asked(cluster) == ['sda']


def test_errors_further_apart_than_the_interval_do_not_add_up(cluster):
    cluster.put_object(PATH, b'data')
    cluster.object_nodes[0].down = True
    app, clock = limited_app(cluster)
    for _ in range(5):
        call(app, 'GET', '/v1' + PATH)
        assert asked(cluster) == ['sda', 'sdb']
        clock.now += 6


def test_a_507_limits_at_once_and_writes_go_elsewhere(cluster):
    cluster.object_nodes[0].status = 507
    app, clock = limited_app(cluster)
    assert call(app, 'PUT', '/v1' + PATH, body=b'x').status == 201
    assert asked(cluster, 'PUT') == ['sda', 'sdb', 'sdc', 'sdd']
    assert call(app, 'PUT', '/v1' + PATH, body=b'y').status == 201
    assert asked(cluster, 'PUT') == ['sdb', 'sdc', 'sdd']
    cluster.object_nodes[0].status = None
    clock.now += 5.1
    assert call(app, 'PUT', '/v1' + PATH, body=b'z').status == 201
    assert asked(cluster, 'PUT') == ['sda', 'sdb', 'sdc']


def test_limited_nodes_are_still_tried_when_nothing_else_answers(cluster):
    cluster.put_object(PATH, b'data', nodes=[0])
    app, clock = limited_app(cluster)
    app.limiter.limit_now(cluster.object_nodes[0].dev)
    for node in cluster.object_nodes[1:]:
        node.down = True
    resp = call(app, 'GET', '/v1' + PATH)
    assert (resp.status, resp.body) == (200, b'data')


def test_a_success_clears_the_count(cluster):
    cluster.put_object(PATH, b'data')
    node = cluster.object_nodes[0]
    app, clock = limited_app(cluster)
    for status in (503, 503, None, 503, 503):
        node.status = status
        call(app, 'GET', '/v1' + PATH)
    assert not app.limiter.is_limited(node.dev)
