"""Container/account brokers on real SQLite files: merges, pending queue,
concurrency, listing against a reference."""
import os
import sqlite3
import threading

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from swiftlike.account.backend import AccountBroker
from swiftlike.container.backend import ContainerBroker, object_record
from swiftlike.db.broker import DatabaseAlreadyExists, DatabaseNotFound, merge_metadata
from swiftlike.db.listing import ListingParams
from tests.unit.db.test_listing import reference


def ts(n):
    return '%010d.00000' % n


@pytest.fixture
def cbroker(tmp_path):
    broker = ContainerBroker(str(tmp_path / 'c' / 'c.db'))
    broker.initialize(ts(1), account='a', container='c')
    return broker


def names_of(entries):
    return [e if isinstance(e, str) else e[0] for e in entries]


def test_initialize_once_wal_and_schema(tmp_path, cbroker):
    with pytest.raises(DatabaseAlreadyExists):
        cbroker.initialize(ts(2))
    conn = sqlite3.connect(cbroker.db_file)
    assert conn.execute('PRAGMA journal_mode').fetchone()[0] == 'wal'
    assert conn.execute('PRAGMA user_version').fetchone()[0] == 1
    assert not [f for f in os.listdir(os.path.dirname(cbroker.db_file)) if f.endswith('.tmp')]
    with pytest.raises(DatabaseNotFound):
        ContainerBroker(str(tmp_path / 'none.db')).get_info()


def test_concurrent_initialize_one_wins(tmp_path):
    results = []

    def create():
        try:
            ContainerBroker(str(tmp_path / 'x' / 'x.db')).initialize(ts(1))
            results.append('created')
        except DatabaseAlreadyExists:
            results.append('exists')
    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count('created') == 1


