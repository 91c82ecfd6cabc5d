"""Static large objects (Swift's SLO), as a proxy middleware.

A client uploads segments as ordinary objects, then PUTs a manifest with
`?multipart-manifest=put`: a JSON list of the segments (path, etag,
size_bytes, range; or inline base64 `data`), checked and stored (slo_put.py).
A GET or HEAD of the manifest answers for the concatenation (slo_get.py):
ETag = the quoted MD5 of the segments' ETags, Content-Length = their total,
X-Static-Large-Object: True, X-Manifest-Etag = the MD5 of the stored
manifest; ranges, conditions and `?part-number=N` apply to the large object.

- `?multipart-manifest=get` reads the stored manifest (JSON, as
  application/json), `&format=raw` in the form a PUT accepts;
- `DELETE ?multipart-manifest=delete` removes the segments (nested manifests'
  too) and then the manifest, answering like a bulk delete;
- a copy of an SLO is the assembled object (the copy middleware's GET of
  the source is served here); with `?multipart-manifest=get` the copy
  middleware reads the raw manifest and PUTs it again as a manifest at the
  destination, so its segments are checked there;
- container listings show a manifest with the large object's size and the
  manifest's MD5 as `hash`, the large object's ETag as `slo_etag`.

State lives in the manifest's system metadata (X-Object-Sysmeta-Slo-Etag,
-Slo-Size) and its listing override (X-Object-Sysmeta-Container-Update-
Override-Etag / -Content-Type with swift_bytes).
"""
import dataclasses
import json
import re
import time
from urllib.parse import parse_qsl, quote

from swiftlike import concurrency
from swiftlike.config import is_true
from swiftlike.constraints import is_decimal
from swiftlike.db.listing import choose_format
from swiftlike.exceptions import SwiftlikeError
from swiftlike.http import make_response
from swiftlike.logs import get_logger
from swiftlike.middleware import info
from swiftlike.middleware import slo_manifest as manifest
from swiftlike.middleware.bulk import CONTENT_TYPES, Summary, in_order
from swiftlike.middleware.filters import make_filter_factory
from swiftlike.middleware.segments import SegmentError
from swiftlike.middleware.slo_get import (Expander, LargeObjectGet, is_slo,
                                          strip_swift_bytes)
from swiftlike.middleware.slo_put import ManifestPut
from swiftlike.middleware.subrequest import call, make_environ, object_names, object_path
from swiftlike.middleware.toolkit import mark_feature

SOURCE = 'SLO'
RESERVED = ('X-Static-Large-Object is a reserved header. To create a static large object '
            'add query param multipart-manifest=put.')
# A manifest delete removes at most this many objects (nested manifests included).
MAX_DELETES = 10000
# Listings are read whole to be rewritten; larger ones pass as they are.
MAX_LISTING_BYTES = 64 * 1024 * 1024
_XML_HASH = re.compile(rb'<hash>([^<;]*);\s*slo_etag=([^<]*)</hash>')


@dataclasses.dataclass
class Conf:
    # Segments one manifest may list, and the bytes of its JSON.
    max_manifest_segments: int = 1000
    max_manifest_size: int = 8 * 1024 * 1024
    # Every segment but the last must be at least this many bytes.
    min_segment_size: int = 1
    # Seconds between the spaces a heartbeat=on PUT or a manifest delete
    # sends while it works.
    yield_frequency: float = 10.0
    # Segment HEADs of one manifest PUT, and DELETEs of one manifest delete,
    # running at once.
    concurrency: int = 2
    delete_concurrency: int = 2
    # From the N-th segment of one GET on, at most this many segments start
    # per second (0: no limit); a GET may take max_get_time seconds.
    rate_limit_after_segment: int = 10
    rate_limit_segments_per_sec: float = 1.0
    # Only reads of segments (or ranges of them) smaller than this are paced.
    rate_limit_under_size: int = 1048576
    max_get_time: float = 86400.0
    log_level: str = 'INFO'
    log_file: str = ''

    def validate(self):
        if self.max_manifest_segments < 1 or self.max_manifest_size < 2:
            raise ValueError('max_manifest_segments and max_manifest_size must be positive')
        if self.min_segment_size < 1:
            raise ValueError('min_segment_size must be at least 1')
        if self.yield_frequency < 0:
            raise ValueError('yield_frequency must not be negative')
        if not 1 <= self.concurrency <= 32 or not 1 <= self.delete_concurrency <= 32:
            raise ValueError('concurrency and delete_concurrency must be between 1 and 32')
        if self.rate_limit_after_segment < 0 or self.rate_limit_segments_per_sec < 0 or \
                self.rate_limit_under_size < 0:
            raise ValueError('rate limits must not be negative')
        if self.max_get_time <= 0:
            raise ValueError('max_get_time must be positive')




