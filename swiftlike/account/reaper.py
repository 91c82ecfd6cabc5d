"""Account reaper: removes everything a deleted account still holds.

For every local account database marked deleted (at least `delay_reaping`
seconds ago) on a device that is one of its primaries, it takes its share of
the account's containers from the database (each primary takes those whose
name hashes to its place in the ring's list, so the work is spread and a
node that is down holds up only its own share), lists each one's objects from the
container servers, deletes every object on its primaries (with
container-update headers, and the container rows directly too), and finally
deletes the container (with account-update headers, so the account's row
goes). Whatever fails is retried on the next pass; the emptied account
database is reclaimed by the account replicator after reclaim_age.
"""
import dataclasses
import json
import os
import time
from urllib.parse import quote

from swiftlike import backend_http, concurrency
from swiftlike.account.backend import AccountBroker
from swiftlike.constraints import is_decimal
from swiftlike.daemon import Daemon, DaemonConf, local_ips
from swiftlike.exceptions import SwiftlikeError
from swiftlike.hashing import name_shard
from swiftlike.timestamp import Timestamp

DATADIR = 'accounts'
LISTING_LIMIT = 10000


@dataclasses.dataclass
class ReaperConf(DaemonConf):
    interval: float = 3600.0
    concurrency: int = 8
    # Wait this long after an account's DELETE before removing its data
    # (a window to undo a mistaken deletion by re-creating the account).
    delay_reaping: float = 0.0

    def validate(self):
        DaemonConf.validate(self)
        if self.delay_reaping < 0:
            raise ValueError('delay_reaping must be >= 0')


def _nodes_headers(prefix, part, nodes):
    return {'X-%s-Partition' % prefix: str(part),
            'X-%s-Host' % prefix: ','.join('%s:%s' % (n['ip'], n['port']) for n in nodes),
            'X-%s-Device' % prefix: ','.join(n['device'] for n in nodes)}


