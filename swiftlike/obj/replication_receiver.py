"""Server side of object replication: the REPLICATION verb of the object server.

The object server routes `REPLICATION /<device>/<partition>` here (see
replication_protocol for the wire format). Every received file is verified
before it becomes visible: bytes counted against the record size, a .data's
MD5 against its ETag and its length against Content-Length; then fsync, an
atomic rename into the object's directory, a directory fsync, removal of the
files it supersedes and invalidation of the suffix hash.
"""
import contextlib
import hashlib
import json
import os
import tempfile

from swiftlike.constraints import MAX_FILE_SIZE, is_decimal
from swiftlike.exceptions import BadRequest, ClientDisconnect
from swiftlike.http import make_response
from swiftlike.obj import metadata as xattr_meta
from swiftlike.obj.backend import DATA
from swiftlike.fs import fsync_path
from swiftlike.obj.diskfile import OBJECTS_DIR, TMP_DIR, makedirs_durable
from swiftlike.obj.replication_protocol import (MAX_CHECK_BODY, MAX_HEADER_LINE, ProtocolError,
                                                parse_check_body, parse_header, wanted_files)
from swiftlike.obj.suffix_hashes import cleanup_hash_dir, invalidate_suffix
from swiftlike.paths import split_path, validate_device, validate_partition

READ_CHUNK = 65536


def handle(server, req):
    """Entry point called by the object server for the REPLICATION verb."""
    device, partition = split_path(req.environ['PATH_INFO'], 2, 2)
    validate_device(device)
    partition = validate_partition(partition)
    op = req.headers.get('X-Replication-Op', '')
    if op == 'check':
        dev_path = server.device_path(device)
        return _check(dev_path, partition, req)
    if op == 'push':
        dev_path = server.device_path(device, for_write=True)
        return _push(server, device, dev_path, partition, req)
    raise BadRequest('X-Replication-Op must be check or push, not %r' % op[:32])


def _listdir(path):
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _check(dev_path, partition, req):
    length = req.content_length
    if length is None or length > MAX_CHECK_BODY:
        raise BadRequest('check needs a Content-Length up to %d' % MAX_CHECK_BODY)
    raw = req.body_file.read(length)
    if len(raw) != length:
        raise ClientDisconnect('check body ended early')
    try:
        offers = parse_check_body(raw)
    except ProtocolError as err:
        raise BadRequest(str(err))
    part_path = os.path.join(dev_path, OBJECTS_DIR, str(partition))
    answer = {}
    for name_hash, names in offers.items():
        present = _listdir(os.path.join(part_path, name_hash[-3:], name_hash))
        wanted = wanted_files(names, present)
        if wanted:
            answer[name_hash] = wanted
    return make_response(200, json.dumps(answer), content_type='application/json')


class _Reader:
    """Buffered reads from the request body with exact-length semantics."""

    def __init__(self, stream):
        self.stream = stream
        self.buf = b''

    def readline(self, limit):
        while b'\n' not in self.buf and len(self.buf) < limit:
            chunk = self.stream.read(READ_CHUNK) if hasattr(self.stream, 'read') else b''
            if not chunk:
                break
            self.buf += chunk
        idx = self.buf.find(b'\n')
        end = idx + 1 if 0 <= idx < limit else min(len(self.buf), limit)
        line, self.buf = self.buf[:end], self.buf[end:]
        return line

    def read(self, size):
        if self.buf:
            data, self.buf = self.buf[:size], self.buf[size:]
            return data
        return self.stream.read(min(size, READ_CHUNK))


def _push(server, device, dev_path, partition, req):
    reader = _Reader(req.environ['wsgi.input'])
    committed, rejected = 0, []
    part_path = os.path.join(dev_path, OBJECTS_DIR, str(partition))
    while True:
        line = reader.readline(MAX_HEADER_LINE)
        if not line:
            raise ClientDisconnect('push stream ended without its end record')
        try:
            header = parse_header(line, MAX_FILE_SIZE)
        except ProtocolError as err:
            raise BadRequest(str(err))
        if header is None:
            break
        reason = _receive_file(server, device, dev_path, part_path, header, reader)
        if reason is None:
            committed += 1
        else:
            rejected.append({'hash': header['hash'], 'name': header['name'], 'reason': reason})
            server.logger.warning('replication: rejected %s/%s: %s', header['hash'],
                                  header['name'], reason)
    body = json.dumps({'committed': committed, 'rejected': rejected})
    return make_response(200, body, content_type='application/json')


def _receive_file(server, device, dev_path, part_path, header, reader):
    """Write one record; None when committed, else the reason it was not."""
    tmp_dir = os.path.join(dev_path, TMP_DIR)
    os.makedirs(tmp_dir, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(dir=tmp_dir, prefix='.repl-')
    try:
        md5 = hashlib.md5(usedforsecurity=False)
        remaining = header['size']
        while remaining:
            chunk = reader.read(remaining)
            if not chunk:
                raise ClientDisconnect('push stream ended inside %s' % header['name'])
            md5.update(chunk)
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view):]
            remaining -= len(chunk)
        reason = _verify(header, md5.hexdigest())
        if reason:
            return reason
        hash_dir = os.path.join(part_path, header['hash'][-3:], header['hash'])
        if header['name'] not in wanted_files([header['name']], _listdir(hash_dir)):
            return None     # raced with a newer write, or already here: nothing to do
        owned, fd = fd, None   # _commit closes it (and removes the temp file on failure)
        try:
            server.disk.run(device, _commit, owned, tmp_path, header, part_path, hash_dir)
        except xattr_meta.MetadataError as err:
            return 'cannot store metadata: %s' % err
        return None
    finally:
        if fd is not None:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(tmp_path)


def _verify(header, md5_hex):
    meta = header['metadata']
    if header['ext'] != DATA:
        return None
    length = meta.get('Content-Length', '')
    if not is_decimal(length) or int(length) != header['size']:
        return 'size %d does not match Content-Length %r' % (header['size'], length)
    etag = meta.get('ETag', '').strip('"').lower()
    if etag != md5_hex:
        return 'MD5 %s does not match ETag %r' % (md5_hex, etag)
    return None


def _commit(fd, tmp_path, header, part_path, hash_dir):
    """fsync the temp file, rename it into place, fsync the dir, clean up."""
    try:
        try:
            xattr_meta.write_metadata(fd, header['metadata'])
            os.fsync(fd)
        finally:
            os.close(fd)
        # A concurrent rehash (REPLICATE) removes empty object and suffix
        # dirs, so a dir we just made may be gone again before the rename: retry.
        for attempt in range(5):
            try:
                makedirs_durable(hash_dir)
                os.rename(tmp_path, os.path.join(hash_dir, header['name']))
                break
            except FileNotFoundError:
                if attempt == 4 or not os.path.exists(tmp_path):
                    raise
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_path)
        raise
    fsync_path(hash_dir)
    cleanup_hash_dir(hash_dir)
    invalidate_suffix(part_path, header['hash'][-3:])
