"""What the container and account servers share: paths to databases, metadata
headers, HEAD/POST/GET-listing handling. SQLite work runs in the per-device
disk threads so a slow database never stalls requests for other devices."""
import dataclasses
import errno
import os
import sqlite3
import uuid

from swiftlike.constraints import check_metadata, check_stored_metadata
from swiftlike.db import listing
from swiftlike.db.broker import DEFAULT_PENDING_MERGE_BYTES, DatabaseBroker, DatabaseNotFound
from swiftlike.exceptions import BadRequest, InsufficientStorage, NotFound, ServiceUnavailable
from swiftlike.hashing import hash_path
from swiftlike.http import make_response
from swiftlike.paths import split_storage_path, str_to_wsgi, wsgi_to_str
from swiftlike.server_base import StorageConf, StorageServer, require_timestamp


@dataclasses.dataclass
class DBServerConf(StorageConf):
    # fdatasync every queued row update before acknowledging it (see
    # swiftlike/db/broker.py for the durability trade-off).
    pending_fsync: bool = False
    # Merge a database's pending file into SQLite once it reaches this size.
    pending_merge_bytes: int = DEFAULT_PENDING_MERGE_BYTES
    # Accounts whose names start with this are created on first use.
    auto_create_account_prefix: str = '.'
    # A row update's append to the pending file runs inline on the event loop
    # while the device answers fast and no merge holds the file (and
    # pending_fsync is off); a merge it makes due runs in a disk thread.
    inline_row_updates: bool = True

    def validate(self):
        if self.pending_merge_bytes < 0:
            raise ValueError('pending_merge_bytes must be >= 0')


def header_text(req, name, default=None):
    """A request header as real UTF-8 text; 400 when it is not UTF-8."""
    value = req.headers.get(name)
    if value is None:
        return default
    try:
        return wsgi_to_str(value)
    except (UnicodeError, ValueError):
        raise BadRequest('%s header is not valid UTF-8' % name)


def header_int(req, name, default=None):
    value = req.headers.get(name)
    if value is None:
        if default is None:
            raise BadRequest('Missing %s header' % name)
        return default
    value = value.strip()
    if not value.isdigit() or not value.isascii() or len(value) > 20:
        raise BadRequest('Invalid %s header: %r' % (name, value[:32]))
    return int(value)


def is_corruption(err):
    if not isinstance(err, sqlite3.OperationalError):
        return True   # DatabaseError proper: "file is not a database", "malformed"
    text = str(err).lower()
    return 'malformed' in text or 'not a database' in text


def quarantine_db(db_file):
    """Move the database's directory (with its -wal, -shm and .pending) to
    <device>/quarantined/<datadir>/<hash>-<uuid>; returns the new path."""
    hash_dir = os.path.dirname(db_file)
    datadir = os.path.dirname(os.path.dirname(os.path.dirname(hash_dir)))
    device_dir = os.path.dirname(datadir)
    target_dir = os.path.join(device_dir, 'quarantined', os.path.basename(datadir))
    os.makedirs(target_dir, exist_ok=True)
    target = os.path.join(target_dir, '%s-%s' % (os.path.basename(hash_dir), uuid.uuid4().hex))
    os.rename(hash_dir, target)
    return target


