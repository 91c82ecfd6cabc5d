"""AccountBroker: an account's container rows and stats in one SQLite file."""
import uuid

from swiftlike.db.broker import ZERO_TS, DatabaseBroker, merge_metadata, normalize_ts
from swiftlike.policies import DEFAULT_POLICY_NAME
from swiftlike.timestamp import Timestamp

# A pending/merge record: [name, put_timestamp, delete_timestamp, object_count, bytes_used]
CONTAINER_COLUMNS = 'name, put_timestamp, delete_timestamp, object_count, bytes_used, deleted'
STATUS_DELETED = 'DELETED'


def container_record(name, put_timestamp, delete_timestamp, object_count, bytes_used):
    return [name, normalize_ts(put_timestamp), normalize_ts(delete_timestamp),
            int(object_count), int(bytes_used)]


def _row_deleted(put_ts, delete_ts, object_count):
    return 1 if delete_ts > put_ts and object_count == 0 else 0


class AccountBroker(DatabaseBroker):
    db_type = 'account'
    stat_table = 'account_stat'
    item_table = 'container'
    reclaim_column = 'delete_timestamp'

    def create_schema(self, db, put_timestamp, created_at, account=''):
        db['container'].create({'name': str, 'put_timestamp': str, 'delete_timestamp': str,
                                'object_count': int, 'bytes_used': int, 'deleted': int},
                               not_null={'name', 'put_timestamp', 'delete_timestamp',
                                         'object_count', 'bytes_used', 'deleted'},
                               defaults={'object_count': 0, 'bytes_used': 0, 'deleted': 0})
        db['container'].create_index(['deleted', 'name'], index_name='ix_container_deleted_name')
        db['account_stat'].insert({
            'account': account, 'created_at': created_at, 'put_timestamp': put_timestamp,
            'delete_timestamp': ZERO_TS, 'status': '', 'status_changed_at': put_timestamp,
            'container_count': 0, 'object_count': 0, 'bytes_used': 0, 'metadata': '{}',
            'id': str(uuid.uuid4())})

    # -- container rows --------------------------------------------------------

    def put_container(self, name, put_timestamp, delete_timestamp, object_count, bytes_used,
                      block=True):
        """Queue a container's reported stats; block as append_pending's,
        and its answer."""
        return self.append_pending([container_record(name, put_timestamp, delete_timestamp,
                                                     object_count, bytes_used)], block)

    def record_from_pending(self, item):
        name, put_ts, delete_ts, count, used = item
        if not isinstance(name, str) or not isinstance(put_ts, str) \
                or not isinstance(delete_ts, str):
            raise ValueError('bad pending record')
        return [name, put_ts, delete_ts, int(count), int(used)]

    def merge_items(self, records, conn):
        """Per name keep the newest put and delete timestamps; counts come
        from the latest report. Stats move by the difference."""
        columns = 'rowid, name, put_timestamp, delete_timestamp, object_count, bytes_used, deleted'
        names = {rec[0] for rec in records}
        existing = self.lookup_existing(conn, columns, names)
        current = {name: [row[1], row[2], row[3], row[4], row[5], row[6]]
                   for name, row in existing.items()}
        originals = dict(current)
        for name, put_ts, delete_ts, count, used in records:
            old = current.get(name)
            if old is not None:
                put_ts = max(put_ts, old[1])
                delete_ts = max(delete_ts, old[2])
            current[name] = [name, put_ts, delete_ts, count, used,
                             _row_deleted(put_ts, delete_ts, count)]
        stale_ids, inserts = [], []
        dcont = dobj = dbytes = 0
        for name, new in sorted(current.items()):  # name order: B-tree locality
            old = originals.get(name)
            if old is not None:
                if new == old:
                    continue
                stale_ids.append((existing[name][0],))
                if not old[5]:
                    dcont, dobj, dbytes = dcont - 1, dobj - old[3], dbytes - old[4]
            if not new[5]:
                dcont, dobj, dbytes = dcont + 1, dobj + new[3], dbytes + new[4]
            inserts.append(new)
        if stale_ids:
            conn.executemany('DELETE FROM container WHERE rowid = ?', stale_ids)
        if inserts:
            conn.executemany('INSERT INTO container (%s) VALUES (?, ?, ?, ?, ?, ?)'
                             % CONTAINER_COLUMNS, inserts)
        if dcont or dobj or dbytes:
            conn.execute('UPDATE account_stat SET container_count = container_count + ?, '
                         'object_count = object_count + ?, bytes_used = bytes_used + ?',
                         (dcont, dobj, dbytes))
        return len(inserts)

    def list_containers(self, params):
        return self.list_rows('name, object_count, bytes_used, put_timestamp', params)

    # -- account state -------------------------------------------------------------

    @staticmethod
    def is_deleted_info(info):
        return info['status'] == STATUS_DELETED

    def set_put_timestamp(self, timestamp, metadata=None):
        """PUT of the account: newer put_timestamp; a PUT newer than the
        DELETE recreates it. Returns (info, was_deleted)."""
        ts = normalize_ts(timestamp)
        state = {}

        def change(info):
            was_deleted = state['was_deleted'] = self.is_deleted_info(info)
            changes = {}
            if ts > info['put_timestamp']:
                changes['put_timestamp'] = ts
            if was_deleted and ts > info['delete_timestamp']:
                changes['status'] = ''
                changes['status_changed_at'] = ts
            if metadata and not (was_deleted and 'status' not in changes):
                changes['metadata'] = merge_metadata(info['metadata'], metadata)
            return changes
        info = self.update_stat(change)
        return info, state['was_deleted']

    def mark_deleted(self, timestamp):
        ts = normalize_ts(timestamp)

        def change(info):
            changes = {}
            if ts > info['delete_timestamp']:
                changes['delete_timestamp'] = ts
            if ts > info['put_timestamp'] and info['status'] != STATUS_DELETED:
                changes['status'] = STATUS_DELETED
                changes['status_changed_at'] = ts
            return changes
        return self.update_stat(change)


def listing_item(row):
    name, count, used, put_ts = row
    return {'name': name, 'count': count, 'bytes': used,
            'last_modified': Timestamp(put_ts).isoformat,
            'storage_policy': DEFAULT_POLICY_NAME}
