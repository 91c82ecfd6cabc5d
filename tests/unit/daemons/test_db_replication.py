"""DB replication: the REPLICATE verb of the container server (in-process,
real SQLite) and the pieces both ends share."""
import json
import os
import sqlite3

import pytest

from swiftlike.container.backend import ContainerBroker
from swiftlike.container.replicator import CONTAINER_KIND
from swiftlike.container.server import App, Conf
from swiftlike.db import replication as repl
from swiftlike.hashing import hash_path
from swiftlike.http import Request

T = ['17000000%02d.00000' % i for i in range(10)]


@pytest.fixture
def app(tmp_path):
    os.makedirs(tmp_path / 'sda')
    return App(Conf(devices=str(tmp_path), mount_check=False, fallocate_reserve='0',
                    threads_per_disk=0, log_level='ERROR'))


def _db_hash():
    return hash_path('a', 'c')


def _local_broker(tmp_path, name='src'):
    path = str(tmp_path / name / 'c.db')
    broker = ContainerBroker(path)
    broker.initialize(T[1], account='a', container='c')
    return broker


def _call(app, op, body=b'', headers=None, path=None):
    hdrs = {'X-Replication-Op': op}
    hdrs.update(headers or {})
    req = Request.blank(path or '/sda/3/%s' % _db_hash(),
                        environ={'REQUEST_METHOD': 'REPLICATE'}, headers=hdrs,
                        body=body if isinstance(body, bytes) else json.dumps(body).encode())
    return req.get_response(app)


def _served_broker(tmp_path):
    return ContainerBroker(repl.db_path(str(tmp_path / 'sda'), CONTAINER_KIND, 3, _db_hash()))


def _names(broker):
    return [r['name'] for r in broker.get_items_since(0, 1000) if not r['deleted']]


def _ship(app, tmp_path, broker):
    snap = str(tmp_path / 'snap.db')
    repl.snapshot(broker, snap)
    info = broker.get_info()
    with open(snap, 'rb') as f:
        data = f.read()
    return _call(app, 'complete', data, {'X-Replication-Id': info['id'],
                                         'X-Replication-Max-Row': str(repl.max_row(broker))})


def test_missing_db_is_404_then_shipped_whole_then_synced_by_rows(app, tmp_path):
    src = _local_broker(tmp_path)
    for i, name in enumerate(('o1', 'o2', 'o3')):
        src.put_object(name, T[2 + i], 10, 'text/plain', 'etag')
    info = src.get_info()
    sync = {'id': info['id'], 'max_row': 3, 'info': repl.shareable_info(info)}
    assert _call(app, 'sync', sync).status_int == 404

    resp = _ship(app, tmp_path, src)
    assert resp.status_int == 200 and json.loads(resp.body)['installed'] is True
    served = _served_broker(tmp_path)
    assert _names(served) == ['o1', 'o2', 'o3']
    served_info = served.get_info()
    assert served_info['id'] != info['id']            # the copy has an identity of its own
    assert served_info['object_count'] == 3

    # The receiver remembers how far it has our rows...
    resp = _call(app, 'sync', dict(sync, max_row=repl.max_row(src)))
    assert json.loads(resp.body)['sync_point'] == repl.max_row(src)
    # ...so new rows travel as a diff, and deletions win by timestamp.
    src.put_object('o4', T[6], 5, 'text/plain', 'etag')
    src.delete_object('o1', T[7])
    src.merge_pending()
    point = json.loads(_call(app, 'sync', sync).body)['sync_point']
    rows = [CONTAINER_KIND.row_to_record(r) for r in src.get_items_since(point, 100)]
    resp = _call(app, 'merge_items', {'id': info['id'], 'rows': rows,
                                      'point': repl.max_row(src)})
    assert resp.status_int == 200, resp.body
    assert _names(served) == ['o2', 'o3', 'o4']
    assert served.get_info()['object_count'] == 3
    assert json.loads(_call(app, 'sync', sync).body)['sync_point'] == repl.max_row(src)


def test_older_rows_never_overwrite_newer_ones(app, tmp_path):
    src = _local_broker(tmp_path)
    src.put_object('o', T[5], 50, 'text/plain', 'new')
    _ship(app, tmp_path, src)
    stale = ['o', T[3], 1, 'text/plain', 'old', 0]
    resp = _call(app, 'merge_items', {'id': 'other', 'rows': [stale], 'point': 9})
    assert resp.status_int == 200
    row = _served_broker(tmp_path).get_items_since(0, 10)[0]
    assert (row['etag'], row['size']) == ('new', 50)


def test_shipping_onto_an_existing_db_merges(app, tmp_path):
    first = _local_broker(tmp_path, 'one')
    first.put_object('a1', T[2], 1, 'x', 'e')
    _ship(app, tmp_path, first)
    second = _local_broker(tmp_path, 'two')
    second.put_object('b1', T[3], 2, 'x', 'e')
    resp = _ship(app, tmp_path, second)
    assert json.loads(resp.body)['installed'] is False
    assert _names(_served_broker(tmp_path)) == ['a1', 'b1']


def test_sync_merges_info_newest_wins(app, tmp_path):
    src = _local_broker(tmp_path)
    _ship(app, tmp_path, src)
    info = src.get_info()
    remote_info = {'put_timestamp': T[8], 'delete_timestamp': T[0],
                   'metadata': {'X-Container-Meta-Color': ['blue', T[8]]}}
    resp = _call(app, 'sync', {'id': info['id'], 'max_row': 0, 'info': remote_info})
    assert resp.status_int == 200
    served = _served_broker(tmp_path).get_info()
    assert served['put_timestamp'] == T[8]
    assert served['metadata']['X-Container-Meta-Color'] == ['blue', T[8]]


