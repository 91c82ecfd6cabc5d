"""Object expirer: deletes objects whose X-Delete-At has passed, from a queue.

At PUT/POST time the object server adds a row to the queue: account
`.expiring_objects`, container `str(delete_at // divisor * divisor)` (a time
bucket), object `<delete_at>-<account>/<container>/<object>`. Each pass lists
the buckets that are due (those the queue account lists, plus every bucket of
the last `lookback` seconds, since bucket containers are created on demand and
may not be reported to the account yet), and for each due row sends
`DELETE` with `X-If-Delete-At: <delete_at>` and `X-Timestamp: <delete_at>` to
the object's primaries (so a newer PUT still wins, and an object whose
expiry changed is left alone: 412). Once a majority answered 2xx, 404 or 412,
the queue row is deleted from the bucket's container replicas. No full scan
of the objects ever happens.

With several expirers (processes), `processes`/`process` split the rows
between them by a hash of the row name.
"""
import dataclasses
import hashlib
import json
import time
from urllib.parse import quote

from swiftlike import backend_http, concurrency
from swiftlike.constraints import is_decimal
from swiftlike.daemon import Daemon, DaemonConf
from swiftlike.exceptions import SwiftlikeError
from swiftlike.timestamp import Timestamp

LISTING_LIMIT = 10000


@dataclasses.dataclass
class ExpirerConf(DaemonConf):
    interval: float = 300.0
    concurrency: int = 4
    expiring_objects_account: str = '.expiring_objects'
    expiring_objects_container_divisor: int = 86400
    # How far back (seconds) to look for bucket containers by their names.
    lookback: float = 30 * 86400.0
    processes: int = 1
    process: int = 0

    def validate(self):
        DaemonConf.validate(self)
        if self.expiring_objects_container_divisor < 1:
            raise ValueError('expiring_objects_container_divisor must be positive')
        if self.processes < 1 or not 0 <= self.process < self.processes:
            raise ValueError('process must be in 0..processes-1')


def parse_queue_name(name):
    """'<delete_at>-<a>/<c>/<o>' -> (delete_at, a, c, o); None when malformed."""
    stamp, sep, rest = name.partition('-')
    if not sep or not is_decimal(stamp):
        return None
    parts = rest.split('/', 2)
    if len(parts) != 3 or not all(parts):
        return None
    return int(stamp), parts[0], parts[1], parts[2]


