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

from swiftlike import metrics
from swiftlike import backend_http, concurrency
from swiftlike.constraints import is_decimal
from swiftlike.exceptions import BadRequest, SwiftlikeError
from swiftlike.fs import write_atomically
from swiftlike.hashing import hash_path
from swiftlike.paths import validate_device, validate_partition

ASYNC_DIR = 'async_pending'
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
    nodes that failed in one async_pending file."""

    def __init__(self, disk, logger, conn_timeout=0.5, node_timeout=3.0):
        self.disk = disk
        self.logger = logger
        self.conn_timeout = conn_timeout
        self.node_timeout = node_timeout
        # Keep-alive connections to the container servers: a fresh TCP
        # connection per update cost both sides more than the update itself.
        self.pool = backend_http.ConnectionPool()

    def _send_one(self, op, host, device, partition, account, container, obj, headers):
        path = backend_http.storage_path(device, partition, account, container, obj)
        try:
            resp = backend_http.request(self.pool, split_host(host), op, path, headers,
                                       conn_timeout=self.conn_timeout,
                                       timeout=self.node_timeout)
            status = resp.status
            resp.discard()
        except SwiftlikeError as err:
            self.logger.warning('container update %s %s to %s failed: %s', op, path, host,
                                err.reason)
            return False
        except Exception:  # whatever went wrong, the updater will retry it
            self.logger.exception('container update %s %s to %s failed', op, path, host)
            return False
        if 200 <= status < 300:
            return True
        self.logger.warning('container update %s %s to %s answered %s', op, path, host, status)
        return False

    def update(self, device, device_path, op, account, container, obj, partition, nodes,
               headers):
        """Blocking (green): send to all nodes, write async_pending for failures."""
        pile = concurrency.GreenPile(max(1, len(nodes)))
        for host, dev in nodes:
            pile.spawn(self._send_one, op, host, dev, partition, account, container, obj,
                       headers)
        failed = [list(node) for node, ok in zip(nodes, pile) if not ok]
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
