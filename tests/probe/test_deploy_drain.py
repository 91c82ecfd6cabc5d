"""Probe: doc/deploy.md's worked example, run as the guide says, on four
network-namespace hosts; then host4 is drained and removed through the ring.

The configs are what swiftlike-node-configs writes for the guide (a unit test
keeps the guide's blocks equal to them), the ring lines are the guide's, the
services are started, run once and stopped with bin/swiftlike-init. Replication
runs as explicit passes (`swiftlike-init once`), round after round until the
drained host holds nothing, so nothing depends on timing. At the end every
object is readable through each remaining proxy, listed in its container, and
on disk on exactly its three primaries, all on hosts 1-3.
"""
import hashlib
import os

import pytest

from swiftlike import hashing
from swiftlike.cli import node_configs
from swiftlike.obj.backend import resolve_files
from swiftlike.ring import Ring
from tests.conftest import TEST_HASH_PREFIX, TEST_HASH_SUFFIX
from tests.probe.deploy_hosts import DeployCluster, http
from tests.probe.netns_hosts import netns_unavailable

OBJECTS = 48
REPLICATORS = ('object-replicator', 'container-replicator', 'account-replicator')
MAX_ROUNDS = 4


@pytest.fixture
def cluster(tmp_path):
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)
    deploy = DeployCluster(str(tmp_path))
    try:
        deploy.setup_network()
        deploy.write_configs()
        hashing.set_hash_secrets('', node_configs.EXAMPLE_HASH_SUFFIX)
        yield deploy
    finally:
        hashing.set_hash_secrets(TEST_HASH_PREFIX, TEST_HASH_SUFFIX)
        deploy.close_client()
        deploy.stop_all()
        deploy.unmount()
        deploy.teardown_network()


def _body(i):
    return (b'deployed object %d ' % i) * (i + 1)


def _files_under(path, suffixes):
    found = []
    for dirpath, _dirs, files in os.walk(path):
        found += [os.path.join(dirpath, f) for f in files if f.endswith(suffixes)]
    return found


def _replicas(cluster, ring, account, container, obj):
    """({(ip, device)} of the primaries, {(ip, device): data file} on disk)."""
    part, nodes = ring.get_nodes(account, container, obj)
    name_hash = hashing.hash_path(account, container, obj)
    found = {}
    for host in cluster.hosts:
        for device in host.spec.devices:
            hash_dir = os.path.join(host.device_path(device), 'objects', str(part),
                                    name_hash[-3:], name_hash)
            try:
                fileset = resolve_files(os.listdir(hash_dir))
            except FileNotFoundError:
                continue
            if fileset.data:
                found[(host.ip, device)] = fileset.data
    return {(n['ip'], n['device']) for n in nodes}, found


def _replicate(cluster, hosts):
    for host in hosts:
        status, output = host.init('once', *REPLICATORS)
        assert status == 0, output


def test_worked_example_drain_and_remove_a_node_loses_nothing(cluster):
    # The rings, built once on the admin machine and copied to every host.
    cluster.ring_builder(node_configs.ring_commands())
    cluster.copy_rings()
    for host in cluster.hosts:
        status, output = host.init('start', 'main')
        assert status == 0, output
        assert output.count(' started (pid ') == 4, output
        status, output = host.init('status', 'main')
        assert status == 0, output

    proxies = ['http://%s:%d' % (h.ip, node_configs.PROXY_PORT) for h in cluster.hosts]
    status, headers, _ = cluster.request('GET', proxies[0] + '/auth/v1.0',
                                         {'X-Auth-User': 'test:tester', 'X-Auth-Key': 'testing'})
    assert status == 200
    token, storage_url = headers['X-Auth-Token'], headers['X-Storage-Url']
    path = storage_url.split(proxies[0], 1)[1]  # /v1/AUTH_test, served by every proxy
    account = path.rsplit('/', 1)[1]
    auth = {'X-Auth-Token': token}
    assert cluster.request('PUT', proxies[1] + path + '/deploy', auth)[0] in (201, 202)

    def put(i):  # round-robin over the four proxies
        return http('PUT', '%s%s/deploy/o%03d' % (proxies[i % 4], path, i), auth, _body(i))[0]
    assert cluster.map(put, range(OBJECTS)) == [201] * OBJECTS

    ring = Ring(cluster.admin_dir, ring_name='object')
    names = ['o%03d' % i for i in range(OBJECTS)]
    drained = cluster.hosts[3]
    on_drained = [n for n in names if any(
        ip == drained.ip for ip, _d in _replicas(cluster, ring, account, 'deploy', n)[0])]
    assert on_drained, 'some objects should have host4 as a primary'
    assert _files_under(drained.device_path('sdb'), ('.data',))

    # Drain host4: weight 0, rebalance, copy the rings everywhere (host4 too: its
    # replicators must learn that nothing there is theirs any more).
    cluster.ring_builder(node_configs.drain_commands(drained.spec))
    cluster.copy_rings()
    ring = Ring(cluster.admin_dir, ring_name='object')
    assert all(dev['ip'] != drained.ip for part in range(ring.partition_count)
               for dev in ring.get_part_nodes(part))
    for rounds in range(1, MAX_ROUNDS + 1):
        _replicate(cluster, cluster.hosts)
        left = _files_under(drained.device_path('sdb'), ('.data', '.db'))
        if not left:
            break
    assert not left, 'after %d replication rounds host4 still holds %s' % (rounds, left[:5])
    print('host4 drained after %d replication round(s)' % rounds)

    # Remove it from the rings, give the others the new rings, stop it.
    cluster.ring_builder(node_configs.remove_commands(drained.spec))
    cluster.copy_rings(cluster.hosts[:3])
    status, output = drained.init('stop', 'all')
    assert status == 0, output
    assert drained.init('status')[0] == 1
    ring = Ring(cluster.admin_dir, ring_name='object')
    assert {d['ip'] for d in ring.devs if d} == {h.ip for h in cluster.hosts[:3]}
    # One more round on the remaining hosts: nothing is left to move.
    _replicate(cluster, cluster.hosts[:3])

    for i, name in enumerate(names):
        primaries, found = _replicas(cluster, ring, account, 'deploy', name)
        assert set(found) == primaries and len(primaries) == 3, (name, primaries, found)
        assert drained.ip not in {ip for ip, _d in found}
        assert len(set(found.values())) == 1, (name, found)
    for i, name in enumerate(names):
        status, _h, body = cluster.request('GET', '%s%s/deploy/%s' % (proxies[i % 3], path, name),
                                           auth)
        assert (status, hashlib.md5(body).hexdigest()) == (
            200, hashlib.md5(_body(i)).hexdigest()), name
    for proxy in proxies[:3]:
        status, _h, listing = cluster.request('GET', proxy + path + '/deploy', auth)
        assert status == 200 and listing.decode().split() == names
