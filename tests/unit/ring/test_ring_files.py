"""Ring and builder file formats: round trips and hostile files."""
import gzip
import json
import os
import struct

import pytest

from swiftlike.exceptions import RingError
from swiftlike.ring import Ring, RingBuilder


def small_builder():
    builder = RingBuilder(6, 3, 1)
    for zone in range(1, 5):
        builder.add_dev({'region': 1, 'zone': zone, 'ip': '10.0.0.%d' % zone, 'port': 6200,
                         'replication_ip': '10.1.0.%d' % zone, 'replication_port': 6300,
                         'device': 'sdb', 'weight': 100.0, 'meta': 'rack%d' % zone})
    builder.rebalance(seed=5)
    return builder


def test_builder_round_trip(tmp_path):
    path = str(tmp_path / 'object.builder')
    builder = small_builder()
    builder.remove_dev(3)  # a removed device stays referenced until rebalance
    builder.save(path)
    loaded = RingBuilder.load(path)
    for attr in ('part_power', 'replicas', 'min_part_hours', 'devs', 'tables',
                 'part_ages', 'moves_epoch'):
        assert getattr(loaded, attr) == getattr(builder, attr), attr
    assert [name for name in os.listdir(str(tmp_path))] == ['object.builder']


def test_empty_builder_round_trip(tmp_path):
    path = str(tmp_path / 'b.builder')
    RingBuilder(3, 1, 0).save(path)
    loaded = RingBuilder.load(path)
    assert loaded.tables == [] and loaded.devs == [] and len(loaded.part_ages) == 8


def test_ring_file_is_gzip_json_header_and_packed_tables(tmp_path):
    path = str(tmp_path / 'object.ring.gz')
    builder = small_builder()
    builder.write_ring(path)
    raw = gzip.decompress(open(path, 'rb').read())
    assert raw[:8] == b'SWLRING1'
    (size,) = struct.unpack('>I', raw[8:12])
    header = json.loads(raw[12:12 + size])
    assert header['part_power'] == 6 and header['replica_count'] == 3
    assert header['devs'][0]['meta'] == 'rack1'
    assert len(raw) == 12 + size + 3 * 64 * 2
    ring = Ring.load(path)
    assert [list(t) for t in ring._tables] == [list(t) for t in builder.tables]


def test_write_ring_refuses_unbalanced_builder(tmp_path):
    builder = RingBuilder(4, 1, 0)
    with pytest.raises(RingError, match='rebalance'):
        builder.write_ring(str(tmp_path / 'x.ring.gz'))
    builder = small_builder()
    builder.remove_dev(0)
    with pytest.raises(RingError, match='rebalance'):
        builder.write_ring(str(tmp_path / 'x.ring.gz'))
    assert not os.path.exists(str(tmp_path / 'x.ring.gz'))


def _payload(magic, header, tail=b''):
    head = json.dumps(header).encode()
    return gzip.compress(magic + struct.pack('>I', len(head)) + head + tail)


GOOD_DEV = {'id': 0, 'region': 1, 'zone': 1, 'ip': '1.2.3.4', 'port': 1,
            'replication_ip': '1.2.3.4', 'replication_port': 1, 'device': 'a',
            'weight': 1.0, 'meta': ''}

BAD_RINGS = {
    'empty': b'',
    'not gzip': b'hello world',
    'truncated gzip': gzip.compress(b'SWLRING1' + b'\0' * 100)[:20],
    'wrong magic': _payload(b'SWLBLDR1', {}),
    'short header': gzip.compress(b'SWLRING1\x00\x00'),
    'header length lies': gzip.compress(b'SWLRING1\x00\x00\x10\x00{}'),
    'header not json': gzip.compress(b'SWLRING1\x00\x00\x00\x03{x}'),
    'header not object': _payload(b'SWLRING1', [1, 2]),
    'missing fields': _payload(b'SWLRING1', {'part_power': 2}),
    'part power too big': _payload(b'SWLRING1', {'part_power': 40, 'replica_count': 1,
                                                 'devs': []}),
    'bad device': _payload(b'SWLRING1', {'part_power': 1, 'replica_count': 1,
                                         'devs': [{'id': 0}]}, b'\0' * 4),
    'short table': _payload(b'SWLRING1', {'part_power': 2, 'replica_count': 1,
                                          'devs': [GOOD_DEV]}, b'\0' * 6),
    'unknown device id': _payload(b'SWLRING1', {'part_power': 1, 'replica_count': 1,
                                                'devs': [GOOD_DEV]}, b'\0\0\x05\0'),
    'trailing data': _payload(b'SWLRING1', {'part_power': 1, 'replica_count': 1,
                                            'devs': [GOOD_DEV]}, b'\0' * 5),
}


@pytest.mark.parametrize('name', sorted(BAD_RINGS))
def test_corrupt_ring_files_raise_ring_error(tmp_path, name):
    path = str(tmp_path / 'object.ring.gz')
    with open(path, 'wb') as fp:
        fp.write(BAD_RINGS[name])
    with pytest.raises(RingError):
        Ring.load(path)


def test_minimal_valid_ring_file_loads(tmp_path):
    path = str(tmp_path / 'object.ring.gz')
    with open(path, 'wb') as fp:
        fp.write(_payload(b'SWLRING1', {'part_power': 1, 'replica_count': 1,
                                        'devs': [GOOD_DEV]}, b'\0' * 4))
    assert Ring.load(path).get_part_nodes(1)[0]['ip'] == '1.2.3.4'


BAD_BUILDERS = {
    'garbage': b'\x00\x01garbage',
    'ring file instead': _payload(b'SWLRING1', {}),
    'bad min_part_hours': _payload(b'SWLBLDR1', {'part_power': 1, 'replicas': 1,
                                                'min_part_hours': -1, 'devs': [],
                                                'moves_epoch': 0}, b'\0\0'),
    'no epoch': _payload(b'SWLBLDR1', {'part_power': 1, 'replicas': 1, 'min_part_hours': 1,
                                      'devs': []}, b'\0\0'),
    'ages wrong length': _payload(b'SWLBLDR1', {'part_power': 1, 'replicas': 1,
                                               'min_part_hours': 1, 'devs': [],
                                               'moves_epoch': 0}, b'\0'),
    'table names unknown id': _payload(b'SWLBLDR1', {
        'part_power': 1, 'replicas': 1, 'min_part_hours': 1, 'devs': [GOOD_DEV],
        'moves_epoch': 0, 'has_tables': True}, b'\0\0\x07\0\0\0'),
}


@pytest.mark.parametrize('name', sorted(BAD_BUILDERS))
def test_corrupt_builder_files_raise_ring_error(tmp_path, name):
    path = str(tmp_path / 'object.builder')
    with open(path, 'wb') as fp:
        fp.write(BAD_BUILDERS[name])
    with pytest.raises(RingError):
        RingBuilder.load(path)


def test_atomic_write_leaves_old_file_on_failure(tmp_path, monkeypatch):
    path = str(tmp_path / 'object.builder')
    small_builder().save(path)
    before = open(path, 'rb').read()

    def broken_fsync(fd):
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(os, 'fsync', broken_fsync)
    with pytest.raises(OSError):
        RingBuilder(4, 1, 0).save(path)
    assert open(path, 'rb').read() == before
    assert os.listdir(str(tmp_path)) == ['object.builder']
