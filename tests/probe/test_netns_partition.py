"""Probe: 4 storage hosts in their own network namespaces; one host's link is
cut during writes. Writes go to handoffs; once the link is back, replication
leaves exactly 3 primary copies of every object."""
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from swiftlike.hashing import hash_path
from swiftlike.obj.backend import resolve_files
from swiftlike.ring import Ring
from tests.functional.conftest import http
from tests.probe.netns_hosts import NetnsCluster, netns_unavailable

OBJECTS_BEFORE, OBJECTS_DURING = 30, 60


@pytest.fixture
def hosts(tmp_path):
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)
    cluster = NetnsCluster(str(tmp_path))
    try:
        cluster.setup_network()
        cluster.write_files()
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        cluster.teardown_network()


def _copies(cluster, ring, account, container, obj):
    part, nodes = ring.get_nodes(account, container, obj)
    name_hash = hash_path(account, container, obj)
    found = {}
    for host in cluster.hosts:
        hash_dir = os.path.join(host['devices'], host['device'], 'objects', str(part),
                                name_hash[-3:], name_hash)
        try:
            fileset = resolve_files(os.listdir(hash_dir))
        except FileNotFoundError:
            continue
        if fileset.data:
            found[host['device']] = fileset.data
    return sorted(n['device'] for n in nodes), found


def test_cut_link_writes_go_to_handoffs_and_converge(hosts):
    status, headers, _ = http('GET', hosts.proxy_url + '/auth/v1.0',
                              {'X-Auth-User': 'test:tester', 'X-Auth-Key': 'testing'})
    assert status == 200
    url, token = headers['X-Storage-Url'], headers['X-Auth-Token']
    account = url.rsplit('/', 1)[-1]
    auth = {'X-Auth-Token': token}
    assert http('PUT', url + '/netns', auth)[0] in (201, 202)

    def put(i):
        body = b'netns object %d ' % i * (i + 1)
        return http('PUT', '%s/netns/o%03d' % (url, i), auth, body)[0]

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(put, range(OBJECTS_BEFORE))) == [201] * OBJECTS_BEFORE
        cut = 3
        hosts.cut(cut)
        try:
            statuses = list(pool.map(put, range(OBJECTS_BEFORE, OBJECTS_BEFORE + OBJECTS_DURING)))
        finally:
            hosts.restore(cut)
    assert statuses == [201] * OBJECTS_DURING

    ring = Ring(hosts.etc, ring_name='object')
    names = ['o%03d' % i for i in range(OBJECTS_BEFORE + OBJECTS_DURING)]
    cut_device = hosts.hosts[cut - 1]['device']
    handoff_writes = [n for n in names[OBJECTS_BEFORE:]
                      if cut_device in _copies(hosts, ring, account, 'netns', n)[0]]
    assert handoff_writes, 'some writes should have had the cut host as a primary'
    for name in handoff_writes:
        primaries, found = _copies(hosts, ring, account, 'netns', name)
        assert cut_device not in found and len(found) == 3, (name, found)

    # Replication rounds until every object sits on exactly its primaries: a
    # handoff keeps its copy when any push of its revert failed (the link just
    # restored may still refuse the first connection), and the next round
    # finishes it. Bounded, so a replicator that never converges fails here.
    for _round in range(3):
        for n in range(1, 5):
            hosts.run_daemon('object-replicator', n)
        if all(sorted(_copies(hosts, ring, account, 'netns', name)[1]) ==
               _copies(hosts, ring, account, 'netns', name)[0] for name in names):
            break

    for i, name in enumerate(names):
        primaries, found = _copies(hosts, ring, account, 'netns', name)
        assert sorted(found) == primaries, (name, primaries, found)
        assert len(set(found.values())) == 1
        status, _h, body = http('GET', '%s/netns/%s' % (url, name), auth)
        expected = b'netns object %d ' % i * (i + 1)
        assert (status, hashlib.md5(body).hexdigest()) == (200, hashlib.md5(expected).hexdigest())