def split_listing_hash(item):
    """A JSON listing item whose hash carries '; slo_etag=X': hash and
    slo_etag ('"X"') apart. True when it changed the item."""
    value = item.get('hash') if isinstance(item, dict) else None
    if not isinstance(value, str) or 'slo_etag=' not in value:
        return False
    etag, _, params = value.partition(';')
    for param in params.split(';'):
        key, _, val = param.strip().partition('=')
        if key == 'slo_etag':
            item['slo_etag'] = '"%s"' % val.strip().strip('"')
    item['hash'] = etag.strip()
    return True


def rewrite_listing(body, content_type):
    """A container listing body with every manifest's slo_etag apart from
    its hash (JSON: a key of its own; XML: an element)."""
    if b'slo_etag=' not in body:
        return body
    if 'json' in content_type:
        try:
            items = json.loads(body)
        except ValueError:
            return body
        if not isinstance(items, list):
            return body
        changed = [split_listing_hash(item) for item in items]
        return json.dumps(items).encode('utf-8') if any(changed) else body
    if 'xml' in content_type:
        return _XML_HASH.sub(lambda m: b'<hash>%s</hash><slo_etag>&quot;%s&quot;</slo_etag>'
                             % (m.group(1).strip(), m.group(2).strip().strip(b'"')), body)
    return body