class ObjectExpirer(Daemon):
    name = 'object-expirer'
    recon_kind = 'object'
    conf_class = ExpirerConf

    def __init__(self, conf, logger=None, rings=None):
        super().__init__(conf, logger, rings)

    # -- the queue ---------------------------------------------------------------
    def due_buckets(self, now):
        divisor = self.conf.expiring_objects_container_divisor
        names = set(self.list_account_buckets())
        first = int(max(0, now - self.conf.lookback)) // divisor * divisor
        for start in range(first, int(now) + 1, divisor):
            names.add(str(start))
        return sorted((n for n in names if is_decimal(n) and int(n) <= now), key=int)

    def list_account_buckets(self):
        account = self.conf.expiring_objects_account
        part, nodes = self.ring('account').get_nodes(account)
        names, marker = [], ''
        while True:
            query = 'format=json&limit=%d&marker=%s' % (LISTING_LIMIT, quote(marker))
            items = self._list(part, nodes, account, None, query)
            if not items:
                return names
            names.extend(i['name'] for i in items if isinstance(i, dict) and 'name' in i)
            if len(items) < LISTING_LIMIT:
                return names
            marker = names[-1]

    def _list(self, part, nodes, account, container, query):
        """A JSON listing page from the first replica that answers 200 ([] if none)."""
        for node in nodes:
            path = backend_http.storage_path(node['device'], part, account, container)
            try:
                status, _h, body = backend_http.fetch(
                    node, 'GET', path, {'X-Trans-Id': 'tx-object-expirer'},
                    query_string=query, conn_timeout=self.conf.conn_timeout,
                    timeout=self.conf.node_timeout)
            except (SwiftlikeError, OSError):
                continue
            if status == 200:
                try:
                    items = json.loads(body)
                except ValueError:
                    continue
                return items if isinstance(items, list) else []
        return []

    def list_rows(self, bucket, now):
        """Due queue rows of one bucket, across all of its pages."""
        account = self.conf.expiring_objects_account
        ring = self.ring('container')
        part, nodes = ring.get_nodes(account, bucket)
        rows, marker = [], ''
        while True:
            query = 'format=json&limit=%d&marker=%s' % (LISTING_LIMIT, quote(marker))
            items = self._list(part, nodes, account, bucket, query)
            names = [i['name'] for i in items if isinstance(i, dict) and
                     isinstance(i.get('name'), str)]
            for name in names:
                parsed = parse_queue_name(name)
                if parsed is None:
                    continue
                if parsed[0] > now:
                    return rows     # names sort by delete_at within a bucket
                if self.mine(name):
                    rows.append((name, parsed))
            if len(items) < LISTING_LIMIT or not names:
                return rows
            marker = names[-1]

    def mine(self, name):
        if self.conf.processes == 1:
            return True
        digest = hashlib.md5(name.encode('utf-8'), usedforsecurity=False).hexdigest()
        return int(digest, 16) % self.conf.processes == self.conf.process

    # -- a pass --------------------------------------------------------------------
    def sweep(self):
        now = time.time()
        stats = {'objects_expired': 0, 'rows_removed': 0, 'failures': 0, 'rows_seen': 0,
                 'invalid_rows': 0}
        pool = concurrency.GreenPool(self.conf.concurrency)
        for bucket in self.due_buckets(now):
            if self._stopping:
                break
            for name, parsed in self.list_rows(bucket, now):
                stats['rows_seen'] += 1
                self.limit(files=1)
                pool.spawn_n(self._expire_safely, bucket, name, parsed, stats)
        pool.waitall()
        return stats

    def swift_recon(self, stats, start, elapsed):
        return {'object_expiration_pass': elapsed,
                'expired_last_pass': stats['objects_expired']}

    def _expire_safely(self, bucket, name, parsed, stats):
        try:
            if self.expire(parsed, stats):
                if self.remove_row(bucket, name):
                    stats['rows_removed'] += 1
                else:
                    stats['failures'] += 1
            else:
                stats['failures'] += 1
        except Exception:
            stats['failures'] += 1
            self.logger.exception('expiring %s', name)

    def expire(self, parsed, stats):
        """DELETE the object if its X-Delete-At is still this one; True when settled."""
        delete_at, account, container, obj = parsed
        part, nodes = self.ring('object').get_nodes(account, container, obj)
        cpart, cnodes = self.ring('container').get_nodes(account, container)
        headers = {'X-Timestamp': Timestamp(delete_at).internal,
                   'X-If-Delete-At': str(delete_at),
                   'X-Trans-Id': 'tx-object-expirer',
                   'X-Container-Partition': str(cpart),
                   'X-Container-Host': ','.join('%s:%s' % (n['ip'], n['port']) for n in cnodes),
                   'X-Container-Device': ','.join(n['device'] for n in cnodes)}
        settled = deleted = 0
        for node in nodes:
            path = backend_http.storage_path(node['device'], part, account, container, obj)
            try:
                status, _h, _b = backend_http.fetch(
                    node, 'DELETE', path, headers, conn_timeout=self.conf.conn_timeout,
                    timeout=self.conf.node_timeout)
            except (SwiftlikeError, OSError) as err:
                self.logger.info('expiring %s to %s:%s failed: %s', path, node['ip'],
                                 node['port'], err)
                continue
            if 200 <= status < 300:
                settled += 1
                deleted += 1
            elif status in (404, 409, 412):
                settled += 1    # gone, newer, or its expiry changed: nothing to do there
        if deleted:
            stats['objects_expired'] += 1
        return settled * 2 > len(nodes)

    def remove_row(self, bucket, name):
        account = self.conf.expiring_objects_account
        part, nodes = self.ring('container').get_nodes(account, bucket)
        headers = {'X-Timestamp': Timestamp.now().internal, 'X-Trans-Id': 'tx-object-expirer'}
        ok = 0
        for node in nodes:
            path = backend_http.storage_path(node['device'], part, account, bucket, name)
            try:
                status, _h, _b = backend_http.fetch(
                    node, 'DELETE', path, headers, conn_timeout=self.conf.conn_timeout,
                    timeout=self.conf.node_timeout)
            except (SwiftlikeError, OSError):
                continue
            if 200 <= status < 300 or status == 404:
                ok += 1
        return ok * 2 > len(nodes)
