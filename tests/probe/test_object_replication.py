"""Probe: object replicas converge after a node misses writes, after
corruption, and after a DELETE it did not see."""
import json
import os
import random
import shutil
from concurrent.futures import ThreadPoolExecutor

from swiftlike.hashing import hash_path
from tests.probe.helpers import md5

OBJECT_COUNT = int(os.environ.get('SWIFTLIKE_PROBE_OBJECTS', '1000'))


def _body(i):
    return ('object %d ' % i).encode() * (1 + i % 7)


def test_node_that_missed_writes_gets_exactly_its_copies_back(probe):
    container = probe.new_container('missed')
    down = random.choice((1, 2, 3, 4))
    probe.cluster.kill_server('object', down)
    names = ['obj-%05d' % i for i in range(OBJECT_COUNT)]
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda i: probe.put(container, names[i], _body(i)),
                                 range(OBJECT_COUNT)))
    assert statuses == [201] * OBJECT_COUNT
    missed = [n for n in names if down in probe.object_locations(container, n)[0]]
    assert missed, 'the stopped node should be a primary of some objects'
    assert all(down not in probe.object_locations(container, n)[1] for n in missed)
    probe.cluster.start_server('object', down)

    probe.run('object-replicator')      # one pass on every node

    for i, name in enumerate(names):
        primaries, holders = probe.object_locations(container, name)
        assert sorted(holders) == sorted(primaries), (name, primaries, holders)
        data_files = {tuple(files) for files in holders.values()}
        assert len(data_files) == 1, (name, holders)
    assert probe.handoff_partitions() == {}
    for i in random.sample(range(OBJECT_COUNT), min(100, OBJECT_COUNT)):
        status, body = probe.get(container, names[i])
        assert (status, md5(body)) == (200, md5(_body(i)))


def _flip_byte(path):
    with open(path, 'r+b') as f:
        first = f.read(1)
        f.seek(0)
        f.write(bytes([first[0] ^ 0xff]))


def _quarantined(probe, node, container, obj):
    info = probe.cluster.server('object', node)
    qdir = os.path.join(info.device_path, 'quarantined', 'objects')
    name_hash = hash_path(probe.account, container, obj)
    return any(n.startswith(name_hash) for n in os.listdir(qdir)) if os.path.isdir(qdir) \
        else False


def test_corrupt_replica_is_quarantined_restored_and_never_served(probe):
    container = probe.new_container('corrupt')
    body = os.urandom(200000)
    assert probe.put(container, 'victim', body) == 201
    primaries, _ = probe.object_locations(container, 'victim')
    bad, good = primaries[0], primaries[1:]
    path = probe.data_file(container, 'victim', bad)
    _flip_byte(path)

    # The auditor finds it (at full speed for the test) and moves it aside.
    out = probe.run('object-auditor', nodes=[bad],
                    options={'files_per_second': 0, 'bytes_per_second': 0})
    assert 'quarantined=1' in out[0], out[0]
    assert not os.path.exists(path)
    assert _quarantined(probe, bad, container, 'victim')
    recon = os.path.join(probe.cluster.server('object', bad).devices_root, '.recon',
                         'object.recon')
    with open(recon) as f:
        assert json.load(f)['object_auditor']['quarantined'] == 1

    # The replicators bring a good copy back.
    probe.run('object-replicator')
    primaries2, holders = probe.object_locations(container, 'victim')
    assert sorted(holders) == sorted(primaries2)
    with open(probe.data_file(container, 'victim', bad), 'rb') as f:
        assert md5(f.read()) == md5(body)

    status, got = probe.get(container, 'victim')
    assert (status, md5(got)) == (200, md5(body))
    for node in good:
        probe.cluster.kill_server('object', node)
    try:
        status, got = probe.get(container, 'victim')
        assert (status, md5(got)) == (200, md5(body))
    finally:
        for node in good:
            probe.cluster.start_server('object', node)

    # A corrupt copy that nobody audited yet is not served either.
    assert probe.put(container, 'victim2', body) == 201
    primaries, _ = probe.object_locations(container, 'victim2')
    _flip_byte(probe.data_file(container, 'victim2', primaries[0]))
    for node in primaries[1:]:
        probe.cluster.kill_server('object', node)
    try:
        try:
            status, got = probe.get(container, 'victim2')
        except Exception:       # a cut connection: the bad bytes were held back
            status, got = None, b''
        assert not (status == 200 and len(got) == len(body)), status
        assert got != body[:len(got)] or len(got) < len(body)
    finally:
        for node in primaries[1:]:
            probe.cluster.start_server('object', node)
    assert _quarantined(probe, primaries[0], container, 'victim2')
    probe.run('object-replicator')
    status, got = probe.get(container, 'victim2')
    assert (status, md5(got)) == (200, md5(body))


def test_delete_missed_by_a_primary_wins_after_replication(probe):
    probe.settle()
    container = probe.new_container('tomb')
    assert probe.put(container, 'doomed', b'soon gone') == 201
    primaries, _ = probe.object_locations(container, 'doomed')
    down = primaries[0]
    probe.cluster.kill_server('object', down)
    try:
        status, _h, _b = probe.request('DELETE', '/%s/doomed' % container)
        assert status == 204
    finally:
        probe.cluster.start_server('object', down)
    _, holders = probe.object_locations(container, 'doomed')
    assert holders[down][0].endswith('.data')      # the stale copy is still there

    probe.run('object-replicator')

    primaries, holders = probe.object_locations(container, 'doomed')
    assert sorted(holders) == sorted(primaries)
    assert all(files[0].endswith('.ts') for files in holders.values()), holders
    assert len({tuple(f) for f in holders.values()}) == 1
    assert probe.handoff_partitions() == {}
    status, _ = probe.get(container, 'doomed')
    assert status == 404
    # Only the down node answers: still deleted.
    for node in primaries[1:]:
        probe.cluster.kill_server('object', node)
    try:
        status, _ = probe.get(container, 'doomed')
        assert status == 404
    finally:
        for node in primaries[1:]:
            probe.cluster.start_server('object', node)


def test_a_primary_whose_disk_is_gone_is_stood_in_for_by_a_handoff(probe):
    probe.settle()
    container = probe.new_container('disk-gone')
    body = os.urandom(3000)
    assert probe.put(container, 'kept', body) == 201
    primaries, holders = probe.object_locations(container, 'kept')
    gone = primaries[0]
    device_path = probe.cluster.server('object', gone).device_path
    os.rename(device_path, device_path + '.failed')   # its server now answers 507
    try:
        probe.run('object-replicator', nodes=[n for n in primaries if n != gone])
        _, holders = probe.object_locations(container, 'kept')
        stand_ins = [n for n in holders if n not in primaries]
        # Three copies again: the two good primaries and one handoff.
        assert len(stand_ins) == 1 and len(holders) == 3, holders
        assert holders[stand_ins[0]] == holders[primaries[1]]

        os.mkdir(device_path)                          # a new, empty disk goes in
        probe.run('object-replicator')
        _, holders = probe.object_locations(container, 'kept')
        assert sorted(holders) == sorted(primaries), holders
        assert len({tuple(files) for files in holders.values()}) == 1
        assert probe.handoff_partitions() == {}
    finally:
        # Put the original disk back, so later tests find the node as it was.
        shutil.rmtree(device_path, ignore_errors=True)
        os.rename(device_path + '.failed', device_path)
    status, got = probe.get(container, 'kept')
    assert (status, md5(got)) == (200, md5(body))
