"""The body of a container server's UPDATE: several object rows of one
container in one request.

An object server sends one when updates to the same container replica come at
once, or queue up behind one already in flight (swiftlike/obj/updates.py); the
container server checks every row before it queues any
(swiftlike/container/server.py).

The body is a JSON list of rows, each
    {"name": str, "timestamp": str, "size": int, "content_type": str,
     "etag": str, "deleted": 0 | 1}
"""
import json

from swiftlike.constraints import MAX_OBJECT_NAME_LENGTH, check_name_length, check_utf8
from swiftlike.exceptions import BadRequest, LengthRequired, RequestEntityTooLarge
from swiftlike.paths import wsgi_to_str
from swiftlike.timestamp import Timestamp

MAX_ROWS = 1000
MAX_BODY_BYTES = 4 << 20
MAX_CONTENT_TYPE_BYTES = 1024
MAX_ETAG_BYTES = 256
MAX_SIZE = (1 << 63) - 1


def row(op, obj, headers):
    """The row of one container update: op 'PUT' or 'DELETE', the object's
    name (text) and the (WSGI) headers a single update would carry:
    X-Timestamp, and X-Size, X-Content-Type and X-Etag for a PUT. ValueError
    (UnicodeError) when a header is not UTF-8 text, KeyError when one is
    missing."""
    if op == 'DELETE':
        return {'name': obj, 'timestamp': headers['X-Timestamp'], 'size': 0,
                'content_type': '', 'etag': '', 'deleted': 1}
    return {'name': obj, 'timestamp': headers['X-Timestamp'], 'size': int(headers['X-Size']),
            'content_type': wsgi_to_str(headers['X-Content-Type']),
            'etag': wsgi_to_str(headers['X-Etag']), 'deleted': 0}


def encode(rows):
    return json.dumps(rows, ensure_ascii=False, separators=(',', ':')).encode('utf-8')


def read_body(req):
    """The request's body bytes: 411 without a Content-Length, 413 past
    MAX_BODY_BYTES, 400 when it ends early."""
    length = req.content_length
    if length is None:
        raise LengthRequired('UPDATE needs a Content-Length')
    if length > MAX_BODY_BYTES:
        raise RequestEntityTooLarge('UPDATE body over %d bytes' % MAX_BODY_BYTES)
    raw = req.body_file.read(length)
    if len(raw) != length:
        raise BadRequest('UPDATE body ended early')
    return raw


def decode(raw):
    """[(name, timestamp, size, content_type, etag, deleted)] from an UPDATE
    body, every row checked; BadRequest (413 for too many rows) otherwise."""
    try:
        rows = json.loads(raw.decode('utf-8'))
    except (ValueError, UnicodeDecodeError):
        raise BadRequest('UPDATE body is not JSON')
    if not isinstance(rows, list) or not rows:
        raise BadRequest('UPDATE body must be a non-empty JSON list of rows')
    if len(rows) > MAX_ROWS:
        raise RequestEntityTooLarge('UPDATE body holds more than %d rows' % MAX_ROWS)
    checked = []
    for index, item in enumerate(rows):
        try:
            checked.append(_check(item))
        except BadRequest as err:
            raise BadRequest('%s (row %d)' % (err.reason, index))
    return checked


def _check(item):
    if not isinstance(item, dict):
        raise BadRequest('UPDATE row must be a JSON object')
    name = item.get('name')
    if not isinstance(name, str) or not name:
        raise BadRequest('UPDATE row needs a "name"')
    try:
        raw_name = name.encode('utf-8')
    except UnicodeEncodeError:
        raise BadRequest('UPDATE row name is not valid UTF-8')
    check_utf8(raw_name, 'Object name', allow_nul=True)
    check_name_length(raw_name, MAX_OBJECT_NAME_LENGTH, 'Object name')
    try:
        timestamp = Timestamp(item.get('timestamp')).internal
    except (ValueError, TypeError):
        raise BadRequest('UPDATE row needs a valid "timestamp"')
    deleted = item.get('deleted', 0)
    if deleted not in (0, 1) or isinstance(deleted, float):
        raise BadRequest('UPDATE row "deleted" must be 0 or 1')
    size = item.get('size', 0)
    if type(size) is not int or not 0 <= size <= MAX_SIZE:
        raise BadRequest('UPDATE row "size" must be a whole number of bytes')
    content_type = _text(item, 'content_type', MAX_CONTENT_TYPE_BYTES)
    etag = _text(item, 'etag', MAX_ETAG_BYTES)
    return (name, timestamp, size, content_type, etag, int(deleted))


def _text(item, key, limit):
    value = item.get(key, '')
    if not isinstance(value, str):
        raise BadRequest('UPDATE row "%s" must be a string' % key)
    return check_length(value, limit, 'UPDATE row "%s"' % key)


def check_length(value, limit, what):
    """`value` (text), a row's content type or ETag, when it is UTF-8 of at
    most `limit` bytes; BadRequest naming `what` otherwise. A single update's
    headers are checked by it too."""
    try:
        size = len(value.encode('utf-8'))
    except UnicodeEncodeError:
        raise BadRequest('%s is not valid UTF-8' % what)
    if size > limit:
        raise BadRequest('%s longer than %d bytes' % (what, limit))
    return value
