"""Account server: account databases, the container rows container servers
report, listings, and account deletion (marked for the reaper)."""
import dataclasses

from swiftlike.account.backend import STATUS_DELETED, AccountBroker, listing_item
from swiftlike.db.broker import DatabaseAlreadyExists
from swiftlike.db.server import DBServer, DBServerConf, header_int
from swiftlike.exceptions import Conflict, MethodNotAllowed, NotFound
from swiftlike.http import make_response
from swiftlike.server_base import require_timestamp

CONF_SECTION = 'account-server'


@dataclasses.dataclass
class Conf(DBServerConf):
    bind_port: int = 6202


class AccountServer(DBServer):
    server_type = 'account'
    datadir = 'accounts'
    broker_class = AccountBroker
    meta_target = 'account'
    meta_exact = ('x-account-access-control',)

    def deleted_headers(self, info):
        headers = super().deleted_headers(info)
        if info['status'] == STATUS_DELETED:
            headers['X-Account-Status'] = 'Deleted'
        return headers

    def PUT(self, req):
        device, part, account, container, _ = self.parse_path(req, 1, 2)
        if container is not None:
            return self.put_container_row(req, device, part, account, container)
        timestamp = require_timestamp(req)
        metadata = self.request_metadata(req, timestamp)
        device_dir = self.device_path(device, for_write=True)
        broker = self.broker(device_dir, part, account)
        if not broker.exists():
            try:
                self.run(device, broker.initialize, timestamp.internal, account=account)
                if metadata:
                    self.run(device, broker.update_metadata, metadata)
                return make_response(201)
            except DatabaseAlreadyExists:
                pass
        info, was_deleted = self.run(device, broker.set_put_timestamp, timestamp.internal,
                                     metadata)
        if broker.is_deleted_info(info):
            raise Conflict('Account was deleted at a newer timestamp',
                           self.deleted_headers(info))
        return make_response(201 if was_deleted else 202)

    def put_container_row(self, req, device, part, account, container):
        put_ts = require_timestamp(req, 'X-Put-Timestamp')
        delete_ts = require_timestamp(req, 'X-Delete-Timestamp')
        count = header_int(req, 'X-Object-Count')
        used = header_int(req, 'X-Bytes-Used')
        device_dir = self.device_path(device, for_write=True)
        broker = self.broker(device_dir, part, account)
        if not broker.exists():
            if not account.startswith(self.conf.auto_create_account_prefix or '\0'):
                raise NotFound('Account %s not found' % account[:64])
            try:
                self.run(device, broker.initialize, put_ts.internal, account=account)
            except DatabaseAlreadyExists:
                pass
        else:
            info = self.run(device, broker.get_info, False)
            override = req.headers.get('X-Account-Override-Deleted', '').lower() in (
                'yes', 'true', '1', 'on')
            if broker.is_deleted_info(info) and not override:
                raise NotFound('Account %s is deleted' % account[:64], self.deleted_headers(info))
        self.queue_row(device, broker, broker.put_container, container, put_ts.internal,
                       delete_ts.internal, count, used)
        return make_response(204 if delete_ts > put_ts else 201)

    def DELETE(self, req):
        device, part, account, container, _ = self.parse_path(req, 1, 2)
        if container is not None:
            raise MethodNotAllowed('Container rows are removed by a PUT with X-Delete-Timestamp')
        timestamp = require_timestamp(req)
        broker = self.broker(self.device_path(device), part, account)
        self.existing_info(broker, device)
        info = self.run(device, broker.mark_deleted, timestamp.internal)
        if not broker.is_deleted_info(info):
            raise Conflict('Account was put at a newer timestamp')
        return make_response(204)

    def stat_headers(self, info):
        headers = {'X-Account-Container-Count': info['container_count'],
                   'X-Account-Object-Count': info['object_count'],
                   'X-Account-Bytes-Used': info['bytes_used'],
                   'X-Timestamp': info['created_at'],
                   'X-PUT-Timestamp': info['put_timestamp'],
                   'X-Backend-Put-Timestamp': info['put_timestamp'],
                   'X-Backend-Delete-Timestamp': info['delete_timestamp'],
                   'X-Backend-Status-Changed-At': info['status_changed_at']}
        headers.update(self.metadata_headers(info['metadata']))
        return headers

    def HEAD(self, req):
        device, part, account, _, _ = self.parse_path(req, 1, 1)
        broker = self.broker(self.device_path(device), part, account)
        info = self.existing_info(broker, device)
        return self.head_response(req, self.stat_headers(info))

    def GET(self, req):
        device, part, account, _, _ = self.parse_path(req, 1, 1)
        broker = self.broker(self.device_path(device), part, account)
        info = self.existing_info(broker, device)
        return self.listing_response(req, device, broker, info, self.stat_headers(info),
                                     broker.list_containers, listing_item, 'account',
                                     'container', account)

    def POST(self, req):
        device, part, account, container, _ = self.parse_path(req, 1, 1)
        return self.post_metadata(req, device, part, account)

    def REPLICATE(self, req):
        # DB replication receiver (daemons work): swiftlike/db/replication_receiver.py
        from swiftlike.account.replicator import ACCOUNT_KIND
        from swiftlike.db import replication_receiver
        return replication_receiver.handle(self, req, ACCOUNT_KIND)


App = AccountServer
