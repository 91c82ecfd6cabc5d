"""Container and expirer-queue updates sent by the object server after a
write, and the async_pending records left for the object updater when a
container server cannot be reached.

async_pending record (JSON) at <device>/async_pending/<suffix>/<hash>-<timestamp>:
{"op", "account", "container", "obj", "headers", "container_nodes": [[ip:port, device], ...],
 "partition"}; container_nodes [] with partition null means "look the container up
in the container ring" (used for expirer-queue deletions, whose nodes the
request does not name).
"""
import json
import os
import time

from swiftlike import metrics
from swiftlike import backend_http, concurrency, row_batch
from swiftlike.constraints import is_decimal
from swiftlike.exceptions import BadRequest, SwiftlikeError
from swiftlike.fs import write_atomically
from swiftlike.hashing import hash_path
from swiftlike.paths import validate_device, validate_partition

ASYNC_DIR = 'async_pending'
# Seconds a container server that refused an UPDATE gets single updates only.
NO_BATCH_RECHECK = 600.0
EMPTY_ETAG = 'd41d8cd98f00b204e9800998ecf8427e'


def parse_update_targets(headers, prefix):
    """(partition, [(ip:port, device), ...]) from <prefix>-Host/-Device/-Partition,
    None when absent; BadRequest when malformed or inconsistent."""
    hosts = headers.get(prefix + '-Host')
    devices = headers.get(prefix + '-Device')
    partition = headers.get(prefix + '-Partition')
    if not hosts and not devices and not partition:
        return None
    if not (hosts and devices and partition):
        raise BadRequest('%s-Host, -Device and -Partition must be given together' % prefix)
    host_list = [h.strip() for h in hosts.split(',')]
    dev_list = [d.strip() for d in devices.split(',')]
    if len(host_list) != len(dev_list):
        raise BadRequest('%s-Host and %s-Device list different numbers of nodes'
                         % (prefix, prefix))
    for host in host_list:
        ip, sep, port = host.rpartition(':')
        if not sep or not ip or not is_decimal(port) or not 0 < int(port) < 65536:
            raise BadRequest('Invalid %s-Host: %r' % (prefix, host[:64]))
    for dev in dev_list:
        validate_device(dev)
    return validate_partition(partition.strip()), list(zip(host_list, dev_list))


def split_host(host):
    ip, _, port = host.rpartition(':')
    return {'ip': ip.strip('[]'), 'port': int(port)}


