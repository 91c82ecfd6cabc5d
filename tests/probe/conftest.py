"""Probe-test cluster: the aio (as the functional fixture runs it) with a small
ring, no background daemons, and helpers to look at replicas on disk.

Daemons run only when a test says so (`probe.run`, one --once pass per node),
so every test controls exactly when replication, auditing and updating happen.
"""
import os

import pytest

from tests.functional.conftest import Cluster, start_cluster
from tests.probe.helpers import Probe

PROBE_PART_POWER = int(os.environ.get('SWIFTLIKE_PROBE_PART_POWER', '6'))


@pytest.fixture(scope='session')
def probe_cluster(tmp_path_factory):
    aio = start_cluster(tmp_path_factory.mktemp('probe-aio'), part_power=PROBE_PART_POWER)
    try:
        yield Cluster(aio)
    finally:
        aio.stop(timeout=10)
        aio.unlock()


@pytest.fixture
def probe(probe_cluster):
    """Per test: a Probe on the shared cluster; every server is up again afterwards."""
    probe_cluster.ensure_running()
    helper = Probe(probe_cluster)
    try:
        yield helper
    finally:
        probe_cluster.ensure_running()
