"""Probe: container updates survive a dead container server (object updater,
container updater), X-Delete-After (expirer) and account deletion (reaper)."""
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from swiftlike.hashing import name_shard
from swiftlike.timestamp import Timestamp
from tests.functional.conftest import http
from tests.probe.helpers import direct

WRITES = 200


def _container_listing(probe, container, account=None):
    """{replica node index: ([names], count header, bytes header)} straight from each replica."""
    account = account or probe.account
    part, nodes = probe.rings['container'].get_nodes(account, container)
    result = {}
    for node in nodes:
        status, headers, body = direct(node, 'GET', '/%s/%s/%s/%s' % (
            node['device'], part, account, container), query='format=json')
        assert status == 200, (node, status, body)
        result[probe.node_index('container', node['device'])] = (
            sorted(i['name'] for i in json.loads(body)),
            int(headers['X-Container-Object-Count']), int(headers['X-Container-Bytes-Used']))
    return result


def _async_records(probe, container):
    """async_pending records (on every object node) about `container`."""
    found = 0
    for server in probe.cluster.object_servers:
        for dirpath, _dirs, files in os.walk(os.path.join(server.device_path, 'async_pending')):
            for name in files:
                try:
                    with open(os.path.join(dirpath, name)) as f:
                        found += json.load(f).get('container') == container
                except (OSError, ValueError):
                    pass
    return found


def test_updates_missed_by_a_killed_container_server_land_exactly(probe):
    container = probe.new_container('asyncs')
    part, nodes = probe.rings['container'].get_nodes(probe.account, container)
    victim = probe.node_index('container', nodes[0]['device'])
    names = ['o%04d' % i for i in range(WRITES)]
    sizes = {n: 10 + i % 50 for i, n in enumerate(names)}
    killed = threading.Event()

    def write(i):
        if i == WRITES // 4 and not killed.is_set():
            probe.cluster.kill_server('container', victim)
            killed.set()
        return probe.put(container, names[i], b'x' * sizes[names[i]])

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(write, range(WRITES)))
    assert statuses == [201] * WRITES
    assert _async_records(probe, container) > 0, 'the missed updates should be recorded'
    probe.cluster.start_server('container', victim)

    probe.run('object-updater', options={'files_per_second': 0})

    assert _async_records(probe, container) == 0
    listings = _container_listing(probe, container)
    for node, (listed, count, used) in listings.items():
        assert listed == names, node
        assert (count, used) == (WRITES, sum(sizes.values())), node

    # The account hears the exact totals from the container updater.
    probe.run('container-updater')
    status, _h, body = probe.request('GET', '?format=json')
    assert status == 200
    entry = [c for c in json.loads(body) if c['name'] == container][0]
    assert (entry['count'], entry['bytes']) == (WRITES, sum(sizes.values()))
    status, headers, _ = probe.request('HEAD', '/' + container)
    assert int(headers['X-Container-Object-Count']) == WRITES


def test_expired_object_is_gone_from_get_and_listing_after_expirer_pass(probe):
    container = probe.new_container('expiry')
    assert probe.put(container, 'keeper', b'stays') == 201
    before = time.time()
    assert probe.put(container, 'short-lived', b'goes', {'X-Delete-After': '1'}) == 201
    after = time.time()
    # The object server queued it: a row '<delete_at>-<a>/<c>/<o>' in
    # .expiring_objects/<delete_at rounded down to a day>. (Read the queue rather
    # than HEAD the object: on a loaded machine it may already have expired.)
    suffix = '-%s/%s/short-lived' % (probe.account, container)
    buckets = {str(int(t) // 86400 * 86400) for t in (before, after + 2)}

    def queue_rows():
        rows = set()
        for bucket in buckets:
            qpart, qnodes = probe.rings['container'].get_nodes('.expiring_objects', bucket)
            for node in qnodes:
                status, _h, body = direct(node, 'GET', '/%s/%s/.expiring_objects/%s' % (
                    node['device'], qpart, bucket), query='format=json')
                if status == 200:
                    rows |= {i['name'] for i in json.loads(body) if i['name'].endswith(suffix)}
        return rows
    deadline = time.time() + 15      # the queue update may finish after the PUT answered
    queued = queue_rows()
    while not queued and time.time() < deadline:
        time.sleep(0.2)
        queued = queue_rows()
    assert len(queued) == 1, queued
    row = queued.pop()
    delete_at = int(row.split('-', 1)[0])
    assert int(before) + 1 <= delete_at <= int(after) + 2
    while time.time() < delete_at + 1:
        time.sleep(0.2)

    probe.run('object-expirer', nodes=[1])

    assert probe.get(container, 'short-lived')[0] == 404
    assert [i['name'] for i in probe.listing(container)] == ['keeper']
    assert row not in queue_rows()
    primaries, holders = probe.object_locations(container, 'short-lived')
    assert sorted(holders) == sorted(primaries)
    assert all(f[0] == Timestamp(delete_at).internal + '.ts' for f in holders.values())
    assert probe.get(container, 'keeper') == (200, b'stays')


def test_reaper_removes_a_deleted_accounts_data(probe):
    url, token = probe.cluster.get_auth('test2:tester2')
    account = url.rsplit('/', 1)[-1]
    hdrs = {'X-Auth-Token': token}
    # Shards 1 and 0 of 3 (name_shard): each primary reaps its own share.
    containers = {'reap-a': ['x1', 'x2', 'x3'], 'reap-d': ['y1']}
    for container, objs in containers.items():
        assert http('PUT', '%s/%s' % (url, container), hdrs)[0] in (201, 202)
        for obj in objs:
            assert http('PUT', '%s/%s/%s' % (url, container, obj), hdrs, b'data')[0] == 201
    # Delete the account on its servers (what a reseller admin's DELETE does).
    apart, anodes = probe.rings['account'].get_nodes(account)
    ts = Timestamp.now().internal
    for node in anodes:
        status, _h, body = direct(node, 'DELETE', '/%s/%s/%s' % (node['device'], apart, account),
                                  {'X-Timestamp': ts})
        assert status in (204, 404), (status, body)

    # One primary's reaper empties only its own share of the containers.
    first = probe.node_index('account', anodes[0]['device'])
    probe.run('account-reaper', nodes=[first], options={'files_per_second': 0})
    for container in containers:
        cpart, cnodes = probe.rings['container'].get_nodes(account, container)
        node = cnodes[0]
        status, _h, _b = direct(node, 'HEAD', '/%s/%s/%s/%s' % (node['device'], cpart,
                                                             account, container))
        assert (status == 404) == (name_shard(container, len(anodes)) == 0), status

    probe.run('account-reaper', options={'files_per_second': 0})

    for container, objs in containers.items():
        for obj in objs:
            primaries, holders = probe.object_locations(container, obj, account=account)
            assert holders and all(f[0].endswith('.ts') for f in holders.values()), holders
        cpart, cnodes = probe.rings['container'].get_nodes(account, container)
        for node in cnodes:
            status, _h, _b = direct(node, 'HEAD', '/%s/%s/%s/%s' % (node['device'], cpart,
                                                                 account, container))
            assert status == 404, (container, node, status)
    for node in anodes:
        status, headers, body = direct(node, 'GET', '/%s/%s/%s' % (node['device'], apart,
                                                                    account),
                                       query='format=json')
        assert status == 404 and headers.get('X-Account-Status') == 'Deleted'
    # A second pass finds nothing left to do.
    out = probe.run('account-reaper', options={'files_per_second': 0})
    assert any('objects_deleted=0' in o for o in out)
