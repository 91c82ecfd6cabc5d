"""Container server: container databases, object rows, listings, and the
container's stats reported to the account server."""
import dataclasses
import json
import os
import uuid

from swiftlike.backend_http import fetch as backend_request, storage_path
from swiftlike.constraints import is_decimal
from swiftlike.container.backend import ContainerBroker, listing_item
from swiftlike.db.broker import DatabaseAlreadyExists
from swiftlike.db.server import DBServer, DBServerConf, header_int, header_text
from swiftlike.exceptions import BadRequest, Conflict, ConnectionTimeout, NotFound
from swiftlike.hashing import hash_path
from swiftlike.http import EmptyResponse, is_success, make_response
from swiftlike.paths import validate_device, validate_partition
from swiftlike.policies import DEFAULT_POLICY_NAME, POLICY_HEADER
from swiftlike import row_batch
from swiftlike.row_batch import MAX_CONTENT_TYPE_BYTES, MAX_ETAG_BYTES
from swiftlike.server_base import require_timestamp
from swiftlike.timestamp import Timestamp

CONF_SECTION = 'container-server'
ASYNC_DIR = 'async_pending_containers'


@dataclasses.dataclass
class Conf(DBServerConf):
    bind_port: int = 6201


class ContainerServer(DBServer):
    server_type = 'container'
    datadir = 'containers'
    broker_class = ContainerBroker
    meta_target = 'container'
    verbs = DBServer.verbs + ('UPDATE',)
    meta_exact = ('x-container-read', 'x-container-write', 'x-container-sync-to',
                  'x-container-sync-key', 'x-versions-location', 'x-history-location')

    # -- PUT -------------------------------------------------------------------------

    def PUT(self, req):
        device, part, account, container, obj = self.parse_path(req, 2, 3)
        if obj is not None:
            return self.put_object_row(req, device, part, account, container, obj)
        timestamp = require_timestamp(req)
        metadata = self.request_metadata(req, timestamp)
        targets = account_targets(req)
        device_dir = self.device_path(device, for_write=True)
        broker = self.broker(device_dir, part, account, container)
        created = False
        if not broker.exists():
            try:
                self.run(device, broker.initialize, timestamp.internal, account=account,
                         container=container)
                created = True
            except DatabaseAlreadyExists:
                pass
        if created:
            if metadata:
                self.run(device, broker.update_metadata, metadata)
            info = self.run(device, broker.get_info, False)
        else:
            info, was_deleted = self.run(device, broker.set_put_timestamp, timestamp.internal,
                                         metadata, True, self.check_stored)
            if broker.is_deleted_info(info):
                raise Conflict('Container was deleted at a newer timestamp',
                               self.deleted_headers(info))
            created = was_deleted
        self.account_update(req, device, device_dir, part, account, container, info, targets)
        return make_response(201 if created else 202)

    def put_object_row(self, req, device, part, account, container, obj):
        timestamp = require_timestamp(req)
        size = header_int(req, 'X-Size')
        content_type = header_text(req, 'X-Content-Type')
        etag = header_text(req, 'X-Etag')
        if content_type is None or etag is None:
            raise BadRequest('Missing X-Content-Type or X-Etag header')
        row_batch.check_length(content_type, MAX_CONTENT_TYPE_BYTES, 'X-Content-Type')
        row_batch.check_length(etag, MAX_ETAG_BYTES, 'X-Etag')
        device_dir = self.device_path(device, for_write=True)
        broker = self.object_row_broker(device, device_dir, part, account, container, timestamp)
        self.queue_row(device, broker, broker.put_object, obj, timestamp.internal, size,
                       content_type, etag)
        return EmptyResponse(201)

    def UPDATE(self, req):
        """Several object rows at once (swiftlike/row_batch.py): what an object
        server sends when its updates to this container queue up. Every row
        is checked before any is queued."""
        device, part, account, container, _obj = self.parse_path(req, 2, 2)
        rows = row_batch.decode(row_batch.read_body(req))
        device_dir = self.device_path(device, for_write=not all(row[5] for row in rows))
        newest = Timestamp(max(row[1] for row in rows))
        broker = self.object_row_broker(device, device_dir, part, account, container, newest)
        self.queue_row(device, broker, broker.put_objects, rows)
        return EmptyResponse(202)

    def object_row_broker(self, device, device_dir, part, account, container, timestamp):
        broker = self.broker(device_dir, part, account, container)
        if not broker.exists():
            if not account.startswith(self.conf.auto_create_account_prefix or '\0'):
                raise NotFound('Container not found')
            try:
                self.run(device, broker.initialize, timestamp.internal, account=account,
                         container=container)
            except DatabaseAlreadyExists:
                pass
        return broker

    # -- DELETE ------------------------------------------------------------------------

    def DELETE(self, req):
        device, part, account, container, obj = self.parse_path(req, 2, 3)
        timestamp = require_timestamp(req)
        if obj is not None:
            device_dir = self.device_path(device)
            broker = self.object_row_broker(device, device_dir, part, account, container,
                                            timestamp)
            self.queue_row(device, broker, broker.delete_object, obj, timestamp.internal)
            return EmptyResponse(204)
        targets = account_targets(req)
        device_dir = self.device_path(device)
        broker = self.broker(device_dir, part, account, container)
        info = self.existing_info(broker, device)
        if info['object_count']:
            raise Conflict('Container not empty (%d objects)' % info['object_count'])
        info = self.run(device, broker.mark_deleted, timestamp.internal)
        if not broker.is_deleted_info(info):
            raise Conflict('Container was put at a newer timestamp or is not empty')
        self.account_update(req, device, device_dir, part, account, container, info, targets)
        return make_response(204)

    # -- HEAD / GET / POST --------------------------------------------------------------

    def stat_headers(self, info):
        headers = {'X-Container-Object-Count': info['object_count'],
                   'X-Container-Bytes-Used': info['bytes_used'],
                   'X-Timestamp': info['created_at'],
                   'X-PUT-Timestamp': info['put_timestamp'],
                   'X-Backend-Put-Timestamp': info['put_timestamp'],
                   'X-Backend-Delete-Timestamp': info['delete_timestamp'],
                   'X-Backend-Status-Changed-At': info['status_changed_at'],
                   'Last-Modified': Timestamp(info['put_timestamp']).last_modified,
                   POLICY_HEADER: DEFAULT_POLICY_NAME}
        headers.update(self.metadata_headers(info['metadata']))
        return headers

    def HEAD(self, req):
        device, part, account, container, _ = self.parse_path(req, 2, 2)
        broker = self.broker(self.device_path(device), part, account, container)
        info = self.existing_info(broker, device)
        return self.head_response(req, self.stat_headers(info))

    def GET(self, req):
        device, part, account, container, _ = self.parse_path(req, 2, 2)
        broker = self.broker(self.device_path(device), part, account, container)
        info = self.existing_info(broker, device)
        return self.listing_response(req, device, broker, info, self.stat_headers(info),
                                     broker.list_objects, listing_item, 'container', 'object',
                                     container)

    def POST(self, req):
        """Metadata, and a newer Last-Modified (put_timestamp), as Swift's
        container POST gives."""
        device, part, account, container, _ = self.parse_path(req, 2, 2)
        timestamp = require_timestamp(req)
        metadata = self.request_metadata(req, timestamp)
        device_dir = self.device_path(device, for_write=True)
        broker = self.broker(device_dir, part, account, container)
        self.existing_info(broker, device)
        self.run(device, broker.set_put_timestamp, timestamp.internal, metadata, False,
                 self.check_stored)
        return make_response(204)

    def REPLICATE(self, req):
        # DB replication receiver (daemons work): swiftlike/db/replication_receiver.py
        from swiftlike.container.replicator import CONTAINER_KIND
        from swiftlike.db import replication_receiver
        return replication_receiver.handle(self, req, CONTAINER_KIND)

    # -- reporting to the account server ---------------------------------------------

    def account_update(self, req, device, device_dir, part, account, container, info,
                       targets):
        """Tell the account servers this container's stats; an async record for
        the container updater when one cannot be reached. A 404 (no such
        account) is passed on to the client."""
        if not targets:
            return
        apart, nodes = targets
        headers = {'X-Put-Timestamp': info['put_timestamp'],
                   'X-Delete-Timestamp': info['delete_timestamp'],
                   'X-Object-Count': str(info['object_count']),
                   'X-Bytes-Used': str(info['bytes_used']),
                   'X-Timestamp': info['put_timestamp'],
                   'X-Trans-Id': req.headers.get('X-Trans-Id', '-')}
        if req.headers.get('X-Account-Override-Deleted'):
            headers['X-Account-Override-Deleted'] = req.headers['X-Account-Override-Deleted']
        failed, not_found, ok = [], False, False
        for host, adev in nodes:
            ip, port = host.rsplit(':', 1)
            try:
                status, _h, _b = backend_request(
                    {'ip': ip.strip('[]'), 'port': int(port)}, 'PUT',
                    storage_path(adev, apart, account, container), headers,
                    conn_timeout=self.conf.conn_timeout, timeout=self.conf.node_timeout)
            except ConnectionTimeout as err:
                self.logger.warning('account update to %s/%s failed: %s', host, adev, err)
                failed.append([host, adev])
                continue
            if status == 404:
                not_found = True
            elif is_success(status):
                ok = True
            else:
                self.logger.warning('account update to %s/%s answered %d', host, adev, status)
                failed.append([host, adev])
        if ok and not failed:
            broker = self.broker(device_dir, part, account, container)
            self.run(device, broker.reported, info['put_timestamp'], info['delete_timestamp'],
                     info['object_count'], info['bytes_used'])
        if failed:
            record = {'op': 'PUT', 'account': account, 'container': container,
                      'partition': part, 'account_partition': apart,
                      'account_nodes': failed, 'headers': headers}
            self.run(device, write_async_record, device_dir, account, container, record,
                     info['put_timestamp'] if info['put_timestamp'] > info['delete_timestamp']
                     else info['delete_timestamp'])
        if not_found and not ok:
            raise NotFound('Account %s not found' % account[:64])


