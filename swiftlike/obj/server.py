"""The object server: PUT/GET/HEAD/POST/DELETE/REPLICATE of object replicas
on local devices, through the DiskFile contract (backend.py)."""
import contextlib
import errno
import functools
import hashlib
import json
import os
import time

from swiftlike import body_check, conditional, constraints, ranges
from swiftlike.concurrency import Timeout, spawn, spawn_n
from swiftlike.constraints import body_read_timeout, is_decimal
from swiftlike.exceptions import (BadRequest, ClientDisconnect, Conflict, InsufficientStorage,
                                  NotFound, RequestEntityTooLarge,
                                  RangeNotSatisfiable, RequestTimeout, ServiceUnavailable,
                                  UnprocessableEntity)
from swiftlike.http import EmptyResponse, client_content_type, make_response
from swiftlike.http_framing import body_trailers
from swiftlike.obj import conditional_put
from swiftlike.obj.backend import (DiskFileDeleted, DiskFileExpired, DiskFileNoSpace,
                                   DiskFileNotExist, delete_at_of, hash_and_write,
                                   is_mutable_key, write_whole)
# CONF_SECTION and Conf: the module's contract with its entry point (cli/servers.py).
from swiftlike.obj.conf import CONF_SECTION, Conf, group_sync_mode  # noqa: F401
from swiftlike.obj.diskfile import GROUP_SYNC_MAX_BYTES, FsDiskFileManager
from swiftlike.obj.replication_protocol import FINGERPRINT_HEADER, is_hash
from swiftlike.obj.stream import ObjectResponse, ObjectStream, whole_body
from swiftlike.obj.suffix_hashes import is_suffix
from swiftlike.obj.updates import (EMPTY_ETAG, UpdateSender, expiring_container,
                                   expiring_object_name, listing_update,
                                   parse_update_targets)
from swiftlike.paths import split_path, split_storage_path, validate_device, validate_partition
from swiftlike.server_base import StorageServer, require_timestamp


def _header_items(items, prefixes):
    return {k: v for k, v in items if k.lower().startswith(prefixes)}


def parse_delete_at(req, now=None):
    """The request's X-Delete-At as an int (None when absent); 400 when bad or past."""
    value = req.headers.get('X-Delete-At')
    if value is None:
        return None
    value = value.strip()
    if not is_decimal(value):
        raise BadRequest('Non-integer X-Delete-At: %r' % value[:32])
    delete_at = int(value)
    if delete_at <= (time.time() if now is None else now):
        raise BadRequest('X-Delete-At in past')
    if delete_at >= 10 ** 10:
        raise BadRequest('X-Delete-At too far in the future')
    return delete_at


def disk_errors(handler):
    """A full device answers 507; any other failing disk call 503 (the proxy
    then tries another replica) rather than a 500."""
    @functools.wraps(handler)
    def wrapper(self, req):
        try:
            return handler(self, req)
        except DiskFileNoSpace as err:
            raise InsufficientStorage('Device full: %s' % err)
        except OSError as err:
            if err.errno in (errno.ENOSPC, errno.EDQUOT):
                raise InsufficientStorage('Device full')
            self.logger.error('disk error on %s %s: %s', req.method,
                              req.environ.get('PATH_INFO', '')[:256], err)
            raise ServiceUnavailable('Disk error: %s' % (err.strerror or err))
    return wrapper


