"""Response bodies of object GETs: whole, one range, or multipart/byteranges.

A whole-object read checks the bytes against the stored ETag as it goes and
holds back the last chunk until the check passes: on a mismatch the object
is quarantined and the stream aborts, so the client sees a short body and a
cut connection instead of bad bytes served silently. An object stored with a
CRC of its body (swiftlike.body_check) is checked by that instead: it
catches what the MD5 would (bytes changed on the disk) at a fraction of the
cost; the auditor still checks the MD5.
"""
import hashlib

from swiftlike import body_check, ranges
from swiftlike.http import status_line
from swiftlike import metrics
from swiftlike.obj.backend import DiskFileQuarantined


def _read_hashed(diskfile, offset, length, summer):
    chunk = diskfile.read(offset, length)
    summer.update(chunk)
    return chunk


def _body_check(metadata):
    """(what, checksum object, expected hex digest) a whole read checks:
    the CRC the object was stored with, else the MD5 of its ETag."""
    checked = body_check.stored(metadata)
    if checked is not None:
        check, expected = checked
        return check.title, check.algorithm(), expected
    return 'ETag', hashlib.md5(usedforsecurity=False), metadata.get('ETag', '')


def whole_body(diskfile):
    """The whole body of an opened DiskFile whose open read it all ahead
    (a small object) and which passes its stored check; else None. A small
    GET's answer is then one list and one send, with no stream; one that
    fails the check is left to an ObjectStream, which quarantines it and cuts
    the answer short as for any object."""
    body = diskfile.prefetched
    if len(body) != diskfile.content_length:
        return None
    _what, summer, expected = _body_check(diskfile.metadata)
    summer.update(body)
    return body if summer.hexdigest() == expected else None


class ObjectStream:
    """WSGI app_iter over an opened DiskFile; close() releases it."""

    def __init__(self, disk, device, diskfile, chunk_size, logger, spans=None,
                 boundary=None, content_type=None, read_size=None):
        self.disk = disk
        self.device = device
        self.diskfile = diskfile
        self.chunk_size = chunk_size
        # A read moves this much per disk call (each one is a thread-pool
        # round trip, so big objects move in big steps).
        self.read_size = max(chunk_size, read_size or 0)
        self.logger = logger
        self.spans = spans
        self.boundary = boundary
        self.content_type = content_type
        self.closed = False

    def __iter__(self):
        try:
            if self.spans is None:
                yield from self._verified_whole()
            elif self.boundary is None:
                start, stop = self.spans[0]
                yield from self._span(start, stop)
            else:
                length = self.diskfile.content_length
                for start, stop in self.spans:
                    yield ranges.multipart_part_header(self.boundary, self.content_type,
                                                       start, stop, length)
                    yield from self._span(start, stop)
                    yield ranges.PART_END
                yield ranges.multipart_trailer(self.boundary)
        finally:
            self.close()

    def _read(self, offset, length, summer=None):
        prefetched = self.diskfile.prefetched
        if offset + length <= len(prefetched):
            chunk = prefetched[offset:offset + length]
            if summer is not None:
                summer.update(chunk)
            return chunk
        if summer is None:
            return self.disk.run(self.device, self.diskfile.read, offset, length)
        # Hashing in the disk thread keeps the checksum of big objects off the event loop.
        return self.disk.run(self.device, _read_hashed, self.diskfile, offset, length, summer)

    def _span(self, start, stop):
        # In big steps too: a big object's reads bypass the page cache and
        # get no read-ahead from the kernel (direct_io.py).
        offset = start
        while offset < stop:
            chunk = self._read(offset, min(self.read_size, stop - offset))
            if not chunk:
                return  # file shrank under us; the connection will be cut short
            offset += len(chunk)
            yield chunk

    def _verified_whole(self):
        length = self.diskfile.content_length
        what, summer, expected = _body_check(self.diskfile.metadata)
        held = None
        offset = 0
        size = self.chunk_size  # the first piece is the open's read-ahead
        while offset < length:
            chunk = self._read(offset, min(size, length - offset), summer)
            size = self.read_size
            if not chunk:
                break
            offset += len(chunk)
            if held is not None:
                yield held
            held = chunk
        if offset != length or summer.hexdigest() != expected:
            reason = '%s %s != stored %s (%d of %d bytes)' % (what, summer.hexdigest(), expected,
                                                             offset, length)
            self.logger.error('Quarantining %s: %s', self.diskfile.metadata.get('name'), reason)
            self.close()
            self.disk.run(self.device, self.diskfile.quarantine, reason)
            metrics.event('object-server', 'quarantines')
            raise DiskFileQuarantined(reason)
        if held is not None:
            yield held

    def close(self):
        if not self.closed:
            self.closed = True
            self.diskfile.close()


class ObjectResponse:
    """A bare WSGI response for object reads: the status, the headers and a
    body iterator, without a webob Response's per-request bookkeeping."""

    def __init__(self, status, headers, content_length, app_iter=None):
        self.status = status
        self.headers = headers
        self.content_length = content_length
        self.app_iter = app_iter
        # what server_base's request log reads
        self.status_int = status

    def __call__(self, environ, start_response):
        header_list = [(k, str(v)) for k, v in self.headers.items()]
        header_list.append(('Content-Length', str(self.content_length)))
        start_response(status_line(self.status), header_list)
        if self.app_iter is None:
            return []
        if environ.get('REQUEST_METHOD') == 'HEAD':
            close = getattr(self.app_iter, 'close', None)
            if close is not None:
                close()
            return []
        return self.app_iter
