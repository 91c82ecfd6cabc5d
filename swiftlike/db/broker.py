"""The SQLite broker shared by container and account databases.

One database file per container/account, in WAL mode. Schemas are created and
migrated with sqlite-utils; the hot paths (merging rows, listing) use plain
sqlite3 with fixed SQL because it is measurably cheaper per row.

Row updates (objects into a container, container stats into an account) do not
touch SQLite at all on the request path: they are appended as one JSON line to
`<db>.pending` (O_APPEND under a shared flock, so any number of writers in any
number of processes never wait on the database lock). Whoever next gets the
exclusive flock merges the whole file into SQLite in one transaction and
truncates it: a writer once the file passes `pending_merge_bytes` (without
waiting if someone else is already merging), and every reader before it
answers, so reads see every acknowledged update. Merges are idempotent (the
newest timestamp wins and equal timestamps keep the stored row), so a crash
between commit and truncate only repeats work.

Durability: SQLite runs with synchronous=NORMAL (a commit in WAL mode survives
a process crash; a power loss can drop the last commits). With
`pending_fsync` on, every pending line is fdatasync'd before the update is
acknowledged, and merges commit with synchronous=FULL, so nothing acknowledged
is lost even on power failure; off (the default, like Swift) an update is only
flushed to the kernel.
"""
import errno
import fcntl
import json
import os
import sqlite3
import uuid

from swiftlike.fs import fsync_path
from swiftlike.timestamp import Timestamp

ZERO_TS = Timestamp(0).internal


def _schema_db(conn):
    # sqlite_utils (~12 MB resident) is only needed to create or migrate a
    # schema, so a server that never does loads it never.
    import sqlite_utils
    return sqlite_utils.Database(conn)

BUSY_TIMEOUT_MS = 25000
DEFAULT_PENDING_MERGE_BYTES = 256 * 1024
QUERY_CHUNK = 500  # names per IN (...) lookup, under SQLite's variable limit


# Database files whose schema version this process has already checked.
_schema_checked = set()


class DatabaseAlreadyExists(Exception):
    pass


class DatabaseNotFound(Exception):
    pass


def normalize_ts(value):
    return Timestamp(value).internal


def merge_metadata(current, updates):
    """{key: [value, ts]} merged; the newest timestamp per key wins.

    An empty value is kept (as a tombstone of that key) so an older value that
    arrives later cannot bring it back.
    """
    merged = dict(current)
    for key, (value, ts) in updates.items():
        ts = normalize_ts(ts)
        old = merged.get(key)
        if old is None or ts > old[1]:
            merged[key] = [value, ts]
    return merged


def visible_metadata(metadata):
    return {k: v for k, (v, _ts) in metadata.items() if v != ''}


