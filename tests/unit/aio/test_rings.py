"""The aio's rings, built with the real ring-builder command."""
import os

from swiftlike.aio.layout import new_layout
from swiftlike.aio.rings import ensure_rings, ring_paths
from swiftlike.ring import Ring


def test_rings_built_once_and_rewritten_from_builder(tmp_path):
    layout = new_layout(str(tmp_path), base_port=7000, part_power=5)
    os.makedirs(layout.etc_dir)
    assert ensure_rings(layout) == ['object', 'container', 'account']
    ring = Ring.load(ring_paths(layout, 'object')[1])
    assert ring.replica_count == 3 and ring.partition_count == 32
    assert sorted(d['port'] for d in ring.devs if d) == [7000, 7001, 7002, 7003]
    assert sorted(d['zone'] for d in ring.devs if d) == [1, 2, 3, 4]
    for part in range(ring.partition_count):
        zones = {n['zone'] for n in ring.get_part_nodes(part)}
        assert len(zones) == 3  # every replica in its own zone
    assert ensure_rings(layout) == []  # kept
    # A lost ring file comes back from its builder with the same placement.
    placement = [[n['id'] for n in ring.get_part_nodes(p)] for p in range(32)]
    os.unlink(ring_paths(layout, 'object')[1])
    assert ensure_rings(layout) == ['object']
    again = Ring.load(ring_paths(layout, 'object')[1])
    assert [[n['id'] for n in again.get_part_nodes(p)] for p in range(32)] == placement


def test_half_made_builder_is_replaced(tmp_path):
    layout = new_layout(str(tmp_path), part_power=4)
    os.makedirs(layout.etc_dir)
    with open(ring_paths(layout, 'account')[0], 'wb') as f:
        f.write(b'garbage')
    assert 'account' in ensure_rings(layout)
    assert Ring.load(ring_paths(layout, 'account')[1]).replica_count == 3
