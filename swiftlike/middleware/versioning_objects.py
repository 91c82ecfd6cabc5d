"""Object requests in a container with versioning state (see
versioning_core for the layout): every write of a versioned object goes to
the hidden versions container first, then the user's container gets a
pointer to it; reads follow the pointer.

Writes never overwrite a version: each PUT (and each delete marker) is a new
hidden object named by its own version id, so concurrent writers all keep
their versions and only the pointer (newest timestamp wins) decides which is
current. A plain ("null") object found where a versioned write lands is
first copied into the versions container under its own timestamp, so
enabling versioning never loses what was there before.
"""
import threading
from urllib.parse import parse_qsl, quote, urlencode

from swiftlike.http import client_content_type
from swiftlike.exceptions import (BadRequest, Forbidden, NotFound, ServiceUnavailable,
                                  SwiftlikeError, Unauthorized)
from swiftlike.middleware import versioning_core as core
from swiftlike.middleware.subrequest import BodyInput, call, make_environ, object_path
from swiftlike.middleware.toolkit import AUTHORIZE_KEY, OWNER_KEY, RESERVED_NAMES_KEY
from swiftlike.paths import str_to_wsgi
from swiftlike.timestamp import Timestamp

SOURCE = 'VERSIONS'
# Headers of a stored object a copy of it keeps (besides X-Object-Meta-* and
# system metadata).
_COPIED = ('content-type', 'etag', 'content-disposition', 'content-encoding',
           'content-language', 'cache-control', 'expires', 'x-object-manifest',
           'x-static-large-object')
_CONDITIONAL = ('HTTP_IF_MATCH', 'HTTP_IF_NONE_MATCH', 'HTTP_IF_MODIFIED_SINCE',
                'HTTP_IF_UNMODIFIED_SINCE', 'HTTP_RANGE', 'HTTP_IF_RANGE')
_last_raw = [0]
_lock = threading.Lock()


def new_version_id():
    """A fresh version id, strictly increasing within this process."""
    with _lock:
        raw = max(Timestamp.now().raw, _last_raw[0] + 1)
        _last_raw[0] = raw
    return '%010d.%05d' % divmod(raw, 100000)


def is_owner(env):
    return bool(env.get(OWNER_KEY)) or AUTHORIZE_KEY not in env


def hidden_env(env, account, hidden):
    """Mark a subrequest environ as the middleware's own request to the
    hidden container `hidden`: reserved names allowed, and (for a requester
    who is not an owner, already authorized for the user's container) the
    hidden container let through while anything it leads to (a symlink's
    target) is still judged by the requester's rights."""
    env[RESERVED_NAMES_KEY] = True
    if is_owner(env):
        return env
    prefix = str_to_wsgi('/v1/%s/%s' % (account, hidden))
    hook = env.get(AUTHORIZE_KEY)

    def authorize(req_env, *args, **kwargs):
        path = req_env.get('PATH_INFO', '')
        if path == prefix or path.startswith(prefix + '/'):
            return None
        return hook(req_env, *args, **kwargs)
    env[AUTHORIZE_KEY] = authorize
    return env


def query_without(query_string, *names):
    pairs = [(k, v) for k, v in parse_qsl(query_string or '', keep_blank_values=True)
             if k not in names]
    return urlencode(pairs, quote_via=quote)


class Reply:
    """A finished answer: status, headers (list) and body (bytes or a
    SubResponse to stream)."""

    def __init__(self, status, headers=None, body=b''):
        self.status = status
        self.headers = list(headers or [])
        self.body = body


class _CountingInput:
    def __init__(self, stream):
        self.stream = stream
        self.count = 0

    def read(self, *args):
        data = self.stream.read(*args)
        self.count += len(data)
        return data

    def readline(self, *args):
        data = self.stream.readline(*args)
        self.count += len(data)
        return data


