"""Expirer queue rows and container-updater records: garbage in, nothing out."""
import os

import pytest

from swiftlike.container.updater import ContainerUpdater, ContainerUpdaterConf, stats_headers
from swiftlike.obj.expirer import ExpirerConf, ObjectExpirer, parse_queue_name


@pytest.mark.parametrize('name,parsed', [
    ('1700000000-AUTH_a/c/o', (1700000000, 'AUTH_a', 'c', 'o')),
    ('1700000000-AUTH_a/c/dir/sub/o', (1700000000, 'AUTH_a', 'c', 'dir/sub/o')),
    ('1700000000-AUTH_a/c/o-with-dash', (1700000000, 'AUTH_a', 'c', 'o-with-dash')),
    ('notanumber-AUTH_a/c/o', None),
    ('1700000000AUTH_a/c/o', None),
    ('1700000000-AUTH_a/c', None),
    ('1700000000-AUTH_a//o', None),
    ('1700000000-/c/o', None),
    ('-AUTH_a/c/o', None),
    ('', None),
])
def test_parse_queue_name(name, parsed):
    assert parse_queue_name(name) == parsed


def test_expirer_splits_rows_between_processes():
    names = ['%d-AUTH_a/c/o%d' % (1700000000 + i, i) for i in range(200)]
    owners = []
    for process in range(3):
        expirer = ObjectExpirer(ExpirerConf(processes=3, process=process, devices='/nonexistent'))
        owners.append({n for n in names if expirer.mine(n)})
    assert set().union(*owners) == set(names)
    assert sum(len(o) for o in owners) == len(names)
    assert all(owners)


def test_expirer_due_buckets_cover_the_lookback(monkeypatch):
    expirer = ObjectExpirer(ExpirerConf(lookback=3 * 86400, devices='/nonexistent'))
    monkeypatch.setattr(expirer, 'list_account_buckets', lambda: ['0', '86400', 'junk',
                                                                  str(10 ** 10)])
    now = 1700000000
    buckets = expirer.due_buckets(now)
    assert buckets[:2] == ['0', '86400']
    assert str(now // 86400 * 86400) in buckets and str(10 ** 10) not in buckets
    assert 'junk' not in buckets
    assert len([b for b in buckets if int(b) >= now - 4 * 86400]) == 4


@pytest.mark.parametrize('conf', [dict(processes=0), dict(processes=2, process=2),
                                  dict(expiring_objects_container_divisor=0)])
def test_expirer_conf_validation(conf):
    with pytest.raises(ValueError):
        ExpirerConf(**conf).validate()


@pytest.mark.parametrize('content', [b'not json', b'[]', b'{"account": 5, "container": "c"}',
                                     b'{"container": "c"}', b'\x00\xff'])
def test_container_updater_drops_unreadable_records(tmp_path, content):
    path = tmp_path / 'sda' / 'async_pending_containers' / 'abc' / ('e' * 29 + 'abc-1700000001.00000')
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    updater = ContainerUpdater(ContainerUpdaterConf(devices=str(tmp_path), mount_check=False,
                                                    swift_dir=str(tmp_path)))
    stats = {'bad_records': 0, 'async_done': 0, 'async_failures': 0}
    updater.process_async(str(tmp_path / 'sda'), stats)
    assert stats['bad_records'] == 1 and not os.path.exists(path)


def test_stats_headers():
    info = {'put_timestamp': '1700000001.00000', 'delete_timestamp': '0000000000.00000',
            'object_count': 3, 'bytes_used': 12}
    assert stats_headers(info) == {'X-Put-Timestamp': '1700000001.00000',
                                   'X-Delete-Timestamp': '0000000000.00000',
                                   'X-Object-Count': '3', 'X-Bytes-Used': '12',
                                   'X-Timestamp': '1700000001.00000'}
