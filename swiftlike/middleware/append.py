"""Appendable objects (no Swift feature; like S3 Express One Zone's appends
or Ceph RGW's append), as a proxy middleware.

`PUT /v1/a/c/o` with `X-Append-Offset: N` appends the body to the object when
its length is N (0 creates it): 201 with `X-Append-Length` (the new length)
and the object's ETag; 409 with `X-Append-Length` (the current length) and
nothing written when N is not the length. See append_write.py for the write
path and its compare-and-swap, append_manifest.py for the stored format.

GET/HEAD of an appendable object serve the concatenation of its pieces (one
Range: 206; several: multipart/byteranges, as Swift's SLO), with
conditional requests judged against the chained ETag. `?append-manifest=get`
reads the manifest itself. DELETE removes the manifest, then its pieces.
A copy (the copy middleware's GET of the source) is a plain object with its
content.
"""
import dataclasses
import json
from urllib.parse import parse_qsl

from swiftlike import conditional, ranges
from swiftlike.concurrency import spawn
from swiftlike.exceptions import RangeNotSatisfiable, SwiftlikeError
from swiftlike.http import make_response
from swiftlike.logs import get_logger
from swiftlike.middleware import append_manifest as am
from swiftlike.middleware import info
from swiftlike.middleware.append_write import (MAX_MANIFEST_BYTES, SOURCE, Appender,
                                               Reply)
from swiftlike.middleware.filters import make_filter_factory
from swiftlike.middleware.segments import Segment, SegmentStream, segment_slices
from swiftlike.middleware.subrequest import call, make_environ, object_names, object_path
from swiftlike.middleware.toolkit import (EnvironHeaders, SOURCE_KEY, WRITE_ONCE_READ_KEY,
                                         mark_feature)

FEATURE = 'append'
QUERY = 'append-manifest'
_REPLACED = frozenset(('content-length', 'etag', 'content-range', 'accept-ranges',
                       'transfer-encoding'))
LISTING_PAGE = 10000
_STATE_SYSMETA = (am.SYSMETA.lower(), 'x-object-sysmeta-container-update-override-')
# The copy middleware's name on its source GET (swiftlike/middleware/copy.py).
COPY_SOURCE = 'SSC'


@dataclasses.dataclass
class Conf:
    # Compaction: once the tail holds `compact_after` pieces smaller than
    # `compact_piece_size` bytes, they are merged into one (at most
    # `compact_max_bytes` are copied by one append request).
    compact_after: int = 32
    compact_piece_size: int = 1048576
    compact_max_bytes: int = 33554432
    # Seconds one GET of an appendable object may take; the body ends after that.
    max_get_time: float = 86400.0
    log_level: str = 'INFO'
    log_file: str = ''

    def validate(self):
        if self.compact_after < 0:
            raise ValueError('compact_after must not be negative (0: no compaction)')
        if self.compact_piece_size < 1 or self.compact_max_bytes < 1:
            raise ValueError('compaction sizes must be positive')
        if self.max_get_time <= 0:
            raise ValueError('max_get_time must be positive')


def _error(environ, start_response, status, reason, headers=None):
    return make_response(status, reason, headers)(environ, start_response)


