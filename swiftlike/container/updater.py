"""Container updater: tells the account servers each container's current stats.

Two sources of work on each local device:
- container databases whose stats changed since they were last reported
  (broker.needs_report) on devices that are one of their primaries;
- async_pending_containers records, left by the container server when an
  account server did not take an update. The record only says "report this
  container"; what is sent is the database's current state when it is here
  (newer than the record), else the record's own headers.
A report counts once a majority of the account replicas took it (the account
replicator brings the others along); records are deleted then.
"""
import dataclasses
import os

from swiftlike import backend_http
from swiftlike.async_records import list_records, read_record
from swiftlike.constraints import is_decimal
from swiftlike.container.backend import ContainerBroker
from swiftlike.daemon import Daemon, DaemonConf, local_ips
from swiftlike.db.replication import db_path
from swiftlike.exceptions import SwiftlikeError

ASYNC_DIR = 'async_pending_containers'
DATADIR = 'containers'


@dataclasses.dataclass
class ContainerUpdaterConf(DaemonConf):
    interval: float = 300.0
    concurrency: int = 4
    # Container databases per second (0: unlimited).
    files_per_second: float = 0.0


def stats_headers(info):
    return {'X-Put-Timestamp': info['put_timestamp'],
            'X-Delete-Timestamp': info['delete_timestamp'],
            'X-Object-Count': str(info['object_count']),
            'X-Bytes-Used': str(info['bytes_used']),
            'X-Timestamp': info['put_timestamp']}


class _DbKindPath:
    datadir = DATADIR


class ContainerUpdater(Daemon):
    name = 'container-updater'
    recon_kind = 'container'
    conf_class = ContainerUpdaterConf

    def __init__(self, conf, logger=None, container_ring=None, account_ring=None):
        super().__init__(conf, logger, {'container': container_ring, 'account': account_ring})
        self._ips = None

    def sweep(self):
        if self._ips is None:
            self._ips = local_ips()
        counters = self.counters(('dbs', 'reported', 'report_failures', 'async_done',
                                  'async_failures', 'bad_records'))
        for device in self.local_devices():
            dev_path = os.path.join(self.conf.devices, device)
            stats = counters.of(device)
            self.process_async(dev_path, stats)
            for part, path in self.iter_dbs(dev_path):
                if self._stopping:
                    break
                self.limit(files=1)
                stats['dbs'] += 1
                if not self.is_primary(device, part):
                    continue
                try:
                    self.report_db(path, stats)
                except Exception:
                    stats['report_failures'] += 1
                    self.logger.exception('reporting %s', path)
        return counters.totals()

    def swift_recon(self, stats, start, elapsed):
        return {'container_updater_sweep': elapsed}

    def is_primary(self, device, part):
        return any(n['device'] == device and self.is_local(n, self._ips)
                   for n in self.ring('container').get_part_nodes(part))

    def iter_dbs(self, dev_path):
        root = os.path.join(dev_path, DATADIR)
        for part in _listdir(root):
            if not is_decimal(part):
                continue
            for suffix in _listdir(os.path.join(root, part)):
                for db_hash in _listdir(os.path.join(root, part, suffix)):
                    path = os.path.join(root, part, suffix, db_hash, db_hash + '.db')
                    if os.path.exists(path):
                        yield int(part), path

    def report_db(self, path, stats, gone_is_done=False):
        broker = ContainerBroker(path, logger=self.logger)
        info = broker.get_info()
        if not broker.needs_report(info):
            return True
        if self.send_report(info['account'], info['container'], stats_headers(info),
                            gone_is_done):
            broker.reported(info['put_timestamp'], info['delete_timestamp'],
                            info['object_count'], info['bytes_used'])
            stats['reported'] += 1
            return True
        stats['report_failures'] += 1
        return False

    def send_report(self, account, container, headers, gone_is_done=False):
        """PUT the stats to the account replicas; True once a majority took them
        (with gone_is_done, also when every replica answered, 404s included:
        the account no longer exists, so there is nobody left to tell)."""
        apart, nodes = self.ring('account').get_nodes(account)
        headers = dict(headers, **{'X-Trans-Id': 'tx-container-updater'})
        ok = gone = 0
        for node in nodes:
            path = backend_http.storage_path(node['device'], apart, account, container)
            try:
                status, _h, _b = backend_http.fetch(
                    node, 'PUT', path, headers, conn_timeout=self.conf.conn_timeout,
                    timeout=self.conf.node_timeout)
            except (SwiftlikeError, OSError) as err:
                self.logger.info('account update %s to %s:%s failed: %s', path, node['ip'],
                                 node['port'], err)
                continue
            if 200 <= status < 300:
                ok += 1
            elif status == 404:
                gone += 1
            else:
                self.logger.info('account update %s to %s:%s answered %s', path, node['ip'],
                                 node['port'], status)
        return ok * 2 > len(nodes) or (gone_is_done and ok + gone == len(nodes))

    def process_async(self, dev_path, stats):
        root = os.path.join(dev_path, ASYNC_DIR)
        for path, superseded in list_records(root):
            self.limit(files=1)
            if superseded:
                _unlink(path)
                continue
            record = read_record(path, ('account', 'container'))
            if record is None or not isinstance(record.get('account'), str) \
                    or not isinstance(record.get('container'), str):
                self.logger.error('removing unreadable record %s', path)
                _unlink(path)
                stats['bad_records'] += 1
                continue
            account, container = record['account'], record['container']
            done = False
            part = record.get('partition')
            local_db = None
            if isinstance(part, int):
                from swiftlike.hashing import hash_path
                local_db = db_path(dev_path, _DbKindPath, part, hash_path(account, container))
            if local_db and os.path.exists(local_db):
                done = self.report_db(local_db, stats, gone_is_done=True)
            elif isinstance(record.get('headers'), dict):
                headers = {str(k): str(v) for k, v in record['headers'].items()
                           if k.lower().startswith('x-') and k.lower() != 'x-trans-id'}
                done = self.send_report(account, container, headers, gone_is_done=True)
            if done:
                _unlink(path)
                stats['async_done'] += 1
            else:
                stats['async_failures'] += 1


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _listdir(path):
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []
