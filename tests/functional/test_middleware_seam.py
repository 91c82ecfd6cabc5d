"""The seam middlewares stand on, end to end on a real cluster: system
metadata a middleware sets reaches the object servers and comes back, clients
can neither set nor see it, and a middleware's listing override (size, etag,
content type) is what the container listing shows, also after a POST."""
import json

import pytest

from swiftlike.ring import Ring
from swiftlike.timestamp import Timestamp
from tests.functional.proxy_helpers import Api, raw, unique


@pytest.fixture(scope='module')
def api(cluster):
    return Api(cluster)


def _backend_put(api, container, obj, body, headers):
    """PUT straight to the object servers, as the proxy does for a middleware's
    request, with container-update targets so the listing follows."""
    account = api.account_path.rsplit('/', 1)[1]
    part, nodes = Ring(api.cluster.swift_dir, ring_name='object').get_nodes(
        account, container, obj)
    cpart, cnodes = Ring(api.cluster.swift_dir, ring_name='container').get_nodes(
        account, container)
    ts = Timestamp.now().internal
    for node, cnode in zip(nodes, cnodes):
        hdrs = dict(headers, **{
            'X-Timestamp': ts, 'Content-Type': headers.get('Content-Type', 'text/plain'),
            'X-Container-Host': '%s:%s' % (cnode['ip'], cnode['port']),
            'X-Container-Device': cnode['device'], 'X-Container-Partition': str(cpart)})
        status, _h, body_out = raw(node['ip'], node['port'], 'PUT', '/%s/%d%s/%s/%s' % (
            node['device'], part, api.account_path[3:], container, obj), hdrs, body)
        assert status == 201, (status, body_out)
    return nodes, part


def _listing(api, container):
    status, _h, body = api.request('GET', '/' + container, query='format=json')
    assert status == 200
    return {item['name']: item for item in json.loads(body)}


def test_clients_cannot_set_or_see_sysmeta(api):
    c = api.put_container()
    status, _h, _b = api.request('PUT', '/%s/o' % c, {
        'X-Object-Sysmeta-Evil': 'x',
        'X-Object-Sysmeta-Container-Update-Override-Size': '999'}, b'abc')
    assert status == 201
    _s, h, _b = api.request('HEAD', '/%s/o' % c)
    assert not [k for k in h if 'sysmeta' in k]
    assert _listing(api, c)['o']['bytes'] == 3


def test_listing_override_and_sysmeta_round_trip(api):
    c = api.put_container()
    nodes, part = _backend_put(api, c, 'big', b'manifest', {
        'X-Object-Sysmeta-Test-State': 'kept',
        'X-Object-Sysmeta-Container-Update-Override-Etag': 'abc123; slo_etag=def',
        'X-Object-Sysmeta-Container-Update-Override-Content-Type':
            'text/plain;swift_bytes=5000;other=1'})
    item = _listing(api, c)['big']
    assert item['bytes'] == 5000
    # (the slo middleware in the pipeline lists the slo_etag parameter apart)
    assert (item['hash'], item['slo_etag']) == ('abc123', '"def"')
    assert item['content_type'] == 'text/plain;other=1'
    # The object itself is unchanged for clients, and its sysmeta is stored.
    status, h, body = api.request('GET', '/%s/big' % c)
    assert (status, body, h['content-length']) == (200, b'manifest', '8')
    assert 'x-object-sysmeta-test-state' not in h
    node = nodes[0]
    _s, bh, _b = raw(node['ip'], node['port'], 'HEAD', '/%s/%d%s/%s/big' % (
        node['device'], part, api.account_path[3:], c))
    assert bh['x-object-sysmeta-test-state'] == 'kept'
    # A POST changing the type keeps the override's parameters in the listing
    # and the stored sysmeta.
    assert api.request('POST', '/%s/big' % c, {'Content-Type': 'image/png'})[0] == 202
    item = _listing(api, c)['big']
    assert (item['bytes'], item['content_type']) == (5000, 'image/png;other=1')
    _s, bh, _b = raw(node['ip'], node['port'], 'HEAD', '/%s/%d%s/%s/big' % (
        node['device'], part, api.account_path[3:], c))
    assert bh['x-object-sysmeta-test-state'] == 'kept'


def test_bad_override_size_falls_back_to_real_size(api):
    c = api.put_container()
    _backend_put(api, c, 'o', b'12345', {
        'X-Object-Sysmeta-Container-Update-Override-Size': 'lots'})
    assert _listing(api, c)['o']['bytes'] == 5


def test_swift_bytes_garbage_is_listed_as_is(api):
    c = api.put_container()
    _backend_put(api, c, 'o', b'12', {
        'X-Object-Sysmeta-Container-Update-Override-Content-Type': 'a/b;swift_bytes=-1'})
    item = _listing(api, c)['o']
    assert (item['bytes'], item['content_type']) == (2, 'a/b;swift_bytes=-1')


def test_container_sysmeta_hidden(api):
    c = unique()
    assert api.request('PUT', '/' + c, {'X-Container-Sysmeta-Evil': '1'})[0] == 201
    _s, h, _b = api.request('HEAD', '/' + c)
    assert not [k for k in h if 'sysmeta' in k]