class DatabaseBroker:
    """Base of ContainerBroker and AccountBroker.

    Subclasses set `db_type`, `stat_table`, `item_table`, and implement
    `create_schema(db, **info)`, `merge_items(records, conn)` and
    `record_from_pending(line_items)`.
    """
    db_type = 'db'
    stat_table = None
    item_table = None
    schema_version = 1
    migrations = {}   # {version: function(sqlite_utils.Database)}

    def __init__(self, db_file, pending_fsync=False,
                 pending_merge_bytes=DEFAULT_PENDING_MERGE_BYTES, logger=None):
        self.db_file = db_file
        self.pending_file = db_file + '.pending'
        self.pending_fsync = pending_fsync
        self.pending_merge_bytes = pending_merge_bytes
        self.logger = logger

    # -- files and connections -------------------------------------------------

    def exists(self):
        return os.path.exists(self.db_file)

    def connect(self, path=None):
        if path is None:
            path = self.db_file
            if not os.path.exists(path):
                raise DatabaseNotFound(path)
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000.0, isolation_level=None,
                               check_same_thread=False)
        conn.execute('PRAGMA synchronous = %s' % ('FULL' if self.pending_fsync else 'NORMAL'))
        conn.execute('PRAGMA busy_timeout = %d' % BUSY_TIMEOUT_MS)
        if path == self.db_file and path not in _schema_checked:
            self.migrate(conn)
        return conn

    def migrate(self, conn):
        """Bring an older database up to schema_version, once per process.

        migrations[n](sqlite_utils.Database) upgrades version n-1 to n; they run
        in one write transaction, so a half-migrated database is never seen.
        """
        version = conn.execute('PRAGMA user_version').fetchone()[0]
        if version < self.schema_version:
            with self.transaction(conn):
                version = conn.execute('PRAGMA user_version').fetchone()[0]
                db = _schema_db(conn)
                for target in range(version + 1, self.schema_version + 1):
                    self.migrations[target](db)
                conn.execute('PRAGMA user_version = %d' % max(version, self.schema_version))
        if len(_schema_checked) > 100000:
            _schema_checked.clear()
        _schema_checked.add(self.db_file)

    def transaction(self, conn):
        return _Transaction(conn)

    def initialize(self, put_timestamp, **info):
        """Create the database atomically (built aside, then linked into place).

        Raises DatabaseAlreadyExists when another request created it first.
        """
        if self.exists():
            raise DatabaseAlreadyExists(self.db_file)
        directory = os.path.dirname(self.db_file)
        os.makedirs(directory, exist_ok=True)
        tmp = os.path.join(directory, '.%s.tmp' % uuid.uuid4().hex)
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute('PRAGMA journal_mode = WAL')
            db = _schema_db(conn)
            now = Timestamp.now().internal
            self.create_schema(db, put_timestamp=normalize_ts(put_timestamp),
                               created_at=now, **info)
            conn.execute('PRAGMA user_version = %d' % self.schema_version)
            conn.close()
            conn = None
            fsync_path(tmp)
            try:
                os.link(tmp, self.db_file)
            except OSError as err:
                if err.errno == errno.EEXIST:
                    raise DatabaseAlreadyExists(self.db_file)
                raise
            fsync_path(directory)
        finally:
            if conn is not None:
                conn.close()
            try:
                os.unlink(tmp)
            except OSError:
                pass

    # -- pending file --------------------------------------------------------------

    def append_pending(self, records, block=True):
        """Queue row updates (a list of records, in one write); merges when the
        queue has grown large.

        block=False never waits (a caller on the event loop): it returns
        None, having queued nothing, when it would wait (a merge holds the
        pending file, or pending_fsync wants a flush); else True when a merge
        is due, which it leaves to the caller, or False."""
        if not block and self.pending_fsync:
            return None
        # The leading newline ends any line a failed (short) write left
        # unterminated, so it cannot swallow this record.
        data = ''.join('\n' + json.dumps(item, ensure_ascii=False, separators=(',', ':'))
                       + '\n' for item in records).encode('utf-8')
        fd = os.open(self.pending_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | (0 if block else fcntl.LOCK_NB))
            except BlockingIOError:
                return None
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(errno.ENOSPC, 'short write to %s' % self.pending_file)
            if self.pending_fsync:
                os.fdatasync(fd)
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if not block:
            return size >= self.pending_merge_bytes
        if size >= self.pending_merge_bytes:
            self.merge_pending(block=False)
        return False

    def pending_size(self):
        try:
            return os.path.getsize(self.pending_file)
        except OSError:
            return 0

    def merge_pending(self, block=True):
        """Merge queued updates into SQLite; False if skipped (another merger)."""
        if not self.pending_size():
            return True
        try:
            fd = os.open(self.pending_file, os.O_RDWR)
        except FileNotFoundError:
            return True
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
            except BlockingIOError:
                return False
            chunks = []
            while True:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
            data = b''.join(chunks)
            if data:
                records = self._parse_pending(data)
                if records:
                    conn = self.connect()
                    try:
                        with self.transaction(conn):
                            self.merge_items(records, conn)
                    finally:
                        conn.close()
                os.ftruncate(fd, 0)
            return True
        finally:
            os.close(fd)

    def _parse_pending(self, data):
        records = []
        for line in data.split(b'\n'):
            if not line:
                continue
            try:
                records.append(self.record_from_pending(json.loads(line.decode('utf-8'))))
            except (ValueError, TypeError, IndexError):
                # A line torn by a crash mid-write: it was never acknowledged.
                if self.logger:
                    self.logger.warning('%s: skipping a malformed pending line', self.pending_file)
        return records

    def merge_records(self, records):
        """Merge records straight into SQLite (bulk loads, replication)."""
        conn = self.connect()
        try:
            with self.transaction(conn):
                self.merge_items(records, conn)
        finally:
            conn.close()

    # -- stats and metadata ------------------------------------------------------

    def get_info(self, merge=True):
        """The stat row as a dict (metadata decoded), after merging pending rows."""
        if merge:
            self.merge_pending()
        conn = self.connect()
        try:
            conn.row_factory = sqlite3.Row
            row = conn.execute('SELECT * FROM %s' % self.stat_table).fetchone()
        finally:
            conn.close()
        info = dict(row)
        info['metadata'] = json.loads(info.get('metadata') or '{}')
        return info

    def update_stat(self, changes_fn):
        """Run changes_fn(info) -> {column: value} in a write transaction."""
        conn = self.connect()
        try:
            conn.row_factory = sqlite3.Row
            with self.transaction(conn):
                info = dict(conn.execute('SELECT * FROM %s' % self.stat_table).fetchone())
                info['metadata'] = json.loads(info.get('metadata') or '{}')
                changes = changes_fn(info) or {}
                if changes:
                    if 'metadata' in changes:
                        changes['metadata'] = json.dumps(changes['metadata'], ensure_ascii=False)
                    cols = ', '.join('%s = ?' % k for k in changes)
                    conn.execute('UPDATE %s SET %s' % (self.stat_table, cols),
                                 list(changes.values()))
                    info.update(changes)
                    if 'metadata' in changes:
                        info['metadata'] = json.loads(changes['metadata'])
            return info
        finally:
            conn.close()

    def update_metadata(self, updates, check=None):
        """updates: {key: (value, timestamp)}; newest per key wins. `check`
        (merged metadata) may refuse the result by raising."""
        if not updates:
            return

        def change(info):
            merged = merge_metadata(info['metadata'], updates)
            if check is not None:
                check(merged)
            return {'metadata': merged}
        self.update_stat(change)

    def list_rows(self, columns, params):
        """Run the pure listing engine against this database.

        columns start with name. Delimiter listings seek once per subdir and
        only need names for that, so they read the covering (deleted, name)
        index alone and fetch the other columns afterwards for the rows that
        are actually returned.
        """
        from swiftlike.db.listing import list_entries
        self.merge_pending()
        conn = self.connect()
        try:
            fetch_columns = 'name' if params.delimiter else columns

            def fetch(bounds, reverse, limit):
                sql, args = self.range_sql(fetch_columns, bounds, reverse, limit)
                return conn.execute(sql, args)
            with _ReadSnapshot(conn):
                entries = list_entries(fetch, params)
                if params.delimiter:
                    entries = self._hydrate(conn, columns, entries)
            return entries
        finally:
            conn.close()

    def _hydrate(self, conn, columns, entries):
        names = [e[0] for e in entries if not isinstance(e, str)]
        full = {}
        for start in range(0, len(names), QUERY_CHUNK):
            chunk = names[start:start + QUERY_CHUNK]
            sql = ('SELECT %s FROM %s WHERE deleted = 0 AND name IN (%s)'
                   % (columns, self.item_table, ','.join('?' * len(chunk))))
            for row in conn.execute(sql, chunk):
                full[row[0]] = row
        return [e if isinstance(e, str) else full[e[0]] for e in entries]

    def range_sql(self, columns, bounds, reverse, limit):
        """SELECT over live rows of the item table within bounds, name order."""
        sql = ['SELECT %s FROM %s INDEXED BY ix_%s_deleted_name WHERE deleted = 0'
               % (columns, self.item_table, self.item_table)]
        args = []
        if bounds.lower is not None:
            sql.append('AND name %s ?' % ('>=' if bounds.lower_incl else '>'))
            args.append(bounds.lower)
        if bounds.upper is not None:
            sql.append('AND name %s ?' % ('<=' if bounds.upper_incl else '<'))
            args.append(bounds.upper)
        sql.append('ORDER BY name %s LIMIT ?' % ('DESC' if reverse else 'ASC'))
        args.append(limit)
        return ' '.join(sql), args

    def lookup_existing(self, conn, columns, names):
        """{name: row} of existing rows (live or deleted), via the index."""
        found = {}
        names = sorted(names)
        for start in range(0, len(names), QUERY_CHUNK):
            chunk = names[start:start + QUERY_CHUNK]
            sql = ('SELECT %s FROM %s WHERE deleted IN (0, 1) AND name IN (%s)'
                   % (columns, self.item_table, ','.join('?' * len(chunk))))
            for row in conn.execute(sql, chunk):
                found[row[1]] = row
        return found

    def get_items_since(self, row_id, count):
        """Rows (all columns, with rowid) after row_id, for replication."""
        self.merge_pending()
        conn = self.connect()
        try:
            conn.row_factory = sqlite3.Row
            rows = conn.execute('SELECT rowid, * FROM %s WHERE rowid > ? ORDER BY rowid LIMIT ?'
                                % self.item_table, (row_id, count)).fetchall()
            return [dict(r) for r in rows]
        finally:
            conn.close()

    def reclaim(self, age_timestamp):
        """Drop deleted rows older than age_timestamp (tombstones past reclaim age)."""
        self.merge_pending()
        conn = self.connect()
        try:
            with self.transaction(conn):
                cur = conn.execute('DELETE FROM %s WHERE deleted = 1 AND %s < ?'
                                   % (self.item_table, self.reclaim_column),
                                   (normalize_ts(age_timestamp),))
                return cur.rowcount
        finally:
            conn.close()


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error): one writer at a time,
    waiting up to the busy timeout instead of failing."""

    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        self.conn.execute('BEGIN IMMEDIATE')
        return self.conn

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.conn.execute('COMMIT')
        else:
            self.conn.execute('ROLLBACK')
        return False


class _ReadSnapshot:
    """A read transaction so a multi-query listing sees one snapshot."""

    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        self.conn.execute('BEGIN')
        return self.conn

    def __exit__(self, exc_type, exc, tb):
        self.conn.execute('COMMIT' if exc_type is None else 'ROLLBACK')
        return False


