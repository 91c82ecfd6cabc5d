"""Reading a static large object: GET and HEAD of a manifest.

The manifest's own answer (through the rest of the pipeline) says whether an
object is an SLO: its system metadata carries the large object's ETag and
size. HEAD needs nothing more. A GET reads the stored manifest and streams
the bytes asked for (all, one range, several ranges as multipart/byteranges,
or one top-level part with `?part-number=N`) segment by segment with
segments.SegmentStream: nested manifests are opened as the stream reaches
them (each checked against the ETag listed for it, at most MAX_DEPTH deep),
inline data segments are served from the manifest. Conditions (If-Match,
If-None-Match, ...) and If-Range are judged against the large object's ETag.
"""
import collections
from urllib.parse import parse_qsl, urlencode

from swiftlike import conditional, ranges
from swiftlike.constraints import is_decimal
from swiftlike.exceptions import (BadRequest, Conflict, PreconditionFailed, RangeNotSatisfiable,
                                  ServiceUnavailable, SwiftlikeError)
from swiftlike.middleware import slo_manifest as manifest
from swiftlike.middleware.segments import SegmentError, SegmentStream, unquote_etag
from swiftlike.middleware.slo_manifest import SLO_ETAG, SLO_SIZE
from swiftlike.middleware.subrequest import SubResponse, call, make_environ, object_path
from swiftlike.middleware.toolkit import EnvironHeaders

SOURCE = 'SLO'
# Manifests nested deeper than this are not followed (409).
MAX_DEPTH = 10
# Headers of the manifest object that do not describe the large object.
REPLACED = frozenset(('content-length', 'etag', 'content-range', 'accept-ranges',
                      'transfer-encoding', 'x-static-large-object', 'x-manifest-etag'))
# What Swift answers (its default 409 page) when manifests nest too deeply:
# clients and Swift's tests compare it.
TOO_DEEP_BODY = ('<html><h1>Conflict</h1><p>There was a conflict when trying to complete '
                 'your request.</p></html>')
PART_NUMBER_INVALID = 'Part number must be an integer greater than 0'
PART_NUMBER_UNSATISFIABLE = 'The requested part number is not satisfiable'

# An inline data segment, served from the manifest itself.
DataSegment = collections.namedtuple('DataSegment', 'name size etag data')
ObjectSegment = collections.namedtuple('ObjectSegment', 'name size etag path')


class TooDeep(SegmentError):
    """Manifests nested more than MAX_DEPTH deep (409)."""


def is_slo(headers):
    """Whether a response's headers (lower-case dict) are an SLO manifest's."""
    return SLO_ETAG in headers


def strip_swift_bytes(content_type):
    parts = [p for p in content_type.split(';')
             if not p.strip().lower().startswith('swift_bytes=')]
    return ';'.join(parts)


def large_object_headers(header_list):
    """The client's view of a manifest's headers: the large object's ETag,
    with X-Static-Large-Object and X-Manifest-Etag (no length yet)."""
    lower = {k.lower(): v for k, v in header_list}
    out = []
    for name, value in header_list:
        lname = name.lower()
        if lname in REPLACED:
            continue
        if lname == 'content-type':
            value = strip_swift_bytes(value)
        out.append((name, value))
    out += [('Etag', '"%s"' % lower[SLO_ETAG].strip('"')), ('X-Static-Large-Object', 'True'),
            ('X-Manifest-Etag', unquote_etag(lower.get('etag'))), ('Accept-Ranges', 'bytes')]
    return out


def parse_part_number(value):
    """?part-number=N -> N; BadRequest unless a positive integer."""
    value = (value or '').strip()
    if not is_decimal(value) or int(value) < 1:
        raise BadRequest(PART_NUMBER_INVALID)
    return int(value)


