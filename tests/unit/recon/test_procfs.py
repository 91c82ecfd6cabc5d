"""The /proc parsers, by tables of real kernel text."""
import pytest

from swiftlike.recon import procfs

DISKSTATS = """\
   7       0 loop0 5 0 40 1 0 0 0 0 0 4 1 0 0 0 0
   8       0 sda 1000 20 80000 500 2000 300 160000 4000 2 3000 4500 10 0 800 5 70 30
   8       1 sda1 900 20 72000 450 1900 300 150000 3900 0 2900 4350 10 0 800 5
 253       0 dm-0 10 0 80 3 20 0 160 9 0 11 12
   8      17 sdb1 7 14 21 28
garbage line
"""


def test_diskstats_every_kernel_generation():
    stats = procfs.parse_diskstats(DISKSTATS)
    assert sorted(stats) == ['dm-0', 'loop0', 'sda', 'sda1', 'sdb1']
    sda = stats['sda']
    assert (sda['major'], sda['minor']) == (8, 0)
    assert (sda['reads'], sda['sectors_read'], sda['read_ms']) == (1000, 80000, 500)
    assert (sda['writes'], sda['writes_merged'], sda['sectors_written']) == (2000, 300, 160000)
    assert (sda['in_flight'], sda['io_ms'], sda['weighted_ms']) == (2, 3000, 4500)
    assert (sda['flushes'], sda['flush_ms']) == (70, 30)          # 5.5+: 17 fields
    assert 'flushes' not in stats['sda1'] and stats['sda1']['discard_ms'] == 5   # 4.18+
    assert stats['dm-0']['weighted_ms'] == 12 and 'discards' not in stats['dm-0']  # 11 fields
    # 2.6.25- partitions: reads, sectors read, writes, sectors written.
    assert {k: stats['sdb1'][k] for k in ('reads', 'sectors_read', 'writes', 'sectors_written',
                                          'io_ms')} == \
        {'reads': 7, 'sectors_read': 14, 'writes': 21, 'sectors_written': 28, 'io_ms': 0}


@pytest.mark.parametrize('text,expected', [
    ('0.50 0.40 0.30 2/345 4321\n',
     {'1m': 0.5, '5m': 0.4, '15m': 0.3, 'tasks': '2/345', 'processes': 4321}),
    ('12.00 7.25 3.00 10/1000 99', {'1m': 12.0, '5m': 7.25, '15m': 3.0, 'tasks': '10/1000',
                                     'processes': 99}),
])
def test_loadavg(text, expected):
    assert procfs.parse_loadavg(text) == expected


def test_loadavg_refuses_nonsense():
    with pytest.raises(ValueError):
        procfs.parse_loadavg('')


def test_meminfo_keeps_the_kernels_text():
    text = 'MemTotal:        2052444 kB\nHugePages_Total:       0\nbogus\n'
    assert procfs.parse_meminfo(text) == {'MemTotal': '2052444 kB', 'HugePages_Total': '0'}


@pytest.mark.parametrize('text,text6,expected', [
    ('sockets: used 300\nTCP: inuse 5 orphan 1 tw 7 alloc 9 mem 3\nUDP: inuse 2 mem 1\n',
     'TCP6: inuse 4\nUDP6: inuse 1\n',
     {'tcp_in_use': 5, 'orphan': 1, 'time_wait': 7, 'tcp_mem_allocated_bytes': 3 * 4096,
      'tcp6_in_use': 4}),
    ('TCP: inuse 0 orphan 0 tw 0 alloc 0 mem 0\n', '',
     {'tcp_in_use': 0, 'orphan': 0, 'time_wait': 0, 'tcp_mem_allocated_bytes': 0}),
    ('', '', {}),
])
def test_sockstat(text, text6, expected):
    assert procfs.parse_sockstat(text, text6, page_size=4096) == expected


def test_cpu_times_and_steal_share():
    before = procfs.parse_cpu_times('cpu  100 0 50 800 10 0 0 40 0 0\ncpu0 1 2 3 4\n')
    after = procfs.parse_cpu_times('cpu  200 0 100 1500 20 0 0 130 25 0\n')
    # Old kernels stop after steal (or earlier): missing columns are 0.
    assert procfs.parse_cpu_times('cpu 1 2 3 4')['steal'] == 0
    shares = procfs.cpu_percentages(before, after)
    # delta: user 100, system 50, idle 700, iowait 10, steal 90 -> total 950;
    # guest (25) is inside user already and is not counted twice.
    assert shares['steal'] == round(100 * 90 / 950, 2)
    assert shares['idle'] == round(100 * 700 / 950, 2)
    assert round(sum(shares.values()), 1) == 100.0
    assert 'guest' not in shares
    assert procfs.cpu_percentages(after, after)['steal'] == 0.0


def test_cpu_times_needs_the_aggregate_line():
    with pytest.raises(ValueError):
        procfs.parse_cpu_times('cpu0 1 2 3\n')


def test_mounts_unescape_octal():
    text = ('/dev/loop3 /srv/node/d\\0401 xfs rw,noatime 0 0\n'
            'tmpfs /run tmpfs rw 0 0\n')
    assert procfs.parse_mounts(text) == [
        {'device': '/dev/loop3', 'path': '/srv/node/d 1', 'fstype': 'xfs'},
        {'device': 'tmpfs', 'path': '/run', 'fstype': 'tmpfs'}]