class AppendableObjects:
    def __init__(self, app, conf):
        self.app = app
        self.conf = conf
        self.logger = get_logger('proxy-server', conf.log_level, conf.log_file or None)
        info.register(FEATURE, header='X-Append-Offset', query=QUERY,
                      compact_after=conf.compact_after,
                      compact_piece_size=conf.compact_piece_size,
                      compact_max_bytes=conf.compact_max_bytes,
                      max_get_time=conf.max_get_time)

    def __call__(self, environ, start_response):
        mark_feature(environ, FEATURE)
        names = object_names(environ.get('PATH_INFO', ''))
        if names is None:
            return self.app(environ, start_response)
        method = environ.get('REQUEST_METHOD')
        query = dict(parse_qsl(environ.get('QUERY_STRING', ''), keep_blank_values=True))
        if QUERY in query:
            if method in ('GET', 'HEAD') and query[QUERY] == 'get':
                return self.app(environ, start_response)
            return _error(environ, start_response, 400,
                          'append-manifest=get is the only use of append-manifest '
                          '(GET or HEAD)')
        if method == 'PUT' and 'HTTP_X_APPEND_OFFSET' in environ:
            status, headers, reason = Appender(self, environ, *names).run()
            return _error(environ, start_response, status, reason, headers)
        if method in ('GET', 'HEAD'):
            return self.read(environ, start_response, names)
        if method == 'DELETE':
            return self.delete(environ, start_response, names)
        return self.app(environ, start_response)

    # -- the manifest -------------------------------------------------------

    def _manifest(self, environ, account, container, obj, first=None):
        """(manifest, headers) of an appendable object: from `first` (a 200
        answer to a plain GET) or a fresh GET of the manifest."""
        if first is None or first.status != 200 or \
                environ.get('REQUEST_METHOD') != 'GET':
            if first is not None:
                first.discard()
            first = call(self.app, make_environ(
                environ, 'GET', object_path(account, container, obj), {QUERY: 'get'},
                source=SOURCE))
            if first.status != 200 or am.FORMAT_HEADER.lower() not in first.headers:
                first.discard()
                raise Reply(first.status if first.status // 100 == 4 else 503,
                            'The append manifest cannot be read (%d)' % first.status)
        try:
            body = first.read(MAX_MANIFEST_BYTES)
            return am.parse_manifest(body, container, obj), first.header_list
        except (ValueError, SwiftlikeError) as err:
            raise Reply(409, 'The stored append manifest is not valid: %s' % err)

    def _summary(self, environ, first):
        """(a manifest's length and ETag, its headers) for a HEAD, from the
        system metadata (no body needed): `first` when it is a 200, else a
        plain HEAD (a 304/412 carries only some of the object's headers)."""
        first.discard()
        if first.status != 200:
            first = call(self.app, make_environ(environ, 'HEAD', environ['PATH_INFO'],
                                                source=SOURCE))
            first.discard()
            if first.status != 200 or am.FORMAT_HEADER.lower() not in first.headers:
                raise Reply(first.status if first.status // 100 == 4 else 503,
                            'The object cannot be read (%d)' % first.status)
        lower = first.headers
        try:
            length = int(lower.get(am.LENGTH_HEADER.lower(), ''))
        except ValueError:
            raise Reply(409, 'The stored append manifest is not valid: bad length')
        return _Summary(length, lower.get(am.ETAG_HEADER.lower(), '')), first.header_list

    # -- GET / HEAD ---------------------------------------------------------

    def read(self, environ, start_response, names):
        first = call(self.app, environ)
        if am.FORMAT_HEADER.lower() not in first.headers or first.status // 100 not in (2, 3) \
                and first.status not in (412, 416):
            return first.respond(start_response)
        try:
            if environ['REQUEST_METHOD'] == 'HEAD':
                manifest, headers = self._summary(environ, first)
            else:
                manifest, headers = self._manifest(environ, *names, first=first)
        except Reply as reply:
            return _error(environ, start_response, reply.status, reply.reason)
        return self.serve(environ, start_response, names, manifest, headers)

    def serve(self, environ, start_response, names, manifest, manifest_headers):
        lower = {k.lower(): v for k, v in manifest_headers}
        method = environ['REQUEST_METHOD']
        total, etag = manifest.length, manifest.etag
        # The manifest's own state is not the served object's: a copy (the copy
        # middleware keeps system metadata) must not become a broken manifest.
        out = [(k, v) for k, v in manifest_headers if k.lower() not in _REPLACED
               and not k.lower().startswith(_STATE_SYSMETA)]
        out += [('Accept-Ranges', 'bytes'), ('X-Append-Length', str(total))]
        if environ.get(SOURCE_KEY) != COPY_SOURCE:
            # (A copy's source answer carries no ETag: the copy middleware would
            # make the object servers check the chained ETag against the MD5.)
            out.append(('Etag', '"%s"' % etag))
        request = EnvironHeaders(environ)
        last_modified = conditional.parse_http_date(lower.get('last-modified')) or 0
        decided = conditional.evaluate(request, etag, last_modified, method)
        if decided == 304:
            start_response('304 Not Modified', out)
            return [b'']
        if decided == 412:
            return _error(environ, start_response, 412, '', dict(out))
        spans, status = [(0, total)], '200 OK'
        range_header = request.get('Range')
        if range_header and conditional.if_range_allows(request.get('If-Range'), etag,
                                                        last_modified):
            try:
                resolved = ranges.resolve_ranges(range_header, total)
            except RangeNotSatisfiable as err:
                return _error(environ, start_response, 416, err.reason,
                              dict(out, **err.headers))
            if resolved:
                spans, status = resolved, '206 Partial Content'
        ctype = lower.get('content-type', 'application/octet-stream')
        if len(spans) == 1:
            start, stop = spans[0]
            if status.startswith('206'):
                out.append(('Content-Range', ranges.content_range(start, stop, total)))
            out.append(('Content-Length', str(stop - start)))
            body = None
        else:
            boundary = ranges.new_boundary()
            out = [(k, v) for k, v in out if k.lower() != 'content-type']
            out += [('Content-Type', ranges.multipart_content_type(boundary)),
                    ('Content-Length', str(ranges.multipart_length(spans, boundary, ctype,
                                                                   total)))]
            body = _Multipart(self, environ, names, manifest, spans, boundary, ctype)
        if method == 'HEAD':
            start_response(status, out)
            return [b'']
        if body is None:
            body = self.stream(environ, names, manifest, *spans[0])
        try:
            body.prime()
        except SwiftlikeError as err:
            body.close()
            self.logger.warning('Appendable object %s: %s', '/'.join(names), err.reason)
            return _error(environ, start_response, err.http_status,
                          'A piece of the object cannot be read: %s' % err.reason)
        start_response(status, out)
        return body

    def stream(self, environ, names, manifest, start, stop):
        account = names[0]
        pieces = [Segment(*p) for p in manifest.pieces]

        def fetch(segment, first, last):
            headers = {}
            if first or last != segment.size:
                headers['Range'] = 'bytes=%d-%d' % (first, last - 1)
            sub = make_environ(environ, 'GET',
                               object_path(account, manifest.container, segment.name),
                               headers=headers, source=SOURCE)
            sub[WRITE_ONCE_READ_KEY] = True     # a piece is never overwritten
            return call(self.app, sub)
        return _PrefetchingStream(fetch, list(segment_slices(pieces, start, stop)),
                                  '/'.join(names), self.logger, self.conf.max_get_time)

    # -- DELETE -------------------------------------------------------------

    def delete(self, environ, start_response, names):
        account, container, obj = names
        # The object servers answer a DELETE with the deleted object's system
        # metadata: an appendable one's pieces go after it. A plain DELETE
        # costs nothing more (no lookup beforehand).
        resp = call(self.app, environ)
        if resp.status // 100 == 2 and am.FORMAT_HEADER.lower() in resp.headers:
            resp.discard()
            self.delete_pieces(environ, account, container, obj)
            start_response(resp.status_line, resp.header_list)
            return [b'']
        return resp.respond(start_response)

    def delete_pieces(self, environ, account, container, obj):
        """Every piece of the object (those of its last manifest and any a
        failed append left), by listing the segments container."""
        segments = am.segments_container(container)
        appender = Appender(self, environ, account, container, obj)
        marker = ''
        while True:
            env = make_environ(environ, 'GET', object_path(account, segments),
                               {'format': 'json', 'prefix': am.piece_prefix(obj),
                                'limit': str(LISTING_PAGE), 'marker': marker}, source=SOURCE)
            resp = call(self.app, env)
            if resp.status != 200:
                resp.discard()
                return
            try:
                items = json.loads(resp.read(64 * 1024 * 1024))
            except ValueError:
                return
            found = [i['name'] for i in items if isinstance(i, dict) and
                     isinstance(i.get('name'), str)]
            appender.delete_pieces([n for n in found if am.is_piece_of(obj, n)])
            if len(items) < LISTING_PAGE or not found:
                return
            marker = found[-1]


