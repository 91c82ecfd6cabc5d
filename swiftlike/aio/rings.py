"""Builds the aio's three rings with the ring library (what the ring-builder
command runs: create, add each node's device, rebalance, write the ring)."""
import os

from swiftlike.aio.layout import STORAGE_KINDS
from swiftlike.exceptions import ConfigError, RingError
from swiftlike.ring.builder import RingBuilder


def ring_paths(layout, kind):
    base = os.path.join(layout.etc_dir, kind)
    return base + '.builder', base + '.ring.gz'


def ensure_rings(layout):
    """Build any ring that is missing; existing rings (and their data) are kept."""
    built = []
    for kind in STORAGE_KINDS:
        builder_path, ring = ring_paths(layout, kind)
        if os.path.exists(ring):
            continue
        if os.path.exists(builder_path):
            # The ring file was lost but its builder holds the placement: write it
            # again from there, so data stays where it is. A half-made builder
            # (an interrupted first start) cannot, and is made afresh.
            try:
                RingBuilder.load(builder_path).write_ring(ring)
                built.append(kind)
                continue
            except (RingError, OSError, ValueError):
                os.unlink(builder_path)
        try:
            builder = RingBuilder(layout.part_power, layout.replicas, 0)
            for node in layout.nodes:
                builder.add_dev({'region': 1, 'zone': node.zone, 'ip': layout.bind_ip,
                                 'port': node.ports[kind], 'device': node.device,
                                 'weight': 100})
            builder.rebalance()
            builder.validate()
            builder.save(builder_path)
            builder.write_ring(ring)
        except RingError as err:
            raise ConfigError('cannot build the %s ring: %s' % (kind, err))
        built.append(kind)
    return built
