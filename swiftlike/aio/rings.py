"""Builds the aio's three rings with the ring-builder command.

The command line (not the ring internals) is the contract: the aio runs the
same lines an operator would type, in-process for speed.
"""
import contextlib
import io
import os

from swiftlike.exceptions import ConfigError
from swiftlike.aio.layout import STORAGE_KINDS

def ring_builder(args):
    """Run `swiftlike-ring-builder ARGS...` (in this process); (exit status, output)."""
    from swiftlike.cli.ring_builder import main
    out = io.StringIO()
    with contextlib.redirect_stderr(out):
        try:
            status = main([str(a) for a in args], out=out)
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 2
    return status, out.getvalue()


def _check(args, allowed=(0,)):
    status, output = ring_builder(args)
    if status not in allowed:
        raise ConfigError('swiftlike-ring-builder %s failed (exit %d): %s'
                          % (' '.join(str(a) for a in args), status, output.strip()[-800:]))
    return output


def ring_paths(layout, kind):
    base = os.path.join(layout.etc_dir, kind)
    return base + '.builder', base + '.ring.gz'


def ensure_rings(layout):
    """Build any ring that is missing; existing rings (and their data) are kept."""
    built = []
    for kind in STORAGE_KINDS:
        builder, ring = ring_paths(layout, kind)
        if os.path.exists(ring):
            continue
        if os.path.exists(builder):
            # The ring file was lost but its builder holds the placement: write it
            # again from there, so data stays where it is. A half-made builder
            # (an interrupted first start) cannot, and is made afresh.
            if ring_builder([builder, 'write_ring'])[0] == 0 and os.path.exists(ring):
                built.append(kind)
                continue
            os.unlink(builder)
        _check([builder, 'create', layout.part_power, layout.replicas, 0])
        for node in layout.nodes:
            _check([builder, 'add', 'r1z%d-%s:%d/%s' % (node.zone, _host(layout.bind_ip),
                                                        node.ports[kind], node.device), 100])
        # Exit 1 is a warning (e.g. balance not perfect), not a failure.
        _check([builder, 'rebalance'], allowed=(0, 1))
        if not os.path.exists(ring):
            raise ConfigError('swiftlike-ring-builder %s rebalance wrote no %s' % (builder, ring))
        built.append(kind)
    return built


def _host(ip):
    return '[%s]' % ip if ':' in ip else ip