class Expander:
    """Turns a manifest's entries into the pieces of bytes [start, stop) of
    the large object, opening nested manifests as they are reached."""

    def __init__(self, slo, env, account):
        self.slo = slo
        self.app = slo.app
        self.env = env
        self.account = account

    def read_manifest(self, name, expected_etag=None):
        """The entries of the manifest `name` ('/container/object'); with
        `expected_etag`, it must be an SLO with that ETag. SegmentError else."""
        container, obj = manifest.split_segment_path(name)
        env = make_environ(self.env, 'GET', object_path(self.account, container, obj),
                           source=SOURCE)
        resp = call(self.app, env)
        if resp.status // 100 != 2:
            resp.close()
            raise SegmentError('sub-manifest %s: status %d' % (name, resp.status),
                               503 if resp.status >= 500 else 409)
        if not is_slo(resp.headers) or (
                expected_etag is not None and
                resp.headers[SLO_ETAG].strip('"') != expected_etag.strip('"')):
            resp.close()
            raise SegmentError('sub-manifest %s is no longer the large object listed' % name)
        return self.entries_of(resp, name)

    def entries_of(self, resp, name):
        try:
            body = resp.read(self.slo.max_stored_manifest)
            return manifest.parse_stored(body)
        except (ValueError, TypeError, KeyError) as err:
            raise SegmentError('manifest %s is not valid: %s' % (name, err))
        except SwiftlikeError as err:
            raise SegmentError('manifest %s: reading failed: %s' % (name, err.reason), 503)

    def slices(self, entries, start, stop, depth=0):
        """(segment, first, stop) pieces for bytes [start, stop) of the large
        object made of `entries`."""
        if stop <= start:
            return
        offset = 0
        for entry in entries:
            length = manifest.entry_length(entry)
            e_start, e_stop = offset, offset + length
            offset = e_stop
            if e_stop <= start or length <= 0:
                continue
            if e_start >= stop:
                return
            first = entry.first + max(start, e_start) - e_start
            last = entry.first + min(stop, e_stop) - e_start
            if entry.data is not None:
                yield DataSegment('<data segment>', entry.bytes, entry.hash, entry.data), \
                    first, last
            elif entry.sub_slo:
                if depth + 1 >= MAX_DEPTH:
                    raise TooDeep('Max recursion depth exceeded', 409)
                sub = self.read_manifest(entry.name, entry.hash)
                if manifest.total_size(sub) != entry.bytes:
                    raise SegmentError('sub-manifest %s is not the listed size' % entry.name)
                yield from self.slices(sub, first, last, depth + 1)
            else:
                yield ObjectSegment(entry.name, entry.bytes, unquote_etag(entry.hash),
                                    entry.name), first, last

    def fetch(self, segment, first, stop):
        if isinstance(segment, DataSegment):
            data = segment.data[first:stop]
            whole = first == 0 and stop == segment.size
            return SubResponse(200 if whole else 206,
                               [('Etag', segment.etag), ('Content-Length', str(len(data)))],
                               [data])
        container, obj = manifest.split_segment_path(segment.path)
        headers = {}
        if first or stop != segment.size:
            headers['Range'] = 'bytes=%d-%d' % (first, stop - 1)
        env = make_environ(self.env, 'GET', object_path(self.account, container, obj),
                           headers=headers, source=SOURCE)
        return call(self.app, env)

    def stream(self, entries, start, stop, name):
        conf = self.slo.conf
        return SegmentStream(self.fetch, self.slices(entries, start, stop), name,
                             self.slo.logger, conf.max_get_time, conf.rate_limit_after_segment,
                             conf.rate_limit_segments_per_sec, limit_if=self.paced)

    def paced(self, segment, first, stop):
        """Whether reading this piece counts against the rate limit: only
        pieces of stored segments under rate_limit_under_size do, as in
        Swift (many small segments are what costs a cluster)."""
        return not isinstance(segment, DataSegment) and \
            stop - first < self.slo.conf.rate_limit_under_size


