"""One body made of many segment objects (large objects).

Pure parts: which bytes of which segments a byte range of the whole covers
(segment_slices), and the large object's ETag (the MD5 of its segments'
ETags). SegmentStream fetches the segments one after another (each through a
`fetch` callback, i.e. a subrequest) and streams their bytes; a segment that
is missing, changed (ETag or length not as listed) or cut short ends the body
with a SegmentError.
"""
import collections
import hashlib
import time

from swiftlike import concurrency
from swiftlike.exceptions import SwiftlikeError

# One listed segment: its object name, size in bytes and ETag (no quotes).
Segment = collections.namedtuple('Segment', 'name size etag')


class SegmentError(SwiftlikeError):
    """A segment could not be served as listed (409: it changed or is not
    readable; 503: the cluster failed to give it)."""

    def __init__(self, reason, status=409):
        super().__init__(reason)
        self.http_status = status


def unquote_etag(value):
    return (value or '').strip().strip('"')


def large_object_etag(etags):
    """The ETag (hex, unquoted) of the concatenation of segments with these
    ETags: the MD5 of the ETags written one after another."""
    md5 = hashlib.md5()
    for etag in etags:
        md5.update(unquote_etag(etag).encode('utf-8'))
    return md5.hexdigest()


def segment_slices(segments, start, stop, offset=0):
    """The parts of `segments` (Segments, in order, the first one starting at
    byte `offset` of the whole) that make bytes [start, stop) of the whole:
    yields (segment, first, stop_in_segment). Empty segments are skipped;
    the iteration stops at the segment that reaches `stop`, so a lazy
    `segments` is read no further than needed."""
    if stop <= start:
        return
    for segment in segments:
        seg_start, seg_stop = offset, offset + segment.size
        offset = seg_stop
        if seg_stop <= start or segment.size <= 0:
            continue
        yield segment, max(start, seg_start) - seg_start, min(stop, seg_stop) - seg_start
        if seg_stop >= stop:
            return


class SegmentStream:
    """Iterates the bytes of `slices` ((segment, first, stop) as from
    segment_slices), fetching each with `fetch(segment, first, stop)` -> a
    SubResponse.

    Pacing as Swift's: from the `rate_limit_after`-th segment on, at most
    `rate_limit_per_sec` segments start per second (0: no limit); with
    `limit_if(segment, first, stop)`, only the segments it names are counted
    and paced (SLO: the small ones); no segment starts after `max_time`
    seconds. prime() opens the first segment before
    the client's response starts, so that a missing first segment is still
    an error status rather than an empty body.
    """

    clock = staticmethod(time.monotonic)
    sleep = staticmethod(concurrency.sleep)

    def __init__(self, fetch, slices, name, logger, max_time=0, rate_limit_after=0,
                 rate_limit_per_sec=0, limit_if=None):
        self.fetch = fetch
        self.slices = iter(slices)
        self.name = name
        self.logger = logger
        self.max_time = max_time
        self.rate_limit_after = rate_limit_after
        self.rate_limit_per_sec = rate_limit_per_sec
        self.limit_if = limit_if
        self.started = self.clock()
        self.limited_since = None
        self.count = 0
        self.sent = 0
        self.current = None
        self.primed = None

    def _pace(self, item):
        now = self.clock()
        if self.max_time and now - self.started > self.max_time:
            raise SegmentError('took longer than %gs (max_get_time)' % self.max_time, 503)
        if self.limit_if is not None and not self.limit_if(*item):
            return
        if self.rate_limit_per_sec and self.count >= self.rate_limit_after:
            if self.limited_since is None:
                self.limited_since = now
            wait = (self.limited_since + (self.count - self.rate_limit_after)
                    / self.rate_limit_per_sec - now)
            if wait > 0:
                self.sleep(wait)
        self.count += 1

    def _open(self):
        """The next (segment, response, expected length), or None at the end."""
        item = next(self.slices, None)
        if item is None:
            return None
        segment, first, stop = item
        self._pace(item)
        resp = self.fetch(segment, first, stop)
        self.current = resp
        whole = first == 0 and stop == segment.size
        length = resp.headers.get('content-length')
        problem = None
        if resp.status // 100 != 2:
            problem = 'status %d' % resp.status
        elif resp.status != (200 if whole else 206) or \
                resp.headers.get('content-type', '').startswith('multipart/'):
            problem = 'unexpected status %d' % resp.status
        elif unquote_etag(resp.headers.get('etag')) != segment.etag:
            problem = 'its ETag is %s, listed as %s' % (
                unquote_etag(resp.headers.get('etag'))[:64] or 'missing', segment.etag[:64])
        elif length is not None and length != str(stop - first):
            problem = 'it is not the listed size %d' % segment.size
        if problem:
            self.close()
            status = 503 if resp.status >= 500 else 409
            raise SegmentError('segment %s: %s' % (segment.name, problem), status)
        return segment, resp, stop - first

    def prime(self):
        """Open the first segment now (SegmentError if it cannot be served)."""
        self.primed = self._open() or ()

    def __iter__(self):
        try:
            item, self.primed = self.primed, None
            while True:
                if item is None:
                    item = self._open()
                if not item:
                    return
                segment, resp, expected = item
                got = 0
                chunks = iter(resp)
                while got < expected:
                    try:
                        chunk = next(chunks, b'')
                    except SwiftlikeError as err:
                        raise SegmentError('segment %s: reading failed: %s'
                                           % (segment.name, err.reason), 503)
                    if not chunk:
                        break
                    chunk = chunk[:expected - got]
                    got += len(chunk)
                    self.sent += len(chunk)
                    yield chunk
                self.close()
                if got < expected:
                    raise SegmentError('segment %s ended after %d of %d bytes'
                                       % (segment.name, got, expected), 503)
                item = None
        except SegmentError as err:
            self.logger.warning('Large object %s: %s; its body ends after %d bytes',
                                self.name, err.reason, self.sent)
            raise
        finally:
            self.close()

    def close(self):
        if self.current is not None:
            current, self.current = self.current, None
            current.close()