class ObjectVersioning:
    """One client request to an object of a container with versioning state."""

    def __init__(self, app, env, account, container, obj, enabled):
        self.app = app
        self.env = env
        self.account, self.container, self.obj = account, container, obj
        self.hidden = core.hidden_container(container)
        self.enabled = enabled

    # -- subrequests -------------------------------------------------------

    def user_path(self):
        return object_path(self.account, self.container, self.obj)

    def version_path(self, version_id):
        return object_path(self.account, self.hidden, core.version_name(self.obj, version_id))

    def _hidden_env(self, env):
        return hidden_env(env, self.account, self.hidden)

    def sub(self, method, path, query=None, headers=None, hidden=False):
        env = make_environ(self.env, method, path, query, headers, source=SOURCE)
        return call(self.app, self._hidden_env(env) if hidden else env)

    def client_copy(self, path, hidden, method=None, keep_conditions=True, keep_body=False):
        """The client's request re-aimed at `path` (its headers kept)."""
        env = dict(self.env)
        env['PATH_INFO'] = path
        env['QUERY_STRING'] = query_without(self.env.get('QUERY_STRING'), 'version-id')
        env['swiftlike.source'] = SOURCE
        if method:
            env['REQUEST_METHOD'] = method
        if not keep_conditions:
            for key in _CONDITIONAL:
                env.pop(key, None)
        if not keep_body:
            env['CONTENT_LENGTH'] = '0'
            env.pop('HTTP_TRANSFER_ENCODING', None)
            env['wsgi.input'] = _Empty()
        return self._hidden_env(env) if hidden else env

    def internal(self, method, path, query=None):
        """The middleware's own read of the user's object (never followed
        through a symlink): what it finds only steers the request, or is
        copied within the container after the write was authorized, so it
        runs with the owner's rights (a temp URL for PUT may not HEAD)."""
        env = make_environ(self.env, method, path, query, None, source=SOURCE)
        env[OWNER_KEY] = True
        return call(self.app, env)

    def head_current(self):
        """HEAD of what the user's container holds (a pointer is not followed)."""
        resp = self.internal('HEAD', self.user_path(), {'symlink': 'get'})
        resp.discard()
        return resp

    def authorize_write(self):
        """Writes to the hidden container are the middleware's own: first make
        sure the requester may write the user's container."""
        if is_owner(self.env):
            return
        hook = self.env.get(AUTHORIZE_KEY)
        head = make_environ(self.env, 'HEAD', object_path(self.account, self.container),
                            source=SOURCE)
        head[OWNER_KEY] = True
        resp = call(self.app, head)
        resp.discard()
        if resp.status == 404:
            raise NotFound('Container not found')
        denied = hook(self.env, resp.headers.get('x-container-read', ''),
                      resp.headers.get('x-container-write', ''), True)
        if denied:
            status = int(str(denied[0]).split(' ', 1)[0])
            raise (Unauthorized if status == 401 else Forbidden)(denied[1])

    def require_owner(self):
        if is_owner(self.env):
            return
        if not self.env.get('REMOTE_USER'):
            raise Unauthorized('Authentication required')
        raise Forbidden('version-aware operations are for the account owner')

    # -- reads -------------------------------------------------------------

    def get_current(self):
        """GET/HEAD without version-id: the request as sent; a pointer is
        followed to its version."""
        resp = call(self.app, self.env)
        target = core.pointer_target(resp.headers)
        if target is None and resp.status in (304, 412, 416):
            head = self.head_current()
            target = core.pointer_target(head.headers)
        if target is None:
            return Reply(resp.status, resp.header_list, resp)
        resp.discard()
        return self._serve_version(target, current=True)

    def _serve_version(self, version_id, current=False):
        env = self.client_copy(self.version_path(version_id), hidden=True)
        resp = call(self.app, env)
        headers = [(k, v) for k, v in resp.header_list if k.lower() != 'content-location']
        headers.append((core.VERSION_ID_HEADER, version_id))
        if resp.status == 404:
            resp.discard()
            raise NotFound('Version not found', {core.VERSION_ID_HEADER: version_id})
        if core.is_delete_marker(resp.headers.get('content-type', '')) \
                and resp.status // 100 == 2:
            resp.discard()
            raise NotFound('Version is a delete marker', {
                core.VERSION_ID_HEADER: version_id,
                'Content-Type': core.DELETE_MARKER_TYPE})
        location = quote(('/v1/%s/%s/%s' % (self.account, self.container, self.obj)
                          ).encode('utf-8')) + '?version-id=' + version_id
        headers.append(('Content-Location', location))
        return Reply(resp.status, headers, resp)

    def get_version(self, version_id):
        self.require_owner()
        if version_id == core.NULL_VERSION:
            head = self.head_current()
            if core.pointer_target(head.headers) is not None:
                raise NotFound('No null version', {core.VERSION_ID_HEADER: core.NULL_VERSION})
            resp = call(self.app, self.client_copy(self.user_path(), hidden=False))
            return Reply(resp.status, resp.header_list, resp)
        return self._serve_version(version_id)

    # -- writes ------------------------------------------------------------

    def preserve_null(self, head=None):
        """A plain object where a versioned write lands becomes a version
        (its own timestamp as version id) before it is replaced."""
        head = head or self.head_current()
        if head.status != 200 or core.pointer_target(head.headers) is not None:
            return
        try:
            version_id = Timestamp(head.headers.get('x-timestamp', '')).normal
        except ValueError:
            version_id = new_version_id()
        src = self.internal('GET', self.user_path(), {'symlink': 'get'})
        if src.status != 200:
            src.discard()
            if src.status == 404:
                return      # gone meanwhile: nothing to keep
            raise ServiceUnavailable('Could not read the current object to keep it')
        headers = {}
        for key, value in src.headers.items():
            if key in _COPIED or key.startswith(('x-object-meta-', 'x-object-sysmeta-')):
                headers['-'.join(p.capitalize() for p in key.split('-'))] = value
        env = make_environ(self.env, 'PUT', self.version_path(version_id), None, headers,
                           source=SOURCE)
        env['CONTENT_LENGTH'] = src.headers.get('content-length', '0')
        env['wsgi.input'] = BodyInput(src)
        put = call(self.app, self._hidden_env(env))
        src.close()
        put.discard()
        if put.status // 100 != 2:
            raise ServiceUnavailable('Could not keep the current object as a version')

    def put(self):
        """A versioned PUT: the bytes to a new version, then the pointer."""
        self.authorize_write()
        self.preserve_null()
        version_id = new_version_id()
        env = self.client_copy(self.version_path(version_id), hidden=True, keep_body=True)
        for key in ('HTTP_X_DELETE_AT', 'HTTP_X_DELETE_AFTER', 'HTTP_IF_NONE_MATCH'):
            env.pop(key, None)
        counter = _CountingInput(self.env['wsgi.input'])
        env['wsgi.input'] = counter
        resp = call(self.app, env)
        body = resp.read(65536) if resp.status // 100 != 2 else resp.discard()
        if resp.status != 201:
            return Reply(resp.status, resp.header_list, body or b'')
        etag = resp.headers.get('etag', '').strip('"')
        prefix = core.OVERRIDE_PREFIX.lower()
        overrides = {k.lower()[len(prefix):]: v for k, v in _environ_headers(self.env).items()
                     if k.lower().startswith(prefix)}
        size = core.listed_size(overrides, counter.count)
        listed_etag = overrides.get('etag') or etag
        ctype = overrides.get('content-type')
        if not ctype:
            ctype = client_content_type(self.env)
            if not ctype or self.env.get('HTTP_X_DETECT_CONTENT_TYPE'):
                ctype = self._stored_type(version_id) or 'application/octet-stream'
        self.write_pointer(version_id, listed_etag, size, ctype, keep_delete_at=True)
        headers = [(k, v) for k, v in resp.header_list
                   if k.lower() not in ('content-length', 'content-type')]
        headers.append((core.VERSION_ID_HEADER, version_id))
        return Reply(201, headers, b'')

    def _stored_type(self, version_id):
        resp = self.sub('HEAD', self.version_path(version_id), hidden=True)
        resp.discard()
        return resp.headers.get('content-type') if resp.status == 200 else None

    def write_pointer(self, version_id, etag, size, content_type, keep_delete_at=False):
        headers = core.pointer_headers(version_id, etag, size, content_type)
        if keep_delete_at:
            for key, name in (('HTTP_X_DELETE_AT', 'X-Delete-At'),
                              ('HTTP_X_DELETE_AFTER', 'X-Delete-After')):
                if key in self.env:
                    headers[name] = self.env[key]
        resp = self.sub('PUT', self.user_path(), None, headers)
        body = resp.read(65536)
        # 202: a newer pointer is stored already (a write that overtook this
        # one is current): this version is kept as a version, which is what
        # the last writer winning means.
        if resp.status not in (201, 202):
            if resp.status // 100 == 4:
                raise _Passed(resp.status, resp.header_list, body)
            raise ServiceUnavailable('The version was stored but could not be made current '
                                     '(%d from the object servers)' % resp.status)

    def restore(self, version_id):
        """PUT ?version-id=<id> with an empty body: make that version current."""
        self.require_owner()
        if version_id == core.NULL_VERSION:
            raise BadRequest('version-id=null cannot be made current')
        length = self.env.get('CONTENT_LENGTH')
        if self.env.get('HTTP_TRANSFER_ENCODING') or (length not in (None, '', '0')):
            raise BadRequest('PUT version-id requests require a zero byte body')
        head = self.sub('HEAD', self.version_path(version_id), hidden=True)
        head.discard()
        if head.status == 404:
            raise NotFound('Version not found', {core.VERSION_ID_HEADER: version_id})
        if head.status != 200:
            raise ServiceUnavailable('Could not read the version')
        ctype = head.headers.get('content-type', '')
        if core.is_delete_marker(ctype):
            raise BadRequest('A delete marker cannot be made current',
                             {core.VERSION_ID_HEADER: version_id})
        if self.enabled:
            self.preserve_null()
        etag = head.headers.get('x-object-sysmeta-container-update-override-etag') \
            or head.headers.get('etag', '').strip('"')
        prefix = core.OVERRIDE_PREFIX.lower()
        size = core.listed_size({k.lower()[len(prefix):]: v for k, v in head.headers.items()
                                 if k.lower().startswith(prefix)},
                                head.headers.get('content-length', '0'))
        self.write_pointer(version_id, etag, size, ctype)
        return Reply(201, [(core.VERSION_ID_HEADER, version_id),
                           ('ETag', head.headers.get('etag', ''))], b'')

    def post(self):
        """POST to a pointer changes the current version's metadata; the
        pointer keeps X-Delete-At (the version's bytes never expire)."""
        head = self.head_current()
        target = core.pointer_target(head.headers)
        if target is None:
            resp = call(self.app, self.env)
            return Reply(resp.status, resp.header_list, resp)
        self.authorize_write()
        env = self.client_copy(self.version_path(target), hidden=True)
        for key in ('HTTP_X_DELETE_AT', 'HTTP_X_DELETE_AFTER'):
            env.pop(key, None)
        resp = call(self.app, env)
        body = resp.read(65536)
        if resp.status // 100 != 2:
            return Reply(resp.status, resp.header_list, body)
        headers = {'Content-Length': '0'}
        if client_content_type(self.env):
            headers['Content-Type'] = client_content_type(self.env)
        for key, name in (('HTTP_X_DELETE_AT', 'X-Delete-At'),
                          ('HTTP_X_DELETE_AFTER', 'X-Delete-After')):
            if key in self.env:
                headers[name] = self.env[key]
        pointer = self.sub('POST', self.user_path(), None, headers)
        pointer_body = pointer.read(65536)
        if pointer.status // 100 != 2:
            return Reply(pointer.status, pointer.header_list, pointer_body)
        return Reply(resp.status, [(k, v) for k, v in resp.header_list
                                   if k.lower() != 'content-length']
                     + [(core.VERSION_ID_HEADER, target)], body)

    def delete(self):
        """DELETE without version-id: with versioning on, a delete marker
        becomes the newest version and the user's object goes."""
        if not self.enabled:
            resp = call(self.app, self.env)
            return Reply(resp.status, resp.header_list, resp)
        self.authorize_write()
        self.preserve_null()
        marker_id = new_version_id()
        marker = self.sub('PUT', self.version_path(marker_id), None,
                          {'Content-Type': core.DELETE_MARKER_TYPE, 'Content-Length': '0'},
                          hidden=True)
        marker.discard()
        if marker.status != 201:
            raise ServiceUnavailable('Could not write the delete marker')
        resp = self.sub('DELETE', self.user_path())
        body = resp.read(65536)
        if resp.status not in (204, 404) and resp.status // 100 != 2:
            return Reply(resp.status, resp.header_list, body)
        headers = [(k, v) for k, v in resp.header_list if k.lower() != 'content-length']
        headers.append((core.VERSION_ID_HEADER, marker_id))
        return Reply(resp.status, headers, body)

    def delete_version(self, version_id):
        """DELETE ?version-id=<id>: that version goes for good (and the
        pointer, when it named it); version-id=null removes the user's
        object itself, whatever it is."""
        self.require_owner()
        if version_id == core.NULL_VERSION:
            resp = self.sub('DELETE', self.user_path())
            body = resp.read(65536)
            headers = [(k, v) for k, v in resp.header_list if k.lower() != 'content-length']
            return Reply(resp.status, headers + [(core.VERSION_ID_HEADER, version_id)], body)
        head = self.head_current()
        if core.pointer_target(head.headers) == version_id:
            resp = self.sub('DELETE', self.user_path())
            resp.discard()
            if resp.status // 100 != 2 and resp.status != 404:
                raise ServiceUnavailable('Could not remove the pointer to the version')
        resp = self.sub('DELETE', self.version_path(version_id), hidden=True)
        body = resp.read(65536)
        headers = [(k, v) for k, v in resp.header_list if k.lower() != 'content-length']
        headers.append((core.VERSION_ID_HEADER, version_id))
        return Reply(resp.status, headers, body)


class _Passed(SwiftlikeError):
    """A subrequest's client error handed to the client as it is."""

    def __init__(self, status, headers, body):
        super().__init__(body.decode('utf-8', 'replace')[:200])
        self.http_status = status
        self.headers = {k: v for k, v in headers if k.lower() != 'content-length'}


class _Empty:
    def read(self, *args):
        return b''

    def readline(self, *args):
        return b''


def _environ_headers(env):
    return {key[5:].replace('_', '-').title(): value for key, value in env.items()
            if key.startswith('HTTP_')}


__all__ = ['ObjectVersioning', 'Reply', 'RESERVED_NAMES_KEY', 'new_version_id',
           'str_to_wsgi']
