"""Object daemons on real files: auditor, reclaim, handoff removal, async records."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from swiftlike.async_records import list_records, read_record
from swiftlike.daemon import RateLimiter, read_recon
from swiftlike.hashing import hash_path
from swiftlike.obj.auditor import AuditorConf, ObjectAuditor
from swiftlike.obj.diskfile import FsDiskFileManager
from swiftlike.obj.object_files import list_partition, reclaim_partition, remove_files
from swiftlike.obj.replicator import ObjectReplicator, ReplicatorConf
from swiftlike.obj.updater import ObjectUpdater, UpdaterConf, container_nodes_for


def _put(dev, name, body, ts, part=1):
    df = FsDiskFileManager().get_diskfile(dev, part, 'a', 'c', name)
    writer = df.create(len(body))
    writer.write(body)
    writer.commit({'X-Timestamp': ts, 'Content-Length': str(len(body)),
                   'ETag': hashlib.md5(body).hexdigest(), 'name': '/a/c/' + name})
    return df


def _hash_dir(dev, name, part=1):
    h = hash_path('a', 'c', name)
    return os.path.join(dev, 'objects', str(part), h[-3:], h)


@pytest.fixture
def devices(tmp_path):
    os.makedirs(tmp_path / 'sda')
    return str(tmp_path)


def test_auditor_quarantines_only_bad_objects(devices):
    dev = os.path.join(devices, 'sda')
    _put(dev, 'good', b'good bytes', '1700000001.00000')
    _put(dev, 'flipped', b'original', '1700000001.00000')
    _put(dev, 'short', b'0123456789', '1700000001.00000')
    _put(dev, 'nometa', b'abc', '1700000001.00000')
    flipped = os.path.join(_hash_dir(dev, 'flipped'), '1700000001.00000.data')
    with open(flipped, 'r+b') as f:
        f.write(b'O')
    with open(os.path.join(_hash_dir(dev, 'short'), '1700000001.00000.data'), 'r+b') as f:
        f.truncate(4)
    nometa = os.path.join(_hash_dir(dev, 'nometa'), '1700000001.00000.data')
    os.removexattr(nometa, 'user.swiftlike.metadata')
    auditor = ObjectAuditor(AuditorConf(devices=devices, mount_check=False,
                                        files_per_second=0, bytes_per_second=0))
    stats = auditor.run_once()
    assert stats['quarantined'] == 3 and stats['files_checked'] == 2   # good + flipped read
    assert os.path.isdir(_hash_dir(dev, 'good'))
    for name in ('flipped', 'short', 'nometa'):
        assert not os.path.exists(_hash_dir(dev, name))
    quarantined = os.listdir(os.path.join(dev, 'quarantined', 'objects'))
    assert sorted(quarantined) == sorted(hash_path('a', 'c', n)
                                         for n in ('flipped', 'short', 'nometa'))
    recon = read_recon(os.path.join(devices, '.recon', 'object.recon'))['object_auditor']
    assert recon['quarantined'] == 3 and recon['bytes_checked'] == len(b'good bytes') + len(b'original')
    assert recon['per_device'] == {'sda': {'files_checked': 2, 'quarantined': 3, 'errors': 0,
                                           'bytes_checked': recon['bytes_checked']}}
    # The suffix is marked dirty so the replicator notices the hole.
    invalid = open(os.path.join(dev, 'objects', '1', 'hashes.invalid')).read()
    assert hash_path('a', 'c', 'flipped')[-3:] in invalid


def test_auditor_honours_bytes_per_second(devices):
    dev = os.path.join(devices, 'sda')
    for i in range(3):
        _put(dev, 'o%d' % i, b'x' * 100000, '1700000001.00000')
    auditor = ObjectAuditor(AuditorConf(devices=devices, mount_check=False,
                                        files_per_second=0, bytes_per_second=100000))
    slept = []
    now = [1000.0]

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds
    auditor.bytes_limiter.clock = lambda: now[0]
    auditor.bytes_limiter.sleep = sleep
    auditor.run_once()
    # 300 kB at 100 kB/s: about two seconds of pacing beyond the one-second burst.
    assert 1.5 <= sum(slept) <= 2.5


def _cached_bytes(path):
    out = subprocess.run(['fincore', '--bytes', '--noheadings', '--output', 'RES', path],
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip())


@pytest.mark.skipif(not shutil.which('fincore'), reason='fincore (util-linux) is missing')
def test_auditor_reads_past_the_page_cache(devices):
    dev = os.path.join(devices, 'sda')
    body = os.urandom((2 << 20) + 777)
    _put(dev, 'big', body, '1700000001.00000')
    _put(dev, 'small', b'tiny', '1700000001.00000')
    paths = [os.path.join(_hash_dir(dev, name), '1700000001.00000.data') for name in ('big', 'small')]
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
        assert _cached_bytes(path) == 0
    auditor = ObjectAuditor(AuditorConf(devices=devices, mount_check=False,
                                        files_per_second=0, bytes_per_second=0))
    stats = auditor.run_once()
    assert stats['files_checked'] == 2 and stats['quarantined'] == 0
    assert [_cached_bytes(path) for path in paths] == [0, 0]
    # A buffered read of the same file would have left it in the cache.
    with open(paths[0], 'rb') as f:
        assert f.read() == body
    assert _cached_bytes(paths[0]) > 0


def test_reclaim_removes_only_old_tombstones(devices):
    dev = os.path.join(devices, 'sda')
    old = FsDiskFileManager().get_diskfile(dev, 1, 'a', 'c', 'old')
    old.delete('1000000000.00000')
    recent = FsDiskFileManager().get_diskfile(dev, 1, 'a', 'c', 'recent')
    recent.delete('%.5f' % time.time())
    _put(dev, 'data', b'x', '1000000000.00000')
    part = os.path.join(dev, 'objects', '1')
    assert reclaim_partition(part, time.time() - 3600) == 1
    assert not os.path.exists(_hash_dir(dev, 'old'))
    assert os.path.isdir(_hash_dir(dev, 'recent'))
    assert os.path.isdir(_hash_dir(dev, 'data'))     # data is never reclaimed


def test_remove_files_keeps_what_arrived_after_the_offer(devices):
    dev = os.path.join(devices, 'sda')
    _put(dev, 'a', b'1', '1700000001.00000', part=5)
    _put(dev, 'b', b'2', '1700000001.00000', part=5)
    part = os.path.join(dev, 'objects', '5')
    offers = list_partition(part)
    assert sorted(offers) == sorted([hash_path('a', 'c', 'a'), hash_path('a', 'c', 'b')])
    _put(dev, 'b', b'3', '1700000009.00000', part=5)      # a newer write lands meanwhile
    assert remove_files(part, offers) == 1                # b's old file was already superseded
    assert os.listdir(_hash_dir(dev, 'b', part=5)) == ['1700000009.00000.data']
    assert not os.path.exists(_hash_dir(dev, 'a', part=5))
    offers = list_partition(part)
    remove_files(part, offers)
    assert not os.path.exists(part)                       # an emptied handoff goes entirely


def test_async_records_newest_wins_and_garbage_is_reported(tmp_path):
    root = tmp_path / 'async_pending' / 'abc'
    root.mkdir(parents=True)
    h = 'f' * 29 + 'abc'
    for ts in ('1700000003.00000', '1700000001.00000', '1700000002.00000'):
        (root / ('%s-%s' % (h, ts))).write_text('{}')
    (root / 'no-timestamp-here').write_text('x')
    (root / '.tmp-inflight').write_text('x')
    found = list(list_records(str(tmp_path / 'async_pending')))
    live = [os.path.basename(p) for p, superseded in found if not superseded]
    old = [os.path.basename(p) for p, superseded in found if superseded]
    assert live == ['no-timestamp-here', h + '-1700000003.00000']
    assert sorted(old) == [h + '-1700000001.00000', h + '-1700000002.00000']
    assert read_record(str(root / 'no-timestamp-here'), ('op',)) is None


@pytest.mark.parametrize('content', [b'not json', b'[]', b'{"op": "PUT"}',
                                     b'{"op": "EXPLODE", "account": "a", "container": "c",'
                                     b' "obj": "o", "headers": {}}', b'\xff' * 10])
def test_updater_drops_unreadable_records(devices, content):
    path = os.path.join(devices, 'sda', 'async_pending', 'abc', 'x' * 29 + 'abc-1700000001.00000')
    os.makedirs(os.path.dirname(path))
    with open(path, 'wb') as f:
        f.write(content)
    updater = ObjectUpdater(UpdaterConf(devices=devices, mount_check=False, files_per_second=0,
                                        swift_dir=devices))
    stats = updater.run_once()
    assert stats['bad_records'] == 1 and not os.path.exists(path)


def test_updater_keeps_records_it_could_not_deliver(devices):
    path = os.path.join(devices, 'sda', 'async_pending', 'abc', 'x' * 29 + 'abc-1700000001.00000')
    os.makedirs(os.path.dirname(path))
    record = {'op': 'PUT', 'account': 'a', 'container': 'c', 'obj': 'o',
              'headers': {'X-Timestamp': '1700000001.00000'}, 'partition': 1,
              'container_nodes': [['127.0.0.1:1', 'sdb']]}     # nothing listens on port 1
    with open(path, 'w') as f:
        json.dump(record, f)
    updater = ObjectUpdater(UpdaterConf(devices=devices, mount_check=False, files_per_second=0,
                                        swift_dir=devices, conn_timeout=0.2))
    stats = updater.run_once()
    assert stats['failures'] == 1 and os.path.exists(path)
    assert container_nodes_for(record, None) == [(1, {'ip': '127.0.0.1', 'port': 1,
                                                      'device': 'sdb'})]


def test_cli_option_overrides_and_bad_keys(tmp_path):
    conf = tmp_path / 'object-server.conf'
    devices = tmp_path / 'node'
    (devices / 'sda').mkdir(parents=True)
    (tmp_path / 'swiftlike.conf').write_text('[hash]\npath_prefix = p\n')
    conf.write_text('[DEFAULT]\ndevices = %s\nmount_check = false\nswift_dir = %s\n'
                    '[object-server]\nbind_port = 6000\n[object-auditor]\n' % (devices, tmp_path))
    env = dict(os.environ, SWIFTLIKE_CONF=str(tmp_path / 'swiftlike.conf'))
    cmd = [sys.executable, '-m', 'swiftlike.cli.daemons', 'object-auditor', str(conf), '--once']
    ok = subprocess.run(cmd + ['-o', 'bytes_per_second=0', '-o', 'files_per_second=0'],
                        capture_output=True, text=True, env=env, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert 'object-auditor pass done' in ok.stderr
    for bad in (['-o', 'no_such_key=1'], ['-o', 'bytes_per_second=fast'], ['-o', 'novalue']):
        res = subprocess.run(cmd + bad, capture_output=True, text=True, env=env, timeout=60)
        assert res.returncode == 2 and res.stderr.strip(), bad
        assert 'Traceback' not in res.stderr


def test_cli_runs_passes_until_sigterm(tmp_path):
    import signal
    conf = tmp_path / 'object-server.conf'
    devices = tmp_path / 'node'
    (devices / 'sda').mkdir(parents=True)
    (tmp_path / 'swiftlike.conf').write_text('[hash]\npath_prefix = p\n')
    conf.write_text('[DEFAULT]\ndevices = %s\nmount_check = false\nswift_dir = %s\n'
                    '[object-server]\nbind_port = 6000\n[object-updater]\ninterval = 0.2\n'
                    % (devices, tmp_path))
    env = dict(os.environ, SWIFTLIKE_CONF=str(tmp_path / 'swiftlike.conf'))
    proc = subprocess.Popen([sys.executable, '-m', 'swiftlike.cli.daemons', 'object-updater',
                             str(conf)], stderr=subprocess.PIPE, text=True, env=env)
    try:
        recon = devices / '.recon' / 'object.recon'
        deadline = time.time() + 30
        while time.time() < deadline and not recon.exists():
            time.sleep(0.1)
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert err.count('object-updater pass done') >= 2


class _Ring:
    """Every partition on 'sda' here (port 6200) and two peers."""

    def get_part_nodes(self, part):
        return [{'ip': '127.0.0.1', 'port': 6200, 'device': 'sda'},
                {'ip': '127.0.0.2', 'port': 6200, 'device': 'sdb'},
                {'ip': '127.0.0.3', 'port': 6200, 'device': 'sdc'}]


def _replicator(devices, parts, **conf):
    """A replicator of 'sda' (one object in each of `parts`) whose peer
    comparisons are only recorded."""
    dev = os.path.join(devices, 'sda')
    for part in parts:
        _put(dev, 'o%d' % part, b'x', '1700000001.00000', part=part)
    return ObjectReplicator(ReplicatorConf(
        devices=devices, mount_check=False, bind_ip='127.0.0.1', bind_port=6200,
        interval=10, concurrency=1, **conf), ring=_Ring())


@pytest.mark.parametrize('forever', [True, False])
def test_replicator_spreads_a_busy_pass_over_the_interval(devices, forever):
    replicator = _replicator(devices, range(10), pass_spread=0.5)
    now = [1000.0]
    compared = []

    def sleep(seconds):
        now[0] += seconds

    def sync_peer(dev_path, part, part_path, node, local, stats, fingerprint):
        compared.append((now[0], part))
    replicator.rate_limiter = lambda rate: RateLimiter(rate, clock=lambda: now[0], sleep=sleep)
    replicator.sync_peer = sync_peer
    replicator.pacing = forever
    replicator.run_once()
    assert sorted({part for _t, part in compared}) == list(range(10))
    # 10 partitions over half of a 10 s interval: 2 a second, one second's
    # worth at once (the limiter's burst), so the last 4 s after the first.
    elapsed = compared[-1][0] - compared[0][0]
    assert elapsed == (pytest.approx(4.0) if forever else 0)
    # A second pass finds every partition agreed and unchanged: no wait.
    del compared[:]
    start = now[0]
    replicator.run_once()
    assert compared == [] and now[0] == start


def test_replicator_pass_spread_is_checked():
    with pytest.raises(ValueError):
        ReplicatorConf(pass_spread=1.5).validate()


def _deferring_replicator(devices, parts, forever=True):
    """A replicator over `parts` that defers busy partitions (as in
    run_forever when `forever`), and the list of partitions it compares."""
    replicator = _replicator(devices, parts, pass_spread=0, busy_defer_max=3600,
                             unchanged_recheck_interval=3600)
    compared = []
    replicator.sync_peer = lambda dev_path, part, *args: compared.append(part)
    replicator.pacing = forever
    return replicator, compared


@pytest.mark.parametrize('forever', [True, False])
def test_replicator_defers_a_partition_still_being_written(devices, forever):
    replicator, compared = _deferring_replicator(devices, range(3), forever)
    dev = os.path.join(devices, 'sda')

    def one_pass():
        del compared[:]
        stats = replicator.run_once()
        return sorted(set(compared)), stats['deferred']
    # The first pass compares everything (nothing known yet).
    assert one_pass() == ([0, 1, 2], 0)
    # Partition 1 written since: being written, so it waits (forever) ...
    _put(dev, 'more', b'y', '1700000002.00000', part=1)
    assert one_pass() == (([], 1) if forever else ([1], 0))
    # ... until a pass finds it settled.
    assert one_pass() == (([1], 0) if forever else ([], 0))
    # Still changing at every pass: compared once busy_defer_max has passed.
    _put(dev, 'again', b'z', '1700000003.00000', part=2)
    replicator._compared_at[(dev, 2)] -= 3600
    assert one_pass() == ([2], 0)


def test_replicator_defers_a_busy_partition_without_rehashing_it(devices):
    replicator, compared = _deferring_replicator(devices, range(2))
    dev = os.path.join(devices, 'sda')
    replicator.run_once()
    assert sorted(set(compared)) == [0, 1]
    invalid = os.path.join(dev, 'objects', '1', 'hashes.invalid')
    assert not os.path.exists(invalid)
    # Written since the last pass looked (which was 10 s ago) ...
    replicator._looked[(dev, 1)] -= 10
    _put(dev, 'more', b'y', '1700000002.00000', part=1)
    assert os.path.exists(invalid)
    del compared[:]
    assert replicator.run_once()['deferred'] == 1 and compared == []
    # ... told by its mark alone: the suffix it marked is not rehashed yet.
    assert os.path.exists(invalid)
    # The pass that finds it settled rehashes and compares it.
    del compared[:]
    assert replicator.run_once()['deferred'] == 0
    assert sorted(set(compared)) == [1] and not os.path.exists(invalid)
