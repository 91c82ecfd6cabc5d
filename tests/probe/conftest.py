"""Probe-test cluster: the aio (as the functional fixture runs it) with a small
ring, no background daemons, and helpers to look at replicas on disk.

Daemons run only when a test says so (`probe.run`, one --once pass per node),
so every test controls exactly when replication, auditing and updating happen.
"""
import os

import pytest

from swiftlike.aio import configs
from swiftlike.aio.cluster import AioCluster
from swiftlike.aio.layout import new_layout
from tests.conftest import TEST_HASH_PREFIX, TEST_HASH_SUFFIX
from tests.functional.conftest import Cluster
from tests.probe.helpers import Probe

PROBE_PART_POWER = int(os.environ.get('SWIFTLIKE_PROBE_PART_POWER', '6'))


def start_probe_cluster(data_dir, part_power=PROBE_PART_POWER):
    layout = new_layout(str(data_dir), base_port=0, part_power=part_power)
    os.makedirs(layout.etc_dir, exist_ok=True)
    with open(layout.cluster_conf, 'w') as f:
        f.write('[hash]\npath_prefix = %s\npath_suffix = %s\n'
                % (TEST_HASH_PREFIX, TEST_HASH_SUFFIX))
    aio = AioCluster(layout, proxy_port=0, users=configs.DEFAULT_USERS, workers=0,
                     daemons=False)
    aio.lock()
    try:
        aio.prepare()
        aio.start(timeout=120)
    except BaseException:
        aio.stop(timeout=5)
        aio.unlock()
        raise
    return aio


@pytest.fixture(scope='session')
def probe_cluster(tmp_path_factory):
    aio = start_probe_cluster(tmp_path_factory.mktemp('probe-aio'))
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