class _PrefetchingStream(SegmentStream):
    """A SegmentStream that asks for the next piece while the current one
    streams, so a piece's backend round trip does not stall the body."""

    def __init__(self, fetch, slices, name, logger, max_time):
        self.ahead = None     # ((segment, first, stop), green thread) of the next piece
        self.items = slices
        self.iterating = False
        super().__init__(self._fetch, slices, name, logger, max_time)
        self.raw_fetch = fetch

    def _fetch(self, segment, first, stop):
        key = (segment, first, stop)
        if self.ahead is not None and self.ahead[0] == key:
            resp = self.ahead[1].wait()
            self.ahead = None
        else:
            self._drop_ahead()
            resp = self.raw_fetch(segment, first, stop)
        index = next((i for i, item in enumerate(self.items) if tuple(item) == key), None)
        if index is not None and index + 1 < len(self.items):
            following = tuple(self.items[index + 1])
            self.ahead = (following, spawn(self.raw_fetch, *following))
        return resp

    def _drop_ahead(self):
        if self.ahead is not None:
            _key, thread = self.ahead
            self.ahead = None
            try:
                thread.wait().close()
            except Exception:  # noqa: BLE001 - a failed prefetch was never used
                pass

    def __iter__(self):
        self.iterating = True
        try:
            yield from super().__iter__()
        finally:
            self.iterating = False
            self._drop_ahead()

    def close(self):
        # (SegmentStream closes each piece's answer with close() as it goes.)
        super().close()
        if not self.iterating:
            self._drop_ahead()


class _Summary:
    """What a HEAD needs of a manifest."""

    def __init__(self, length, etag):
        self.length = length
        self.etag = etag


class _Multipart:
    """A multipart/byteranges body over several spans of the object."""

    def __init__(self, mw, environ, names, manifest, spans, boundary, ctype):
        self.mw, self.environ, self.names, self.manifest = mw, environ, names, manifest
        self.spans, self.boundary, self.ctype = spans, boundary, ctype
        self.current = None
        self.primed = None

    def prime(self):
        start, stop = self.spans[0]
        self.primed = self.mw.stream(self.environ, self.names, self.manifest, start, stop)
        self.primed.prime()

    def __iter__(self):
        total = self.manifest.length
        try:
            for index, (start, stop) in enumerate(self.spans):
                yield ranges.multipart_part_header(self.boundary, self.ctype, start, stop,
                                                   total)
                if index == 0 and self.primed is not None:
                    self.current, self.primed = self.primed, None
                else:
                    self.current = self.mw.stream(self.environ, self.names, self.manifest,
                                                  start, stop)
                yield from self.current
                yield ranges.PART_END
            yield ranges.multipart_trailer(self.boundary)
        finally:
            self.close()

    def close(self):
        for stream in (self.current, self.primed):
            if stream is not None:
                stream.close()


filter_factory = make_filter_factory(AppendableObjects, Conf)
