"""The proxy with storage nodes down: writes go to handoffs and still reach
three devices, reads still work, and a node that comes back with an old
version does not get that old version served."""
import glob
import os
import time

import pytest

from swiftlike.hashing import hash_path
from swiftlike.ring import Ring
from tests.functional.proxy_helpers import Api, unique


@pytest.fixture(scope='module')
def api(cluster):
    return Api(cluster)


@pytest.fixture
def restore(cluster):
    yield
    cluster.ensure_running()
    # Let the proxy's error limiting forget the restarted nodes.
    time.sleep(0.5)


def _object_server_for(cluster, node):
    for server in cluster.object_servers:
        if server.port == node['port'] and server.device == node['device']:
            return server
    raise AssertionError('no object server for %r' % node)


def _devices_holding(cluster, account, container, obj):
    ring = Ring(cluster.swift_dir, 'object')
    part = ring.get_part(account, container, obj)
    name_hash = hash_path(account, container, obj)
    holders = []
    for server in cluster.object_servers:
        pattern = os.path.join(server.device_path, 'objects', str(part), name_hash[-3:],
                               name_hash, '*.data')
        if glob.glob(pattern):
            holders.append(server.device)
    return holders


def test_put_and_get_with_a_primary_down(cluster, api, restore):
    account = api.account_path.rsplit('/', 1)[-1]
    c = api.put_container()
    obj = unique('obj')
    ring = Ring(cluster.swift_dir, 'object')
    _part, primaries = ring.get_nodes(account, c, obj)
    victim = _object_server_for(cluster, primaries[0])
    cluster.kill_server('object', victim.index)
    data = os.urandom(200000)
    status, h, body = api.request('PUT', '/%s/%s' % (c, obj), body=data)
    assert status == 201, body
    status, _h, body = api.request('GET', '/%s/%s' % (c, obj))
    assert status == 200 and body == data
    holders = _devices_holding(cluster, account, c, obj)
    assert len(holders) == 3 and victim.device not in holders
    # Small objects and chunked uploads too, several times (error limiting
    # must not break anything while the node stays down).
    for i in range(5):
        small = b'small %d' % i
        assert api.request('PUT', '/%s/s%d' % (c, i), body=small)[0] == 201
        assert api.request('GET', '/%s/s%d' % (c, i))[2] == small
    assert api.request('PUT', '/%s/ch' % c, {'Transfer-Encoding': 'chunked'}, data)[0] == 201
    assert api.request('GET', '/%s/ch' % c)[2] == data
    assert api.request('DELETE', '/%s/s0' % c)[0] == 204
    assert api.request('GET', '/%s/s0' % c)[0] == 404


def test_returning_node_does_not_serve_stale_data(cluster, api, restore):
    account = api.account_path.rsplit('/', 1)[-1]
    c = api.put_container()
    obj = unique('stale')
    ring = Ring(cluster.swift_dir, 'object')
    _part, primaries = ring.get_nodes(account, c, obj)
    api.put_object(c, obj, b'old version')
    victim = _object_server_for(cluster, primaries[0])
    cluster.kill_server('object', victim.index)
    api.put_object(c, obj, b'new version')
    cluster.start_server('object', victim.index)
    # The restarted node still holds the old version; the first primary is
    # asked first, yet the newer answer of another primary wins.
    for _ in range(5):
        status, _h, body = api.request('GET', '/%s/%s' % (c, obj))
        assert status == 200 and body == b'new version'
    # A delete while it was down must not resurrect the object either.
    cluster.kill_server('object', victim.index)
    assert api.request('DELETE', '/%s/%s' % (c, obj))[0] == 204
    cluster.start_server('object', victim.index)
    for _ in range(5):
        assert api.request('GET', '/%s/%s' % (c, obj))[0] == 404


def test_container_server_down(cluster, api, restore):
    account = api.account_path.rsplit('/', 1)[-1]
    name = unique()
    ring = Ring(cluster.swift_dir, 'container')
    _part, primaries = ring.get_nodes(account, name)
    victim = next(s for s in cluster.container_servers if s.port == primaries[0]['port'])
    cluster.kill_server('container', victim.index)
    assert api.request('PUT', '/' + name)[0] == 201
    api.put_object(name, 'o', b'x')
    status, _h, body = api.request('GET', '/' + name)
    assert status == 200
    assert api.request('GET', '/%s/o' % name)[2] == b'x'


def test_two_object_servers_down_still_quorum_of_three_devices(cluster, api, restore):
    """With 2 of 4 object servers gone, the remaining 2 form a quorum."""
    c = api.put_container()
    cluster.kill_server('object', 1)
    cluster.kill_server('object', 2)
    status, _h, body = api.request('PUT', '/%s/two-down' % c, body=b'x')
    assert status == 201, body
    assert api.request('GET', '/%s/two-down' % c)[2] == b'x'


def test_three_object_servers_down_is_503(cluster, api, restore):
    c = api.put_container()
    for index in (1, 2, 3):
        cluster.kill_server('object', index)
    status, h, body = api.request('PUT', '/%s/nope' % c, body=b'x')
    assert status == 503
    assert 'x-trans-id' in h


def test_restarted_node_is_used_again_within_seconds(cluster, api, restore):
    account = api.account_path.rsplit('/', 1)[-1]
    c = api.put_container()
    ring = Ring(cluster.swift_dir, 'object')
    victim = cluster.object_servers[0]
    # Objects that have the victim as a primary.
    names = []
    i = 0
    while len(names) < 12:
        name = 'el-%d' % i
        i += 1
        _part, nodes = ring.get_nodes(account, c, name)
        if any(n['port'] == victim.port and n['device'] == victim.device for n in nodes):
            names.append(name)
    cluster.kill_server('object', victim.index)
    for name in names[:6]:   # enough failures to get the node error-limited
        assert api.request('PUT', '/%s/%s' % (c, name), body=b'x')[0] == 201
    cluster.start_server('object', victim.index)
    time.sleep(5.5)          # error_suppression_interval is 5 s
    for name in names[6:]:
        assert api.request('PUT', '/%s/%s' % (c, name), body=b'y')[0] == 201
        assert victim.device in _devices_holding(cluster, account, c, name), name


def test_get_resumes_from_another_replica_when_the_node_dies_mid_body(cluster, api, restore):
    import hashlib
    import http.client
    account = api.account_path.rsplit('/', 1)[-1]
    c = api.put_container()
    obj = unique('resume')
    data = os.urandom(40 * 1024 * 1024)
    assert api.request('PUT', '/%s/%s' % (c, obj), body=data)[0] == 201
    ring = Ring(cluster.swift_dir, 'object')
    _part, primaries = ring.get_nodes(account, c, obj)
    with open(cluster.proxy.log_path, 'rb') as f:
        log_start = len(f.read())
    conn = http.client.HTTPConnection(api.host, api.port, timeout=60)
    conn.request('GET', '%s/%s/%s' % (api.account_path, c, obj),
                 headers={'X-Auth-Token': api.token})
    resp = conn.getresponse()
    assert resp.status == 200
    got = [resp.read(1024 * 1024)]
    # Both primaries asked first are killed: whichever one serves the body dies.
    for node in primaries[:2]:
        cluster.kill_server('object', _object_server_for(cluster, node).index)
    while True:
        chunk = resp.read(1024 * 1024)
        if not chunk:
            break
        got.append(chunk)
    conn.close()
    body = b''.join(got)
    assert len(body) == len(data)
    assert hashlib.md5(body).digest() == hashlib.md5(data).digest()
    with open(cluster.proxy.log_path, 'rb') as f:
        log = f.read()[log_start:]
    assert b'resuming' in log
