"""Object updater: retries the container updates the object server could not make.

The object server leaves `<device>/async_pending/<suffix>/<hash>-<timestamp>`
(JSON: op, account, container, obj, headers, container_nodes, partition) when a
container server did not take an update. This daemon sends each record to
every container replica again; a record is deleted once all of them answered
2xx. Replicas that already took it are remembered in the record ("successes")
so a retry does not repeat them. Only the newest record of an object matters
(container rows merge by timestamp), so older ones are dropped unsent.
"""
import dataclasses
import os

from swiftlike import backend_http
from swiftlike.async_records import atomic_write_json, list_records, read_record
from swiftlike.daemon import Daemon, DaemonConf
from swiftlike.exceptions import SwiftlikeError

ASYNC_DIR = 'async_pending'


@dataclasses.dataclass
class UpdaterConf(DaemonConf):
    interval: float = 300.0
    # Records per second (0: unlimited) so a backlog does not flood containers.
    files_per_second: float = 50.0


def container_nodes_for(record, container_ring):
    """[(partition, node)] to update: the replicas the record names (those that
    failed), else, for records that name none, the container ring's."""
    result = []
    for item in record.get('container_nodes') or []:
        try:
            host, device = item
            ip, _, port = str(host).rpartition(':')
            result.append((int(record['partition']),
                           {'ip': ip.strip('[]'), 'port': int(port), 'device': str(device)}))
        except (TypeError, ValueError, KeyError):
            result = []     # malformed: the ring knows where the container is
            break
    if result or container_ring is None:
        return result
    part, nodes = container_ring.get_nodes(record['account'], record['container'])
    return [(part, n) for n in nodes]


class ObjectUpdater(Daemon):
    name = 'object-updater'
    recon_kind = 'object'
    conf_class = UpdaterConf

    def __init__(self, conf, logger=None, container_ring=None):
        super().__init__(conf, logger)
        self._container_ring = container_ring

    @property
    def container_ring(self):
        if self._container_ring is None:
            path = os.path.join(self.conf.swift_dir, 'container.ring.gz')
            if os.path.exists(path):
                from swiftlike.ring import Ring
                self._container_ring = Ring(self.conf.swift_dir, ring_name='container')
        return self._container_ring

    def sweep(self):
        counters = self.counters(('successes', 'failures', 'unlinks', 'superseded', 'bad_records'))
        for device in self.local_devices():
            if self._stopping:
                break
            stats = counters.of(device)
            root = os.path.join(self.conf.devices, device, ASYNC_DIR)
            for path, superseded in list_records(root):
                self.limit(files=1)
                if superseded:
                    self._unlink(path)
                    stats['superseded'] += 1
                    continue
                self.process(path, stats)
        stats = counters.totals()
        stats['pending'] = self.count_pending()
        return stats

    def swift_recon(self, stats, start, elapsed):
        """The sweep time, and the async_pending count Swift's recon cron keeps."""
        return {'object_updater_sweep': elapsed, 'async_pending': stats['pending'],
                'async_pending_last': start + elapsed}

    def count_pending(self):
        total = 0
        for device in self.local_devices():
            total += sum(1 for _ in list_records(os.path.join(self.conf.devices, device,
                                                              ASYNC_DIR)))
        return total

    def _unlink(self, path):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    def process(self, path, stats):
        record = read_record(path, ('op', 'account', 'container', 'obj', 'headers'))
        if record is None or record['op'] not in ('PUT', 'DELETE'):
            self.logger.error('removing unreadable async record %s', path)
            self._unlink(path)
            stats['bad_records'] += 1
            return
        done = set(tuple(x) for x in record.get('successes') or [])
        targets = container_nodes_for(record, self.container_ring)
        if not targets:
            stats['failures'] += 1
            return
        new = False
        for part, node in targets:
            key = ('%s:%s' % (node['ip'], node['port']), node['device'])
            if key in done:
                continue
            if self.send(record, part, node):
                done.add(key)
                new = True
        if all(('%s:%s' % (n['ip'], n['port']), n['device']) in done for _, n in targets):
            self._unlink(path)
            stats['successes'] += 1
            stats['unlinks'] += 1
            return
        stats['failures'] += 1
        if new:
            record['successes'] = sorted(list(k) for k in done)
            atomic_write_json(path, record)

    def send(self, record, part, node):
        path = backend_http.storage_path(node['device'], part, record['account'],
                                         record['container'], record['obj'])
        headers = {str(k): str(v) for k, v in (record.get('headers') or {}).items()}
        headers.setdefault('X-Trans-Id', 'tx-object-updater')
        try:
            status, _h, _b = backend_http.fetch(
                node, record['op'], path, headers, conn_timeout=self.conf.conn_timeout,
                timeout=self.conf.node_timeout)
        except (SwiftlikeError, OSError) as err:
            self.logger.info('update %s %s to %s:%s failed: %s', record['op'], path,
                             node['ip'], node['port'], err)
            return False
        if 200 <= status < 300:
            return True
        self.logger.info('update %s %s to %s:%s answered %s', record['op'], path,
                         node['ip'], node['port'], status)
        return False
