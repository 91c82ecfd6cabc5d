"""The PUT of a static large object's manifest (`?multipart-manifest=put`).

The client's JSON list is read (bounded by max_manifest_size), parsed and
checked (slo_manifest), then every object it names is looked at with a HEAD
through the rest of the pipeline, with the client's identity (`concurrency`
at a time): it must exist and be readable, match the listed ETag and size,
hold the listed range, and (except the last) be at least min_segment_size
bytes. Problems are answered together (400, one line per segment, sorted).
Then the stored form of the manifest is PUT in place of the client's body,
with the large object's ETag and size in system metadata and the listing
override that makes the container listing show the large object's size and
both ETags.

With `heartbeat=on` the answer is `202 Accepted` at once; a space is sent
every yield_frequency seconds while the segments are checked, then a blank
line and a summary (Response Status, Response Body, Errors, and Etag and Last
Modified on success) in the format Accept asks for.
"""
import hashlib
import io
import json
import mimetypes
import time
from urllib.parse import parse_qsl, quote, urlencode

from swiftlike import concurrency
from swiftlike.config import is_true
from swiftlike.constraints import is_decimal
from swiftlike.db.listing import choose_format
from swiftlike.exceptions import (ClientDisconnect, LengthRequired, RequestEntityTooLarge,
                                  RequestTimeout, SwiftlikeError)
from swiftlike.http import client_content_type, status_line
from swiftlike.middleware import slo_manifest as manifest
from swiftlike.middleware.bulk import CONTENT_TYPES, Summary, in_order
from swiftlike.middleware.subrequest import call, make_environ, object_path

SOURCE = 'SLO'
READ_SIZE = 65536
# Headers of the stored manifest PUT's answer the client gets too (a version id
# from the versioning middleware below).
PASSED_PUT_HEADERS = frozenset(('x-object-version-id',))
# What Swift's answers say in a heartbeat summary's Response Body.
EXPLAINED = {
    400: 'The server could not comply with the request since it is either malformed '
         'or otherwise incorrect.',
    422: 'Unable to process the contained instructions',
}
# The sysmeta the object servers use for the container listing.
OVERRIDE = 'HTTP_X_OBJECT_SYSMETA_CONTAINER_UPDATE_OVERRIDE_'


def read_manifest_body(env, limit):
    """The request body (bytes), at most `limit` bytes (413 past it)."""
    too_big = RequestEntityTooLarge('Manifest File > %d bytes' % limit)
    length = env.get('CONTENT_LENGTH')
    chunked = 'chunked' in env.get('HTTP_TRANSFER_ENCODING', '').lower()
    if length not in (None, '') and not chunked:
        if not is_decimal(str(length)):
            raise LengthRequired('Invalid Content-Length')
        if int(length) > limit:
            raise too_big
    elif not chunked:
        raise LengthRequired('Missing Content-Length')
    source = env['wsgi.input']
    parts, size = [], 0
    while True:
        try:
            chunk = source.read(READ_SIZE)
        except (TimeoutError, concurrency.Timeout):
            raise RequestTimeout('Timed out reading the manifest')
        except (OSError, ValueError) as err:
            raise ClientDisconnect('Client disconnected while sending the manifest: %s' % err)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise too_big
        parts.append(chunk)
    return b''.join(parts)


class Outcome:
    """What the manifest PUT came to: status, reason text, problems, headers."""

    def __init__(self):
        self.status = None
        self.body = b''
        self.errors = []
        self.headers = {}
        self.passed = []     # headers of the stored PUT's answer passed on

    def fail(self, status, body=b'', errors=()):
        self.status = status
        self.body = body if isinstance(body, bytes) else body.encode('utf-8')
        self.errors = sorted(errors)


def render_errors(fmt, errors):
    """The body of a 400 listing problem segments (no heartbeat)."""
    if fmt == 'json':
        return json.dumps({'Errors': errors}).encode('utf-8')
    if fmt == 'xml':
        summary = Summary('upload', (), 200)
        summary.errors = errors
        return summary.render('xml')
    return ('Errors:\n' + ''.join('%s, %s\n' % (name, why) for name, why in errors)
            ).encode('utf-8')


def summary_of(outcome, fmt):
    """The heartbeat summary of an outcome (bytes)."""
    ok = outcome.status // 100 == 2
    summary = Summary('upload', ('Etag', 'Last Modified') if ok else (), outcome.status)
    summary.errors = outcome.errors
    if ok:
        summary.counts.update(outcome.headers)
        summary.abort(outcome.status, '')
    else:
        phrase = status_line(outcome.status).split(' ', 1)[1]
        detail = EXPLAINED.get(outcome.status) or outcome.body.decode('utf-8', 'replace')
        summary.abort(outcome.status, phrase + ('\n' + detail if detail else ''))
    return summary.render(fmt, declaration=False)