@pytest.mark.parametrize('op,body,headers,status', [
    ('bogus', {}, {}, 400),
    ('', {}, {}, 400),
    ('sync', b'not json', {}, 400),
    ('sync', b'[1]', {}, 400),
    ('sync', {'max_row': 1, 'info': {}}, {}, 400),            # no id
    ('sync', {'id': 'x' * 100, 'info': {}}, {}, 400),
    ('sync', {'id': 'x', 'info': 'nope'}, {}, 400),
    ('sync', {'id': 'x', 'info': {'put_timestamp': 'garbage'}}, {}, 400),
    ('merge_items', {'id': 'x', 'rows': 'nope', 'point': 1}, {}, 400),
    ('merge_items', {'id': 'x', 'rows': [], 'point': -1}, {}, 400),
    ('merge_items', {'id': 'x', 'rows': [], 'point': True}, {}, 400),
    ('merge_items', {'id': 'x', 'rows': [['o']], 'point': 1}, {}, 400),
    ('merge_items', {'id': 'x', 'rows': [['o', 'yesterday', 1, 'x', 'e', 0]], 'point': 1},
     {}, 400),
    ('merge_items', {'id': 'x', 'rows': [[5, T[1], 1, 'x', 'e', 0]], 'point': 1}, {}, 400),
    ('merge_items', {'id': 'x', 'rows': [['', T[1], 1, 'x', 'e', 0]], 'point': 1}, {}, 400),
    ('complete', b'SQLite format 3\x00 but not really', {'X-Replication-Id': 'x',
                                                         'X-Replication-Max-Row': '1'}, 400),
    ('complete', b'whatever', {}, 400),
    ('complete', b'whatever', {'X-Replication-Id': 'x', 'X-Replication-Max-Row': '-1'}, 400),
])
def test_hostile_replicate_requests_get_clear_4xx(app, tmp_path, op, body, headers, status):
    _ship(app, tmp_path, _local_broker(tmp_path))
    before = _names(_served_broker(tmp_path))
    resp = _call(app, op, body, headers)
    assert resp.status_int == status, (resp.status_int, resp.body)
    assert resp.body and b'Traceback' not in resp.body
    assert _names(_served_broker(tmp_path)) == before


def test_non_utf8_device_is_a_clear_error(app):
    resp = _call(app, 'sync', {}, path='/%%FF/3/%s' % _db_hash())
    assert resp.status_int == 507, (resp.status_int, resp.body)


def test_a_shipped_db_of_the_wrong_kind_is_refused(app, tmp_path):
    other = str(tmp_path / 'other.db')
    conn = sqlite3.connect(other)
    conn.execute('CREATE TABLE container_stat (id TEXT)')
    conn.execute("INSERT INTO container_stat VALUES ('x')")
    conn.commit()
    conn.close()
    with open(other, 'rb') as f:
        resp = _call(app, 'complete', f.read(), {'X-Replication-Id': 'x',
                                                 'X-Replication-Max-Row': '1'})
    assert resp.status_int == 400
    assert not os.path.exists(_served_broker(tmp_path).db_file)


@pytest.mark.parametrize('path', ['/sda/3/nothex', '/sda/3', '/sda/x/' + '0' * 32,
                                  '/sda/3/' + 'A' * 32])
def test_bad_paths(app, path):
    resp = _call(app, 'sync', {'id': 'x', 'info': {}}, path=path)
    assert resp.status_int == 400


class _Ring:
    """Every partition on 'sda' here and two peers."""

    def get_part_nodes(self, part):
        return [{'ip': '127.0.0.1', 'port': 6201, 'device': 'sda'},
                {'ip': '127.0.0.2', 'port': 6201, 'device': 'sdb'},
                {'ip': '127.0.0.3', 'port': 6201, 'device': 'sdc'}]


@pytest.mark.parametrize('forever', [True, False])
def test_replicator_leaves_a_database_alone_while_rows_arrive(tmp_path, forever):
    from swiftlike.container.replicator import ContainerReplicator
    os.makedirs(tmp_path / 'sda')
    broker = _served_broker(tmp_path)
    broker.initialize(T[1], account='a', container='c')
    replicator = ContainerReplicator(ContainerReplicator.conf_class(
        devices=str(tmp_path), mount_check=False, bind_ip='127.0.0.1', bind_port=6201,
        unchanged_recheck_interval=0, busy_defer_max=3600), ring=_Ring())
    synced = []
    replicator.sync_with = lambda node, *args: synced.append(node['device'])
    replicator.pacing = forever

    def one_pass():
        del synced[:]
        stats = replicator.run_once()
        return synced[:], stats['deferred']
    assert one_pass() == (['sdb', 'sdc'], 0)
    # A row arrived since: being written (its update reached every replica),
    # so it waits (forever) ...
    broker.put_object('o1', T[2], 10, 'text/plain', 'etag')
    assert one_pass() == (([], 1) if forever else (['sdb', 'sdc'], 0))
    # ... until a pass finds it settled.
    assert one_pass() == (['sdb', 'sdc'], 0)
    # Nothing new: compared every pass here (unchanged_recheck_interval = 0).
    assert one_pass() == (['sdb', 'sdc'], 0)
    # Rows at every pass: compared once busy_defer_max has passed.
    broker.put_object('o2', T[3], 10, 'text/plain', 'etag')
    if forever:
        replicator._compared_at[broker.db_file] -= 3600
    assert one_pass() == (['sdb', 'sdc'], 0)


def test_busy_defer_max_is_checked():
    from swiftlike.container.replicator import ContainerReplicator
    with pytest.raises(ValueError):
        ContainerReplicator.conf_class(busy_defer_max=-1).validate()