class StaticLargeObject:
    def __init__(self, app, conf):
        self.app = app
        self.conf = conf
        self.logger = get_logger('proxy-server', conf.log_level, conf.log_file or None)
        # The stored form adds a few fields to each item of the client's.
        self.max_stored_manifest = conf.max_manifest_size * 2 + \
            conf.max_manifest_segments * 2048
        info.register('slo', max_manifest_segments=conf.max_manifest_segments,
                      max_manifest_size=conf.max_manifest_size,
                      min_segment_size=conf.min_segment_size,
                      yield_frequency=conf.yield_frequency)

    def error(self, env, start_response, status, reason, headers=None):
        headers = dict(headers or {})
        ctype = None
        for key in [k for k in headers if k.lower() == 'content-type']:
            ctype = headers.pop(key)
        if reason:
            ctype = None        # the reason is plain text
        else:
            # A bodiless answer (a HEAD's) still says what its body would be.
            ctype = ctype or 'text/html; charset=UTF-8'
        return make_response(status, reason, headers, content_type=ctype)(env, start_response)

    def __call__(self, env, start_response):
        mark_feature(env, 'slo')
        path = env.get('PATH_INFO', '')
        method = env.get('REQUEST_METHOD')
        names = object_names(path)
        if names is None:
            if method == 'GET' and path.count('/') == 3 and not path.endswith('/'):
                return self.listing(env, start_response)
            return self.app(env, start_response)
        query = dict(parse_qsl(env.get('QUERY_STRING', ''), keep_blank_values=True))
        multipart = query.get('multipart-manifest', '').strip().lower()
        if method == 'PUT':
            if multipart == 'put':
                return ManifestPut(self, env, names)(start_response)
            if is_true(env.get('HTTP_X_STATIC_LARGE_OBJECT')):
                return self.error(env, start_response, 400, RESERVED)
            return self.app(env, start_response)
        if method in ('GET', 'HEAD'):
            if multipart == 'get':
                return self.manifest_get(env, start_response, query)
            return LargeObjectGet(self, env, names, query.get('part-number'))(start_response)
        if method == 'DELETE' and multipart == 'delete':
            return self.delete(env, start_response, names)
        return self.app(env, start_response)

    # -- the manifest itself --------------------------------------------------------

    def manifest_get(self, env, start_response, query):
        raw = query.get('format', '').lower() == 'raw'
        if raw and env['REQUEST_METHOD'] == 'HEAD':
            sub = dict(env, REQUEST_METHOD='GET')
            resp = call(self.app, sub)
        else:
            resp = call(self.app, env)
        if not is_slo(resp.headers):
            return resp.respond(start_response)
        headers = [(k, v) for k, v in resp.header_list
                   if k.lower() not in ('x-static-large-object', 'content-type')]
        headers.append(('X-Static-Large-Object', 'True'))
        if not raw or resp.status != 200:
            headers.append(('Content-Type', 'application/json; charset=utf-8'))
            return resp.respond(start_response, headers)
        try:
            body = manifest.to_raw(resp.read(self.max_stored_manifest))
        except (ValueError, TypeError, KeyError, SwiftlikeError) as err:
            return self.error(env, start_response, 409,
                              'The stored manifest is not valid: %s' % err)
        ctype = strip_swift_bytes(resp.headers.get('content-type', 'application/octet-stream'))
        headers = [(k, v) for k, v in headers
                   if k.lower() not in ('etag', 'content-length', 'content-range')]
        headers += [('Content-Type', ctype), ('Etag', manifest.data_etag(body)),
                    ('Content-Length', str(len(body)))]
        start_response('200 OK', headers)
        return [b''] if env['REQUEST_METHOD'] == 'HEAD' else [body]

    # -- listings ----------------------------------------------------------------------

    def listing(self, env, start_response):
        resp = call(self.app, env)
        ctype = resp.headers.get('content-type', '')
        length = resp.headers.get('content-length', '')
        if resp.status != 200 or not ('json' in ctype or 'xml' in ctype) or \
                not is_decimal(length) or int(length) > MAX_LISTING_BYTES:
            return resp.respond(start_response)
        try:
            body = resp.read(MAX_LISTING_BYTES)
        except (ValueError, SwiftlikeError) as err:
            return self.error(env, start_response, 503, 'Listing unreadable: %s'
                              % getattr(err, 'reason', err))
        body = rewrite_listing(body, ctype)
        headers = [(k, v) for k, v in resp.header_list if k.lower() != 'content-length']
        headers.append(('Content-Length', str(len(body))))
        start_response(resp.status_line, headers)
        return [body]

    # -- DELETE ?multipart-manifest=delete -------------------------------------------

    def delete(self, env, start_response, names):
        try:
            fmt = choose_format(None, env.get('HTTP_ACCEPT'))
        except SwiftlikeError as err:
            return self.error(env, start_response, err.http_status, err.reason)
        summary = Summary('delete', ('Number Deleted', 'Number Not Found'), 200)
        work = self.delete_work(env, names, summary)
        concurrency.send_chunks_at_once(env)
        start_response('200 OK', [('Content-Type', CONTENT_TYPES[fmt] + '; charset=utf-8')])
        return self.respond(work, summary, fmt)

    def respond(self, work, summary, fmt):
        last = time.monotonic()
        spaced = False
        try:
            for _step in work:
                now = time.monotonic()
                if now - last >= self.conf.yield_frequency:
                    last, spaced = now, True
                    yield b' '
        except Exception:  # noqa: BLE001 - reported in the summary
            self.logger.exception('ERROR SLO manifest delete failed')
            summary.abort(500, 'An error occurred')
        finally:
            work.close()
        yield summary.render(fmt, declaration=not spaced)

    def delete_work(self, env, names, summary):
        account = names[0]
        top = '/%s/%s' % names[1:]
        expander = Expander(self, env, account)
        # With ?version-id (object versioning) the manifest read and deleted is
        # that version; its segments are plain objects.
        version = dict(parse_qsl(env.get('QUERY_STRING', ''))).get('version-id')
        query = {'version-id': version} if version else None
        targets = []
        try:
            self._collect(expander, top, targets, 0, first=True, query=query)
        except _NotManifest as err:
            summary.errors.append([_display(top), err.reason])
            return
        except _NothingThere:
            summary.counts['Number Not Found'] += 1
            return
        except _DeleteProblem as err:
            if err.status is not None:
                summary.fail(_display(err.name), err.status)
            else:
                summary.errors.append([_display(err.name), err.reason])
            return
        yield

        def delete(name):
            container, obj = manifest.split_segment_path(name)
            sub = make_environ(env, 'DELETE', object_path(account, container, obj),
                               query if name is top else None, source=SOURCE)
            resp = call(self.app, sub)
            resp.discard()
            return name, resp.status

        def stop():
            return summary.unauthorized

        for name, status in in_order(delete, targets, self.conf.delete_concurrency, stop, []):
            if 200 <= status < 300:
                summary.counts['Number Deleted'] += 1
            elif status == 404:
                summary.counts['Number Not Found'] += 1
            else:
                summary.fail(_display(name), status)
            yield

    def _collect(self, expander, name, targets, depth, first=False, query=None):
        """Append to `targets` the objects the manifest `name` is made of
        (nested manifests' first), then the manifest itself."""
        container, obj = manifest.split_segment_path(name)
        resp = call(self.app, make_environ(expander.env, 'GET',
                                           object_path(expander.account, container, obj),
                                           query, source=SOURCE))
        if resp.status == 404 and first:
            resp.close()
            raise _NothingThere()
        if resp.status // 100 != 2:
            resp.close()
            raise _DeleteProblem(name, None, resp.status)
        if not is_slo(resp.headers):
            resp.close()
            if first:
                raise _NotManifest('Not an SLO manifest')
            raise _DeleteProblem(name, 'Not an SLO manifest')
        try:
            entries = expander.entries_of(resp, name)
        except SegmentError as err:
            raise _DeleteProblem(name, err.reason)
        for entry in entries:
            if entry.data is not None:
                continue
            if entry.sub_slo:
                if depth + 1 >= 10:
                    raise _DeleteProblem(entry.name, 'Max recursion depth exceeded')
                self._collect(expander, entry.name, targets, depth + 1)
            else:
                targets.append(entry.name)
            if len(targets) > MAX_DELETES:
                raise _DeleteProblem(name, 'Too many segments to delete (more than %d)'
                                     % MAX_DELETES)
        targets.append(name)


def _display(name):
    return quote(name.encode('utf-8'), safe='/')


class _NotManifest(SwiftlikeError):
    pass


class _NothingThere(SwiftlikeError):
    pass


class _DeleteProblem(SwiftlikeError):
    def __init__(self, name, reason, status=None):
        super().__init__(reason or '')
        self.name = name
        self.status = status


filter_factory = make_filter_factory(StaticLargeObject, Conf)
