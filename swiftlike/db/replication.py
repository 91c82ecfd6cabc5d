"""What both ends of DB replication share: sync points, row shipping, info
merging and whole-database snapshots.

Protocol (REPLICATE /<device>/<partition>/<db hash> on container/account servers):
- `X-Replication-Op: sync`, JSON body {"id", "max_row", "info"}: the receiver
  merges the sender's info (timestamps, metadata) and answers
  {"id", "max_row", "sync_point"} (sync_point: the sender's last row it has
  merged, -1 if none), or 404 when it has no such database.
- `X-Replication-Op: merge_items`, JSON body {"id", "rows": [[record]...],
  "point"}: rows in the broker's record form; merged (newest timestamp wins),
  then the sync point of "id" becomes "point".
- `X-Replication-Op: complete`, body = a whole SQLite database, headers
  X-Replication-Id and X-Replication-Max-Row: installed as is when the receiver
  has none (with a fresh id), else its rows are merged.

Sync points live in a table of our own, `incoming_sync`, created on demand.
"""
import dataclasses
import os
import sqlite3
import uuid

from swiftlike.db.broker import merge_metadata
from swiftlike.timestamp import Timestamp

SYNC_TABLE = 'incoming_sync'
INFO_KEYS = ('put_timestamp', 'delete_timestamp', 'status_changed_at', 'metadata', 'status')


@dataclasses.dataclass(frozen=True)
class DbKind:
    """How one kind of database (containers, accounts) replicates."""
    name: str                 # 'container' / 'account'
    datadir: str              # 'containers' / 'accounts'
    broker_class: type
    columns: tuple            # item-table columns, in the broker's record order
    timestamp_columns: tuple  # which of them are timestamps (validated on receipt)

    def row_to_record(self, row):
        return [row[c] for c in self.columns]

    def check_record(self, broker, item):
        """A received record in the broker's form; ValueError when malformed."""
        if not isinstance(item, list) or len(item) != len(self.columns):
            raise ValueError('record must be a list of %d values' % len(self.columns))
        record = broker.record_from_pending(item)
        for i, column in enumerate(self.columns):
            if column in self.timestamp_columns:
                record[i] = Timestamp(record[i]).internal
        if not record[0] or not isinstance(record[0], str):
            raise ValueError('bad row name')
        return record


def db_path(dev_path, kind, partition, db_hash):
    return os.path.join(dev_path, kind.datadir, str(partition), db_hash[-3:], db_hash,
                        db_hash + '.db')


def max_row(broker):
    conn = broker.connect()
    try:
        row = conn.execute('SELECT MAX(rowid) FROM %s' % broker.item_table).fetchone()
        return row[0] or 0
    finally:
        conn.close()


def _ensure_sync_table(conn):
    conn.execute('CREATE TABLE IF NOT EXISTS %s (remote_id TEXT PRIMARY KEY, '
                 'sync_point INTEGER NOT NULL)' % SYNC_TABLE)


def get_sync_point(broker, remote_id):
    conn = broker.connect()
    try:
        _ensure_sync_table(conn)
        row = conn.execute('SELECT sync_point FROM %s WHERE remote_id = ?' % SYNC_TABLE,
                           (remote_id,)).fetchone()
        return row[0] if row else -1
    finally:
        conn.close()


def set_sync_point(broker, remote_id, point, conn=None):
    own = conn is None
    conn = conn or broker.connect()
    try:
        _ensure_sync_table(conn)
        conn.execute('INSERT INTO %s (remote_id, sync_point) VALUES (?, ?) '
                     'ON CONFLICT(remote_id) DO UPDATE SET sync_point = '
                     'MAX(sync_point, excluded.sync_point)' % SYNC_TABLE,
                     (remote_id, int(point)))
    finally:
        if own:
            conn.close()


def merge_records_and_point(broker, records, remote_id, point):
    """Merge rows and advance the sender's sync point in one transaction."""
    conn = broker.connect()
    try:
        with broker.transaction(conn):
            if records:
                broker.merge_items(records, conn)
            set_sync_point(broker, remote_id, point, conn)
    finally:
        conn.close()


def shareable_info(info):
    return {k: info[k] for k in INFO_KEYS if k in info}


