"""Pure parsers of the kernel's text files that recon reports.

Each takes the file's text and returns plain data; none does I/O. `read()`
is the one helper that reads a file (and returns '' when it cannot).
"""

SECTOR_BYTES = 512      # /proc/diskstats counts 512-byte sectors whatever the device

# The fields of a /proc/diskstats line after major, minor and name, in order
# (Documentation/admin-guide/iostats.rst). Kernels before 4.18 stop after
# weighted_ms; before 5.5 after discard_ms.
DISKSTATS_FIELDS = (
    'reads', 'reads_merged', 'sectors_read', 'read_ms',
    'writes', 'writes_merged', 'sectors_written', 'write_ms',
    'in_flight', 'io_ms', 'weighted_ms',
    'discards', 'discards_merged', 'sectors_discarded', 'discard_ms',
    'flushes', 'flush_ms',
)

# The columns of the "cpu" lines of /proc/stat, in order.
CPU_FIELDS = ('user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal',
              'guest', 'guest_nice')


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ''


def parse_loadavg(text):
    """/proc/loadavg -> Swift's recon load: 1m/5m/15m, tasks ("running/total")
    and processes (the last pid handed out)."""
    fields = text.split()
    if len(fields) < 5:
        raise ValueError('unexpected /proc/loadavg: %r' % text[:80])
    return {'1m': float(fields[0]), '5m': float(fields[1]), '15m': float(fields[2]),
            'tasks': fields[3], 'processes': int(fields[4])}


def parse_meminfo(text):
    """/proc/meminfo -> {"MemTotal": "2052444 kB", ...} (values as the kernel writes them)."""
    result = {}
    for line in text.splitlines():
        name, sep, value = line.partition(':')
        if sep and name.strip():
            result[name.strip()] = value.strip()
    return result


def _sockstat_lines(text):
    """'TCP: inuse 5 orphan 0 tw 2' -> {'TCP': {'inuse': 5, 'orphan': 0, 'tw': 2}}."""
    result = {}
    for line in text.splitlines():
        name, sep, rest = line.partition(':')
        if not sep:
            continue
        words = rest.split()
        values = {}
        for key, value in zip(words[::2], words[1::2]):
            if value.lstrip('-').isdigit():
                values[key] = int(value)
        result[name.strip()] = values
    return result


def parse_sockstat(text, text6='', page_size=4096):
    """/proc/net/sockstat (and sockstat6) -> Swift's recon sockstat keys.

    tcp_mem_allocated_bytes is the TCP "mem" figure, which the kernel counts in pages.
    """
    tcp = _sockstat_lines(text).get('TCP', {})
    result = {}
    if 'inuse' in tcp:
        result['tcp_in_use'] = tcp['inuse']
    if 'orphan' in tcp:
        result['orphan'] = tcp['orphan']
    if 'tw' in tcp:
        result['time_wait'] = tcp['tw']
    if 'mem' in tcp:
        result['tcp_mem_allocated_bytes'] = tcp['mem'] * page_size
    tcp6 = _sockstat_lines(text6).get('TCP6', {})
    if 'inuse' in tcp6:
        result['tcp6_in_use'] = tcp6['inuse']
    return result


def parse_diskstats(text):
    """/proc/diskstats -> {name: {'major', 'minor', <DISKSTATS_FIELDS present>}}."""
    result = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 7 or not fields[0].isdigit() or not fields[1].isdigit():
            continue
        values = fields[3:]
        if not all(v.isdigit() for v in values):
            continue
        stats = {'major': int(fields[0]), 'minor': int(fields[1])}
        if len(values) == 4:
            # Old (2.6.25-) partition lines: reads, sectors read, writes, sectors written.
            stats.update(dict.fromkeys(DISKSTATS_FIELDS[:11], 0))
            stats.update(reads=int(values[0]), sectors_read=int(values[1]),
                         writes=int(values[2]), sectors_written=int(values[3]))
        else:
            stats.update(zip(DISKSTATS_FIELDS, (int(v) for v in values)))
        result[fields[2]] = stats
    return result


def parse_cpu_times(text):
    """/proc/stat -> the aggregate "cpu" line as {field: ticks} (missing columns are 0)."""
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == 'cpu':
            values = [int(v) for v in fields[1:] if v.isdigit()]
            values += [0] * (len(CPU_FIELDS) - len(values))
            return dict(zip(CPU_FIELDS, values))
    raise ValueError('no aggregate cpu line in /proc/stat')


def cpu_percentages(before, after):
    """Share of CPU time per field between two parse_cpu_times() samples, in
    percent; steal is what a hypervisor took from this guest. Guest time is
    already inside user/nice, so it does not count twice."""
    delta = {k: max(0, after.get(k, 0) - before.get(k, 0)) for k in CPU_FIELDS}
    total = sum(v for k, v in delta.items() if k not in ('guest', 'guest_nice'))
    if total <= 0:
        return {k: 0.0 for k in CPU_FIELDS if k not in ('guest', 'guest_nice')}
    return {k: round(100.0 * delta[k] / total, 2)
            for k in CPU_FIELDS if k not in ('guest', 'guest_nice')}


def _unescape_mount_field(field):
    """/proc/mounts writes space, tab, newline and backslash as octal escapes."""
    if '\\' not in field:
        return field
    out, i = [], 0
    while i < len(field):
        chunk = field[i + 1:i + 4]
        if field[i] == '\\' and len(chunk) == 3 and all(c in '01234567' for c in chunk):
            out.append(chr(int(chunk, 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return ''.join(out)


def parse_mounts(text):
    """/proc/mounts -> [{"device": source, "path": mount point, "fstype": type}]."""
    result = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            result.append({'device': _unescape_mount_field(fields[0]),
                           'path': _unescape_mount_field(fields[1]),
                           'fstype': fields[2]})
    return result