def expiring_container(delete_at, divisor):
    return str(int(delete_at) // divisor * divisor)


def expiring_object_name(delete_at, account, container, obj):
    return '%d-%s/%s/%s' % (int(delete_at), account, container, obj)


def write_async_pending(device_path, record, timestamp):
    """Durably write one record for the updater; returns its path."""
    name_hash = hash_path(record['account'], record['container'], record['obj'])
    directory = os.path.join(device_path, ASYNC_DIR, name_hash[-3:])
    os.makedirs(directory, exist_ok=True)
    target = os.path.join(directory, '%s-%s' % (name_hash, timestamp))
    write_atomically(target, json.dumps(record, sort_keys=True).encode('utf-8', 'surrogateescape'))
    return target


class UpdateSender:
    """Sends one update to every named container replica at once; records the
    nodes that failed in one async_pending file.

    Updates to one container replica go together in one UPDATE request
    (swiftlike/row_batch.py) when they come at once (woken by one shared
    flush: the first lets the event loop turn once before it sends) or while
    one is in flight there (they go as soon as it has been answered). Nothing
    waits for a timer, and a lone update goes as a plain PUT or DELETE
    (`batch_updates`)."""

    def __init__(self, disk, logger, conn_timeout=0.5, node_timeout=3.0, batch_updates=True):
        self.disk = disk
        self.logger = logger
        self.conn_timeout = conn_timeout
        self.node_timeout = node_timeout
        self.batch_updates = batch_updates
        # Keep-alive connections to the container servers: a fresh TCP
        # connection per update cost both sides more than the update itself.
        self.pool = backend_http.ConnectionPool()
        # (host, device, partition, account, container) -> the updates queued
        # there behind the request in flight: [(row, (op, obj, headers), Event)].
        self._lanes = {}
        # Hosts that answered an UPDATE with 405 or 501 (an older container
        # server) -> when to try a batch there again (it may have been upgraded).
        self._no_batch = {}

    def _send_one(self, op, host, device, partition, account, container, obj, headers):
        """True once the container replica has the row."""
        if not self.batch_updates or time.monotonic() < self._no_batch.get(host, 0.0):
            return self._send_single(op, host, device, partition, account, container, obj,
                                     headers)
        try:
            row = row_batch.row(op, obj, headers)
        except (KeyError, ValueError):  # not UTF-8 text: the container server judges
            return self._send_single(op, host, device, partition, account, container, obj,
                                     headers)
        key = (host, device, partition, account, container)
        done = concurrency.Event()
        entry = (row, (op, obj, headers), done)
        queued = self._lanes.get(key)
        if queued is not None:
            queued.append(entry)
            return done.wait()
        self._lanes[key] = [entry]
        # Updates woken together with this one (by one shared flush) join it.
        concurrency.sleep(0)
        self._send_batch(key, self._take(key))
        return done.wait()

    def _take(self, key):
        """The next rows to send to `key`; None (and the lane closed) when none
        are queued."""
        queued = self._lanes[key]
        if not queued:
            del self._lanes[key]
            return None
        self._lanes[key] = queued[row_batch.MAX_ROWS:]
        return queued[:row_batch.MAX_ROWS]

    def _send_batch(self, key, queued):
        oks = [False] * len(queued)
        try:
            oks = self._send_rows(key, queued)
        finally:
            for (_row, _single, done), ok in zip(queued, oks):
                done.send(ok)
            following = self._take(key)
            if following:
                concurrency.spawn_n(self._send_batch, key, following)

    def _send_rows(self, key, queued):
        """[ok] per queued row."""
        host, device, partition, account, container = key
        if len(queued) == 1:
            op, obj, headers = queued[0][1]
            return [self._send_single(op, host, device, partition, account, container, obj,
                                      headers)]
        path = backend_http.storage_path(device, partition, account, container)
        status = self._request(host, 'UPDATE', path, {'Content-Type': 'application/json'},
                               row_batch.encode([row for row, _single, _done in queued]))
        if status in (405, 501):
            # A container server that predates UPDATE: one row at a time.
            self._no_batch[host] = time.monotonic() + NO_BATCH_RECHECK
            return [self._send_single(op, host, device, partition, account, container, obj,
                                      headers) for _row, (op, obj, headers), _done in queued]
        if status is not None and not 200 <= status < 300:
            self.logger.warning('container UPDATE of %d rows %s to %s answered %s',
                                len(queued), path, host, status)
        return [status is not None and 200 <= status < 300] * len(queued)

    def _send_single(self, op, host, device, partition, account, container, obj, headers):
        path = backend_http.storage_path(device, partition, account, container, obj)
        status = self._request(host, op, path, headers)
        if status is not None and 200 <= status < 300:
            return True
        if status is not None:
            self.logger.warning('container update %s %s to %s answered %s', op, path, host,
                                status)
        return False

    def _request(self, host, method, path, headers, body=b''):
        """The status of one request to a container server; None when it failed
        (and was logged)."""
        try:
            resp = backend_http.request(self.pool, split_host(host), method, path, headers,
                                        body, conn_timeout=self.conn_timeout,
                                        timeout=self.node_timeout)
            status = resp.status
            resp.discard()
            return status
        except SwiftlikeError as err:
            self.logger.warning('container update %s %s to %s failed: %s', method, path, host,
                                err.reason)
        except Exception:  # whatever went wrong, the updater will retry it
            self.logger.exception('container update %s %s to %s failed', method, path, host)
        return None

    def update(self, device, device_path, op, account, container, obj, partition, nodes,
               headers):
        """Blocking (green): send to all nodes, write async_pending for failures."""
        if len(nodes) == 1:
            oks = [self._send_one(op, nodes[0][0], nodes[0][1], partition, account, container,
                                  obj, headers)]
        else:
            oks = concurrency.GreenPile(max(1, len(nodes)))
            for host, dev in nodes:
                oks.spawn(self._send_one, op, host, dev, partition, account, container, obj,
                          headers)
        failed = [list(node) for node, ok in zip(nodes, oks) if not ok]
        if failed or not nodes:
            record = {'op': op, 'account': account, 'container': container, 'obj': obj,
                      'headers': dict(headers), 'container_nodes': failed,
                      'partition': partition if nodes else None}
            try:
                self.disk.run(device, write_async_pending, device_path, record,
                              headers['X-Timestamp'])
                metrics.event('object-server', 'async_pendings')
            except OSError as err:
                self.logger.error('could not write async_pending for %s/%s/%s: %s',
                                  account, container, obj, err)

    def start(self, *args):
        """Send in the background; the caller may wait() on the result briefly."""
        return concurrency.spawn(self.update, *args)


# A middleware's say over how the container listing shows an object it wrote
# (an SLO's total size and manifest ETag, a symlink's target as a content-type
# parameter): stored as system metadata, used in every container update.
LISTING_OVERRIDE = 'x-object-sysmeta-container-update-override-'


def listing_update(metadata, timestamp, trans_id, new_type=False):
    """Container-update headers for an object with `metadata` (its stored
    metadata). `new_type`: a POST changed Content-Type; the listing shows the
    new type with the override's parameters kept."""
    overrides = {k.lower()[len(LISTING_OVERRIDE):]: v for k, v in metadata.items()
                 if k.lower().startswith(LISTING_OVERRIDE)}
    ctype = metadata.get('Content-Type', 'application/octet-stream')
    override_type = overrides.get('content-type')
    if override_type is not None:
        if new_type:
            params = [p for p in override_type.split(';')[1:] if p.strip()]
            ctype = ';'.join([ctype] + params)
        else:
            ctype = override_type
    size = overrides.get('size', '')
    if not is_decimal(size):
        size = metadata.get('Content-Length', '0')
    return {'X-Timestamp': timestamp.internal, 'X-Size': size, 'X-Content-Type': ctype,
            'X-Etag': overrides.get('etag') or metadata.get('ETag', ''), 'X-Trans-Id': trans_id}
