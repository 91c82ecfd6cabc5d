"""DB replicator base: keeps container/account database replicas in sync.

For every local database: ask each other primary (REPLICATE sync) how far it
has merged our rows; ship the rows after that point in batches (merge_items),
or the whole database when the peer has none or is more than
per_diff * max_diffs rows behind (complete). Rows merge by timestamp on the
receiver, so the order of passes never matters. A database on a handoff
device is pushed to every primary and removed once all of them took it (and
no new row arrived meanwhile). Deleted rows and deleted, empty databases are
reclaimed after reclaim_age.

An idle pass is cheap: a primary database whose files (.db, -wal, .pending)
have not changed since every peer last took everything it had is not opened
or compared again until unchanged_recheck_interval has passed (each side
ships only its own rows, so an unchanged database has nothing new to give; a
peer that lost its copy gets it back at the recheck).

A busy database is left alone while run_forever drives the passes: one whose
files changed since the last pass looked is being written right now, and
every row written reaches every replica by the container (or account)
update itself; shipping them again between the replicas each pass was
merging every new row twice more, for nothing. It is compared once a pass
finds it settled, or busy_defer_max seconds after its last comparison at
the latest (which bounds how long a row that missed a replica waits).
"""
import contextlib
import dataclasses
import json
import os
import random
import shutil
import tempfile
import time
from urllib.parse import quote

from swiftlike import backend_http, concurrency
from swiftlike.constraints import is_decimal
from swiftlike.daemon import Daemon, DaemonConf, local_ips
from swiftlike.db import replication as repl
from swiftlike.exceptions import SwiftlikeError


@dataclasses.dataclass
class DbReplicatorConf(DaemonConf):
    interval: float = 30.0
    concurrency: int = 2
    per_diff: int = 1000
    max_diffs: int = 100
    reclaim_age: float = 604800.0
    # Seconds before a database unchanged since all its peers took it is
    # compared with them again (0: every pass compares every database).
    unchanged_recheck_interval: float = 300.0
    # In run_forever, a database changed since the last pass waits for a pass
    # that finds it settled, at most this many seconds after its last
    # comparison (0: compare it every pass).
    busy_defer_max: float = 300.0

    def validate(self):
        DaemonConf.validate(self)
        if self.per_diff < 1 or self.max_diffs < 1:
            raise ValueError('per_diff and max_diffs must be >= 1')
        if self.unchanged_recheck_interval < 0 or self.busy_defer_max < 0:
            raise ValueError('unchanged_recheck_interval and busy_defer_max must be >= 0')


class PeerError(Exception):
    pass