def account_targets(req):
    """(account partition, [(ip:port, device), ...]) from X-Account-* headers,
    None when absent; 400 when they are malformed or do not pair up."""
    hosts = req.headers.get('X-Account-Host')
    if not hosts:
        return None
    devices = req.headers.get('X-Account-Device', '')
    partition = req.headers.get('X-Account-Partition', '')
    hosts = [h.strip() for h in hosts.split(',') if h.strip()]
    devices = [d.strip() for d in devices.split(',') if d.strip()]
    if len(hosts) != len(devices):
        raise BadRequest('X-Account-Host and X-Account-Device list different numbers of nodes')
    for host in hosts:
        ip, sep, port = host.rpartition(':')
        if not sep or not ip or not is_decimal(port) or not 0 < int(port) < 65536:
            raise BadRequest('Invalid X-Account-Host: %r' % host[:64])
    for device in devices:
        validate_device(device)
    return validate_partition(partition.strip()), list(zip(hosts, devices))


def write_async_record(device_dir, account, container, record, timestamp):
    """<device>/async_pending_containers/<suffix>/<hash>-<timestamp> (JSON),
    written aside and renamed into place."""
    digest = hash_path(account, container)
    directory = os.path.join(device_dir, ASYNC_DIR, digest[-3:])
    os.makedirs(directory, exist_ok=True)
    final = os.path.join(directory, '%s-%s' % (digest, timestamp))
    tmp = os.path.join(directory, '.%s.tmp' % uuid.uuid4().hex)
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(record, f, ensure_ascii=False, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, final)
    return final


App = ContainerServer