class DBServer(StorageServer):
    """Subclasses set datadir, broker_class, meta_target, meta_exact, and the
    listing rendering (xml names, listing_item)."""
    datadir = None
    broker_class = None
    meta_target = None
    meta_exact = ()
    max_listing = 10000

    def db_path(self, device_dir, partition, account, container=None):
        digest = hash_path(account, container)
        return os.path.join(device_dir, self.datadir, str(partition), digest[-3:], digest,
                            digest + '.db')

    def broker(self, device_dir, partition, account, container=None):
        return self.broker_class(self.db_path(device_dir, partition, account, container),
                                 pending_fsync=self.conf.pending_fsync,
                                 pending_merge_bytes=self.conf.pending_merge_bytes,
                                 logger=self.logger)

    def parse_path(self, req, min_names, max_names):
        # The raw WSGI (latin-1) PATH_INFO: webob's req.path_info is already
        # decoded as UTF-8, which would hide invalid bytes.
        parts = split_storage_path(req.environ.get('PATH_INFO', ''), min_names, max_names)
        # Only object names may hold '/': split_path leaves the rest of the
        # path in the last segment allowed.
        if max_names < 3 and parts[1 + max_names] and '/' in parts[1 + max_names]:
            raise BadRequest('Invalid path: too many segments')
        return parts

    def queue_row(self, device, broker, method, *args):
        """A row update (broker.put_object, put_objects, put_container,
        delete_object): inline when it need not wait
        (DBServerConf.inline_row_updates; the broker says when it would,
        pending_fsync included), else in a disk thread; a merge it makes due
        in a disk thread."""
        if self.conf.inline_row_updates:
            due = self.run(device, method, *args, block=False, inline=True)
            if due is not None:
                if due:
                    self.run(device, broker.merge_pending, block=False)
                return
        self.run(device, method, *args)

    def run(self, device, func, *args, inline=False, **kwargs):
        """func in a disk thread. A database that vanished mid-way is a 404; a
        corrupt one is quarantined (the replicator brings a good copy back) and
        is a 404; other SQLite or disk failures are a 503 or 507, never a 500."""
        try:
            run = self.disk.run_inline if inline else self.disk.run
            return run(device, func, *args, **kwargs)
        except DatabaseNotFound:
            raise NotFound('Not found')
        except sqlite3.DatabaseError as err:
            broker = getattr(func, '__self__', None)
            if is_corruption(err) and isinstance(broker, DatabaseBroker):
                where = self.disk.run(device, quarantine_db, broker.db_file)
                self.logger.error('Quarantined corrupt database %s to %s: %s',
                                  broker.db_file, where, err)
                raise NotFound('Not found (database quarantined)')
            self.logger.error('SQLite error on %s: %s', device, err)
            raise ServiceUnavailable('Database error: %s' % str(err)[:128])
        except OSError as err:
            if err.errno in (errno.ENOSPC, errno.EDQUOT):
                raise InsufficientStorage('Device %s is full' % device)
            self.logger.error('Disk error on %s: %s', device, err)
            raise ServiceUnavailable('Disk error on %s: %s' % (device, err.strerror or err))

    # -- metadata ------------------------------------------------------------------

    def request_metadata(self, req, timestamp):
        """{Header-Name: (value, ts)} of the metadata headers in req (checked)."""
        check_metadata(req.headers.items(), self.meta_target)
        prefixes = ('x-%s-meta-' % self.meta_target, 'x-%s-sysmeta-' % self.meta_target)
        out = {}
        for key in req.headers.keys():
            lkey = key.lower()
            if lkey.startswith(prefixes) or lkey in self.meta_exact:
                out[key.title()] = (header_text(req, key).strip(), timestamp.internal)
        return out

    @staticmethod
    def metadata_headers(metadata):
        return {key: str_to_wsgi(value) for key, (value, _ts) in metadata.items() if value != ''}

    # -- shared verbs ------------------------------------------------------------------

    def existing_info(self, broker, device):
        """The stat row of a live database, or raise 404 (with headers)."""
        if not broker.exists():
            raise NotFound('Not found')
        info = self.run(device, broker.get_info)
        if broker.is_deleted_info(info):
            raise NotFound('Not found', self.deleted_headers(info))
        return info

    def deleted_headers(self, info):
        return {'X-Backend-Put-Timestamp': info['put_timestamp'],
                'X-Backend-Delete-Timestamp': info['delete_timestamp'],
                'X-Backend-Status-Changed-At': info['status_changed_at'],
                'X-Backend-Timestamp': info['created_at']}

    def post_metadata(self, req, device, part, account, container=None):
        timestamp = require_timestamp(req)
        metadata = self.request_metadata(req, timestamp)
        device_dir = self.device_path(device, for_write=True)
        broker = self.broker(device_dir, part, account, container)
        self.existing_info(broker, device)
        self.run(device, broker.update_metadata, metadata, self.check_stored)
        return make_response(204)

    def check_stored(self, merged):
        """Refuse a write that takes the stored metadata over the limits."""
        check_stored_metadata(merged, self.meta_target)

    def head_response(self, req, headers):
        """204 with the stat headers, and the Content-Type a GET of the same
        request would have."""
        fmt = listing.choose_format(listing.query_values(req.environ.get('QUERY_STRING', ''))
                                    .get('format'), req.headers.get('Accept'))
        headers['Accept-Ranges'] = 'bytes'
        headers['Vary'] = 'Accept'
        return make_response(204, b'', headers, content_type=listing.content_type(fmt))

    def listing_response(self, req, device, broker, info, headers, list_func, to_dict,
                         xml_root, xml_item, root_name):
        params = listing.parse_params(req.environ.get('QUERY_STRING', ''),
                                      req.headers.get('Accept'), self.max_listing)
        # Hidden containers (reserved names) never show in account listings.
        params.hide_reserved = xml_root == 'account'
        entries = self.run(device, list_func, params)
        body, content_type = listing.render(entries, params.format, to_dict, xml_root,
                                            xml_item, root_name)
        headers['Accept-Ranges'] = 'bytes'
        headers['Vary'] = 'Accept'
        if params.format == 'plain' and not entries:
            return make_response(204, b'', headers, content_type=content_type)
        return make_response(200, body, headers, content_type=content_type)
