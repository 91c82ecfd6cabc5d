"""Recon against a real cluster on XFS loop devices: after a known workload
(objects PUT while a container server is down, so async pendings exist; one
replica corrupted, so the auditor quarantines it; the replicators run),
`swiftlike-recon --all` prints exactly the figures the disks show, and
/recon/diskio sees writes on the device's loop block device."""
import json
import os
import re
import subprocess
import sys
import time

import pytest

from swiftlike.aio.devices import xfs_unavailable_reason
from swiftlike.ring import Ring
from tests.functional.conftest import cluster_session, http

pytestmark = pytest.mark.skipif(bool(xfs_unavailable_reason()),
                                reason=xfs_unavailable_reason() or 'ok')

OBJECTS = 12
CORRUPT_NODE = 3  # the node one of whose replicas is corrupted


@pytest.fixture(scope='module')
def xfs_cluster(tmp_path_factory):
    yield from cluster_session(tmp_path_factory.mktemp('recon-aio'), part_power=6,
                               layout_kw={'xfs': True, 'xfs_size_mb': 300})


def recon_cli(cluster, *args):
    done = subprocess.run([sys.executable, '-m', 'swiftlike.cli.recon', '--swiftdir',
                           cluster.swift_dir] + list(args), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def stats_line(output, name):
    """{'low', 'high', 'total', 'no_result', 'reported'} of a '[name] low: ...' line."""
    match = re.search(r'^\[%s\] low: ([\d.]+), high: ([\d.]+), avg: [\d.]+, total: ([\d.]+), '
                      r'Failed: [\d.]+%%, no_result: (\d+), reported: (\d+)$'
                      % re.escape(name), output, re.M)
    assert match, 'no [%s] line in:\n%s' % (name, output)
    low, high, total, none, reported = match.groups()
    return {'low': float(low), 'high': float(high), 'total': float(total),
            'no_result': int(none), 'reported': int(reported)}


def _files(root, suffix):
    found = []
    for dirpath, _dirs, names in os.walk(root):
        found.extend(os.path.join(dirpath, n) for n in names if n.endswith(suffix))
    return found


def _partitions(device_path):
    try:
        return len([p for p in os.listdir(os.path.join(device_path, 'objects')) if p.isdigit()])
    except OSError:
        return 0


def _used_bytes(cluster):
    total = size = 0
    for server in cluster.object_servers:
        st = os.statvfs(server.device_path)
        total += (st.f_blocks - st.f_bfree) * st.f_frsize
        size += st.f_blocks * st.f_frsize
    return total, size


@pytest.fixture(scope='module')
def workload(xfs_cluster):
    """Runs the workload once; returns the ground truth read from the disks."""
    cluster = xfs_cluster
    url, token = cluster.get_auth()
    auth = {'X-Auth-Token': token}
    assert http('PUT', url + '/recon', auth)[0] in (201, 202)
    # A container server holding the container is down during the PUTs.
    _part, nodes = Ring(cluster.swift_dir, ring_name='container').get_nodes(
        url.rsplit('/', 1)[1], 'recon')
    down = [s.index for s in cluster.container_servers if s.port == nodes[0]['port']][0]
    cluster.stop_server('container', down)
    try:
        for n in range(OBJECTS):
            assert http('PUT', url + '/recon/o%d' % n, auth, b'x' * (100 + n))[0] == 201
        # The object updater retries with that container server still down.
        for server in cluster.object_servers:
            status, out = cluster.run_daemon('object-updater', server.index)
            assert status == 0, out
    finally:
        cluster.start_server('container', down)
    truth = {'async': {s.index: len(_files(os.path.join(s.device_path, 'async_pending'), ''))
                       for s in cluster.object_servers}}
    assert sum(truth['async'].values()) > 0
    # Corrupt one replica: its bytes no longer match its ETag.
    node = cluster.server('object', CORRUPT_NODE)
    data_files = sorted(_files(os.path.join(node.device_path, 'objects'), '.data'))
    assert data_files
    with open(data_files[0], 'r+b') as f:
        f.write(b'X')
    truth['passes'] = {s.index: len(_files(os.path.join(s.device_path, 'objects'), '.data'))
                       for s in cluster.object_servers}
    for server in cluster.object_servers:
        status, out = cluster.run_daemon('object-auditor', server.index)
        assert status == 0, out
    truth['quarantined'] = {s.index: len(os.listdir(os.path.join(s.device_path, 'quarantined',
                                                                 'objects')))
                            if os.path.isdir(os.path.join(s.device_path, 'quarantined'))
                            else 0 for s in cluster.object_servers}
    assert truth['quarantined'] == {1: 0, 2: 0, 3: 1, 4: 0}
    # (Swift's `passes`: the files that passed, the quarantined one not.)
    for index, count in truth['quarantined'].items():
        truth['passes'][index] -= count
    truth['partitions'] = {}
    for server in cluster.object_servers:
        truth['partitions'][server.index] = _partitions(server.device_path)
        status, out = cluster.run_daemon('object-replicator', server.index)
        assert status == 0, out
    # The quarantined replica came back from the others.
    assert os.path.exists(data_files[0])
    for server in cluster.object_servers:
        status, out = cluster.run_daemon('object-expirer', server.index)
        assert status == 0, out
    return truth


def test_recon_all_prints_what_the_disks_show(xfs_cluster, workload):
    cluster = xfs_cluster
    extra = os.path.join(cluster.server('object', 1).devices_root, 'spare')
    os.makedirs(extra)              # a device directory that is not a mount point
    try:
        for _attempt in range(5):
            before = _used_bytes(cluster)
            out = recon_cli(cluster, '--all', '--top', '2')
            if _used_bytes(cluster) == before:
                break
    finally:
        os.rmdir(extra)
    assert '--> Starting reconnaissance on 4 hosts (object)' in out
    asyncs = stats_line(out, 'async_pending')
    assert (asyncs['total'], asyncs['low'], asyncs['high'], asyncs['reported']) == (
        sum(workload['async'].values()), min(workload['async'].values()),
        max(workload['async'].values()), 4)
    quarantined = stats_line(out, 'quarantined_objects')
    assert (quarantined['total'], quarantined['high'], quarantined['reported']) == (1, 1, 4)
    assert stats_line(out, 'quarantined_containers')['total'] == 0
    passes = stats_line(out, 'ALL_passes_last_path')
    assert (passes['total'], passes['low'], passes['high']) == (
        sum(workload['passes'].values()), min(workload['passes'].values()),
        max(workload['passes'].values()))
    assert stats_line(out, 'ALL_quarantined_last_path')['total'] == 1
    attempted = stats_line(out, 'replication_attempted')
    assert (attempted['total'], attempted['reported']) == (
        sum(workload['partitions'].values()), 4)
    assert stats_line(out, 'replication_failure')['total'] == 0
    assert stats_line(out, 'updater_last_sweep')['reported'] == 4
    expired = stats_line(out, 'expired_last_pass')
    assert (expired['total'], expired['reported']) == (0, 4)   # nothing had an X-Delete-At
    assert stats_line(out, 'object_expiration_pass')['reported'] == 4
    assert 'Not mounted: spare on %s:%d' % (cluster.server('object', 1).ip,
                                            cluster.server('object', 1).port) in out
    used, size = before
    assert 'Disk usage: space used: %d of %d' % (used, size) in out
    assert out.count('4/4 hosts matched, 0 error[s] while checking hosts.') == 3  # rings, conf, time
    for name in ('1m_load_avg', 'tcp_in_use', 'cpu_steal_pct', 'util_pct'):
        assert stats_line(out, name)['reported'] >= 4
    assert re.search(r'^127\.0\.0\.1:\d+ +d\d +loop\d+ ', out, re.M), out
    assert '4/4 hosts ok, 0 error[s] while checking hosts.' in out   # --validate-servers


def test_recon_md5_notices_a_different_ring(xfs_cluster, workload, tmp_path):
    cluster = xfs_cluster
    other = tmp_path / 'etc'
    other.mkdir()
    for name in os.listdir(cluster.swift_dir):
        if name.endswith('.ring.gz'):
            data = open(os.path.join(cluster.swift_dir, name), 'rb').read()
            (other / name).write_bytes(data if name != 'account.ring.gz' else data + b'x')
    done = subprocess.run([sys.executable, '-m', 'swiftlike.cli.recon', '--md5', '--swiftdir',
                           str(other)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert done.stdout.count("(account.ring.gz) doesn't match on disk md5sum") == 4
    assert '0/4 hosts matched, 0 error[s] while checking hosts.' in done.stdout


def test_container_recon_after_replication(xfs_cluster, workload):
    cluster = xfs_cluster
    dbs = {}
    for server in cluster.container_servers:
        dbs[server.index] = len(_files(os.path.join(server.device_path, 'containers'), '.db'))
        status, out = cluster.run_daemon('container-replicator', server.index)
        assert status == 0, out
    for server in cluster.container_servers:
        status, out = cluster.run_daemon('container-updater', server.index)
        assert status == 0, out
    out = recon_cli(cluster, 'container', '-r', '--updater')
    assert '--> Starting reconnaissance on 4 hosts (container)' in out
    attempted = stats_line(out, 'replication_attempted')
    assert (attempted['total'], attempted['reported']) == (sum(dbs.values()), 4)
    assert stats_line(out, 'updater_last_sweep')['reported'] == 4
    assert re.search(r'^Most recent completion was .* by 127\.0\.0\.1:\d+\.$', out, re.M)


def test_diskio_sees_writes_on_the_loop_device(xfs_cluster):
    server = xfs_cluster.server('object', 4)
    url = server.url + '/recon/diskio?interval=0.5'
    status, _h, body = http('GET', url)
    assert status == 200
    first = {d['device']: d for d in json.loads(body)['devices']}[server.device]
    assert first['block_device'].startswith('loop') and first['mounted'] is True
    answered = time.monotonic()
    payload = os.urandom(1 << 20)
    with open(os.path.join(server.device_path, 'diskio-probe'), 'wb') as f:
        for _ in range(4):
            f.write(payload)
        f.flush()
        os.fsync(f.fileno())
    try:
        # The next answer measures from the sample kept at the end of the first
        # (taken before the writes) once 0.5 s have passed: arrange that moment.
        while time.monotonic() - answered < 0.6:
            time.sleep(0.05)
        status, _h, body = http('GET', url)
        report = json.loads(body)
        second = {d['device']: d for d in report['devices']}[server.device]
    finally:
        os.unlink(os.path.join(server.device_path, 'diskio-probe'))
    written = second['totals']['write_bytes'] - first['totals']['write_bytes']
    assert written >= 4 << 20
    assert second['totals']['writes'] > first['totals']['writes']
    assert second['write_mb_per_s'] * report['interval'] >= 3.99
    assert second['writes_per_s'] > 0 and 0 <= second['util_pct'] <= 100
    assert report['interval'] >= 0.5
    assert set(report['cpu']) >= {'steal_pct', 'iowait_pct', 'user_pct'}


def test_recon_http_errors_have_reasons(xfs_cluster):
    server = xfs_cluster.server('container', 1)
    status, _h, body = http('GET', server.url + '/recon/nope')
    assert status == 404 and b'Unknown recon endpoint' in body
    status, _h, body = http('POST', server.url + '/recon/load')
    assert status == 405
    status, _h, body = http('GET', server.url + '/recon/diskio?interval=abc')
    assert status == 400 and b'interval' in body
    status, _h, body = http('GET', server.url + '/recon/unmounted')
    assert status == 200 and json.loads(body) == []
    status, _h, body = http('GET', server.url + '/recon/server_type_check')
    assert json.loads(body) == 'container-server'


def test_recon_with_a_server_down(xfs_cluster, workload):
    cluster = xfs_cluster
    down = cluster.server('object', 4)
    cluster.stop_server('object', 4)
    try:
        out = recon_cli(cluster, '-q', '-T', '--md5')
        quiet = recon_cli(cluster, '-q', '--suppress')
    finally:
        cluster.start_server('object', 4)
    assert re.search(r'^-> http://127\.0\.0\.1:%d/recon/quarantined: .*refused' % down.port,
                     out, re.M), out
    quarantined = stats_line(out, 'quarantined_objects')
    assert (quarantined['total'], quarantined['reported']) == (1, 3)
    assert out.count('3/4 hosts matched, 1 error[s] while checking hosts.') == 3
    assert '-> http://' not in quiet and stats_line(quiet, 'quarantined_objects')['reported'] == 3