class LargeObjectGet:
    """GET/HEAD of an object that may be an SLO manifest."""

    def __init__(self, slo, env, names, part_number=None):
        self.slo = slo
        self.app = slo.app
        self.env = env
        self.names = names
        self.part_number = part_number
        self.method = env['REQUEST_METHOD']

    def __call__(self, start_response):
        env = self.env
        first = call(self.app, env)
        if not is_slo(first.headers):
            return first.respond(start_response)
        entries = None
        if first.status == 200 and (self.method == 'GET' or self.part_number is None):
            resp = first
        else:
            first.discard()
            method = 'GET' if self.part_number is not None else self.method
            # The same object as the client's request (its version-id, say),
            # whole: the part or the conditions are judged here.
            query = [(k, v) for k, v in parse_qsl(env.get('QUERY_STRING', ''),
                                                   keep_blank_values=True)
                     if k not in ('part-number', 'multipart-manifest')]
            resp = call(self.app, make_environ(env, method, env['PATH_INFO'],
                                               urlencode(query), source=SOURCE))
            if resp.status != 200 or not is_slo(resp.headers):
                resp.close()
                return self.app(env, start_response)
        headers = resp.header_list
        expander = Expander(self.slo, env, self.names[0])
        if self.method == 'GET' or self.part_number is not None:
            try:
                entries = expander.entries_of(resp, self.names[2])
            except SegmentError as err:
                return self.slo.error(env, start_response, err.http_status, err.reason)
        else:
            resp.discard()
        try:
            return self.answer(start_response, headers, entries, expander)
        except SwiftlikeError as err:
            return self.slo.error(env, start_response, err.http_status,
                                  err.reason if self.method == 'GET' else '', err.headers)

    def answer(self, start_response, header_list, entries, expander):
        env = self.env
        lower = {k.lower(): v for k, v in header_list}
        out = large_object_headers(header_list)
        etag = lower[SLO_ETAG].strip('"')
        if entries is not None:
            size = manifest.total_size(entries)
        else:
            size_text = lower.get(SLO_SIZE, '')
            size = int(size_text) if is_decimal(size_text) else 0
        last_modified = conditional.parse_http_date(lower.get('last-modified')) or 0
        request = EnvironHeaders(env)
        if self.part_number is not None:
            parse_part_number(self.part_number)
        decided = conditional.evaluate(request, etag, last_modified, self.method)
        if decided == 304:
            start_response('304 Not Modified', out)
            return [b'']
        if decided == 412:
            raise PreconditionFailed('', dict(out))
        spans, status = None, '200 OK'
        if self.part_number is not None:
            number = parse_part_number(self.part_number)
            out.append(('X-Parts-Count', str(len(entries))))
            span = manifest.part_span(entries, number)
            if span is None:
                raise RangeNotSatisfiable(PART_NUMBER_UNSATISFIABLE, dict(
                    out, **{'Content-Range': 'bytes */%d' % size}))
            spans = [span]
        else:
            range_header = request.get('Range')
            if self.method == 'GET' and range_header and conditional.if_range_allows(
                    request.get('If-Range'), etag, last_modified):
                try:
                    spans = ranges.resolve_ranges(range_header, size)
                except RangeNotSatisfiable as err:
                    raise RangeNotSatisfiable(err.reason, dict(out, **err.headers))
        multipart = None
        start, stop = 0, size
        if spans:
            status = '206 Partial Content'
            if len(spans) == 1:
                start, stop = spans[0]
                out.append(('Content-Range', ranges.content_range(start, stop, size)))
            else:
                multipart = spans
        if self.method == 'HEAD':
            out.append(('Content-Length', str(stop - start)))
            start_response(status, out)
            return [b'']
        name = '/'.join(self.names)
        if multipart:
            return self.multipart(start_response, status, out, entries, expander, spans, size,
                                  name)
        out.append(('Content-Length', str(stop - start)))
        stream = expander.stream(entries, start, stop, name)
        self.prime(stream, name)
        start_response(status, out)
        return stream

    def prime(self, stream, name):
        try:
            stream.prime()
        except SwiftlikeError as err:
            self.slo.logger.warning('Large object %s: %s', name, err.reason)
            if isinstance(err, TooDeep):
                raise Conflict(TOO_DEEP_BODY)
            raise Conflict('A segment of the large object cannot be read: %s' % err.reason) \
                if err.http_status < 500 else \
                ServiceUnavailable('A segment of the large object cannot be read: %s'
                                   % err.reason)

    def multipart(self, start_response, status, out, entries, expander, spans, size, name):
        ctype = dict((k.lower(), v) for k, v in out).get('content-type',
                                                          'application/octet-stream')
        boundary = ranges.new_boundary()
        out = [(k, v) for k, v in out if k.lower() != 'content-type']
        out += [('Content-Type', ranges.multipart_content_type(boundary)),
                ('Content-Length', str(ranges.multipart_length(spans, boundary, ctype, size)))]
        first = expander.stream(entries, spans[0][0], spans[0][1], name)
        self.prime(first, name)
        start_response(status, out)
        return _multipart_body(expander, entries, spans, size, boundary, ctype, first, name)


def _multipart_body(expander, entries, spans, size, boundary, ctype, first, name):
    stream = first
    try:
        for index, (start, stop) in enumerate(spans):
            if index:
                stream = expander.stream(entries, start, stop, name)
            yield ranges.multipart_part_header(boundary, ctype, start, stop, size)
            yield from stream
            yield ranges.PART_END
        yield ranges.multipart_trailer(boundary)
    finally:
        stream.close()
