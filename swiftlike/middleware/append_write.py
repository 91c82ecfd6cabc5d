"""Appending to an object (PUT with X-Append-Offset) and compacting its pieces.

One append: (1) read the manifest with X-Newest and check the offset against
its length; (2) write the body as a new piece (a normal quorum PUT of a
unique name in <container>_segments, created on demand); (3) commit the new
manifest compare-and-swap style through the proxy's arbiter-first commit
(swiftlike/proxy/controllers/obj_cas.py), its timestamp newer than the old
manifest's whatever the proxies' clocks say. A refused commit means another
appender won: the piece is deleted and the client gets 409 with the length
that won. When the arbiter holds an older state than the one read (a node
that was replaced or missed a DELETE), the commit names what the arbiter
holds instead, once.

Compaction runs in the same request after a successful commit: when the tail
holds `compact_after` pieces smaller than `compact_piece_size`, they are
merged into one new piece, committed with the same compare-and-swap (given
up silently if an append won meanwhile), and the merged pieces are deleted.
"""
import hashlib
import io
import mimetypes

from swiftlike.constraints import (MAX_CONTAINER_NAME_LENGTH, MAX_FILE_SIZE,
                                   MAX_OBJECT_NAME_LENGTH, is_decimal)
from swiftlike.exceptions import BadRequest, SwiftlikeError
from swiftlike.middleware import append_manifest as am
from swiftlike.middleware.segments import Segment, SegmentStream, segment_slices
from swiftlike.middleware.subrequest import BodyInput, call, make_environ, object_path
from swiftlike.middleware.toolkit import container_info
from swiftlike.proxy.controllers.obj_cas import COMMIT_KEY, RESULT_HEADER, Commit
from swiftlike.timestamp import Timestamp

SOURCE = 'APPEND'
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
# Request headers an append refuses (they would make the manifest something else).
REFUSED_HEADERS = ('HTTP_X_COPY_FROM', 'HTTP_X_OBJECT_MANIFEST', 'HTTP_X_SYMLINK_TARGET',
                   'HTTP_X_DELETE_AT', 'HTTP_X_DELETE_AFTER', 'HTTP_IF_NONE_MATCH')
# Headers of the manifest carried from one version to the next.
CARRIED = ('content-type', 'content-disposition', 'content-encoding', 'content-language',
           'cache-control', 'expires')


