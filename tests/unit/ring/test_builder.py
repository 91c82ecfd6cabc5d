"""RingBuilder device management, searches, validation, reporting."""
import pytest

from swiftlike.exceptions import RingError
from swiftlike.ring import RingBuilder
from swiftlike.ring.builder import parse_search


def dev(**overrides):
    spec = {'region': 1, 'zone': 1, 'ip': '10.0.0.1', 'port': 6200, 'device': 'sdb1',
            'weight': 100}
    spec.update(overrides)
    return spec


def test_add_dev_assigns_ids_and_fills_defaults():
    builder = RingBuilder(4, 1, 0)
    assert builder.add_dev(dev()) == 0
    assert builder.add_dev(dev(device='sdb2', meta='fast')) == 1
    stored = builder.devs[0]
    assert stored == {'id': 0, 'region': 1, 'zone': 1, 'ip': '10.0.0.1', 'port': 6200,
                      'replication_ip': '10.0.0.1', 'replication_port': 6200,
                      'device': 'sdb1', 'weight': 100.0, 'meta': ''}
    assert builder.devs[1]['meta'] == 'fast'


@pytest.mark.parametrize('bad', [
    {'weight': -1}, {'weight': 'heavy'}, {'weight': float('nan')}, {'weight': float('inf')},
    {'port': 0}, {'port': 70000}, {'port': 'http'}, {'zone': -1}, {'region': 'x'},
    {'ip': ''}, {'ip': 'bad ip'}, {'device': ''}, {'device': 'a/b'}, {'device': '..'},
    {'meta': 5}, {'port': True}, {'zone': 1.5},
])
def test_add_dev_rejects_bad_fields(bad):
    builder = RingBuilder(4, 1, 0)
    with pytest.raises(RingError):
        builder.add_dev(dev(**bad))
    assert builder.devs == []


def test_add_dev_rejects_duplicates_and_taken_ids():
    builder = RingBuilder(4, 1, 0)
    builder.add_dev(dev())
    with pytest.raises(RingError, match='already exists'):
        builder.add_dev(dev(weight=5))
    with pytest.raises(RingError, match='taken'):
        builder.add_dev(dev(device='other', id=0))


@pytest.mark.parametrize('args', [(-1, 3, 0), (25, 3, 0), (4, 0, 0), (4, 3, -1),
                                  (4, 3, 256), ('x', 3, 0), (4, 2.5, 0)])
def test_create_rejects_bad_numbers(args):
    with pytest.raises(RingError):
        RingBuilder(*args)


def test_weight_remove_and_unknown_ids():
    builder = RingBuilder(4, 1, 0)
    builder.add_dev(dev())
    builder.set_dev_weight(0, 5)
    assert builder.devs[0]['weight'] == 5.0
    with pytest.raises(RingError):
        builder.set_dev_weight(0, -5)
    with pytest.raises(RingError, match='no device'):
        builder.set_dev_weight(7, 1)
    builder.remove_dev(0)
    assert builder.devs == [None]
    with pytest.raises(RingError, match='no device'):
        builder.remove_dev(0)
    assert builder.add_dev(dev()) == 1  # ids are never reused


def test_search_forms():
    builder = RingBuilder(4, 1, 0)
    builder.add_dev(dev(meta='ssd'))
    builder.add_dev(dev(zone=2, ip='10.0.0.2', device='sdc'))
    builder.add_dev(dev(region=2, zone=3, ip='fe80::1', port=6201, device='sdd'))
    ids = lambda search: [d['id'] for d in builder.search_devs(search)]  # noqa: E731
    assert ids('d1') == [1]
    assert ids('10.0.0.1') == [0]
    assert ids('z2') == [1]
    assert ids('r1') == [0, 1]
    assert ids(':6200') == [0, 1]
    assert ids('/sdc') == [1]
    assert ids('_ssd') == [0]
    assert ids('r1z2-10.0.0.2:6200/sdc') == [1]
    assert ids('10.0.0.1:6200/sdb1') == [0]
    assert ids('[fe80::1]:6201') == [2]
    assert ids('d9') == []


@pytest.mark.parametrize('bad', ['', 'r1z1-:/', '10.0.0.1:port', 'd1 x', '/', ':', '_', 'z1-[zz]'])
def test_malformed_search(bad):
    with pytest.raises(RingError):
        parse_search(bad)


def test_validate_and_reporting():
    builder = RingBuilder(9, 2, 0)
    with pytest.raises(RingError, match='rebalance'):
        builder.validate()
    for zone in (1, 2, 3, 4):
        builder.add_dev(dev(zone=zone, ip='10.0.0.%d' % zone))
    builder.rebalance(seed=1)
    builder.validate()
    assert sum(builder.dev_parts().values()) == 1024
    assert builder.get_balance() < 1.0 and builder.dispersion() == 0.0
    builder.tables[1][5] = builder.tables[0][5]  # break a hard rule by hand
    with pytest.raises(RingError, match='two replicas'):
        builder.validate()


def test_zero_weight_device_gets_nothing_and_balance_flags_leftovers():
    builder = RingBuilder(6, 2, 0)
    for zone in (1, 2, 3):
        builder.add_dev(dev(zone=zone, ip='10.0.0.%d' % zone))
    builder.add_dev(dev(zone=4, ip='10.0.0.4', weight=0))
    builder.rebalance(seed=1)
    assert builder.dev_parts()[3] == 0
    assert builder.dev_balances()[3] == 0.0


def test_nothing_moves_twice_without_changes():
    builder = RingBuilder(6, 3, 0)
    for zone in (1, 2, 3, 4):
        builder.add_dev(dev(zone=zone, ip='10.0.0.%d' % zone))
    builder.rebalance(seed=1)
    assert builder.rebalance(seed=2)[0] == 0
