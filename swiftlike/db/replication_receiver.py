"""Server side of DB replication: the REPLICATE verb of container/account servers.

The DB servers route `REPLICATE /<device>/<partition>/<db hash>` here with
their DbKind (see swiftlike/db/replication.py for the protocol).
"""
import contextlib
import json
import os
import tempfile

from swiftlike.constraints import is_decimal
from swiftlike.db import replication as repl
from swiftlike.exceptions import BadRequest, ClientDisconnect, Conflict, NotFound
from swiftlike.fs import fsync_path
from swiftlike.http import make_response
from swiftlike.paths import split_path, validate_device, validate_partition

MAX_JSON_BODY = 32 * 1024 * 1024
MAX_DB_BODY = 64 * 1024 ** 3
MAX_ROWS = 100000
READ_CHUNK = 1 << 20


def _is_hash(value):
    return isinstance(value, str) and len(value) == 32 and \
        all(c in '0123456789abcdef' for c in value)


def handle(server, req, kind):
    device, partition, db_hash = split_path(req.environ['PATH_INFO'], 3, 3)
    validate_device(device)
    partition = validate_partition(partition)
    if not _is_hash(db_hash):
        raise BadRequest('Invalid database hash: %r' % db_hash[:40])
    op = req.headers.get('X-Replication-Op', '')
    if op not in ('sync', 'merge_items', 'complete'):
        raise BadRequest('X-Replication-Op must be sync, merge_items or complete, not %r'
                         % op[:32])
    dev_path = server.device_path(device, for_write=op != 'sync')
    path = repl.db_path(dev_path, kind, partition, db_hash)
    if op == 'complete':
        return _complete(server, device, dev_path, path, kind, req)
    body = _json_body(req)
    if not isinstance(body.get('id'), str) or not body['id'] or len(body['id']) > 64:
        raise BadRequest('body needs the sender database "id"')
    if not os.path.exists(path):
        raise NotFound('No such database')
    broker = kind.broker_class(path, logger=server.logger)
    if op == 'sync':
        info = body.get('info')
        if not isinstance(info, dict):
            raise BadRequest('sync body needs "info"')
        answer = server.disk.run(device, _sync, broker, body['id'], info)
    else:
        answer = server.disk.run(device, _merge_items, broker, kind, body)
    return make_response(200, json.dumps(answer), content_type='application/json')


def _json_body(req):
    length = req.content_length
    if length is None or length > MAX_JSON_BODY:
        raise BadRequest('body needs a Content-Length up to %d' % MAX_JSON_BODY)
    raw = req.body_file.read(length)
    if len(raw) != length:
        raise ClientDisconnect('body ended early')
    try:
        body = json.loads(raw.decode('utf-8'))
    except (ValueError, UnicodeDecodeError):
        raise BadRequest('body is not JSON')
    if not isinstance(body, dict):
        raise BadRequest('body must be a JSON object')
    return body


def _sync(broker, remote_id, remote_info):
    broker.merge_pending()
    try:
        info = repl.merge_info(broker, remote_info)
    except (ValueError, TypeError) as err:
        raise BadRequest('bad info: %s' % err)
    return {'id': info['id'], 'max_row': repl.max_row(broker),
            'sync_point': repl.get_sync_point(broker, remote_id)}


def _merge_items(broker, kind, body):
    rows, point = body.get('rows'), body.get('point')
    if not isinstance(rows, list) or len(rows) > MAX_ROWS:
        raise BadRequest('"rows" must be a list of at most %d records' % MAX_ROWS)
    if not isinstance(point, int) or isinstance(point, bool) or point < 0:
        raise BadRequest('"point" must be a non-negative integer')
    try:
        records = [kind.check_record(broker, item) for item in rows]
    except (ValueError, TypeError, IndexError) as err:
        raise BadRequest('bad row: %s' % err)
    repl.merge_records_and_point(broker, records, body['id'], point)
    return {'merged': len(records)}


def _complete(server, device, dev_path, path, kind, req):
    sender_id = req.headers.get('X-Replication-Id', '')
    max_row = req.headers.get('X-Replication-Max-Row', '')
    if not sender_id or len(sender_id) > 64 or not is_decimal(max_row):
        raise BadRequest('complete needs X-Replication-Id and X-Replication-Max-Row')
    length = req.content_length
    if length is None or length > MAX_DB_BODY:
        raise BadRequest('complete needs a Content-Length up to %d' % MAX_DB_BODY)
    tmp_dir = os.path.join(dev_path, 'tmp')
    os.makedirs(tmp_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix='.db-repl-')
    try:
        with os.fdopen(fd, 'wb') as f:
            remaining = length
            while remaining:
                chunk = req.body_file.read(min(READ_CHUNK, remaining))
                if not chunk:
                    raise ClientDisconnect('database upload ended early')
                f.write(chunk)
                remaining -= len(chunk)
            f.flush()
            os.fsync(f.fileno())
        answer = server.disk.run(device, _install_or_merge, server, path, tmp, kind,
                                 sender_id, int(max_row))
        return make_response(200, json.dumps(answer), content_type='application/json')
    finally:
        for leftover in (tmp, tmp + '-wal', tmp + '-shm'):
            with contextlib.suppress(OSError):
                os.unlink(leftover)


def _install_or_merge(server, path, tmp, kind, sender_id, max_row):
    try:
        repl.check_shipped_db(tmp, kind)
    except ValueError as err:
        raise BadRequest('shipped database rejected: %s' % err)
    if not os.path.exists(path):
        repl.adopt_shipped_db(tmp, sender_id, max_row)
        directory = os.path.dirname(path)
        os.makedirs(directory, exist_ok=True)
        try:
            os.link(tmp, path)       # never replaces a database created meanwhile
            fsync_path(directory)
            return {'installed': True}
        except FileExistsError:
            pass
    broker = kind.broker_class(path, logger=server.logger)
    merged = 0
    try:
        for records in repl.iter_shipped_rows(tmp, kind):
            records = [kind.check_record(broker, r) for r in records]
            repl.merge_records_and_point(broker, records, sender_id, 0)
            merged += len(records)
        repl.merge_info(broker, repl.shipped_info(tmp, kind))
    except (ValueError, TypeError, IndexError) as err:
        raise Conflict('shipped rows rejected: %s' % err)
    repl.set_sync_point(broker, sender_id, max_row)
    return {'installed': False, 'merged': merged}


