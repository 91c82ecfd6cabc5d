"""ContainerBroker: a container's object rows and stats in one SQLite file."""
import uuid

from swiftlike.constraints import is_decimal
from swiftlike.db.broker import ZERO_TS, DatabaseBroker, merge_metadata, normalize_ts
from swiftlike.timestamp import Timestamp

# A pending/merge record: [name, created_at, size, content_type, etag, deleted]
OBJECT_COLUMNS = 'name, created_at, size, content_type, etag, deleted'


def object_record(name, timestamp, size=0, content_type='', etag='', deleted=0):
    return [name, normalize_ts(timestamp), int(size), content_type, etag, 1 if deleted else 0]


class ContainerBroker(DatabaseBroker):
    db_type = 'container'
    stat_table = 'container_stat'
    item_table = 'object'
    reclaim_column = 'created_at'

    def create_schema(self, db, put_timestamp, created_at, account='', container=''):
        db['object'].create({'name': str, 'created_at': str, 'size': int,
                             'content_type': str, 'etag': str, 'deleted': int},
                            not_null={'name', 'created_at', 'size', 'deleted'},
                            defaults={'size': 0, 'deleted': 0, 'content_type': '', 'etag': ''})
        # One index serves listings (deleted = 0 AND name range) and merges
        # (deleted IN (0, 1) AND name = ?); a second one would double the
        # write cost of every object update.
        db['object'].create_index(['deleted', 'name'], index_name='ix_object_deleted_name')
        db['container_stat'].insert({
            'account': account, 'container': container, 'created_at': created_at,
            'put_timestamp': put_timestamp, 'delete_timestamp': ZERO_TS,
            'status_changed_at': put_timestamp, 'object_count': 0, 'bytes_used': 0,
            'metadata': '{}', 'reported_put_timestamp': ZERO_TS,
            'reported_delete_timestamp': ZERO_TS, 'reported_object_count': 0,
            'reported_bytes_used': 0, 'id': str(uuid.uuid4())})

    # -- object rows -------------------------------------------------------------

    def put_object(self, name, timestamp, size, content_type, etag, deleted=0, block=True):
        """Queue an object row update (a DELETE is deleted=1, size 0);
        block as append_pending's, and its answer."""
        return self.append_pending([object_record(name, timestamp, size, content_type, etag,
                                                  deleted)], block)

    def put_objects(self, rows, block=True):
        """Queue several row updates ((name, timestamp, size, content_type,
        etag, deleted) each) in one append; block as append_pending's."""
        return self.append_pending([object_record(*row) for row in rows], block)

    def delete_object(self, name, timestamp, block=True):
        return self.put_object(name, timestamp, 0, '', '', deleted=1, block=block)

    def record_from_pending(self, item):
        name, created_at, size, content_type, etag, deleted = item
        if not isinstance(name, str) or not isinstance(created_at, str):
            raise ValueError('bad pending record')
        return [name, created_at, int(size), str(content_type), str(etag), 1 if deleted else 0]

    def merge_items(self, records, conn):
        """Newest created_at wins per name; stats move by the difference."""
        newest = {}
        for rec in records:
            old = newest.get(rec[0])
            if old is None or rec[1] > old[1]:
                newest[rec[0]] = rec
        existing = self.lookup_existing(conn, 'rowid, name, created_at, size, deleted', newest)
        stale_ids, inserts = [], []
        count_delta = bytes_delta = 0
        for name, rec in sorted(newest.items()):  # name order: B-tree locality
            old = existing.get(name)
            if old is not None:
                if rec[1] <= old[2]:
                    continue
                # Delete + insert (not update) so the row gets a new rowid:
                # replication ships rows by rowid.
                stale_ids.append((old[0],))
                if not old[4]:
                    count_delta -= 1
                    bytes_delta -= old[3]
            if not rec[5]:
                count_delta += 1
                bytes_delta += rec[2]
            inserts.append(rec)
        if stale_ids:
            conn.executemany('DELETE FROM object WHERE rowid = ?', stale_ids)
        if inserts:
            conn.executemany('INSERT INTO object (%s) VALUES (?, ?, ?, ?, ?, ?)'
                             % OBJECT_COLUMNS, inserts)
        if count_delta or bytes_delta:
            conn.execute('UPDATE container_stat SET object_count = object_count + ?, '
                         'bytes_used = bytes_used + ?', (count_delta, bytes_delta))
        return len(inserts)

    def list_objects(self, params):
        return self.list_rows('name, created_at, size, content_type, etag', params)

    # -- container state -----------------------------------------------------------

    @staticmethod
    def is_deleted_info(info):
        return info['object_count'] == 0 and info['delete_timestamp'] > info['put_timestamp']

    def set_put_timestamp(self, timestamp, metadata=None, recreate=True, check=None):
        """Newer put_timestamp (recreates a deleted container unless
        `recreate` is false: a POST only moves a live container's
        Last-Modified); returns (info, was_deleted)."""
        self.merge_pending()
        ts = normalize_ts(timestamp)
        state = {}

        def change(info):
            was_deleted = self.is_deleted_info(info)
            state['was_deleted'] = was_deleted
            changes = {}
            if ts > info['put_timestamp'] and (recreate or not was_deleted):
                changes['put_timestamp'] = ts
                if was_deleted and ts > info['delete_timestamp']:
                    changes['status_changed_at'] = ts
            if metadata:
                from swiftlike.db.broker import merge_metadata
                changes['metadata'] = merge_metadata(info['metadata'], metadata)
                if check is not None:
                    check(changes['metadata'])
            return changes
        info = self.update_stat(change)
        return info, state['was_deleted']

    def mark_deleted(self, timestamp):
        """Record the DELETE; the caller checked emptiness. Returns info."""
        ts = normalize_ts(timestamp)

        def change(info):
            changes = {}
            if ts > info['delete_timestamp']:
                changes['delete_timestamp'] = ts
                if ts > info['put_timestamp']:
                    changes['status_changed_at'] = ts
                    # As Swift's: a deleted container forgets its metadata
                    # (ACLs, quotas, keys); one created again starts clean.
                    cleared = {key: ('', ts) for key, (value, _t) in info['metadata'].items()
                               if value != ''}
                    if cleared:
                        changes['metadata'] = merge_metadata(info['metadata'], cleared)
            return changes
        return self.update_stat(change)

    def reported(self, put_timestamp, delete_timestamp, object_count, bytes_used):
        """Remember what the account server was last told (for the updater)."""
        self.update_stat(lambda info: {
            'reported_put_timestamp': normalize_ts(put_timestamp),
            'reported_delete_timestamp': normalize_ts(delete_timestamp),
            'reported_object_count': int(object_count),
            'reported_bytes_used': int(bytes_used)})

    @staticmethod
    def needs_report(info):
        return (info['put_timestamp'] > info['reported_put_timestamp']
                or info['delete_timestamp'] > info['reported_delete_timestamp']
                or info['object_count'] != info['reported_object_count']
                or info['bytes_used'] != info['reported_bytes_used'])


def listing_item(row):
    name, created_at, size, content_type, etag = row
    if 'swift_bytes=' in content_type:
        content_type, size = _swift_bytes(content_type, size)
    return {'name': name, 'hash': etag, 'bytes': size, 'content_type': content_type,
            'last_modified': Timestamp(created_at).isoformat}


def _swift_bytes(content_type, size):
    """A large object's manifest is listed with the size of what it serves:
    'type;swift_bytes=N' -> ('type', N), other parameters kept."""
    parts = content_type.split(';')
    kept = [parts[0]]
    for param in parts[1:]:
        key, _, value = param.strip().partition('=')
        if key == 'swift_bytes' and is_decimal(value):
            size = int(value)
        else:
            kept.append(param)
    return ';'.join(kept), size
