"""Probe: doc/deploy.md's worked example, run as the guide says, on four
network-namespace hosts; then, each on a fresh cluster: host4 is drained and
removed through the ring (*Removing a node*); host2's disk fails and is
replaced (*Replacing a failed disk*); every host is restarted in turn under
load (*Rolling restarts and upgrades*).

The configs are what swiftlike-node-configs writes for the guide (a unit test
keeps the guide's blocks equal to them), the ring lines are the guide's, the
services are started, run once and stopped with bin/swiftlike-init. Replication
runs as explicit passes (`swiftlike-init once`), round after round until the
disks hold what the ring says, so nothing depends on timing. At the end every
object is readable through the proxies, listed in its container, and on disk on
exactly its three primaries.
"""
import hashlib
import os
import threading
import time

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
        hashing.set_hash_secrets('', node_configs.EXAMPLE_HASH_SUFFIX)
        deploy.start_example()
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
            except (FileNotFoundError, NotADirectoryError):
                continue
            if fileset.data:
                found[(host.ip, device)] = fileset.data
    return {(n['ip'], n['device']) for n in nodes}, found


def _replicate(hosts):
    for host in hosts:
        status, output = host.init('once', *REPLICATORS)
        assert status == 0, output


def _put(cluster, path, auth, indexes):
    proxies = cluster.proxies

    def put(i):  # round-robin over the proxies
        return http('PUT', '%s%s/deploy/o%05d' % (proxies[i % len(proxies)], path, i), auth,
                    _body(i))[0]
    return cluster.map(put, indexes)


def _check_everything(cluster, proxies, path, auth, count):
    """Every object on exactly its primaries, readable, listed."""
    account = path.rsplit('/', 1)[1]
    ring = Ring(cluster.admin_dir, ring_name='object')
    names = ['o%05d' % i for i in range(count)]
    for name in names:
        primaries, found = _replicas(cluster, ring, account, 'deploy', name)
        assert set(found) == primaries and len(primaries) == 3, (name, primaries, found)
        assert len(set(found.values())) == 1, (name, found)
    # The container's and the account's databases, too, on exactly their primaries.
    for kind, args in (('container', (account, 'deploy')), ('account', (account,))):
        db_ring = Ring(cluster.admin_dir, ring_name=kind)
        part, nodes = db_ring.get_nodes(*args)
        name_hash = hashing.hash_path(*args)
        held = {(host.ip, device) for host in cluster.hosts for device in host.spec.devices
                if os.path.exists(os.path.join(host.device_path(device), kind + 's', str(part),
                                               name_hash[-3:], name_hash, name_hash + '.db'))}
        assert held == {(n['ip'], n['device']) for n in nodes}, (kind, held, nodes)
    for i, name in enumerate(names):
        status, _h, body = cluster.request(
            'GET', '%s%s/deploy/%s' % (proxies[i % len(proxies)], path, name), auth)
        assert (status, hashlib.md5(body).hexdigest()) == (
            200, hashlib.md5(_body(i)).hexdigest()), name
    for proxy in proxies:
        status, _h, listing = cluster.request('GET', proxy + path + '/deploy', auth)
        assert status == 200 and listing.decode().split() == names


def _phase(name, started=[]):
    now = time.monotonic()
    print('-- %s (%.1fs since the last phase)' % (name, now - started[-1] if started else 0))
    started.append(now)


def test_worked_example_drain_and_remove_a_node_loses_nothing(cluster):
    _phase('cluster up')
    path, auth = cluster.login()
    account = path.rsplit('/', 1)[1]
    assert cluster.request('PUT', cluster.proxies[1] + path + '/deploy', auth)[0] in (201, 202)
    assert _put(cluster, path, auth, range(OBJECTS)) == [201] * OBJECTS
    _phase('objects stored')

    ring = Ring(cluster.admin_dir, ring_name='object')
    drained = cluster.hosts[3]
    assert any(ip == drained.ip for i in range(OBJECTS)
               for ip, _d in _replicas(cluster, ring, account, 'deploy', 'o%05d' % i)[0]), \
        'some objects should have host4 as a primary'
    assert _files_under(drained.device_path('sdb'), ('.data',))

    # Drain host4: weight 0, rebalance, copy the rings everywhere (host4 too: its
    # replicators must learn that nothing there is theirs any more).
    cluster.ring_builder(node_configs.drain_commands(drained.spec))
    cluster.copy_rings()
    _phase('drained in the rings')
    ring = Ring(cluster.admin_dir, ring_name='object')
    assert all(dev['ip'] != drained.ip for part in range(ring.partition_count)
               for dev in ring.get_part_nodes(part))
    for rounds in range(1, MAX_ROUNDS + 1):
        _replicate(cluster.hosts)
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
    _replicate(cluster.hosts[:3])
    _phase('removed and replicated')
    _check_everything(cluster, cluster.proxies[:3], path, auth, OBJECTS)
    _phase('checked')


