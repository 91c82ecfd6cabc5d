"""Probe: appendable objects when object servers die. A non-arbiter primary
down: appends go on (handoffs stand in) and the replicas agree once it is
back and the replicator ran. The arbiter (the manifest's first primary)
down: appends answer 503, reads go on, and nothing acknowledged is lost."""
import json

from tests.probe.helpers import md5


def _append(probe, container, obj, offset, data):
    status, headers, body = probe.request('PUT', '/%s/%s' % (container, obj),
                                          {'X-Append-Offset': str(offset)}, data)
    return status, {k.lower(): v for k, v in headers.items()}, body


def _build(probe, container, obj, start, count, acked):
    offset = sum(len(d) for d in acked)
    for i in range(start, start + count):
        data = b'entry %04d\n' % i
        status, headers, body = _append(probe, container, obj, offset, data)
        assert status == 201, (i, status, body)
        acked.append(data)
        offset += len(data)
        assert headers['x-append-length'] == str(offset)


def _manifests(probe, container, obj):
    """{node index: winning file names} of the manifest's replicas."""
    return probe.object_locations(container, obj)


def test_non_arbiter_down_appends_go_on(probe):
    container = probe.new_container('append-down')
    acked = []
    _build(probe, container, 'log', 0, 10, acked)
    primaries, _holders = _manifests(probe, container, 'log')
    down = primaries[1]
    probe.cluster.kill_server('object', down)
    try:
        _build(probe, container, 'log', 10, 40, acked)     # a compaction among them
        status, body = probe.get(container, 'log')
        assert (status, body) == (200, b''.join(acked))
    finally:
        probe.cluster.start_server('object', down)
    probe.replicate()
    primaries, holders = _manifests(probe, container, 'log')
    assert sorted(holders) == sorted(primaries), holders
    assert len({tuple(files) for files in holders.values()}) == 1, holders
    status, body = probe.get(container, 'log')
    assert (status, md5(body)) == (200, md5(b''.join(acked)))
    _build(probe, container, 'log', 50, 3, acked)
    assert probe.get(container, 'log') == (200, b''.join(acked))


def test_arbiter_down_appends_refused_nothing_lost(probe):
    container = probe.new_container('append-arbiter')
    acked = []
    _build(probe, container, 'log', 0, 5, acked)
    primaries, _holders = _manifests(probe, container, 'log')
    arbiter = primaries[0]
    probe.cluster.kill_server('object', arbiter)
    try:
        length = sum(len(d) for d in acked)
        for i in range(3):
            status, _headers, body = _append(probe, container, 'log', length, b'lost %d\n' % i)
            assert status == 503, (status, body)
        # reads go on from the other replicas
        assert probe.get(container, 'log') == (200, b''.join(acked))
        status, _h, body = probe.request('GET', '/%s/log?append-manifest=get' % container)
        assert status == 200 and json.loads(body)['length'] == length
    finally:
        probe.cluster.start_server('object', arbiter)
    _build(probe, container, 'log', 5, 5, acked)
    assert probe.get(container, 'log') == (200, b''.join(acked))
    # the refused appends left no piece behind
    status, _h, body = probe.request('GET', '/%s_segments?format=json' % container)
    names = [item['name'] for item in json.loads(body)]
    manifest = json.loads(probe.request('GET', '/%s/log?append-manifest=get' % container)[2])
    assert sorted(names) == sorted(p[0] for p in manifest['pieces'])


def test_stale_arbiter_is_caught_up(probe):
    """An arbiter that lost the manifest (its disk replaced) refuses the
    compare-and-swap; the append names what the arbiter holds instead, and
    the acknowledged appends survive."""
    container = probe.new_container('append-stale')
    acked = []
    _build(probe, container, 'log', 0, 4, acked)
    primaries, _holders = _manifests(probe, container, 'log')
    arbiter = primaries[0]
    info = probe.cluster.server('object', arbiter)
    import os
    import shutil
    from swiftlike.hashing import hash_path
    part = probe.rings['object'].get_part(probe.account, container, 'log')
    name_hash = hash_path(probe.account, container, 'log')
    shutil.rmtree(os.path.join(info.device_path, 'objects', str(part), name_hash[-3:],
                               name_hash))
    _build(probe, container, 'log', 4, 3, acked)
    assert probe.get(container, 'log') == (200, b''.join(acked))