def test_200_concurrent_writers_all_succeed(cbroker):
    """No 'database is locked': every update is queued and every one is seen."""
    cbroker.pending_merge_bytes = 512   # merge often, so merges race too
    errors = []
    start = threading.Barrier(200)

    def writer(i):
        try:
            start.wait()
            cbroker.put_object('obj-%03d' % i, ts(10 + i), i, 'text/plain', 'etag%d' % i)
            if i % 10 == 0:
                cbroker.get_info()          # readers merge concurrently
        except Exception as err:  # noqa: BLE001 - any failure fails the test
            errors.append(err)
    threads = [threading.Thread(target=writer, args=(i,)) for i in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    info = cbroker.get_info()
    assert info['object_count'] == 200
    assert info['bytes_used'] == sum(range(200))
    assert names_of(cbroker.list_objects(ListingParams())) == ['obj-%03d' % i for i in range(200)]
    assert cbroker.pending_size() == 0


def test_reads_see_unmerged_updates(cbroker):
    cbroker.pending_merge_bytes = 1 << 30
    cbroker.put_object('o', ts(2), 5, 't', 'e')
    assert cbroker.pending_size() > 0
    assert names_of(cbroker.list_objects(ListingParams())) == ['o']
    assert cbroker.pending_size() == 0


def test_remerge_is_idempotent(cbroker):
    cbroker.pending_merge_bytes = 1 << 30
    for i in range(5):
        cbroker.put_object('o%d' % i, ts(2), 10, 't', 'e')
    cbroker.delete_object('o0', ts(3))
    with open(cbroker.pending_file, 'rb') as f:
        saved = f.read()
    first = cbroker.get_info()
    # a crash between the commit and the truncate: the same lines again
    with open(cbroker.pending_file, 'ab') as f:
        f.write(saved)
    second = cbroker.get_info()
    assert (first['object_count'], first['bytes_used']) == (4, 40)
    assert (second['object_count'], second['bytes_used']) == (4, 40)


def test_torn_pending_line_is_skipped(cbroker):
    cbroker.pending_merge_bytes = 1 << 30
    cbroker.put_object('good', ts(2), 1, 't', 'e')
    with open(cbroker.pending_file, 'ab') as f:
        f.write(b'["torn", "00')
    with open(cbroker.pending_file, 'ab') as f:
        f.write(b'\n["also-bad"]\n')
    cbroker.put_object('good2', ts(2), 1, 't', 'e')
    assert names_of(cbroker.list_objects(ListingParams())) == ['good', 'good2']


def test_newest_wins_per_row_within_and_across_batches(cbroker):
    cbroker.merge_records([object_record('o', ts(5), 1), object_record('o', ts(7), 2),
                           object_record('o', ts(6), 3)])
    cbroker.merge_records([object_record('o', ts(7), 99)])   # equal: kept
    rows = cbroker.list_objects(ListingParams())
    assert rows == [('o', ts(7), 2, '', '')]
    cbroker.merge_records([object_record('o', ts(8), 0, deleted=1)])
    assert cbroker.list_objects(ListingParams()) == []
    info = cbroker.get_info()
    assert (info['object_count'], info['bytes_used']) == (0, 0)


def test_items_since_and_reclaim(cbroker):
    cbroker.merge_records([object_record('a', ts(2), 1), object_record('b', ts(2), 1)])
    cbroker.merge_records([object_record('a', ts(3), 0, deleted=1)])
    rows = cbroker.get_items_since(0, 10)
    assert [r['name'] for r in rows] == ['b', 'a']
    assert rows[-1]['deleted'] == 1
    assert cbroker.get_items_since(rows[-1]['rowid'], 10) == []
    assert cbroker.reclaim(ts(4)) == 1
    assert [r['name'] for r in cbroker.get_items_since(0, 10)] == ['b']


def test_container_state(cbroker):
    cbroker.put_object('o', ts(2), 1, 't', 'e')
    info, was_deleted = cbroker.set_put_timestamp(ts(3), {'X-Container-Meta-A': ('1', ts(3))})
    assert not was_deleted and info['put_timestamp'] == ts(3)
    assert info['metadata'] == {'X-Container-Meta-A': ['1', ts(3)]}
    info = cbroker.mark_deleted(ts(4))
    assert not cbroker.is_deleted_info(info)        # not empty
    cbroker.delete_object('o', ts(5))
    assert cbroker.is_deleted_info(cbroker.get_info())
    assert ContainerBroker.needs_report(cbroker.get_info())
    cbroker.reported(ts(3), ts(4), 0, 0)
    assert not ContainerBroker.needs_report(cbroker.get_info())


def test_deleted_container_forgets_its_metadata(cbroker):
    cbroker.set_put_timestamp(ts(3), {'X-Container-Read': ('u', ts(3)),
                                      'X-Container-Sysmeta-K': ('v', ts(3))})
    info = cbroker.mark_deleted(ts(4))
    assert cbroker.is_deleted_info(info)
    assert info['metadata'] == {'X-Container-Read': ['', ts(4)],
                                'X-Container-Sysmeta-K': ['', ts(4)]}
    info, was_deleted = cbroker.set_put_timestamp(ts(5), {'X-Container-Meta-B': ('2', ts(5))})
    assert was_deleted and {k: v for k, v in info['metadata'].items() if v[0]} == {
        'X-Container-Meta-B': ['2', ts(5)]}


def test_merge_metadata():
    cur = {'A': ['1', ts(2)]}
    assert merge_metadata(cur, {'A': ('0', ts(1))}) == cur
    assert merge_metadata(cur, {'A': ('', ts(3))}) == {'A': ['', ts(3)]}
    assert merge_metadata(cur, {'B': ('2', '5')}) == {'A': ['1', ts(2)], 'B': ['2', ts(5)]}


name_st = st.text(st.sampled_from(['a', '/', '\u00e9', '\U0001f600', 'z']), min_size=1,
                  max_size=5)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(name_st, max_size=30), deleted=st.lists(name_st, max_size=5),
       prefix=st.text(st.sampled_from(['a', '/', 'z']), max_size=2),
       delimiter=st.sampled_from(['', '/', 'a']), marker=st.text(st.sampled_from('a/z'), max_size=2),
       limit=st.integers(1, 40), reverse=st.booleans())
