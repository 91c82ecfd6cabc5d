"""Dynamic large objects (Swift's DLO), as a proxy middleware.

A manifest is an object written with `X-Object-Manifest: <container>/<prefix>`
(URL-quoted UTF-8 allowed). A GET or HEAD of it answers for the concatenation
of the objects of <container> whose names start with <prefix>, in name order
(as a container listing gives them, page after page): Content-Length is the
sum of their sizes, ETag the quoted MD5 of their ETags, and Range (one range:
206; several: the whole body, as Swift), If-Match, If-None-Match and their
friends apply to that. `?multipart-manifest=get` reads or copies the manifest
object itself. A copy of a manifest (the copy middleware's GET of the source
passes through here) is a plain object with the concatenated content.

Everything is read with subrequests through the rest of the pipeline, with
the requester's identity, so container ACLs decide whether the segments may
be read (a 401/403 on the listing is the answer). A segment below this
middleware is never expanded again, so a manifest whose prefix matches
itself reads its own stored bytes: no loop. The body streams segment by
segment; one that vanished or changed since it was listed ends the body early
(logged).
"""
import dataclasses
import hashlib
import json
from urllib.parse import parse_qsl, unquote_to_bytes

from swiftlike import conditional, ranges
from swiftlike.constraints import (CONTAINER_LISTING_LIMIT, MAX_CONTAINER_NAME_LENGTH,
                                   MAX_OBJECT_NAME_LENGTH)
from swiftlike.exceptions import BadRequest, Conflict, RangeNotSatisfiable, SwiftlikeError
from swiftlike.http import make_response
from swiftlike.logs import get_logger
from swiftlike.middleware import info
from swiftlike.middleware.filters import make_filter_factory
from swiftlike.middleware.segments import (Segment, SegmentError, SegmentStream,
                                           segment_slices, unquote_etag)
from swiftlike.middleware.subrequest import call, make_environ, object_names, object_path
from swiftlike.middleware.toolkit import EnvironHeaders
from swiftlike.paths import wsgi_to_str
from swiftlike.proxy.unsupported import FEATURES_KEY

SOURCE = 'DLO'
MANIFEST_HEADER = 'x-object-manifest'
# Segments asked for per listing subrequest (the container servers' limit).
LISTING_PAGE = CONTAINER_LISTING_LIMIT
# A listing page is read whole: more than this many bytes is not a listing.
MAX_LISTING_BYTES = 64 * 1024 * 1024
# Headers of the manifest that do not describe the large object.
_REPLACED = frozenset(('content-length', 'etag', 'content-range', 'accept-ranges',
                       'transfer-encoding'))


@dataclasses.dataclass
class Conf:
    # From the N-th segment of one GET on, segments start at most
    # rate_limit_segments_per_sec times a second (0: no limit).
    rate_limit_after_segment: int = 10
    rate_limit_segments_per_sec: float = 1.0
    # Seconds one GET of a large object may take; the body ends after that.
    max_get_time: float = 86400.0
    log_level: str = 'INFO'
    log_file: str = ''

    def validate(self):
        if self.rate_limit_after_segment < 0 or self.rate_limit_segments_per_sec < 0:
            raise ValueError('rate limits must not be negative')
        if self.max_get_time <= 0:
            raise ValueError('max_get_time must be positive')


def parse_manifest(value):
    """An X-Object-Manifest value (a WSGI string) -> (container, prefix) as
    real str; BadRequest with the reason when it is not <container>/<prefix>."""
    fmt = 'X-Object-Manifest must be <container>/<prefix> (URL-quoted UTF-8)'
    if value is None or not value.strip():
        raise BadRequest('%s, not empty' % fmt)
    if '?' in value or '&' in value:
        raise BadRequest('%s, without a query string' % fmt)
    try:
        text = unquote_to_bytes(value.encode('latin-1')).decode('utf-8')
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise BadRequest('%s: it is not valid UTF-8' % fmt)
    if '\x00' in text:
        raise BadRequest('%s: it contains a NUL' % fmt)
    container, sep, prefix = text.partition('/')
    if not container:
        raise BadRequest('%s: the container is missing' % fmt)
    if not sep or not prefix:
        raise BadRequest('%s: the prefix is missing' % fmt)
    if prefix.startswith('/'):
        raise BadRequest('%s: the prefix starts with a slash' % fmt)
    if len(container.encode('utf-8')) > MAX_CONTAINER_NAME_LENGTH:
        raise BadRequest('%s: the container name is too long' % fmt)
    if len(prefix.encode('utf-8')) > MAX_OBJECT_NAME_LENGTH:
        raise BadRequest('%s: the prefix is too long' % fmt)
    return container, prefix


