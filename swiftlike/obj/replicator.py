"""Object replicator: keeps every partition's replicas identical.

For each local partition where this device is a primary, it asks the other
primaries for their suffix hashes (REPLICATE) and, for the suffixes that
differ, offers its winning files (REPLICATION check) and streams the ones the
peer lacks (REPLICATION push, verified by the receiver before it commits).
Each side pushes only what it has newer, so both directions converge once
every node has run. A partition on a device that is not one of its primaries
(a handoff) is offered whole to every primary and removed file by file once
all of them hold it or something newer. A primary whose disk is gone (507) is
stood in for by a handoff, so the partition keeps its replica count until a
disk is back. Tombstones older than reclaim_age are removed by a periodic walk.

An idle pass is cheap: a primary partition whose local suffix hashes are the
same as when every peer last agreed with them is not compared again (no
REPLICATE calls) until unchanged_recheck_interval has passed. Each side pushes
only what it has newer, so an unchanged partition has nothing to push, except
to a peer that lost files (a replaced disk, a quarantine): that peer is
repaired by the recheck, within unchanged_recheck_interval. A REPLICATE call
tells the peer the fingerprint of our hashes, and a peer whose own are the
same notes it (suffix_hashes.agreed_since): its replicator skips that
partition too while its hashes stay the same, since we compare it with every
replica and push what we have, which is all it has. So a partition just
written on its primaries is compared by the first of them to get to it, not
by all three.

A busy node is spared two ways while run_forever drives the passes (a one-off
pass, run_once, compares every changed partition at once):
- a partition whose suffix hashes changed since the last pass is still being
  written: the proxy is putting its replicas on every primary right now, and
  comparing them mid-write is wasted work. It is compared once a pass finds it
  settled, or busy_defer_max seconds after its last comparison at the latest.
  A write marks its suffix in the partition's hashes.invalid, so a partition
  whose mark is newer than the last pass's look is known to be busy without
  rehashing it: one stat, where the rehash of every suffix written since was
  half of the replicator's CPU on a busy node;
- the partitions a pass does compare are taken at most at (partitions on this
  node) / (interval * pass_spread) per second: a trickle of REPLICATE calls
  over most of the interval instead of one burst.
"""
import dataclasses
import itertools
import json
import os
import random
import time

from urllib.parse import quote

from swiftlike import backend_http, concurrency
from swiftlike.constraints import is_decimal
from swiftlike.daemon import Daemon, DaemonConf, local_ips
from swiftlike.exceptions import SwiftlikeError
from swiftlike.http_framing import LAST_CHUNK, chunk_frame
from swiftlike.obj.diskfile import OBJECTS_DIR, TMP_DIR
from swiftlike.obj.object_files import (list_partition, quarantine_hash_dir, read_file_record,
                                        reclaim_partition, remove_files)
from swiftlike.obj.backend import hashes_fingerprint
from swiftlike.obj.replication_protocol import END_RECORD, FINGERPRINT_HEADER, encode_header
from swiftlike.obj.suffix_hashes import INVALID_FILE, agreed_since, get_suffix_hashes

RECLAIM_STAMP = '.reclaim-stamp'
# Handoffs tried for a primary whose disk is gone, before waiting for the next pass.
HANDOFF_TRIES = 3


@dataclasses.dataclass
class ReplicatorConf(DaemonConf):
    interval: float = 30.0
    concurrency: int = 2
    # Tombstones older than this are removed (seconds; default 7 days).
    reclaim_age: float = 604800.0
    # How often the (full) walk that reclaims tombstones runs, in seconds.
    reclaim_walk_interval: float = 3600.0
    # Timeout for a whole push stream (large objects need more).
    push_timeout: float = 300.0
    # Seconds before a partition unchanged since all its peers agreed is
    # compared with them again (0: every pass compares every partition).
    unchanged_recheck_interval: float = 300.0
    # In run_forever, spread the comparisons of a pass over this fraction of
    # the interval (0: as fast as they go; see the module docstring).
    pass_spread: float = 0.8
    # In run_forever, a partition still changing since the last pass waits for
    # a pass that finds it settled, at most this many seconds after its last
    # comparison (0: compare it every pass).
    busy_defer_max: float = 300.0

    def validate(self):
        DaemonConf.validate(self)
        if not 0 <= self.pass_spread <= 1:
            raise ValueError('pass_spread must be 0-1')
        if self.busy_defer_max < 0:
            raise ValueError('busy_defer_max must be >= 0')
        if self.reclaim_age < 0 or self.reclaim_walk_interval < 0 or \
                self.unchanged_recheck_interval < 0:
            raise ValueError('reclaim_age, reclaim_walk_interval and '
                             'unchanged_recheck_interval must be >= 0')


