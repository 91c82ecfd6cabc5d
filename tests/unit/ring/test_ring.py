"""Ring lookup: partition hashing, node lists, handoffs, reload on change."""
import hashlib
import os
import struct

import pytest

from swiftlike.exceptions import RingError
from swiftlike.ring import Ring, RingBuilder
from tests.conftest import TEST_HASH_PREFIX, TEST_HASH_SUFFIX

NODE_KEYS = {'id', 'region', 'zone', 'ip', 'port', 'replication_ip', 'replication_port',
             'device', 'weight', 'meta', 'index'}


def make_builder(part_power=8, replicas=3, zones=4, per_zone=2, regions=1):
    builder = RingBuilder(part_power, replicas, 0)
    for region in range(1, regions + 1):
        for zone in range(1, zones + 1):
            for disk in range(per_zone):
                builder.add_dev({'region': region, 'zone': zone,
                                 'ip': '10.%d.%d.1' % (region, zone), 'port': 6200,
                                 'replication_ip': '10.%d.%d.2' % (region, zone),
                                 'replication_port': 6300,
                                 'device': 'sd%d' % disk, 'weight': 100, 'meta': 'm%d' % disk})
    builder.rebalance(seed=1)
    return builder


@pytest.fixture
def ring_path(tmp_path):
    path = str(tmp_path / 'object.ring.gz')
    make_builder().write_ring(path)
    return path


def expected_part(part_power, *names):
    path = '/' + '/'.join(names)
    digest = hashlib.md5((TEST_HASH_PREFIX + path + TEST_HASH_SUFFIX).encode()).digest()
    return struct.unpack('>I', digest[:4])[0] >> (32 - part_power)


def test_attributes_and_constructor_forms(ring_path, tmp_path):
    ring = Ring(str(tmp_path))  # ring_name defaults to 'object'
    assert (ring.part_power, ring.partition_count, ring.replica_count) == (8, 256, 3)
    assert len(ring.devs) == 8 and all(set(d) == NODE_KEYS - {'index'} for d in ring.devs)
    assert Ring.load(ring_path).partition_count == 256
    with pytest.raises(RingError, match='no such'):
        Ring(str(tmp_path), 'container')


def test_get_part_uses_top_bits_of_md5(ring_path):
    ring = Ring.load(ring_path)
    for names in (('AUTH_a',), ('AUTH_a', 'c'), ('AUTH_a', 'c', 'o/with/slashes'),
                  ('AUTH_\u00e9', 'c\u2603', 'obj')):
        assert ring.get_part(*names) == expected_part(8, *names)


def test_get_nodes_returns_distinct_indexed_primaries(ring_path):
    ring = Ring.load(ring_path)
    part, nodes = ring.get_nodes('AUTH_a', 'c', 'o')
    assert part == ring.get_part('AUTH_a', 'c', 'o')
    assert [n['index'] for n in nodes] == [0, 1, 2]
    assert all(set(n) == NODE_KEYS for n in nodes)
    assert len({n['id'] for n in nodes}) == 3
    assert len({n['zone'] for n in nodes}) == 3
    assert ring.get_part_nodes(part) == nodes
    nodes[0]['ip'] = 'mutated'  # callers' copies never leak into the ring
    assert ring.get_part_nodes(part)[0]['ip'] != 'mutated'
    with pytest.raises(RingError):
        ring.get_part_nodes(256)
    with pytest.raises(ValueError):
        ring.get_part('a', None, 'o')


def test_handoffs_other_zones_first_never_primaries(ring_path):
    ring = Ring.load(ring_path)
    for part in range(0, 256, 17):
        primaries = ring.get_part_nodes(part)
        handoffs = list(ring.get_more_nodes(part))
        ids = [n['id'] for n in handoffs]
        assert len(ids) == len(set(ids)) == 8 - 3
        assert not set(ids) & {n['id'] for n in primaries}
        used_zones = {n['zone'] for n in primaries}
        # 4 zones, 3 used by primaries: the first handoff is in the fourth
        assert handoffs[0]['zone'] not in used_zones


def test_handoffs_prefer_other_regions():
    builder = make_builder(part_power=6, replicas=2, zones=2, per_zone=1, regions=3)
    ring_dir = os.environ.get('TMPDIR', '/tmp')
    path = os.path.join(ring_dir, 'regions-%d.ring.gz' % os.getpid())
    try:
        builder.write_ring(path)
        ring = Ring.load(path)
        for part in range(64):
            regions = {n['region'] for n in ring.get_part_nodes(part)}
            assert len(regions) == 2
            first = next(ring.get_more_nodes(part))
            assert first['region'] not in regions
    finally:
        os.unlink(path)


def test_reload_when_mtime_changes(tmp_path):
    path = str(tmp_path / 'object.ring.gz')
    builder = make_builder()
    builder.write_ring(path)
    ring = Ring.load(path, reload_time=3600)
    builder.add_dev({'region': 1, 'zone': 9, 'ip': '10.9.9.9', 'port': 6200,
                     'device': 'new', 'weight': 100})
    builder.rebalance(seed=2)
    builder.write_ring(path)
    os.utime(path, ns=(1, 1))  # make sure the mtime differs even on coarse clocks
    assert len(ring.devs) == 8  # not checked again before reload_time passes
    ring._next_check = 0  # as if reload_time had passed
    assert len(ring.devs) == 9
    assert not ring.has_changed()


def test_reload_keeps_old_ring_if_new_file_is_bad(tmp_path):
    path = str(tmp_path / 'object.ring.gz')
    make_builder().write_ring(path)
    ring = Ring.load(path, reload_time=0)
    with open(path, 'wb') as fp:
        fp.write(b'garbage')
    assert ring.replica_count == 3 and len(ring.devs) == 8
    part, nodes = ring.get_nodes('a', 'c', 'o')
    assert len(nodes) == 3


def test_benchmark_script_quick_mode_runs(capsys):
    import importlib.util
    import os
    path = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'tools', 'bench_ring.py')
    spec = importlib.util.spec_from_file_location('bench_ring', path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.main(['--quick'])
    out = capsys.readouterr().out
    assert 'initial rebalance' in out and 'lookups/s' in out