class App(StorageServer):
    server_type = 'object'

    def __init__(self, conf, logger=None, backend=None):
        super().__init__(conf, logger)
        self.disk.inline_quick = conf.inline_metadata_reads
        self.backend = backend or FsDiskFileManager(fallocate=conf.fallocate,
                                                   defer_cleanup=True,
                                                   bytes_per_sync=conf.bytes_per_sync,
                                                   group_sync=group_sync_mode(conf.group_sync),
                                                   run_flush=self._run_flush,
                                                   direct_reads=conf.direct_reads)
        self.updates = UpdateSender(self.disk, self.logger, conf.conn_timeout,
                                    conf.node_timeout, conf.batch_container_updates)
        self.chunk = conf.network_chunk_size

    # -- helpers ---------------------------------------------------------
    def _diskfile(self, req, for_write=False, size=0):
        device, part, account, container, obj = split_storage_path(req.environ['PATH_INFO'], 3, 3)
        dev_path = self.device_path(device, for_write, size)
        return device, dev_path, part, (account, container, obj), \
            self.backend.get_diskfile(dev_path, part, account, container, obj)

    def _run_flush(self, device_path, func, *args):
        return self.disk.run(os.path.basename(device_path), func, *args)

    def _write_call(self, dev_path):
        """How a small write runs: inline on the event loop while its device
        is healthy where writes share flushes (its wait for one is a green
        thread's), else in a disk thread."""
        syncer = getattr(self.backend, 'group_syncer', None)
        if self.conf.inline_small_writes and syncer is not None and syncer(dev_path) is not None:
            return self.disk.run_inline
        return self.disk.run

    def _current(self, device, df):
        """(durable timestamp or None, metadata or {}, exists) of what is stored now."""
        return self.disk.run_quick(device, conditional_put.current, df)

    def _object_headers(self, df):
        meta = df.metadata
        headers = {k: v for k, v in meta.items()
                   if k.lower().startswith(('x-object-meta-', 'x-object-sysmeta-'))
                   or is_mutable_key(k)}
        headers.update({
            'Content-Type': meta.get('Content-Type', 'application/octet-stream'),
            'ETag': meta.get('ETag', ''),
            'Last-Modified': df.timestamp.last_modified,
            'X-Timestamp': df.timestamp.normal,
            'X-Backend-Timestamp': df.data_timestamp.internal,
            'X-Backend-Data-Timestamp': df.data_timestamp.internal,
            'X-Backend-Meta-Timestamp': df.timestamp.internal,
            'Accept-Ranges': 'bytes',
        })
        return headers

    def _after_write(self, device, df, threads, cleanup_call=None):
        """Let the updates run a little, then answer; superseded files go
        later, by `cleanup_call` (default: in a disk thread)."""
        if getattr(df, 'needs_cleanup', True):
            spawn_n(self._cleanup, cleanup_call or self.disk.run, device, df)
        if not threads:
            return
        try:
            with Timeout(self.conf.container_update_timeout):
                for thread in threads:
                    thread.wait()
        except Timeout:
            pass  # they go on in the background and leave async_pending on failure
        except Exception:
            # The object is stored; a failed update must not turn that into an error.
            self.logger.exception('container update failed')

    def _cleanup_call(self, write_call, replaced):
        """A small write's superseded files go as the write went (inline while
        the device is healthy) if small; a big file's unlink in a disk thread."""
        length = replaced.get('Content-Length', '0')
        small = is_decimal(length) and int(length) <= GROUP_SYNC_MAX_BYTES
        return write_call if small else self.disk.run

    def _cleanup(self, call, device, df):
        try:
            call(device, df.cleanup)
        except OSError as err:
            self.logger.warning('cleanup of %s failed: %s', getattr(df, 'hash_path', '?'), err)

    def _container_update(self, req, device, dev_path, op, names, headers):
        targets = parse_update_targets(req.headers, 'X-Container')
        if targets is None:
            return []
        partition, nodes = targets
        return [self.updates.start(device, dev_path, op, *names, partition, nodes, headers)]

    def _expirer_update(self, req, device, dev_path, op, names, delete_at, timestamp):
        """Add (PUT) or remove (DELETE) the object's entry in the expirer queue."""
        if delete_at is None:
            return []
        divisor = self.conf.expiring_objects_container_divisor
        headers = {'X-Timestamp': timestamp.internal,
                   'X-Trans-Id': req.headers.get('X-Trans-Id', '-')}
        nodes, partition = [], None
        container = expiring_container(delete_at, divisor)
        if op == 'PUT':
            targets = parse_update_targets(req.headers, 'X-Delete-At')
            if targets is None:
                return []
            partition, nodes = targets
            container = req.headers.get('X-Delete-At-Container') or container
            headers.update({'X-Size': '0', 'X-Content-Type': 'text/plain',
                            'X-Etag': EMPTY_ETAG})
        queue_names = (self.conf.expiring_objects_account, container,
                       expiring_object_name(delete_at, *names))
        return [self.updates.start(device, dev_path, op, *queue_names, partition, nodes,
                                   headers)]

    def _check_write_headers(self, req):
        """400 for bad write headers; else the request's headers as (name,
        value) pairs, listed once for the request (each pass over webob's
        headers rebuilds every name)."""
        items = list(req.headers.items())
        constraints.check_metadata(items, 'object')
        # Bad update targets must fail the request before anything is written.
        parse_update_targets(req.headers, 'X-Container')
        parse_update_targets(req.headers, 'X-Delete-At')
        container = req.headers.get('X-Delete-At-Container')
        if container is not None and not is_decimal(container):
            raise BadRequest('Invalid X-Delete-At-Container: %r' % container[:32])
        return items

    # -- PUT -------------------------------------------------------------
    def _read_body(self, req, length):
        """Yield the request body in chunks; 499 if it ends early, 408 if the
        client stalls, 413 past the size limit. The first chunk is
        network_chunk_size (a small body is all of it); a bigger body comes
        in pieces of disk_write_size, what one disk call writes, each ending
        at a multiple of it from the body's start: where the sender frames
        its chunks in that size (the proxy does, 1 MiB both), each read is
        then one chunk's data, and the reader need not join two chunks'
        pieces into a new buffer."""
        stream = req.environ['wsgi.input']
        remaining = length
        total = 0
        big = max(self.chunk, self.conf.disk_write_size)
        while remaining is None or remaining > 0:
            size = big - total % big if total else self.chunk
            want = size if remaining is None else min(size, remaining)
            try:
                with Timeout(body_read_timeout(want, self.conf.client_timeout),
                             RequestTimeout('Timeout reading body')):
                    chunk = stream.read(want)
            except (OSError, ValueError) as err:
                raise ClientDisconnect('Client disconnected: %s' % err)
            if not chunk:
                if remaining is not None:
                    raise ClientDisconnect('Body ended after %d of %d bytes' % (total, length))
                return
            total += len(chunk)
            if remaining is not None:
                remaining -= len(chunk)
            elif total > constraints.MAX_FILE_SIZE:
                raise RequestEntityTooLarge('Your request is too large.')
            yield chunk

    def _put_metadata(self, req, items, names, timestamp, delete_at, summer, checked, length,
                      expected_etag):
        """The new .data's metadata once the whole body is in `summer`. The
        ETag is the MD5 `summer` computed or, for a body the proxy checks
        (swiftlike.body_check), the MD5 in its trailer once the CRC
        `summer` computed matches the sender's and the whole body came.
        `checked` is that body's body_check.Check, or None."""
        size = summer.size
        if not checked:
            etag = summer.hexdigest()
        elif length is not None and size != length:
            raise ClientDisconnect('Body ended after %d of %d bytes' % (size, length))
        else:
            etag = body_check.etag_from_trailer(body_trailers(req.environ['wsgi.input']),
                                                summer, checked)
        if expected_etag and expected_etag != etag:
            raise UnprocessableEntity('ETag %s does not match the body (%s)'
                                      % (expected_etag[:64], etag))
        metadata = _header_items(items, ('x-object-meta-', 'x-object-sysmeta-'))
        metadata.update({k: v for k, v in items if is_mutable_key(k)})
        metadata.pop('X-Delete-At', None)
        if delete_at is not None:
            metadata['X-Delete-At'] = str(delete_at)
        metadata.update({'name': '/%s/%s/%s' % names, 'X-Timestamp': timestamp.internal,
                         'Content-Type': req.headers['Content-Type'],
                         'Content-Length': str(size), 'ETag': etag})
        if checked:
            metadata[checked.metadata_key] = summer.hexdigest()
        return metadata

    @disk_errors
    def PUT(self, req):
        timestamp = require_timestamp(req)
        length = constraints.check_content_length(req.headers)
        if 'Content-Type' not in req.headers:
            raise BadRequest('No content type')
        items = self._check_write_headers(req)
        delete_at = parse_delete_at(req)
        expected_etag = req.headers.get('ETag', '').strip().strip('"').lower() or None
        checked = body_check.requested(req.headers)
        if checked:
            if length is not None:
                raise BadRequest('%s needs a chunked body' % body_check.HEADER)
            length = body_check.expected_length(req.headers)
        device, dev_path, part, names, df = self._diskfile(req, True, length or 0)
        orig_ts, orig_meta, exists = self._current(device, df)
        # If-None-Match / If-Match, and the newest timestamp wins; a
        # conditional PUT is judged again under the object's lock at commit.
        conditional_put.check(req.headers, timestamp, orig_ts, orig_meta, exists)
        locked = conditional_put.is_conditional(req.headers)
        cleanup_call = None
        summer = body_check.Summer(checked.algorithm() if checked
                                   else hashlib.md5(usedforsecurity=False))
        # A checked body's length is the proxy's word, not the framing's: the
        # body is read to its end, and its size compared once it is there.
        body = self._read_body(req, None if checked else length)
        first = []
        # Small bodies (the common case) are read whole, then created, written
        # and committed in one disk call.
        for chunk in body:
            summer.update(chunk)
            first.append(chunk)
            if summer.size >= self.chunk:
                break
        if summer.size < self.chunk:
            metadata = self._put_metadata(req, items, names, timestamp, delete_at, summer,
                                          checked, length, expected_etag)
            if locked:
                orig_meta = self.disk.run(device, conditional_put.locked_commit, df,
                                          req.headers, timestamp, write_whole, df,
                                          b''.join(first), metadata)
            else:
                write_call = self._write_call(dev_path)
                write_call(device, write_whole, df, b''.join(first), metadata)
                cleanup_call = self._cleanup_call(write_call, orig_meta)
        else:
            writer = self.disk.run(device, df.create, length)
            writing = None
            try:
                # Network chunks are gathered up to disk_write_size per disk
                # call. The disk thread hashes and writes a batch while this
                # green thread reads the next one from the network (the
                # checksum of a big object is much of its CPU: off the event
                # loop, it runs beside the other requests' work on another core).
                batch, batched, hashed = first, summer.size, len(first)
                for chunk in body:
                    batch.append(chunk)
                    batched += len(chunk)
                    if batched >= self.conf.disk_write_size:
                        if writing is not None:
                            writing.wait()
                        writing = spawn(self.disk.run, device, hash_and_write, writer,
                                        summer, batch, hashed)
                        batch, batched, hashed = [], 0, 0
                if writing is not None:
                    writing, waiting = None, writing
                    waiting.wait()
                if batch:
                    self.disk.run(device, hash_and_write, writer, summer, batch, hashed)
                metadata = self._put_metadata(req, items, names, timestamp, delete_at, summer,
                                              checked, length, expected_etag)
                if locked:
                    orig_meta = self.disk.run(device, conditional_put.locked_commit, df,
                                              req.headers, timestamp, writer.commit, metadata)
                else:
                    self.disk.run(device, writer.commit, metadata)
            finally:
                if writing is not None:
                    # Never close the file under a write still running.
                    with contextlib.suppress(Exception):
                        writing.wait()
                writer.abort()
        etag = metadata['ETag']
        threads = self._container_update(req, device, dev_path, 'PUT', names, listing_update(
            metadata, timestamp, req.headers.get('X-Trans-Id', '-')))
        old_delete_at = delete_at_of(orig_meta)
        if delete_at != old_delete_at:
            threads += self._expirer_update(req, device, dev_path, 'PUT', names, delete_at,
                                            timestamp)
            threads += self._expirer_update(req, device, dev_path, 'DELETE', names,
                                            old_delete_at, timestamp)
        self._after_write(device, df, threads, cleanup_call)
        return EmptyResponse(201, {'ETag': etag})

    # -- GET / HEAD ------------------------------------------------------
    def _open_for_read(self, req, with_data):
        device, _dev_path, _part, _names, df = self._diskfile(req)
        read_ahead = self.conf.disk_chunk_size if with_data else 0
        try:
            self.disk.run_quick(device, df.open, True, with_data, read_ahead)
        except DiskFileDeleted as err:
            raise NotFound('Object deleted', {'X-Backend-Timestamp': err.timestamp.internal,
                                              'X-Timestamp': err.timestamp.normal})
        except DiskFileExpired as err:
            raise NotFound('Object expired', {'X-Backend-Timestamp': err.timestamp.internal})
        except DiskFileNotExist:
            raise NotFound('Object not found')
        return device, df

    def _conditional(self, req, df, headers):
        if not conditional.has_conditions(req.environ):
            return None
        last_modified = _ceil_seconds(df.timestamp)
        status = conditional.evaluate(req.headers, df.metadata.get('ETag'), last_modified,
                                      req.method)
        if status is not None:
            df.close()
            keep = ('ETag', 'Last-Modified', 'X-Timestamp', 'X-Backend-Timestamp',
                    'X-Backend-Data-Timestamp', 'Accept-Ranges')
            if status == 304:
                keep += ('Content-Type',)
            # The proxy's dlo and slo middlewares judge a manifest's conditions
            # themselves (an SLO is known by its system metadata); the symlink
            # middleware follows a link whatever the link's own answer (system
            # metadata says what the object is); the append middleware knows an
            # appendable object by it.
            keep += tuple(k for k in headers if k.lower() == 'x-object-manifest'
                          or k.lower().startswith('x-object-sysmeta-'))
            return make_response(status, headers={k: headers[k] for k in keep},
                                 content_type=headers['Content-Type'] if status == 304 else None)
        return None

    @disk_errors
    def HEAD(self, req):
        _device, df = self._open_for_read(req, with_data=False)
        headers = self._object_headers(df)
        early = self._conditional(req, df, headers)
        if early is not None:
            return early
        return ObjectResponse(200, headers, df.content_length)

    @disk_errors
    def GET(self, req):
        device, df = self._open_for_read(req, with_data=True)
        try:
            headers = self._object_headers(df)
            early = self._conditional(req, df, headers)
            if early is not None:
                return early
            return self._body_response(req, device, df, headers)
        except BaseException:
            df.close()
            raise

    def _body_response(self, req, device, df, headers):
        length = df.content_length
        spans = None
        range_header = req.headers.get('Range')
        if range_header and conditional.if_range_allows(
                req.headers.get('If-Range'), df.metadata.get('ETag'), _ceil_seconds(df.timestamp)):
            try:
                spans = ranges.resolve_ranges(range_header, length, self.conf.max_ranges)
            except RangeNotSatisfiable as err:
                # The object's own headers come with the 416, as with Swift's.
                err.headers = dict(headers, **(err.headers or {}))
                raise
        headers['Accept-Ranges'] = 'bytes'
        chunk = self.conf.disk_chunk_size
        if spans is None:
            body = whole_body(df)
            if body is not None:
                df.close()
                return ObjectResponse(200, headers, length, [body])
            return ObjectResponse(200, headers, length,
                                  ObjectStream(self.disk, device, df, chunk, self.logger,
                                               read_size=self.conf.disk_read_size))
        if len(spans) == 1:
            start, stop = spans[0]
            headers['Content-Range'] = ranges.content_range(start, stop, length)
            return ObjectResponse(206, headers, stop - start,
                                  ObjectStream(self.disk, device, df, chunk, self.logger, spans,
                                               read_size=self.conf.disk_read_size))
        boundary = ranges.new_boundary()
        ctype = headers['Content-Type']
        headers['Content-Type'] = ranges.multipart_content_type(boundary)
        return ObjectResponse(206, headers,
                              ranges.multipart_length(spans, boundary, ctype, length),
                              ObjectStream(self.disk, device, df, chunk, self.logger, spans,
                                           boundary, ctype, read_size=self.conf.disk_read_size))

    # -- POST ------------------------------------------------------------
    @disk_errors
    def POST(self, req):
        timestamp = require_timestamp(req)
        items = self._check_write_headers(req)
        delete_at = parse_delete_at(req)
        device, dev_path, _part, names, df = self._diskfile(req, True)
        try:
            self.disk.run(device, df.open, True, False)
        except DiskFileDeleted as err:
            raise NotFound('Object deleted', {'X-Backend-Timestamp': err.timestamp.internal})
        except DiskFileNotExist:
            raise NotFound('Object not found')
        if df.timestamp >= timestamp:
            raise Conflict('An equal or newer version exists',
                           {'X-Backend-Timestamp': df.timestamp.internal})
        metadata = {k: v for k, v in items if is_mutable_key(k) and k.lower() != 'x-delete-at'}
        if delete_at is not None:
            metadata['X-Delete-At'] = str(delete_at)
        metadata['X-Timestamp'] = timestamp.internal
        new_type = client_content_type(req.environ)
        metadata['Content-Type'] = new_type or df.metadata.get('Content-Type',
                                                               'application/octet-stream')
        self.disk.run(device, df.write_metadata, metadata)
        old_delete_at = delete_at_of(df.metadata)
        threads = []
        if new_type and new_type != df.metadata.get('Content-Type'):
            # The listing shows the new type (and the POST's time).
            threads += self._container_update(req, device, dev_path, 'PUT', names, listing_update(
                dict(df.metadata, **{'Content-Type': new_type}), timestamp,
                req.headers.get('X-Trans-Id', '-'), new_type=True))
        if delete_at != old_delete_at:
            threads += self._expirer_update(req, device, dev_path, 'PUT', names, delete_at,
                                            timestamp)
            threads += self._expirer_update(req, device, dev_path, 'DELETE', names,
                                            old_delete_at, timestamp)
        self._after_write(device, df, threads)
        # As Swift's: the object's system metadata comes back (the symlink
        # middleware answers a POST to a link with 307 from it).
        return make_response(202, headers={k: v for k, v in df.metadata.items()
                                           if k.lower().startswith('x-object-sysmeta-')})

    # -- DELETE ----------------------------------------------------------
    @disk_errors
    def DELETE(self, req):
        timestamp = require_timestamp(req)
        if_delete_at = req.headers.get('X-If-Delete-At')
        if if_delete_at is not None and not is_decimal(if_delete_at.strip()):
            raise BadRequest('Bad X-If-Delete-At header value')
        parse_update_targets(req.headers, 'X-Container')
        # No free-space check: a tombstone is tiny and deleting is how a full device empties.
        device, dev_path, _part, names, df = self._diskfile(req)
        # What is stored is judged and the tombstone written in one disk call.
        write_call = self._write_call(dev_path)
        orig_meta, exists = write_call(device, conditional_put.delete_checked, df, timestamp,
                                       if_delete_at)
        orig_delete_at = delete_at_of(orig_meta)
        threads = self._container_update(req, device, dev_path, 'DELETE', names, {
            'X-Timestamp': timestamp.internal,
            'X-Trans-Id': req.headers.get('X-Trans-Id', '-')})
        threads += self._expirer_update(req, device, dev_path, 'DELETE', names,
                                        orig_delete_at, timestamp)
        self._after_write(device, df, threads, self._cleanup_call(write_call, orig_meta))
        headers = {'X-Backend-Timestamp': timestamp.internal}
        # What the deleted object was, for the proxy's middlewares (an
        # appendable object's pieces go with it): its system metadata.
        headers.update((k, v) for k, v in orig_meta.items()
                       if k.lower().startswith('x-object-sysmeta-'))
        return EmptyResponse(204 if exists else 404, headers)

    # -- REPLICATE -------------------------------------------------------
    @disk_errors
    def REPLICATE(self, req):
        device, part, suffixes = split_path(req.environ['PATH_INFO'], 2, 3)
        validate_device(device)
        partition = validate_partition(part)
        recalculate = suffixes.split('-') if suffixes else []
        for suffix in recalculate:
            if not is_suffix(suffix):
                raise BadRequest('Invalid suffix: %r' % suffix[:16])
        agreed = req.headers.get(FINGERPRINT_HEADER)
        if agreed is not None and not is_hash(agreed):
            raise BadRequest('Invalid %s: %r' % (FINGERPRINT_HEADER, agreed[:40]))
        dev_path = self.device_path(device)
        hashes = self.disk.run(device, self.backend.get_suffix_hashes, dev_path, partition,
                               recalculate, agreed)
        return make_response(200, json.dumps(hashes, sort_keys=True),
                             content_type='application/json')

    # -- REPLICATION: the replicator's push receiver (daemons work) -------
    verbs = StorageServer.verbs + ('REPLICATION',)

    def REPLICATION(self, req):
        from swiftlike.obj import replication_receiver
        return replication_receiver.handle(self, req)


def _ceil_seconds(timestamp):
    whole, frac = divmod(timestamp.raw, 100000)
    return whole + (1 if frac else 0)