def merge_info(broker, remote):
    """Newest put/delete timestamps and metadata win; status follows them."""
    def change(info):
        changes = {}
        for key in ('put_timestamp', 'delete_timestamp', 'status_changed_at'):
            value = remote.get(key)
            if isinstance(value, str) and key in info:
                value = Timestamp(value).internal
                if value > info[key]:
                    changes[key] = value
        metadata = remote.get('metadata')
        if isinstance(metadata, dict) and metadata:
            clean = {k: v for k, v in metadata.items()
                     if isinstance(k, str) and isinstance(v, list) and len(v) == 2
                     and isinstance(v[0], str) and isinstance(v[1], str)}
            merged = merge_metadata(info['metadata'], clean)
            if merged != info['metadata']:
                changes['metadata'] = merged
        if 'status' in info:
            # Accounts: deleted exactly when the newest DELETE beats the newest PUT.
            put_ts = changes.get('put_timestamp', info['put_timestamp'])
            delete_ts = changes.get('delete_timestamp', info['delete_timestamp'])
            status = 'DELETED' if delete_ts > put_ts else ''
            if status != info['status'] and (status or info['status'] == 'DELETED'):
                changes['status'] = status
        return changes
    return broker.update_stat(change)


def snapshot(broker, target):
    """A consistent copy of the database (pending rows merged) at `target`."""
    broker.merge_pending()
    src = broker.connect()
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def check_shipped_db(path, kind):
    """Raise ValueError unless `path` is a sound database of this kind."""
    try:
        conn = sqlite3.connect('file:%s?mode=ro' % path, uri=True)
    except sqlite3.Error as err:
        raise ValueError('not a database: %s' % err)
    try:
        result = conn.execute('PRAGMA quick_check').fetchone()
        if not result or result[0] != 'ok':
            raise ValueError('database fails its integrity check')
        broker = kind.broker_class(path)
        count = conn.execute('SELECT COUNT(*) FROM %s' % broker.stat_table).fetchone()[0]
        if count != 1:
            raise ValueError('database has %d stat rows' % count)
        conn.execute('SELECT %s FROM %s LIMIT 1' % (', '.join(kind.columns), broker.item_table))
    except sqlite3.Error as err:
        raise ValueError('not a %s database: %s' % (kind.name, err))
    finally:
        conn.close()


def adopt_shipped_db(path, sender_id, sender_max_row):
    """Make a shipped copy our own: a fresh id, only the sender's sync point,
    and nothing reported yet (so our updater reports it again)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute('PRAGMA journal_mode = WAL')
        conn.execute('BEGIN IMMEDIATE')
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master "
                                              "WHERE type = 'table'")}
        stat = 'container_stat' if 'container_stat' in tables else 'account_stat'
        conn.execute('UPDATE %s SET id = ?' % stat, (str(uuid.uuid4()),))
        if 'reported_put_timestamp' in _columns(conn, stat):
            conn.execute("UPDATE %s SET reported_put_timestamp = '0000000000.00000', "
                         "reported_delete_timestamp = '0000000000.00000', "
                         "reported_object_count = -1, reported_bytes_used = -1" % stat)
        _ensure_sync_table(conn)
        conn.execute('DELETE FROM %s' % SYNC_TABLE)
        conn.execute('INSERT INTO %s (remote_id, sync_point) VALUES (?, ?)' % SYNC_TABLE,
                     (sender_id, int(sender_max_row)))
        conn.execute('COMMIT')
    finally:
        conn.close()


def _columns(conn, table):
    return {r[1] for r in conn.execute('PRAGMA table_info(%s)' % table)}


def iter_shipped_rows(path, kind, batch=1000):
    """Rows of a shipped database in record form, in batches."""
    broker = kind.broker_class(path)
    conn = sqlite3.connect('file:%s?mode=ro' % path, uri=True)
    conn.row_factory = sqlite3.Row
    try:
        last = 0
        while True:
            rows = conn.execute('SELECT rowid, %s FROM %s WHERE rowid > ? ORDER BY rowid '
                                'LIMIT ?' % (', '.join(kind.columns), broker.item_table),
                                (last, batch)).fetchall()
            if not rows:
                return
            last = rows[-1]['rowid']
            yield [kind.row_to_record(r) for r in rows]
    finally:
        conn.close()


def shipped_info(path, kind):
    broker = kind.broker_class(path)
    return broker.get_info(merge=False)