def parse_listing(body):
    """A JSON container listing page -> [Segment]; ValueError if it is not one."""
    items = json.loads(body)
    if not isinstance(items, list):
        raise ValueError('not a list')
    out = []
    for item in items:
        if not isinstance(item, dict) or 'name' not in item:
            continue   # a subdir, which a listing without delimiter has not
        size = item.get('bytes')
        if not isinstance(item['name'], str) or not isinstance(size, int) or size < 0:
            raise ValueError('bad listing entry')
        out.append(Segment(item['name'], size, unquote_etag(str(item.get('hash', '')))))
    return out


def page_digest(segments):
    """What a listing page said, in 16 bytes: a page listed again must match it."""
    md5 = hashlib.md5()
    for seg in segments:
        md5.update(('%s\x00%d\x00%s\n' % (seg.name, seg.size, seg.etag)).encode('utf-8'))
    return md5.digest()


class ListingError(SwiftlikeError):
    """The segment listing failed (http_status: what the client is told)."""

    def __init__(self, reason, status):
        super().__init__(reason)
        self.http_status = status


class Listing:
    """The segments of one manifest, listed page by page with subrequests."""

    def __init__(self, app, environ, account, container, prefix, page_size=None):
        self.app = app
        self.environ = environ
        self.account = account
        self.container = container
        self.prefix = prefix
        self.page_size = page_size or LISTING_PAGE

    def page(self, marker):
        query = {'format': 'json', 'prefix': self.prefix, 'limit': str(self.page_size)}
        if marker:
            query['marker'] = marker
        env = make_environ(self.environ, 'GET', object_path(self.account, self.container),
                           query, source=SOURCE)
        resp = call(self.app, env)
        if resp.status in (401, 403, 404):
            reason = resp.read(65536).decode('utf-8', 'replace').strip()
            raise ListingError(reason or 'Segment listing: status %d' % resp.status,
                               resp.status)
        if resp.status == 204:
            resp.close()
            return []
        if resp.status != 200:
            resp.close()
            raise ListingError('Segment listing of %s: status %d'
                               % (self.container, resp.status), 503 if resp.status >= 500
                               else 409)
        try:
            return parse_listing(resp.read(MAX_LISTING_BYTES))
        except (ValueError, SwiftlikeError) as err:
            raise ListingError('Segment listing of %s unreadable: %s'
                               % (self.container, getattr(err, 'reason', err)), 503)


class Summary:
    """A large object's size and ETag, from one pass over its listing.

    Memory stays bounded: a single page's segments are kept (the usual case,
    streamed without listing again); of more pages, only a digest of each,
    and the GET lists them again, checking each page against its digest."""

    def __init__(self, listing):
        self.listing = listing
        self.pages = []         # (marker, segment count, bytes, digest)
        self.kept = None
        self.size = 0
        md5 = hashlib.md5()
        marker = ''
        while True:
            segments = listing.page(marker)
            size = sum(seg.size for seg in segments)
            self.pages.append((marker, len(segments), size, page_digest(segments)))
            self.size += size
            for seg in segments:
                md5.update(seg.etag.encode('utf-8'))
            if len(self.pages) == 1:
                self.kept = segments
            elif segments:
                self.kept = None
            if len(segments) < listing.page_size:
                break
            marker = segments[-1].name
        self.etag = md5.hexdigest()

    def segments_from(self, start):
        """(segments, offset of the first): the segments from the one holding
        byte `start` on (lazily listed again when there were several pages)."""
        if self.kept is not None:
            return iter(self.kept), 0
        offset = 0
        index = 0
        for index, (_m, _n, size, _d) in enumerate(self.pages):
            if offset + size > start:
                break
            offset += size
        return self._relist(index), offset

    def _relist(self, index):
        for marker, count, _size, digest in self.pages[index:]:
            try:
                segments = self.listing.page(marker)
            except ListingError as err:
                raise SegmentError('listing again: %s' % err.reason, err.http_status)
            if len(segments) != count or page_digest(segments) != digest:
                raise SegmentError('the segment listing changed while it was read')
            yield from segments


def _error(environ, start_response, status, reason, headers=None):
    return make_response(status, reason, headers)(environ, start_response)