def test_worked_example_replace_a_failed_disk_loses_nothing(cluster):
    path, auth = cluster.login()
    assert cluster.request('PUT', cluster.proxies[0] + path + '/deploy', auth)[0] in (201, 202)
    half = OBJECTS // 2
    assert _put(cluster, path, auth, range(half)) == [201] * half

    failed = cluster.hosts[1]
    cluster.fail_disk(failed, 'sdb')
    # Writes go on (to handoffs for host2's share) ...
    assert _put(cluster, path, auth, range(half, OBJECTS)) == [201] * half
    # ... and the other primaries' replicators give host2's partitions a
    # stand-in: every object has three copies on hosts 1, 3 and 4.
    others = [h for h in cluster.hosts if h is not failed]
    _replicate(others)
    account = path.rsplit('/', 1)[1]
    ring = Ring(cluster.admin_dir, ring_name='object')
    for i in range(OBJECTS):
        _primaries, found = _replicas(cluster, ring, account, 'deploy', 'o%05d' % i)
        assert len(found) == 3 and failed.ip not in {ip for ip, _d in found}, (i, found)

    # The new disk: empty, mounted in its place, the ring untouched. The
    # replicators fill it and the stand-ins give their copies back.
    cluster.replace_disk(failed, 'sdb')
    for rounds in range(1, MAX_ROUNDS + 1):
        _replicate(cluster.hosts)
        misplaced = []
        for i in range(OBJECTS):
            primaries, found = _replicas(cluster, ring, account, 'deploy', 'o%05d' % i)
            if set(found) != primaries:
                misplaced.append(i)
        if not misplaced:
            break
    assert not misplaced, 'after %d rounds, not on their primaries: %s' % (rounds, misplaced)
    print('new disk filled after %d replication round(s)' % rounds)
    # The DBs came back too, where the new disk is a primary of the account's
    # or the container's partition (with 3 replicas on 4 hosts it may be neither).
    db_primary = any(
        any(n['ip'] == failed.ip and n['device'] == 'sdb' for n in nodes)
        for nodes in (Ring(cluster.admin_dir, ring_name='account').get_nodes(account)[1],
                      Ring(cluster.admin_dir, ring_name='container').get_nodes(account,
                                                                               'deploy')[1]))
    if db_primary:
        assert _files_under(failed.device_path('sdb'), ('.db',)), 'container/account DBs came back'
    _check_everything(cluster, cluster.proxies, path, auth, OBJECTS)


def test_worked_example_rolling_restart_fails_no_request(cluster):
    """*Rolling restarts and upgrades*: one host at a time is stopped (graceful SIGTERM) and
    started again with swiftlike-init while a client keeps writing and reading
    through the other hosts' proxies (a load balancer takes the restarting one
    out). Requests also run, in step, while the host is down and just after it
    is back. Not one request may fail, and afterwards replication leaves every
    object on exactly its primaries."""
    path, auth = cluster.login()
    assert cluster.request('PUT', cluster.proxies[0] + path + '/deploy', auth)[0] in (201, 202)
    in_service = list(cluster.proxies)
    results, stop = [], threading.Event()
    counter = iter(range(10 ** 6))

    def one_op(i, proxies):
        proxy = proxies[i % len(proxies)]
        url = '%s%s/deploy/o%05d' % (proxy, path, i)
        put = http('PUT', url, auth, _body(i))[0]
        status, _h, body = http('GET', url, auth)
        return i, put, status, body == _body(i)

    def background():
        while not stop.is_set():
            results.append(one_op(next(counter), list(in_service)))

    def in_step(proxies, count=6):
        return cluster.map(lambda i: one_op(i, proxies), [next(counter) for _ in range(count)])

    worker = cluster._pool().submit(background)
    try:
        for n, host in enumerate(cluster.hosts):
            proxy = cluster.proxies[n]
            in_service.remove(proxy)
            status, output = host.init('stop', 'main')
            assert status == 0, output
            results.extend(in_step(in_service))        # the host is down
            status, output = host.init('start', 'main')
            assert status == 0, output
            results.extend(in_step(in_service))        # back, maybe still error-limited
            in_service.append(proxy)
    finally:
        stop.set()
        worker.result(timeout=300)
    failed = [r for r in results if r[1:] != (201, 200, True)]
    assert not failed, failed
    count = max(r[0] for r in results) + 1
    print('%d PUT+GET pairs during the rolling restart, none failed' % len(results))
    assert len(results) >= 8 * 6

    for rounds in range(1, MAX_ROUNDS + 1):
        _replicate(cluster.hosts)
        ring = Ring(cluster.admin_dir, ring_name='object')
        account = path.rsplit('/', 1)[1]
        if all(set(found) == primaries for primaries, found in (
                _replicas(cluster, ring, account, 'deploy', 'o%05d' % i)
                for i in range(count))):
            break
    _check_everything(cluster, cluster.proxies, path, auth, count)
