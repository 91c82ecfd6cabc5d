"""iostat -x figures from diskstats samples, and finding a mount's block device."""
import os

import pytest

from swiftlike.recon import diskio, procfs


def _stats(**values):
    stats = dict.fromkeys(procfs.DISKSTATS_FIELDS, 0)
    stats.update(values)
    return stats


@pytest.mark.parametrize('before,after,seconds,expected', [
    # 100 reads of 8 KiB and 50 writes of 1 MiB in 2 s; the disk busy 1.5 s of it.
    (_stats(), _stats(reads=100, sectors_read=1600, read_ms=200, writes=50,
                      sectors_written=102400, write_ms=1000, io_ms=1500, weighted_ms=3000,
                      reads_merged=4, writes_merged=10, in_flight=3),
     2.0,
     {'reads_per_s': 50.0, 'writes_per_s': 25.0, 'read_mb_per_s': 0.391,
      'write_mb_per_s': 25.0, 'read_merged_per_s': 2.0, 'write_merged_per_s': 5.0,
      'read_await_ms': 2.0, 'write_await_ms': 20.0, 'await_ms': 8.0, 'queue_size': 1.5,
      'util_pct': 75.0, 'in_flight': 3}),
    # Idle: every rate 0 and no division by zero.
    (_stats(reads=5), _stats(reads=5), 1.0,
     {'reads_per_s': 0.0, 'writes_per_s': 0.0, 'read_mb_per_s': 0.0, 'write_mb_per_s': 0.0,
      'read_merged_per_s': 0.0, 'write_merged_per_s': 0.0, 'read_await_ms': 0.0,
      'write_await_ms': 0.0, 'await_ms': 0.0, 'queue_size': 0.0, 'util_pct': 0.0,
      'in_flight': 0}),
    # A counter that went back (device re-attached) counts from zero; util caps at 100.
    (_stats(writes=1000, io_ms=10000), _stats(writes=10, write_ms=30, io_ms=1500), 1.0,
     {'reads_per_s': 0.0, 'writes_per_s': 10.0, 'read_mb_per_s': 0.0, 'write_mb_per_s': 0.0,
      'read_merged_per_s': 0.0, 'write_merged_per_s': 0.0, 'read_await_ms': 0.0,
      'write_await_ms': 3.0, 'await_ms': 3.0, 'queue_size': 0.0, 'util_pct': 100.0,
      'in_flight': 0}),
])
def test_iostat_figures(before, after, seconds, expected):
    assert diskio.iostat_figures(before, after, seconds) == expected


def test_iostat_needs_a_positive_interval():
    with pytest.raises(ValueError):
        diskio.iostat_figures(_stats(), _stats(), 0)


def test_totals_in_bytes():
    assert diskio.totals(_stats(reads=2, writes=3, sectors_read=8, sectors_written=16,
                                io_ms=9)) == \
        {'reads': 2, 'writes': 3, 'read_bytes': 4096, 'write_bytes': 8192, 'io_ms': 9}


def _fake_sysfs(root, major, minor, relpath, partition):
    """/sys/dev/block/MAJ:MIN -> ../../devices/<relpath>, as the kernel lays it out."""
    target = root / 'devices' / relpath
    target.mkdir(parents=True)
    if partition:
        (target / 'partition').write_text('1\n')
    links = root / 'dev' / 'block'
    links.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(target, links), links / ('%d:%d' % (major, minor)))


@pytest.mark.parametrize('relpath,partition,name,disk', [
    ('pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda1', True,
     'sda1', 'sda'),
    ('pci0000:00/0000:00:1d.0/nvme/nvme0/nvme0n1/nvme0n1p2', True, 'nvme0n1p2', 'nvme0n1'),
    ('virtual/block/loop3', False, 'loop3', 'loop3'),
    ('virtual/block/dm-0', False, 'dm-0', 'dm-0'),
])
def test_block_device_by_number(tmp_path, relpath, partition, name, disk):
    _fake_sysfs(tmp_path, 8, 1, relpath, partition)
    assert diskio.block_device_by_number(8, 1, str(tmp_path)) == {
        'name': name, 'major': 8, 'minor': 1, 'disk': disk, 'partition': partition}


def test_block_device_unknown_number_has_a_reason(tmp_path):
    found = diskio.block_device_by_number(9, 9, str(tmp_path))
    assert 'error' in found and '9:9' in found['error']


def test_block_device_of_a_real_directory_matches_its_st_dev(tmp_path):
    st_dev = os.stat(tmp_path).st_dev
    major, minor = os.major(st_dev), os.minor(st_dev)
    found = diskio.block_device_of(str(tmp_path))
    if major == 0:
        assert 'no block device' in found['error']
    else:
        assert (found['major'], found['minor']) == (major, minor)
        assert found['name'] in procfs.parse_diskstats(procfs.read('/proc/diskstats'))
    assert 'cannot stat' in diskio.block_device_of(str(tmp_path / 'missing'))['error']


def _proc(root, diskstats, cpu):
    root.mkdir(exist_ok=True)
    (root / 'diskstats').write_text(diskstats)
    (root / 'stat').write_text(cpu)


def test_sampler_reuses_a_recent_sample_and_waits_otherwise(tmp_path):
    proc, sys_root = tmp_path / 'proc', tmp_path / 'sys'
    _fake_sysfs(sys_root, 7, 3, 'virtual/block/loop3', False)
    device_dir = tmp_path / 'd1'
    device_dir.mkdir()
    _proc(proc, '7 3 loop3 0 0 0 0 0 0 0 0 0 0 0\n', 'cpu 0 0 0 100 0 0 0 0\n')
    now = [100.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds
        # What the kernel counted while we waited.
        _proc(proc, '7 3 loop3 0 0 0 0 4 0 2048 40 0 500 40\n', 'cpu 50 0 0 140 0 0 0 10\n')

    sampler = diskio.Sampler(str(proc), str(sys_root), clock=lambda: now[0], sleep=sleep)
    st_dev = os.stat(device_dir).st_dev
    # Point the fake sysfs at this directory's real st_dev.
    os.rename(sys_root / 'dev' / 'block' / '7:3',
              sys_root / 'dev' / 'block' / ('%d:%d' % (os.major(st_dev), os.minor(st_dev))))
    report = sampler.report([('d1', str(device_dir))], interval=2.0)
    assert slept == [2.0] and report['interval'] == 2.0
    entry = report['devices'][0]
    if os.major(st_dev) == 0:
        assert entry['block_device'] is None and entry['reason']
        return
    assert entry['block_device'] == 'loop3'
    assert entry['writes_per_s'] == 2.0 and entry['write_mb_per_s'] == 0.5
    assert entry['util_pct'] == 25.0 and entry['totals']['write_bytes'] == 2048 * 512
    assert report['cpu']['steal_pct'] == 10.0 and report['cpu']['user_pct'] == 50.0
    # A second report 3 s later measures over those 3 s, with no wait.
    now[0] += 3.0
    _proc(proc, '7 3 loop3 0 0 0 0 10 0 2048 40 0 500 40\n', 'cpu 50 0 0 140 0 0 0 10\n')
    report = sampler.report([('d1', str(device_dir))], interval=2.0)
    assert slept == [2.0] and report['interval'] == 3.0
    assert report['devices'][0]['writes_per_s'] == 2.0