class DbReplicator(Daemon):
    """Subclasses set `name`, `recon_kind`, `kind` (a DbKind) and `ring_name`."""
    conf_class = DbReplicatorConf
    kind = None
    ring_name = None

    def __init__(self, conf, logger=None, ring=None):
        super().__init__(conf, logger, {self.ring_name: ring})
        self._ips = None
        # path -> (file signature every peer agreed with, time to compare anyway)
        self._agreed = {}
        # path -> file signature at the last pass's look; path -> time of the
        # last comparison (run_forever's busy databases)
        self._looked = {}
        self._compared_at = {}

    def iter_dbs(self, device):
        """(partition, db hash, path) of every database on the device."""
        root = os.path.join(self.conf.devices, device, self.kind.datadir)
        for part in _listdir(root):
            if not is_decimal(part):
                continue
            for suffix in _listdir(os.path.join(root, part)):
                for db_hash in _listdir(os.path.join(root, part, suffix)):
                    path = os.path.join(root, part, suffix, db_hash, db_hash + '.db')
                    if os.path.exists(path):
                        yield int(part), db_hash, path

    def sweep(self):
        if self._ips is None:
            self._ips = local_ips()
        counters = self.counters(('dbs', 'unchanged', 'deferred', 'no_change', 'rows_shipped',
                                  'diffs', 'complete_ships',
                                  'failures', 'handoffs_removed', 'reclaimed_dbs',
                                  'reclaimed_rows', 'success'))
        pool = concurrency.GreenPool(self.conf.concurrency)
        for device in self.local_devices():
            for part, db_hash, path in self.iter_dbs(device):
                if self._stopping:
                    break
                pool.spawn_n(self._replicate_safely, device, part, db_hash, path,
                             counters.of(device))
        pool.waitall()
        return counters.totals()

    def _replicate_safely(self, device, part, db_hash, path, stats):
        try:
            self.replicate_db(device, part, db_hash, path, stats)
        except Exception:
            stats['failures'] += 1
            self.logger.exception('replicating %s', path)

    def replicate_db(self, device, part, db_hash, path, stats):
        stats['dbs'] += 1
        nodes = self.ring(self.ring_name).get_part_nodes(part)
        me = [n for n in nodes if n['device'] == device and self.is_local(n, self._ips)]
        peers = [n for n in nodes if n not in me]
        signature = _files_signature(path)
        agreed = self._agreed.pop(path, None)
        if me and agreed and agreed[0] == signature and time.time() < agreed[1]:
            self._agreed[path] = agreed
            self._looked[path] = signature
            stats['unchanged'] += 1
            return
        if me and self._busy(path, signature):
            stats['deferred'] += 1
            return
        self.limit(files=1)
        broker = self.kind.broker_class(path, logger=self.logger)
        broker.merge_pending()
        cutoff = time.time() - self.conf.reclaim_age
        stats['reclaimed_rows'] += broker.reclaim(cutoff) or 0
        info = broker.get_info(merge=False)
        top = repl.max_row(broker)
        # A deleted database past reclaim_age is not shipped to peers that
        # already dropped it: it would only come back to be dropped again.
        old_and_deleted = self.reclaimable(broker, info, cutoff)
        ok = 0
        for node in peers:
            try:
                self.sync_with(node, part, db_hash, broker, info, top, stats, old_and_deleted)
                ok += 1
                stats['success'] += 1
            except PeerError as err:
                stats['failures'] += 1
                self.note_failure(node)
                self.logger.info('%s with %s:%s/%s: %s', path, node['ip'], node['port'],
                                 node['device'], err)
        all_ok = ok == len(peers)
        if me and self.pacing:
            # As our own merge of .pending left the files: what the next pass
            # compares them with to tell whether rows are still arriving.
            self._looked[path] = _files_signature(path)
        if not me and all_ok:
            # A handoff copy every primary now holds; keep it if rows arrived meanwhile.
            broker.merge_pending()
            if repl.max_row(broker) == top and not broker.pending_size():
                self.remove_db(path)
                stats['handoffs_removed'] += 1
        elif all_ok and old_and_deleted:
            self.remove_db(path)
            stats['reclaimed_dbs'] += 1
        elif all_ok and self.conf.unchanged_recheck_interval and _quiet(signature):
            # Remember the files as they were before this pass looked: a row
            # that came in meanwhile (or our own merge of .pending) changes
            # them, and the next pass compares again. Files written in the
            # last second are not trusted (timestamps are coarse).
            recheck = self.conf.unchanged_recheck_interval * random.uniform(0.75, 1.0)
            self._agreed[path] = (signature, time.time() + recheck)

    def _busy(self, path, signature):
        """In run_forever: the database's files changed since the last pass
        looked, and its last comparison is less than busy_defer_max ago."""
        if not (self.pacing and self.conf.busy_defer_max):
            return False
        now = time.time()
        previous = self._looked.get(path)
        if previous not in (None, signature) and \
                now - self._compared_at.get(path, 0.0) < self.conf.busy_defer_max:
            self._looked[path] = signature
            return True
        self._compared_at[path] = now
        return False

    def swift_recon(self, stats, start, elapsed):
        """Swift's DB replication keys (replication_time in seconds, as Swift's
        DB replicators write it). Counters we do not have are 0: no rsync,
        no capped diffs, no remote merges, no empty-db or ts_repl cases."""
        return {
            'replication_time': elapsed, 'replication_last': start + elapsed,
            'replication_stats': {
                'attempted': stats['dbs'], 'success': stats['success'],
                'failure': stats['failures'], 'failure_nodes': self.failure_nodes,
                'no_change': stats['no_change'], 'hashmatch': stats['no_change'],
                'diff': stats['diffs'], 'diff_capped': 0, 'rsync': stats['complete_ships'],
                'remote_merge': 0, 'remove': stats['handoffs_removed'] + stats['reclaimed_dbs'],
                'empty': 0, 'ts_repl': 0, 'start': start},
        }

    def reclaimable(self, broker, info, cutoff):
        """Deleted long ago and empty: every replica has heard (all peers synced)."""
        deleted = broker.is_deleted_info(info)
        return deleted and float(info['delete_timestamp']) < cutoff and \
            info.get('object_count', 0) == 0 and not info.get('container_count', 0)

    def remove_db(self, path):
        hash_dir = os.path.dirname(path)
        shutil.rmtree(hash_dir, ignore_errors=True)
        for parent in (os.path.dirname(hash_dir), os.path.dirname(os.path.dirname(hash_dir))):
            with contextlib.suppress(OSError):
                os.rmdir(parent)

    # -- one peer --------------------------------------------------------------------
    def sync_with(self, node, part, db_hash, broker, info, top, stats, skip_missing=False):
        body = {'id': info['id'], 'max_row': top, 'info': repl.shareable_info(info)}
        status, answer = self._call(node, part, db_hash, 'sync', body)
        if status == 404:
            if not skip_missing:
                self.ship_whole(node, part, db_hash, broker, info, top, stats)
            return
        point = answer.get('sync_point')
        if not isinstance(point, int):
            raise PeerError('sync answer has no sync_point')
        if point >= top:
            stats['no_change'] += 1
            return
        if top - point > self.conf.per_diff * self.conf.max_diffs:
            self.ship_whole(node, part, db_hash, broker, info, top, stats)
            return
        while point < top:
            rows = broker.get_items_since(point, self.conf.per_diff)
            if not rows:
                break
            records = [self.kind.row_to_record(r) for r in rows]
            point = rows[-1]['rowid']
            self._call(node, part, db_hash, 'merge_items',
                       {'id': info['id'], 'rows': records, 'point': point})
            stats['diffs'] += 1
            stats['rows_shipped'] += len(records)

    def ship_whole(self, node, part, db_hash, broker, info, top, stats):
        tmp_dir = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.dirname(os.path.dirname(broker.db_file))))), 'tmp')
        os.makedirs(tmp_dir, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix='.db-ship-')
        os.close(fd)
        try:
            repl.snapshot(broker, tmp)
            size = os.path.getsize(tmp)
            path = quote('/%s/%d/%s' % (node['device'], part, db_hash))
            headers = {'X-Replication-Op': 'complete', 'X-Replication-Id': info['id'],
                       'X-Replication-Max-Row': str(top), 'Content-Length': str(size),
                       'X-Trans-Id': 'tx-%s' % self.name}
            ip = node.get('replication_ip') or node['ip']
            port = node.get('replication_port') or node['port']
            try:
                conn = backend_http.http_connect(ip, port, 'REPLICATE', path, headers,
                                                 conn_timeout=self.conf.conn_timeout,
                                                 timeout=self.conf.node_timeout)
            except SwiftlikeError as err:
                raise PeerError(str(err))
            try:
                with open(tmp, 'rb') as f:
                    while True:
                        chunk = f.read(1 << 20)
                        if not chunk:
                            break
                        conn.send(chunk)
                        self.limit(nbytes=len(chunk))
                resp = conn.getresponse()
                data = resp.read()
            except OSError as err:
                raise PeerError('shipping the database failed: %s' % err)
            finally:
                conn.close()
            if resp.status // 100 != 2:
                raise PeerError('complete answered %s: %s' % (resp.status, data[:200]))
            stats['complete_ships'] += 1
        finally:
            for leftover in (tmp, tmp + '-wal', tmp + '-shm', tmp + '-journal'):
                with contextlib.suppress(OSError):
                    os.unlink(leftover)

    def _call(self, node, part, db_hash, op, body):
        target = {'ip': node.get('replication_ip') or node['ip'],
                  'port': node.get('replication_port') or node['port']}
        path = quote('/%s/%d/%s' % (node['device'], part, db_hash))
        headers = {'X-Replication-Op': op, 'Content-Type': 'application/json',
                   'X-Trans-Id': 'tx-%s' % self.name}
        try:
            status, _h, data = backend_http.fetch(
                target, 'REPLICATE', path, headers, json.dumps(body),
                conn_timeout=self.conf.conn_timeout, timeout=self.conf.node_timeout)
        except (SwiftlikeError, OSError) as err:
            raise PeerError(str(err))
        if status == 404 and op == 'sync':
            return status, {}
        if status // 100 != 2:
            raise PeerError('%s answered %s: %s' % (op, status, data[:200]))
        try:
            answer = json.loads(data.decode('utf-8'))
        except (ValueError, UnicodeDecodeError):
            raise PeerError('%s answer is not JSON' % op)
        if not isinstance(answer, dict):
            raise PeerError('%s answer is not an object' % op)
        return status, answer


def _files_signature(path):
    """(size, mtime) of the database and its -wal and .pending files: any write
    to the database changes one of them."""
    signature = []
    for name in (path, path + '-wal', path + '.pending'):
        try:
            st = os.stat(name)
            signature.append((st.st_size, st.st_mtime_ns))
        except OSError:
            signature.append(None)
    return tuple(signature)


def _quiet(signature, now=None):
    """No file of the signature was modified in the last second."""
    limit = ((now or time.time()) - 1.0) * 1e9
    return all(item is None or item[1] < limit for item in signature)


def _listdir(path):
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []
