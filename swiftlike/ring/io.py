"""On-disk formats of ring and builder files (see doc/ring.md). No pickle.

Both are gzip streams holding:

    8-byte magic | 4-byte big-endian header length N | N bytes of UTF-8 JSON | packed arrays

The ring file's arrays are `replica_count` tables of 2**part_power unsigned
16-bit little-endian device ids (one table per replica). The builder file
has the same tables (when a rebalance has happened) followed by one byte per
partition: hours since that partition last moved (saturating at 255).
"""
import array
import gzip
import json
import struct
import sys
import zlib

from swiftlike.exceptions import RingError
from swiftlike.fs import write_atomically

RING_MAGIC = b'SWLRING1'
BUILDER_MAGIC = b'SWLBLDR1'
NONE_DEV = 0xFFFF  # marks an unassigned replica slot in the tables
MAX_DEVS = NONE_DEV  # device ids 0..65534
MAX_PART_POWER = 24
_LEN = struct.Struct('>I')
MAX_HEADER = 64 * 1024 * 1024


def _pack_table(table):
    if sys.byteorder == 'little':
        return table.tobytes()
    copy = array.array('H', table)
    copy.byteswap()
    return copy.tobytes()


def _unpack_table(raw):
    table = array.array('H')
    table.frombytes(raw)
    if sys.byteorder != 'little':
        table.byteswap()
    return table


def _encode(magic, header, blobs):
    head = json.dumps(header, sort_keys=True, separators=(',', ':')).encode('utf-8')
    return b''.join([magic, _LEN.pack(len(head)), head] + list(blobs))


def _decode(path, data, magic):
    if data[:len(magic)] != magic:
        raise RingError('%s: not a %s file (bad magic)' % (
            path, 'ring' if magic == RING_MAGIC else 'builder'))
    pos = len(magic)
    if len(data) < pos + 4:
        raise RingError('%s: truncated header' % path)
    (size,) = _LEN.unpack_from(data, pos)
    pos += 4
    if size > MAX_HEADER or len(data) < pos + size:
        raise RingError('%s: truncated header' % path)
    try:
        header = json.loads(data[pos:pos + size].decode('utf-8'))
    except ValueError as err:
        raise RingError('%s: bad header: %s' % (path, err))
    if not isinstance(header, dict):
        raise RingError('%s: bad header: not an object' % path)
    return header, memoryview(data)[pos + size:]


def _read_gzip(path):
    try:
        with open(path, 'rb') as fp:
            raw = fp.read()
    except FileNotFoundError:
        raise RingError('%s: no such file' % path)
    except OSError as err:
        raise RingError('%s: cannot read: %s' % (path, err.strerror or err))
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise RingError('%s: not a gzip file or truncated (%s)' % (path, err))


def atomic_write(path, data):
    """Write data to path so readers see the old or the new file, never half."""
    write_atomically(path, data, sync_dir=True)


def _gz(payload):
    return gzip.compress(payload, compresslevel=6, mtime=0)


def _check_int(path, header, key, low, high):
    value = header.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise RingError('%s: header field %r missing or out of range' % (path, key))
    return value


def _check_devs(path, devs):
    if not isinstance(devs, list) or len(devs) > MAX_DEVS:
        raise RingError('%s: header field devs must be a list' % path)
    for index, dev in enumerate(devs):
        if dev is None:
            continue
        if not isinstance(dev, dict) or dev.get('id') != index:
            raise RingError('%s: device entry %d is malformed' % (path, index))
        for key in ('region', 'zone', 'port', 'replication_port'):
            if not isinstance(dev.get(key), int):
                raise RingError('%s: device %d: bad %s' % (path, index, key))
        for key in ('ip', 'replication_ip', 'device', 'meta'):
            if not isinstance(dev.get(key), str):
                raise RingError('%s: device %d: bad %s' % (path, index, key))
        if not isinstance(dev.get('weight'), (int, float)) or dev['weight'] < 0:
            raise RingError('%s: device %d: bad weight' % (path, index))
    return devs


def _read_tables(path, body, count, parts):
    size = parts * 2
    if len(body) < size * count:
        raise RingError('%s: truncated partition table' % path)
    tables = [_unpack_table(body[i * size:(i + 1) * size]) for i in range(count)]
    return tables, body[size * count:]


# --- ring files -----------------------------------------------------------

def write_ring_file(path, part_power, devs, tables):
    header = {'format': 1, 'part_power': part_power, 'replica_count': len(tables),
              'devs': devs}
    atomic_write(path, _gz(_encode(RING_MAGIC, header, [_pack_table(t) for t in tables])))


def read_ring_file(path):
    """Return (part_power, devs, tables) after checking every device id."""
    header, body = _decode(path, _read_gzip(path), RING_MAGIC)
    part_power = _check_int(path, header, 'part_power', 0, MAX_PART_POWER)
    replicas = _check_int(path, header, 'replica_count', 1, 64)
    devs = _check_devs(path, header.get('devs'))
    tables, rest = _read_tables(path, body, replicas, 1 << part_power)
    if len(rest):
        raise RingError('%s: trailing data after partition tables' % path)
    known = {dev['id'] for dev in devs if dev is not None}
    for table in tables:
        if not set(table) <= known:
            raise RingError('%s: partition table names an unknown device' % path)
    return part_power, devs, tables


# --- builder files --------------------------------------------------------

def write_builder_file(path, state):
    """state: dict with part_power, replicas, min_part_hours, devs,
    moves_epoch, tables (list of arrays, may be empty) and part_ages (array 'B')."""
    header = {'format': 1}
    for key in ('part_power', 'replicas', 'min_part_hours', 'devs', 'moves_epoch'):
        header[key] = state[key]
    header['has_tables'] = bool(state['tables'])
    header['devs_changed'] = bool(state.get('devs_changed'))
    blobs = [_pack_table(t) for t in state['tables']]
    blobs.append(state['part_ages'].tobytes())
    atomic_write(path, _gz(_encode(BUILDER_MAGIC, header, blobs)))


def read_builder_file(path):
    header, body = _decode(path, _read_gzip(path), BUILDER_MAGIC)
    part_power = _check_int(path, header, 'part_power', 0, MAX_PART_POWER)
    replicas = _check_int(path, header, 'replicas', 1, 64)
    min_part_hours = _check_int(path, header, 'min_part_hours', 0, 255)
    epoch = header.get('moves_epoch')
    if not isinstance(epoch, (int, float)):
        raise RingError('%s: header field moves_epoch missing' % path)
    devs = _check_devs(path, header.get('devs'))
    parts = 1 << part_power
    tables = []
    if header.get('has_tables'):
        tables, body = _read_tables(path, body, replicas, parts)
        # a removed device (None) may still hold partitions until the next rebalance
        for table in tables:
            if max(set(table) - {NONE_DEV}, default=-1) >= len(devs):
                raise RingError('%s: partition table names an unknown device' % path)
    if len(body) != parts:
        raise RingError('%s: partition ages have the wrong length' % path)
    ages = array.array('B')
    ages.frombytes(body)
    return {'part_power': part_power, 'replicas': replicas,
            'min_part_hours': min_part_hours, 'devs': devs, 'moves_epoch': epoch,
            'tables': tables, 'part_ages': ages,
            'devs_changed': bool(header.get('devs_changed'))}