class Reply(Exception):
    """The answer to the client (raised to end the append early)."""

    def __init__(self, status, reason='', headers=None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or {}


class State:
    """What the object is now: kind 'absent', 'append' or 'plain'."""

    def __init__(self, kind, manifest=None, headers=None, timestamp=None, body=b''):
        self.kind = kind
        self.manifest = manifest
        self.headers = headers or {}
        self.timestamp = timestamp          # newest (incl. a POST) Timestamp or None
        self.body = body

    @property
    def length(self):
        return self.manifest.length if self.manifest else 0

    @property
    def data_timestamp(self):
        value = self.headers.get(am.TIMESTAMP_HEADER.lower())
        try:
            return Timestamp(value) if value else self.timestamp
        except ValueError:
            return self.timestamp

    @property
    def object_etag(self):
        """The manifest object's ETag (MD5 of its body): the CAS token."""
        return hashlib.md5(self.body).hexdigest() if self.kind == 'append' else None


def _timestamp(headers):
    try:
        return Timestamp(headers['x-timestamp']) if headers.get('x-timestamp') else None
    except ValueError:
        return None


def read_state(app, environ, account, container, obj):
    """The object's current State, read with X-Newest (Reply on failure)."""
    env = make_environ(environ, 'GET', object_path(account, container, obj),
                       {'append-manifest': 'get'}, {'X-Newest': 'true'}, SOURCE)
    resp = call(app, env)
    if resp.status == 404:
        resp.discard()
        return State('absent', timestamp=_timestamp(resp.headers))
    if resp.status in (401, 403):
        raise Reply(resp.status, resp.read(65536).decode('utf-8', 'replace'))
    if resp.status != 200:
        resp.discard()
        raise Reply(503, 'Reading the object failed (status %d)' % resp.status)
    if am.FORMAT_HEADER.lower() not in resp.headers:
        resp.discard()
        return State('plain', headers=resp.headers)
    try:
        body = resp.read(MAX_MANIFEST_BYTES)
        manifest = am.parse_manifest(body, container, obj)
    except (ValueError, SwiftlikeError) as err:
        raise Reply(409, 'The stored append manifest is not valid: %s' % err)
    return State('append', manifest, resp.headers, _timestamp(resp.headers), body)


class _CountingInput:
    """The client's body, counted (for a chunked upload's size)."""

    def __init__(self, stream):
        self.stream = stream
        self.count = 0

    def read(self, size=-1):
        data = self.stream.read(size)
        self.count += len(data)
        return data

    def readline(self, size=-1):
        data = self.stream.readline(size)
        self.count += len(data)
        return data


class Appender:
    def __init__(self, mw, environ, account, container, obj):
        self.mw = mw
        self.app = mw.app
        self.conf = mw.conf
        self.environ = environ
        self.account, self.container, self.obj = account, container, obj
        self.segments = am.segments_container(container)

    def sub(self, method, path, query=None, headers=None):
        return make_environ(self.environ, method, path, query, headers, SOURCE)

    def piece_path(self, name):
        return object_path(self.account, self.segments, name)

    # -- checks -------------------------------------------------------------

    def check_request(self):
        env = self.environ
        offset = am.parse_offset(env.get('HTTP_X_APPEND_OFFSET'))
        for key in REFUSED_HEADERS:
            if key in env:
                raise BadRequest('%s cannot be used with X-Append-Offset'
                                 % key[5:].replace('_', '-').title())
        if len(self.obj.encode('utf-8')) + am.PIECE_NAME_EXTRA > MAX_OBJECT_NAME_LENGTH:
            raise BadRequest('The object name is too long for an appendable object '
                             '(at most %d bytes)' % (MAX_OBJECT_NAME_LENGTH - am.PIECE_NAME_EXTRA))
        if len(self.segments.encode('utf-8')) > MAX_CONTAINER_NAME_LENGTH:
            raise BadRequest('The container name is too long for appendable objects')
        chunked = env.get('HTTP_TRANSFER_ENCODING', '').lower() == 'chunked'
        length = env.get('CONTENT_LENGTH')
        if not chunked:
            if length in (None, ''):
                raise Reply(411, 'An append needs a Content-Length or a chunked body')
            if not is_decimal(length):
                raise BadRequest('Invalid Content-Length')
            if int(length) == 0:
                raise BadRequest('An append needs a body (empty appends are refused)')
            if int(length) > MAX_FILE_SIZE:
                raise Reply(413, 'An append is at most %d bytes' % MAX_FILE_SIZE)
        return offset

    def check_container(self):
        info = container_info(self.environ, self.app, self.account, self.container,
                              source=SOURCE)
        status = info['status']
        if status == 404:
            raise Reply(404, 'Container not found')
        if status in (401, 403):
            raise Reply(status, 'Access to the container was denied')
        if status // 100 != 2:
            raise Reply(503, 'The container could not be read')

    def ensure_segments(self):
        info = container_info(self.environ, self.app, self.account, self.segments, SOURCE)
        if info['status'] // 100 == 2:
            return
        resp = call(self.app, self.sub('PUT', object_path(self.account, self.segments)))
        resp.discard()
        if resp.status in (401, 403):
            raise Reply(resp.status, 'Creating the container %s was denied' % self.segments)
        if resp.status // 100 != 2:
            raise Reply(503, 'Creating the container %s failed (%d)'
                        % (self.segments, resp.status))

    # -- the append ---------------------------------------------------------

    def run(self):
        """(status, headers, reason) of the append."""
        try:
            offset = self.check_request()
            self.check_container()
            state = read_state(self.app, self.environ, self.account, self.container, self.obj)
            self.check_offset(state, offset)
            self.ensure_segments()
            name, size, etag = self.write_piece(offset)
            return self.commit_append(state, name, size, etag)
        except Reply as reply:
            return reply.status, reply.headers, reply.reason
        except BadRequest as err:
            return 400, {}, err.reason

    def check_offset(self, state, offset):
        if state.kind == 'plain':
            raise Reply(409, 'The object exists and is not appendable (only objects created '
                             'by an append with X-Append-Offset: 0 are)')
        if offset != state.length:
            raise Reply(409, 'X-Append-Offset %d does not match the length %d'
                        % (offset, state.length), {'X-Append-Length': str(state.length)})

    def write_piece(self, offset):
        name = am.piece_name(self.obj, offset)
        env = self.sub('PUT', self.piece_path(name),
                       headers={'Content-Type': 'application/octet-stream'})
        body = _CountingInput(self.environ['wsgi.input'])
        env['wsgi.input'] = body
        env['CONTENT_LENGTH'] = self.environ.get('CONTENT_LENGTH') or ''
        if 'HTTP_TRANSFER_ENCODING' in self.environ:
            env['HTTP_TRANSFER_ENCODING'] = self.environ['HTTP_TRANSFER_ENCODING']
        if 'HTTP_ETAG' in self.environ:
            env['HTTP_ETAG'] = self.environ['HTTP_ETAG']
        resp = call(self.app, env)
        reason = resp.read(65536).decode('utf-8', 'replace').strip()
        if resp.status != 201:
            if resp.status // 100 == 4:
                raise Reply(resp.status, reason or 'Writing the piece failed')
            raise Reply(503, 'Writing the piece failed (%d)' % resp.status)
        etag = resp.headers.get('etag', '').strip('"')
        if body.count == 0:
            self.delete_pieces([name])
            raise BadRequest('An append needs a body (empty appends are refused)')
        return name, body.count, etag

    def new_headers(self, state, manifest, timestamp):
        """The headers of the manifest PUT: what the old one carried, the
        request's user metadata, and the new state in system metadata."""
        headers = {}
        if state.kind == 'append':
            for key, value in state.headers.items():
                if key in CARRIED or key.startswith('x-object-meta-'):
                    headers[key] = value
        else:
            ctype = self.environ.get('CONTENT_TYPE')
            headers['content-type'] = ctype or mimetypes.guess_type(self.obj)[0] or \
                'application/octet-stream'
            for key in ('HTTP_CONTENT_DISPOSITION', 'HTTP_CONTENT_ENCODING',
                        'HTTP_CONTENT_LANGUAGE', 'HTTP_CACHE_CONTROL', 'HTTP_EXPIRES'):
                if key in self.environ:
                    headers[key[5:].replace('_', '-').lower()] = self.environ[key]
        for key, value in self.environ.items():
            if key.startswith('HTTP_X_OBJECT_META_'):
                headers[key[5:].replace('_', '-').lower()] = value
        headers.update(manifest.sysmeta(timestamp))
        return headers

    def commit(self, state, manifest, if_match, timestamp):
        """PUT the manifest arbiter-first; (result, headers of the answer)."""
        body = manifest.to_json()
        env = self.sub('PUT', object_path(self.account, self.container, self.obj),
                       headers=self.new_headers(state, manifest, timestamp))
        env['CONTENT_LENGTH'] = str(len(body))
        env['wsgi.input'] = io.BytesIO(body)
        env[COMMIT_KEY] = Commit(timestamp, if_match)
        resp = call(self.app, env)
        resp.discard()
        result = resp.headers.get(RESULT_HEADER.lower())
        if result is None:
            result = 'committed' if resp.status == 201 else 'unavailable'
            if resp.status in (401, 403, 404):
                raise Reply(resp.status, 'Writing the manifest was refused')
        return result, resp.headers

    def cas(self, state, manifest):
        """Commit `manifest` over `state`: (result, the new State when
        committed); result is 'committed', 'refused', 'unavailable' or 'ambiguous'."""
        timestamp = am.next_timestamp(state.timestamp)
        result, headers = self.commit(state, manifest, state.object_etag, timestamp)
        if result == 'refused':
            # Another appender won, unless the arbiter is stale: it holds a
            # version older than the one read (or nothing while one exists).
            retry = self._stale_arbiter(state, headers)
            if retry is not None:
                timestamp, if_match = retry
                result, _headers = self.commit(state, manifest, if_match, timestamp)
        if result != 'committed':
            return result, None
        new = {k.lower(): v for k, v in self.new_headers(state, manifest, timestamp).items()}
        return result, State('append', manifest, new, timestamp, manifest.to_json())

    @staticmethod
    def _stale_arbiter(state, headers):
        """(timestamp, If-Match) for a second try when the refusing arbiter
        holds an older state than `state`, else None."""
        held = headers.get('x-append-arbiter-timestamp')
        try:
            held = Timestamp(held) if held else None
        except ValueError:
            return None
        known = state.data_timestamp
        if known is None or (held is not None and held >= known):
            return None
        if held is None and state.kind == 'absent':
            return None
        timestamp = am.next_timestamp(max(known, held) if held else known)
        if state.timestamp is not None:
            timestamp = max(timestamp, am.next_timestamp(state.timestamp))
        return timestamp, headers.get('x-append-arbiter-etag') or None

    def commit_append(self, state, name, size, etag):
        manifest = (state.manifest or am.Manifest(self.segments)).appended(name, size, etag)
        result, committed = self.cas(state, manifest)
        if result == 'committed':
            self.compact(committed)
            return 201, {'ETag': '"%s"' % manifest.etag,
                         'X-Append-Length': str(manifest.length)}, ''
        if result == 'ambiguous':
            # The arbiter has it: it may still win; the piece must stay.
            return 503, {}, ('The append reached too few replicas; it may still become '
                             'visible (check X-Append-Length before retrying)')
        self.delete_pieces([name])
        if result == 'refused':
            now = read_state(self.app, self.environ, self.account, self.container, self.obj)
            headers = {'X-Append-Length': str(now.length)} if now.kind != 'plain' else {}
            return 409, headers, 'Another append landed first (the object is now %d bytes)' \
                % now.length
        return 503, {}, 'Appends are unavailable: the object\'s arbiter node cannot be reached'

    # -- compaction ---------------------------------------------------------

    def compact(self, state):
        """Merge the small tail pieces of the manifest just committed (`state`)."""
        conf = self.conf
        manifest = state.manifest
        plan = am.plan_compaction([p[1] for p in manifest.pieces], conf.compact_piece_size,
                                  conf.compact_after, conf.compact_max_bytes)
        if plan is None:
            return
        start, stop = plan
        try:
            name, etag = self.merge(manifest, start, stop)
        except (Reply, SwiftlikeError) as err:
            self.mw.logger.warning('append compaction of %s/%s/%s failed: %s', self.account,
                                   self.container, self.obj, getattr(err, 'reason', err))
            return
        result, _state = self.cas(state, manifest.compacted(start, stop, name, etag))
        if result == 'committed':
            self.delete_pieces([p[0] for p in manifest.pieces[start:stop]])
        elif result != 'ambiguous':
            self.delete_pieces([name])   # an append won meanwhile: give up

    def merge(self, manifest, start, stop):
        """Write pieces[start:stop] as one new piece: (name, etag)."""
        pieces = [Segment(*p) for p in manifest.pieces[start:stop]]
        total = sum(p.size for p in pieces)
        name = am.piece_name(self.obj, manifest.offset_of(start))

        def fetch(segment, first, last):
            headers = {}
            if first or last != segment.size:
                headers['Range'] = 'bytes=%d-%d' % (first, last - 1)
            return call(self.app, self.sub('GET', self.piece_path(segment.name),
                                           headers=headers))
        stream = SegmentStream(fetch, segment_slices(pieces, 0, total), name, self.mw.logger)
        reader = BodyInput(stream)
        env = self.sub('PUT', self.piece_path(name),
                       headers={'Content-Type': 'application/octet-stream'})
        env['CONTENT_LENGTH'] = str(total)
        env['wsgi.input'] = reader
        try:
            resp = call(self.app, env)
            resp.discard()
        finally:
            reader.close()
        if resp.status != 201:
            raise Reply(503, 'writing the merged piece: status %d' % resp.status)
        return name, resp.headers.get('etag', '').strip('"')

    def delete_pieces(self, names):
        for name in names:
            resp = call(self.app, self.sub('DELETE', self.piece_path(name)))
            resp.discard()
            if resp.status // 100 != 2 and resp.status != 404:
                self.mw.logger.warning('append: deleting piece %s/%s failed (%d)',
                                       self.segments, name, resp.status)