class DynamicLargeObject:
    def __init__(self, app, conf):
        self.app = app
        self.conf = conf
        self.logger = get_logger('proxy-server', conf.log_level, conf.log_file or None)
        info.register('dlo', max_get_time=conf.max_get_time,
                      rate_limit_after_segment=conf.rate_limit_after_segment,
                      rate_limit_segments_per_sec=conf.rate_limit_segments_per_sec)

    def __call__(self, environ, start_response):
        features = environ.get(FEATURES_KEY)
        if not isinstance(features, set):
            features = environ[FEATURES_KEY] = set(features or ())
        features.add('dlo')
        names = object_names(environ.get('PATH_INFO', ''))
        if names is None:
            return self.app(environ, start_response)
        method = environ.get('REQUEST_METHOD')
        query = dict(parse_qsl(environ.get('QUERY_STRING', ''), keep_blank_values=True))
        manifest_itself = query.get('multipart-manifest') == 'get'
        value = environ.get('HTTP_X_OBJECT_MANIFEST')
        if value is not None and method in ('PUT', 'POST'):
            try:
                parse_manifest(value)
            except BadRequest as err:
                return _error(environ, start_response, 400, err.reason)
        if manifest_itself:
            return self.app(environ, start_response)
        if method in ('GET', 'HEAD'):
            return self.read(environ, start_response, names[0])
        return self.app(environ, start_response)

    # -- GET / HEAD ---------------------------------------------------------

    def read(self, environ, start_response, account):
        first = call(self.app, environ)
        if not first.headers.get(MANIFEST_HEADER):
            return first.respond(start_response)
        multipart = first.headers.get('content-type', '').startswith('multipart/')
        if first.status == 200 or (first.status == 206 and not multipart):
            first.discard()
            headers = first.header_list
        elif first.status in (206, 304, 412, 416):
            # The manifest's own ETag or size decided: its plain headers.
            first.discard()
            probe = call(self.app, make_environ(environ, 'HEAD', environ['PATH_INFO'],
                                                source=SOURCE))
            probe.discard()
            if probe.status != 200 or not probe.headers.get(MANIFEST_HEADER):
                return self.app(environ, start_response)
            headers = probe.header_list
        else:
            return first.respond(start_response)
        return self.serve(environ, start_response, account, headers)

    def serve(self, environ, start_response, account, manifest_headers):
        lower = {k.lower(): v for k, v in manifest_headers}
        method = environ['REQUEST_METHOD']
        path = environ['PATH_INFO']
        try:
            summary = self._summary(environ, account, lower[MANIFEST_HEADER])
        except (ListingError, Conflict) as err:
            return _error(environ, start_response, err.http_status, err.reason)
        total = summary.size
        etag = summary.etag
        out = [(k, v) for k, v in manifest_headers if k.lower() not in _REPLACED]
        out += [('Etag', '"%s"' % etag), ('Accept-Ranges', 'bytes')]
        request = EnvironHeaders(environ)
        last_modified = conditional.parse_http_date(lower.get('last-modified')) or 0
        decided = conditional.evaluate(request, etag, last_modified, method)
        if decided == 304:
            start_response('304 Not Modified', out)
            return [b'']
        if decided == 412:
            return _error(environ, start_response, 412, '', dict(out))
        start, stop, status = 0, total, '200 OK'
        range_header = request.get('Range')
        if method == 'GET' and range_header and conditional.if_range_allows(
                request.get('If-Range'), etag, last_modified):
            try:
                spans = ranges.resolve_ranges(range_header, total)
            except RangeNotSatisfiable as err:
                return _error(environ, start_response, 416, err.reason,
                              dict(out, **err.headers))
            if spans and len(spans) == 1:
                (start, stop), status = spans[0], '206 Partial Content'
                out.append(('Content-Range', ranges.content_range(start, stop, total)))
        out.append(('Content-Length', str(stop - start)))
        if method == 'HEAD':
            start_response(status, out)
            return [b'']
        stream = self._stream(environ, account, lower[MANIFEST_HEADER], summary, start, stop,
                              wsgi_to_str(path))
        try:
            stream.prime()
        except SwiftlikeError as err:
            self.logger.warning('Large object %s: %s', wsgi_to_str(path), err.reason)
            return _error(environ, start_response, err.http_status,
                          'A segment of the large object cannot be read: %s' % err.reason)
        start_response(status, out)
        return stream

    def _summary(self, environ, account, manifest):
        try:
            container, prefix = parse_manifest(manifest)
        except BadRequest as err:
            raise Conflict('The stored manifest is not valid: %s' % err.reason)
        return Summary(Listing(self.app, environ, account, container, prefix))

    def _stream(self, environ, account, manifest, summary, start, stop, name):
        container, _prefix = parse_manifest(manifest)
        segments, offset = summary.segments_from(start)

        def fetch(segment, first, last):
            headers = {}
            if first or last != segment.size:
                headers['Range'] = 'bytes=%d-%d' % (first, last - 1)
            env = make_environ(environ, 'GET', object_path(account, container, segment.name),
                               headers=headers, source=SOURCE)
            return call(self.app, env)
        conf = self.conf
        return SegmentStream(fetch, segment_slices(segments, start, stop, offset), name,
                             self.logger, conf.max_get_time, conf.rate_limit_after_segment,
                             conf.rate_limit_segments_per_sec)

filter_factory = make_filter_factory(DynamicLargeObject, Conf)