class PeerError(Exception):
    """A peer could not be reached or refused; the partition is retried next pass."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status

    @property
    def disk_gone(self):
        """The peer answered 507: its disk is unmounted or missing."""
        return self.status == 507


class ObjectReplicator(Daemon):
    name = 'object-replicator'
    recon_kind = 'object'
    conf_class = ReplicatorConf

    def __init__(self, conf, logger=None, ring=None):
        super().__init__(conf, logger, {'object': ring})
        self._ips = None
        # (device, partition) -> (fingerprint of the local suffix hashes that
        # every peer agreed with, time to compare again anyway).
        self._agreed = {}
        # (device, partition) -> fingerprint seen by the last pass, and the
        # time of the partition's last comparison with its peers.
        self._seen = {}
        self._compared_at = {}
        # (device, partition) -> when the last pass looked at it (run_forever)
        self._looked = {}
        self._pace = None
        # Keep-alive connections to the peers: a busy pass asks each peer for
        # hundreds of partitions' hashes, and a connection per call cost both
        # sides about a third of each call's CPU.
        self._pool = backend_http.ConnectionPool()

    def sweep(self):
        if self._ips is None:
            self._ips = local_ips()
        counters = self.counters(('partitions', 'in_sync', 'unchanged', 'deferred',
                                  'suffixes_differed',
                                  'files_pushed',
                                  'bytes_pushed', 'failures', 'handoffs_reverted',
                                  'handoff_syncs', 'files_removed', 'reclaimed',
                                  'quarantined', 'success', 'hashmatch', 'suffix_count',
                                  'pushes'))
        jobs = []
        for device in self.local_devices():
            dev_path = os.path.join(self.conf.devices, device)
            self.maybe_reclaim(dev_path, counters.of(device))
            objects = os.path.join(dev_path, OBJECTS_DIR)
            try:
                parts = sorted(os.listdir(objects), key=lambda p: (len(p), p))
            except OSError:
                continue
            for part in parts:
                if is_decimal(part):
                    jobs.append((device, int(part)))
        self._pace = None
        if self.pacing and self.conf.pass_spread and self.conf.interval and jobs:
            self._pace = self.rate_limiter(len(jobs) / (self.conf.interval * self.conf.pass_spread))
        pool = concurrency.GreenPool(self.conf.concurrency)
        for device, part in jobs:
            if self._stopping:
                break
            pool.spawn_n(self._replicate_safely, device, part, counters.of(device))
        pool.waitall()
        return counters.totals()

    def _replicate_safely(self, device, part, stats):
        try:
            self.replicate_partition(device, part, stats)
        except Exception:
            stats['failures'] += 1
            self.logger.exception('replicating %s partition %s', device, part)

    # -- one partition ------------------------------------------------------
    def replicate_partition(self, device, part, stats):
        stats['partitions'] += 1
        self.limit(files=1)
        dev_path = os.path.join(self.conf.devices, device)
        part_path = os.path.join(dev_path, OBJECTS_DIR, str(part))
        nodes = self.ring('object').get_part_nodes(part)
        me = [n for n in nodes if n['device'] == device and self.is_local(n, self._ips)]
        if me:
            self.sync_primary(dev_path, part, part_path, [n for n in nodes if n not in me],
                              stats)
        else:
            self.revert_handoff(dev_path, part, part_path, nodes, stats)

    def sync_primary(self, dev_path, part, part_path, peers, stats):
        key = (dev_path, part)
        if self._written_since_last_look(key, part_path):
            stats['deferred'] += 1
            return
        local = get_suffix_hashes(part_path)
        stats['suffix_count'] += len(local)
        fingerprint = hashes_fingerprint(local)
        agreed = self._agreed.pop(key, None)
        if self.conf.unchanged_recheck_interval and not (agreed and agreed[0] == fingerprint):
            # A peer that compared with us noted it (see the module docstring).
            since = agreed_since(part_path, fingerprint)
            if since is not None:
                agreed = (fingerprint, self._recheck_at(since))
                # (its last comparison, for busy_defer_max, was the peer's)
                self._compared_at[key] = max(self._compared_at.get(key, 0.0), since)
        if agreed and agreed[0] == fingerprint and time.time() < agreed[1]:
            self._agreed[key] = agreed
            stats['unchanged'] += 1
            stats['in_sync'] += 1
            # (for recon: every peer matched at the last comparison, and
            # nothing changed here since)
            stats['success'] += len(peers)
            stats['hashmatch'] += len(peers)
            return
        previous, self._seen[key] = self._seen.get(key), fingerprint
        now = time.time()
        if self.pacing and self.conf.busy_defer_max and previous not in (None, fingerprint) \
                and now - self._compared_at.get(key, 0.0) < self.conf.busy_defer_max:
            stats['deferred'] += 1
            return
        self._compared_at[key] = now
        if self._pace is not None:
            self._pace.consume(1)
        all_ok = True
        handoffs = None
        for node in peers:
            try:
                self.sync_peer(dev_path, part, part_path, node, local, stats, fingerprint)
                stats['success'] += 1
            except PeerError as err:
                all_ok = False
                stats['failures'] += 1
                self.note_failure(node)
                self.logger.info('partition %s with %s:%s/%s: %s', part, node['ip'],
                                 node['port'], node['device'], err)
                if err.disk_gone:
                    if handoffs is None:
                        handoffs = iter(self.ring('object').get_more_nodes(part))
                    self.sync_handoff(dev_path, part, part_path, handoffs, local, stats,
                                      fingerprint)
        if all_ok:
            stats['in_sync'] += 1
            if self.conf.unchanged_recheck_interval:
                self._agreed[key] = (fingerprint, self._recheck_at(time.time()))

    def _recheck_at(self, agreed_at):
        """When a partition every peer agreed with at `agreed_at` is compared
        again; spread, so the rechecks do not all fall in one pass."""
        return agreed_at + self.conf.unchanged_recheck_interval * random.uniform(0.75, 1.0)

    def _written_since_last_look(self, key, part_path):
        """In run_forever: the partition was written since the last pass
        looked at it (its hashes.invalid is newer), and its last comparison
        is less than busy_defer_max ago: wait, without rehashing it."""
        if not (self.pacing and self.conf.busy_defer_max):
            return False
        now = time.time()
        last_look, self._looked[key] = self._looked.get(key), now
        if last_look is None:
            return False
        try:
            written = os.stat(os.path.join(part_path, INVALID_FILE)).st_mtime
        except OSError:
            return False
        if written < last_look or now - self._compared_at.get(key, 0.0) >= self.conf.busy_defer_max:
            return False
        # Its hashes are not known now: the pass that finds it settled
        # compares it, rather than waiting one more for them to repeat.
        self._seen.pop(key, None)
        return True

    def sync_peer(self, dev_path, part, part_path, node, local, stats, fingerprint):
        """Push to `node` the suffixes whose hashes differ from `local`
        (whose hashes_fingerprint is `fingerprint`)."""
        remote = self.remote_hashes(node, part, fingerprint=fingerprint)
        differ = sorted(s for s, h in local.items() if remote.get(s) != h)
        if not differ:
            stats['hashmatch'] += 1
            return
        stats['suffixes_differed'] += len(differ)
        offers = list_partition(part_path, differ)
        self.sync_offers(dev_path, part, part_path, node, offers, stats)
        # Ask the peer to rehash now, so its next comparison is exact.
        self.remote_hashes(node, part, differ, fingerprint)

    def sync_handoff(self, dev_path, part, part_path, handoffs, local, stats, fingerprint):
        """A primary's disk is gone: keep the replica count with the next
        handoff (each gone disk gets its own). The handoff's replicator gives
        the partition back once a disk is in place again."""
        for node in itertools.islice(handoffs, HANDOFF_TRIES):
            try:
                self.sync_peer(dev_path, part, part_path, node, local, stats, fingerprint)
            except PeerError as err:
                self.logger.info('partition %s to handoff %s:%s/%s: %s', part, node['ip'],
                                 node['port'], node['device'], err)
                continue
            stats['handoff_syncs'] += 1
            return

    def revert_handoff(self, dev_path, part, part_path, primaries, stats):
        offers = list_partition(part_path)
        if offers:
            for node in primaries:
                try:
                    self.sync_offers(dev_path, part, part_path, node, offers, stats)
                    stats['success'] += 1
                except PeerError as err:
                    stats['failures'] += 1
                    self.note_failure(node)
                    self.logger.info('handoff partition %s to %s:%s/%s: %s', part, node['ip'],
                                     node['port'], node['device'], err)
                    return
        # Every primary has each offered file or something newer: drop ours.
        stats['files_removed'] += remove_files(part_path, offers)
        stats['handoffs_reverted'] += 1

    def sync_offers(self, dev_path, part, part_path, node, offers, stats):
        """Make `node` hold everything in offers ({hash: [names]}) or newer."""
        if not offers:
            return
        wanted = self.remote_check(node, part, offers)
        if not wanted:
            return
        stats['pushes'] += 1
        result = self.push(node, part, part_path, wanted, stats)
        bad = result.get('rejected') or []
        for item in bad:
            reason = str(item.get('reason', ''))
            self.logger.warning('%s:%s rejected %s/%s: %s', node['ip'], node['port'],
                                item.get('hash'), item.get('name'), reason)
            if reason.startswith(('MD5', 'size')) and item.get('hash') in wanted:
                # Our copy is corrupt: move it aside so a good one comes back.
                if quarantine_hash_dir(dev_path, part_path, item['hash']):
                    stats['quarantined'] += 1
        if bad:
            raise PeerError('%d files rejected' % len(bad))

    def swift_recon(self, stats, start, elapsed):
        """Swift's object replication keys: times in minutes, as Swift's
        object replicator writes them; replication_stats counts per peer."""
        minutes = elapsed / 60.0
        end = start + elapsed
        return {
            'replication_time': minutes, 'replication_last': end,
            'object_replication_time': minutes, 'object_replication_last': end,
            'replication_stats': {
                'attempted': stats['partitions'], 'success': stats['success'],
                'failure': stats['failures'], 'failure_nodes': self.failure_nodes,
                'hashmatch': stats['hashmatch'], 'remove': stats['handoffs_reverted'],
                'rsync': stats['pushes'], 'suffix_count': stats['suffix_count'],
                'suffix_hash': stats['suffixes_differed'],
                'suffix_sync': stats['suffixes_differed'], 'start': start},
        }

    # -- talking to peers ---------------------------------------------------
    def _request(self, node, method, path, headers=None, body=None):
        headers = dict(headers or {})
        headers.setdefault('X-Trans-Id', 'tx-object-replicator')
        target = {'ip': node.get('replication_ip') or node['ip'],
                  'port': node.get('replication_port') or node['port']}
        try:
            status, _h, data = backend_http.fetch(
                target, method, path, headers, body, conn_timeout=self.conf.conn_timeout,
                timeout=self.conf.node_timeout, pool=self._pool)
        except (SwiftlikeError, OSError) as err:
            raise PeerError(str(err))
        if status // 100 != 2:
            raise PeerError('%s answered %s: %s' % (method, status, data[:200]), status)
        try:
            return json.loads(data.decode('utf-8')) if data else {}
        except (ValueError, UnicodeDecodeError):
            raise PeerError('%s answered something that is not JSON' % method)

    def remote_hashes(self, node, part, recalculate=(), fingerprint=None):
        path = '/%s/%d' % (node['device'], part)
        if recalculate:
            path += '/' + '-'.join(recalculate)
        headers = {FINGERPRINT_HEADER: fingerprint} if fingerprint else None
        answer = self._request(node, 'REPLICATE', quote(path, safe='/-'), headers)
        if not isinstance(answer, dict):
            raise PeerError('REPLICATE answer is not an object')
        return answer

    def remote_check(self, node, part, offers):
        body = json.dumps(offers).encode('utf-8')
        answer = self._request(node, 'REPLICATION',
                               quote('/%s/%d' % (node['device'], part)),
                               {'X-Replication-Op': 'check',
                                'Content-Type': 'application/json'}, body)
        if not isinstance(answer, dict):
            raise PeerError('check answer is not an object')
        return {h: [n for n in names if n in offers.get(h, ())]
                for h, names in answer.items() if h in offers and isinstance(names, list)}

    def push(self, node, part, part_path, wanted, stats):
        """Stream the wanted files (chunked) and return the receiver's verdict."""
        ip = node.get('replication_ip') or node['ip']
        port = node.get('replication_port') or node['port']
        path = quote('/%s/%d' % (node['device'], part))
        try:
            conn = backend_http.http_connect(
                ip, port, 'REPLICATION', path,
                {'X-Replication-Op': 'push', 'Transfer-Encoding': 'chunked',
                 'X-Trans-Id': 'tx-object-replicator'},
                conn_timeout=self.conf.conn_timeout, timeout=self.conf.node_timeout)
        except SwiftlikeError as err:
            raise PeerError(str(err))
        try:
            with concurrency.Timeout(self.conf.push_timeout):
                for name_hash in sorted(wanted):
                    for name in wanted[name_hash]:
                        self._send_file(conn, part_path, name_hash, name, stats)
                conn.send(chunk_frame(END_RECORD) + LAST_CHUNK)
                resp = conn.getresponse()
                data = resp.read()
        except (OSError, concurrency.Timeout, Exception) as err:
            if isinstance(err, PeerError):
                raise
            raise PeerError('push failed: %s' % err)
        finally:
            conn.close()
        if resp.status // 100 != 2:
            raise PeerError('push answered %s: %s' % (resp.status, data[:200]))
        try:
            return json.loads(data.decode('utf-8'))
        except (ValueError, UnicodeDecodeError):
            raise PeerError('push answer is not JSON')

    def _send_file(self, conn, part_path, name_hash, name, stats):
        record = read_file_record(part_path, name_hash, name)
        if record is None:
            return      # gone meanwhile (superseded or quarantined): nothing to send
        metadata, fd, size = record
        try:
            head = encode_header(name_hash, name, size, metadata)
            conn.send(chunk_frame(head))
            offset = 0
            while offset < size:
                chunk = os.pread(fd, min(65536, size - offset), offset)
                if not chunk:
                    raise PeerError('%s shrank while being sent' % name)
                conn.send(chunk_frame(chunk))
                offset += len(chunk)
                self.limit(nbytes=len(chunk))
        finally:
            os.close(fd)
        stats['files_pushed'] += 1
        stats['bytes_pushed'] += size

    # -- reclaiming ---------------------------------------------------------
    def maybe_reclaim(self, dev_path, stats):
        stamp = os.path.join(dev_path, OBJECTS_DIR, RECLAIM_STAMP)
        try:
            last = os.stat(stamp).st_mtime
        except OSError:
            last = 0
        if time.time() - last < self.conf.reclaim_walk_interval:
            return
        cutoff = time.time() - self.conf.reclaim_age
        objects = os.path.join(dev_path, OBJECTS_DIR)
        try:
            parts = [p for p in os.listdir(objects) if is_decimal(p)]
        except OSError:
            return
        for part in parts:
            stats['reclaimed'] += reclaim_partition(os.path.join(objects, part), cutoff)
        _remove_old_temp_files(os.path.join(dev_path, TMP_DIR), cutoff)
        try:
            with open(stamp, 'w'):
                pass
            os.utime(stamp)
        except OSError:
            pass


def _remove_old_temp_files(tmp_dir, cutoff):
    """Temp files of writes that died (a kill -9 mid-upload) and are older than cutoff."""
    try:
        names = os.listdir(tmp_dir)
    except OSError:
        return
    for name in names:
        path = os.path.join(tmp_dir, name)
        try:
            if os.stat(path).st_mtime < min(cutoff, time.time() - 86400):
                os.unlink(path)
        except OSError:
            pass