class AccountReaper(Daemon):
    name = 'account-reaper'
    recon_kind = 'account'
    conf_class = ReaperConf

    def __init__(self, conf, logger=None, rings=None):
        super().__init__(conf, logger, rings)
        self._ips = None

    def sweep(self):
        if self._ips is None:
            self._ips = local_ips()
        counters = self.counters(('accounts_reaped', 'containers_deleted', 'objects_deleted',
                                  'failures', 'accounts_pending'))
        for device in self.local_devices():
            stats = counters.of(device)
            for part, path in self.iter_dbs(device):
                if self._stopping:
                    break
                self.limit(files=1)
                try:
                    self.reap_db(device, part, path, stats)
                except Exception:
                    stats['failures'] += 1
                    self.logger.exception('reaping %s', path)
        return counters.totals()

    def iter_dbs(self, device):
        root = os.path.join(self.conf.devices, device, DATADIR)
        for part in _listdir(root):
            if not is_decimal(part):
                continue
            for suffix in _listdir(os.path.join(root, part)):
                for db_hash in _listdir(os.path.join(root, part, suffix)):
                    path = os.path.join(root, part, suffix, db_hash, db_hash + '.db')
                    if os.path.exists(path):
                        yield int(part), path

    def reap_db(self, device, part, path, stats):
        broker = AccountBroker(path, logger=self.logger)
        info = broker.get_info()
        if not broker.is_deleted_info(info):
            return
        if time.time() - float(info['delete_timestamp']) < self.conf.delay_reaping:
            return
        nodes = self.ring('account').get_part_nodes(part)
        shard = next((index for index, node in enumerate(nodes)
                      if node['device'] == device and self.is_local(node, self._ips)), None)
        if shard is None:      # a handoff copy: the primaries do the work
            return
        containers = [c for c in live_containers(broker)
                      if name_shard(c, len(nodes)) == shard]
        if not containers:
            return
        stats['accounts_pending'] += 1
        account = info['account']
        all_done = True
        for container in containers:
            if not self.reap_container(account, container, stats):
                all_done = False
        if all_done:
            stats['accounts_reaped'] += 1
            stats['accounts_pending'] -= 1

    def reap_container(self, account, container, stats):
        cpart, cnodes = self.ring('container').get_nodes(account, container)
        ok = True
        pool = concurrency.GreenPool(self.conf.concurrency)
        results = []

        def delete_one(name):
            results.append(self.delete_object(account, container, name, cpart, cnodes))

        for batch in self.object_batches(account, container, cpart, cnodes):
            for name in batch:
                pool.spawn_n(delete_one, name)
            pool.waitall()
        stats['objects_deleted'] += sum(1 for r in results if r)
        if not all(results):
            stats['failures'] += results.count(False)
            return False
        apart, anodes = self.ring('account').get_nodes(account)
        headers = {'X-Timestamp': Timestamp.now().internal, 'X-Trans-Id': 'tx-account-reaper',
                   'X-Account-Override-Deleted': 'yes'}
        headers.update(_nodes_headers('Account', apart, anodes))
        done = 0
        for node in cnodes:
            status = self._send(node, 'DELETE', backend_http.storage_path(
                node['device'], cpart, account, container), headers)
            if status is not None and (200 <= status < 300 or status == 404):
                done += 1
        if done * 2 > len(cnodes):
            stats['containers_deleted'] += 1
        else:
            ok = False
            stats['failures'] += 1
        return ok

    def object_batches(self, account, container, cpart, cnodes):
        """Pages of object names from the first container replica that answers."""
        marker = ''
        while True:
            query = 'format=json&limit=%d&marker=%s' % (LISTING_LIMIT, quote(marker))
            items = None
            for node in cnodes:
                try:
                    status, _h, body = backend_http.fetch(
                        node, 'GET', backend_http.storage_path(node['device'], cpart,
                                                               account, container),
                        {'X-Trans-Id': 'tx-account-reaper'}, query_string=query,
                        conn_timeout=self.conf.conn_timeout, timeout=self.conf.node_timeout)
                except (SwiftlikeError, OSError):
                    continue
                if status == 200:
                    try:
                        items = json.loads(body)
                        break
                    except ValueError:
                        continue
                if status == 404:
                    items = []
            if not items:
                return
            names = [i['name'] for i in items if isinstance(i, dict) and 'name' in i]
            yield names
            if len(items) < LISTING_LIMIT:
                return
            marker = names[-1]

    def delete_object(self, account, container, obj, cpart, cnodes):
        part, nodes = self.ring('object').get_nodes(account, container, obj)
        timestamp = Timestamp.now().internal
        headers = {'X-Timestamp': timestamp, 'X-Trans-Id': 'tx-account-reaper'}
        headers.update(_nodes_headers('Container', cpart, cnodes))
        settled = 0
        for node in nodes:
            status = self._send(node, 'DELETE', backend_http.storage_path(
                node['device'], part, account, container, obj), headers)
            if status is not None and (200 <= status < 300 or status in (404, 409)):
                settled += 1
        # The rows too, directly: the container must be empty before its DELETE.
        row_headers = {'X-Timestamp': timestamp, 'X-Trans-Id': 'tx-account-reaper'}
        for node in cnodes:
            self._send(node, 'DELETE', backend_http.storage_path(
                node['device'], cpart, account, container, obj), row_headers)
        return settled * 2 > len(nodes)

    def _send(self, node, method, path, headers):
        try:
            status, _h, _b = backend_http.fetch(
                node, method, path, headers, conn_timeout=self.conf.conn_timeout,
                timeout=self.conf.node_timeout)
            return status
        except (SwiftlikeError, OSError) as err:
            self.logger.info('%s %s to %s:%s failed: %s', method, path, node['ip'],
                             node['port'], err)
            return None


def live_containers(broker):
    broker.merge_pending()
    conn = broker.connect()
    try:
        return [row[0] for row in conn.execute(
            'SELECT name FROM container WHERE deleted = 0 ORDER BY name')]
    finally:
        conn.close()


def _listdir(path):
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []
