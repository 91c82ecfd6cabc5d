"""Per-device I/O figures like `iostat -x`, for the devices a node serves.

Finding the disk: a device directory's st_dev names the block device whose
filesystem holds it (major:minor); /sys/dev/block/MAJ:MIN links to that
device's sysfs directory, whose name is the one /proc/diskstats uses (sda1,
nvme0n1p2, loop3, dm-0). A partition's sysfs directory has a `partition` file
and sits inside its disk's directory, which gives the whole disk's name too.
A directory on a filesystem without a block device (tmpfs, overlay, NFS, ...)
has major 0 and gets no figures, with the reason.

Figures: two /proc/diskstats samples `seconds` apart give, as iostat -x does,
r/s and w/s (completed I/Os), rMB/s and wMB/s (MiB, 512-byte sectors),
rrqm/s and wrqm/s (merged), r_await and w_await (ms per I/O, queue + service),
aqu-sz (average queue length) and %util (share of the interval the device had
I/O in flight; for devices serving requests in parallel, like SSDs and RAID,
100% does not mean saturated). The node's CPU split (user, system, iowait,
steal, ...) comes from two /proc/stat samples over the same interval.

`iostat_figures` and `block_device_of` are pure or read only sysfs; `Sampler`
keeps the previous sample so a poll every few seconds costs one read.
"""
import os
import time

from swiftlike.recon import procfs

MIB = 1024.0 * 1024.0


def block_device_of(path, sys_root='/sys'):
    """{'name', 'major', 'minor', 'disk', 'partition'} of the block device
    under `path`, or {'error': reason} when there is none."""
    try:
        st_dev = os.stat(path).st_dev
    except OSError as err:
        return {'error': 'cannot stat %s: %s' % (path, err.strerror or err)}
    major, minor = os.major(st_dev), os.minor(st_dev)
    if major == 0:
        return {'error': 'no block device: %s is on a virtual or network filesystem '
                         '(device %d:%d)' % (path, major, minor), 'major': major,
                'minor': minor}
    return block_device_by_number(major, minor, sys_root)


def block_device_by_number(major, minor, sys_root='/sys'):
    link = os.path.join(sys_root, 'dev', 'block', '%d:%d' % (major, minor))
    real = os.path.realpath(link)
    if not os.path.isdir(real):
        return {'error': 'no %s for device %d:%d' % (link, major, minor), 'major': major,
                'minor': minor}
    name = os.path.basename(real)
    partition = os.path.exists(os.path.join(real, 'partition'))
    disk = os.path.basename(os.path.dirname(real)) if partition else name
    return {'name': name, 'major': major, 'minor': minor, 'disk': disk,
            'partition': partition}


def _delta(after, before, key):
    value = after.get(key, 0) - before.get(key, 0)
    # A counter that went back was reset (or wrapped on a 32-bit kernel):
    # count from zero rather than report a negative rate.
    return value if value >= 0 else after.get(key, 0)


def iostat_figures(before, after, seconds):
    """iostat -x figures of one device from two parse_diskstats() entries."""
    seconds = float(seconds)
    if seconds <= 0:
        raise ValueError('the interval must be positive')
    d = {key: _delta(after, before, key) for key in procfs.DISKSTATS_FIELDS}
    reads, writes = d['reads'], d['writes']
    ios = reads + writes

    def per_second(value, digits=2):
        return round(value / seconds, digits)

    return {
        'reads_per_s': per_second(reads),
        'writes_per_s': per_second(writes),
        'read_mb_per_s': per_second(d['sectors_read'] * procfs.SECTOR_BYTES / MIB, 3),
        'write_mb_per_s': per_second(d['sectors_written'] * procfs.SECTOR_BYTES / MIB, 3),
        'read_merged_per_s': per_second(d['reads_merged']),
        'write_merged_per_s': per_second(d['writes_merged']),
        'read_await_ms': round(d['read_ms'] / reads, 2) if reads else 0.0,
        'write_await_ms': round(d['write_ms'] / writes, 2) if writes else 0.0,
        'await_ms': round((d['read_ms'] + d['write_ms']) / ios, 2) if ios else 0.0,
        'queue_size': round(d['weighted_ms'] / (seconds * 1000.0), 2),
        'util_pct': round(min(100.0, 100.0 * d['io_ms'] / (seconds * 1000.0)), 1),
        'in_flight': after.get('in_flight', 0),
    }


def totals(stats):
    """Counters since boot of one device, in bytes and I/Os (for clients that diff)."""
    return {
        'reads': stats.get('reads', 0), 'writes': stats.get('writes', 0),
        'read_bytes': stats.get('sectors_read', 0) * procfs.SECTOR_BYTES,
        'write_bytes': stats.get('sectors_written', 0) * procfs.SECTOR_BYTES,
        'io_ms': stats.get('io_ms', 0),
    }


class Sample:
    __slots__ = ('at', 'disks', 'cpu')

    def __init__(self, at, disks, cpu):
        self.at = at
        self.disks = disks
        self.cpu = cpu


def take_sample(proc_root='/proc', clock=time.monotonic):
    cpu_text = procfs.read(os.path.join(proc_root, 'stat'))
    try:
        cpu = procfs.parse_cpu_times(cpu_text)
    except ValueError:
        cpu = None
    return Sample(clock(), procfs.parse_diskstats(procfs.read(
        os.path.join(proc_root, 'diskstats'))), cpu)


class Sampler:
    """Keeps the last sample. report() measures over the time since it when
    that is between min_interval and max_age seconds; otherwise it samples,
    waits `interval` seconds (with the given sleep, green in a server), and
    samples again."""

    def __init__(self, proc_root='/proc', sys_root='/sys', clock=time.monotonic,
                 sleep=time.sleep, min_interval=0.5, max_age=300.0):
        self.proc_root = proc_root
        self.sys_root = sys_root
        self.clock = clock
        self.sleep = sleep
        self.min_interval = min_interval
        self.max_age = max_age
        self.previous = None

    def _pair(self, interval):
        now = take_sample(self.proc_root, self.clock)
        prev = self.previous
        if prev is None or not self.min_interval <= now.at - prev.at <= self.max_age:
            prev = now
            self.sleep(interval)
            now = take_sample(self.proc_root, self.clock)
        self.previous = now
        return prev, now

    def report(self, devices, interval=1.0):
        """{'interval', 'cpu', 'devices': [...]} for [(name, path)] devices."""
        prev, now = self._pair(interval)
        seconds = max(now.at - prev.at, 1e-6)
        result = {'interval': round(seconds, 3), 'time': time.time(), 'devices': []}
        if prev.cpu is not None and now.cpu is not None:
            result['cpu'] = {'%s_pct' % k: v for k, v in
                             procfs.cpu_percentages(prev.cpu, now.cpu).items()}
        for name, path in devices:
            entry = {'device': name, 'path': path}
            found = block_device_of(path, self.sys_root)
            if 'error' in found:
                entry.update(block_device=None, reason=found['error'])
                result['devices'].append(entry)
                continue
            entry.update(block_device=found['name'], disk=found['disk'],
                         major_minor='%d:%d' % (found['major'], found['minor']))
            before, after = prev.disks.get(found['name']), now.disks.get(found['name'])
            if before is None or after is None:
                entry['reason'] = '%s is not in %s/diskstats' % (found['name'], self.proc_root)
            else:
                entry.update(iostat_figures(before, after, seconds))
                entry['totals'] = totals(after)
            result['devices'].append(entry)
        return result