def test_sqlite_listing_matches_reference(tmp_path_factory, names, deleted, prefix, delimiter,
                                          marker, limit, reverse):
    broker = ContainerBroker(str(tmp_path_factory.mktemp('db') / 'c.db'))
    broker.initialize(ts(1))
    broker.merge_records([object_record(n, ts(2), 1) for n in names + deleted])
    broker.merge_records([object_record(n, ts(3), 0, deleted=1) for n in deleted])
    live = set(names) - set(deleted)
    p = ListingParams(prefix=prefix, delimiter=delimiter, marker=marker, limit=limit,
                      reverse=reverse)
    got = [e if isinstance(e, str) else (e[0],) for e in broker.list_objects(p)]
    assert got == reference(live, p)
    info = broker.get_info()
    assert info['object_count'] == len(live)


# -- account broker --------------------------------------------------------------

@pytest.fixture
def abroker(tmp_path):
    broker = AccountBroker(str(tmp_path / 'a' / 'a.db'))
    broker.initialize(ts(1), account='a')
    return broker


def test_account_rows_keep_newest_timestamps(abroker):
    abroker.put_container('c', ts(2), ts(0), 3, 30)
    abroker.put_container('c', ts(1), ts(0), 4, 40)    # counts: latest report
    abroker.put_container('d', ts(2), ts(0), 1, 1)
    info = abroker.get_info()
    assert (info['container_count'], info['object_count'], info['bytes_used']) == (2, 5, 41)
    rows = abroker.list_containers(ListingParams())
    assert rows[0] == ('c', 4, 40, ts(2))
    abroker.put_container('d', ts(0), ts(3), 0, 0)
    info = abroker.get_info()
    assert (info['container_count'], info['object_count'], info['bytes_used']) == (1, 4, 40)
    assert names_of(abroker.list_containers(ListingParams())) == ['c']
    abroker.put_container('d', ts(4), ts(0), 0, 0)     # recreated
    assert names_of(abroker.list_containers(ListingParams())) == ['c', 'd']


def test_account_concurrent_reports(abroker):
    abroker.pending_merge_bytes = 256
    threads = [threading.Thread(target=abroker.put_container,
                                args=('c%03d' % i, ts(2), ts(0), i, i * 10)) for i in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    info = abroker.get_info()
    assert info['container_count'] == 100
    assert info['object_count'] == sum(range(100))


def test_account_delete_and_recreate(abroker):
    info = abroker.mark_deleted(ts(2))
    assert abroker.is_deleted_info(info)
    info, was_deleted = abroker.set_put_timestamp(ts(2))
    assert was_deleted and abroker.is_deleted_info(info)   # not newer than the delete
    info, was_deleted = abroker.set_put_timestamp(ts(3))
    assert was_deleted and not abroker.is_deleted_info(info)


def test_schema_migration_runs_once(tmp_path):
    applied = []

    class V2(ContainerBroker):
        schema_version = 2

        def _add_col(db):
            applied.append(1)
            db['object'].add_column('storage_policy_index', int, not_null_default=0)
        migrations = {2: _add_col}
    path = str(tmp_path / 'm' / 'm.db')
    ContainerBroker(path).initialize(ts(1))
    broker = V2(path)
    broker.put_object('o', ts(2), 1, 't', 'e')
    assert names_of(broker.list_objects(ListingParams())) == ['o']
    broker.get_info()
    assert applied == [1]
    conn = sqlite3.connect(path)
    assert conn.execute('PRAGMA user_version').fetchone()[0] == 2
    assert 'storage_policy_index' in [r[1] for r in conn.execute('PRAGMA table_info(object)')]


def test_unterminated_line_does_not_swallow_the_next_record(cbroker):
    cbroker.pending_merge_bytes = 1 << 30
    with open(cbroker.pending_file, 'ab') as f:
        f.write(b'["short-written", "0000000002.0')      # a failed write, no newline
    cbroker.put_object('next', ts(2), 1, 't', 'e')
    assert names_of(cbroker.list_objects(ListingParams())) == ['next']