class ManifestPut:
    def __init__(self, slo, env, names):
        self.slo = slo
        self.app = slo.app
        self.conf = slo.conf
        self.env = env
        self.account, self.container, self.obj = names

    def __call__(self, start_response):
        conf = self.conf
        env = self.env
        query = dict(parse_qsl(env.get('QUERY_STRING', ''), keep_blank_values=True))
        heartbeat = query.get('heartbeat', '').lower() == 'on'
        try:
            fmt = choose_format(None, env.get('HTTP_ACCEPT'))
        except SwiftlikeError:
            fmt = 'plain'
        try:
            body = read_manifest_body(env, conf.max_manifest_size)
            segments = manifest.parse_put_manifest(body, conf.max_manifest_segments)
            manifest.self_references(segments, '/%s/%s' % (self.container, self.obj))
        except SwiftlikeError as err:
            return self.slo.error(env, start_response, err.http_status, err.reason)
        outcome = Outcome()
        work = self.work(segments, outcome)
        if not heartbeat:
            for _step in work:
                pass
            return self.answer(start_response, outcome, fmt)
        concurrency.send_chunks_at_once(env)
        start_response('202 Accepted', [('Content-Type', CONTENT_TYPES[fmt] + '; charset=utf-8')])
        return self.beats(work, outcome, fmt)

    def beats(self, work, outcome, fmt):
        last = time.monotonic()
        yield b' '
        try:
            for _step in work:
                now = time.monotonic()
                if now - last >= self.conf.yield_frequency:
                    last = now
                    yield b' '
        except Exception:  # noqa: BLE001 - the summary says so; never a half answer
            self.slo.logger.exception('ERROR SLO manifest PUT failed')
            outcome.fail(500, 'An error occurred')
        finally:
            work.close()
        yield b'\r\n\r\n' + summary_of(outcome, fmt)

    def answer(self, start_response, outcome, fmt):
        if outcome.status == 201:
            headers = [('Content-Length', '0'), ('Etag', outcome.headers['Etag']),
                       ('Last-Modified', outcome.headers['Last Modified'])]
            headers += outcome.passed
            start_response('201 Created', headers)
            return [b'']
        if outcome.errors:
            body = render_errors(fmt, outcome.errors)
            start_response(status_line(outcome.status), [
                ('Content-Type', CONTENT_TYPES[fmt] + '; charset=utf-8'),
                ('Content-Length', str(len(body)))])
            return [body]
        return self.slo.error(self.env, start_response, outcome.status,
                              outcome.body.decode('utf-8', 'replace'))

    # -- the work ------------------------------------------------------------

    def head(self, segment):
        container, obj = manifest.split_segment_path(segment.path)
        env = make_environ(self.env, 'HEAD', object_path(self.account, container, obj),
                           source=SOURCE)
        resp = call(self.app, env)
        resp.discard()
        return segment, resp.status, resp.headers

    def work(self, segments, outcome):
        """A generator doing the PUT step by step (it yields between
        segment checks); its result is in `outcome`."""
        items = [None] * len(segments)
        problems = []
        last = len(segments) - 1
        named = []
        for segment in segments:
            if segment.data is not None:
                items[segment.index] = manifest.data_entry(segment)
            else:
                named.append(segment)
        for segment, status, headers in in_order(self.head, named, self.conf.concurrency,
                                                 lambda: False, []):
            yield
            display = quote(segment.path.encode('utf-8'), safe='/')
            if status // 100 != 2:
                problems.append([display, status_line(status)])
                continue
            item, problem = manifest.stored_entry(segment, headers, self.conf.min_segment_size,
                                                  segment.index == last)
            if problem:
                problems.append([display, problem])
            else:
                items[segment.index] = item
        if problems:
            outcome.fail(400, 'Bad Request', problems)
            return
        slo_etag = manifest.stored_etag(items)
        size = manifest.stored_size(items)
        client_etag = self.env.get('HTTP_ETAG')
        if client_etag is not None and client_etag.strip().strip('"') != slo_etag:
            outcome.fail(422, 'The ETag does not match the large object\'s ETag')
            return
        body = json.dumps(items).encode('utf-8')
        resp = call(self.app, self.put_env(body, slo_etag, size))
        if resp.status == 201:
            resp.discard()
            outcome.status = 201
            outcome.headers = {'Etag': '"%s"' % slo_etag,
                               'Last Modified': resp.headers.get('last-modified', '')}
            # What middlewares below said about the write (the version it made).
            outcome.passed = [(k, v) for k, v in resp.header_list
                              if k.lower() in PASSED_PUT_HEADERS]
            return
        try:
            text = resp.read(65536)
        except ValueError:
            text = b''
        outcome.fail(resp.status, text)

    def content_type(self):
        env = self.env
        ctype = client_content_type(env)
        if ctype and not is_true(env.get('HTTP_X_DETECT_CONTENT_TYPE')):
            return ctype
        return mimetypes.guess_type(self.obj)[0] or 'application/octet-stream'

    def put_env(self, body, slo_etag, size):
        """The client's request, now carrying the stored manifest."""
        env = dict(self.env)
        for key in ('HTTP_TRANSFER_ENCODING', 'HTTP_ETAG', 'HTTP_X_DETECT_CONTENT_TYPE',
                    'HTTP_X_STATIC_LARGE_OBJECT', 'headers_raw'):
            env.pop(key, None)
        query = [(k, v) for k, v in parse_qsl(env.get('QUERY_STRING', ''),
                                                keep_blank_values=True)
                 if k not in ('multipart-manifest', 'heartbeat')]
        ctype = self.content_type()
        manifest_etag = hashlib.md5(body).hexdigest()
        env.update({
            'QUERY_STRING': urlencode(query),
            'wsgi.input': io.BytesIO(body),
            'CONTENT_LENGTH': str(len(body)),
            'CONTENT_TYPE': ctype,
            'HTTP_ETAG': manifest_etag,
            'HTTP_X_OBJECT_SYSMETA_SLO_ETAG': slo_etag,
            'HTTP_X_OBJECT_SYSMETA_SLO_SIZE': str(size),
            OVERRIDE + 'ETAG': '%s; slo_etag=%s' % (manifest_etag, slo_etag),
            OVERRIDE + 'CONTENT_TYPE': '%s;swift_bytes=%d' % (ctype, size),
        })
        return env
