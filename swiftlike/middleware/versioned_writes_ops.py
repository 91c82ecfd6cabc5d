"""What the versioned_writes middleware does to the cluster: its subrequests.

Every step is a subrequest through the rest of the pipeline (the app below
the middleware). The requester's right to write the versioned container is
checked first (with the auth middleware's hook and the container's ACLs);
after that the steps run pre-authorised, as Swift's do: the requester needs
no access to the versions container, and the versions are written and read
as the account's owner would.

A version is copied by streaming: the GET of the old object is the body of
the PUT of the copy, chunk after chunk, with the source's ETag, so the
object servers refuse (422) a copy that did not get every byte. A step that
fails stops the client's request before it overwrites or deletes anything:
a version is never lost to a failed copy.
"""
import json
import time

from swiftlike.constraints import MAX_FILE_SIZE, is_decimal
from swiftlike.exceptions import (Forbidden, PreconditionFailed, RequestEntityTooLarge,
                                  ServiceUnavailable, SwiftlikeError, Unauthorized)
from swiftlike.middleware.subrequest import (BodyInput, call, make_environ, object_path,
                                             path_account)
from swiftlike.middleware.toolkit import AUTHORIZE_KEY, AUTHORIZE_OVERRIDE_KEY, OWNER_KEY
from swiftlike.timestamp import Timestamp

SOURCE = 'VW'
# The content type of a delete marker (history mode): Swift's, so clients and
# tools that know Swift's versions containers read ours.
DELETE_MARKER = 'application/x-deleted;swift_versions_deleted=1'
# A listing page is read whole: more than this many bytes is not a listing.
MAX_LISTING_BYTES = 16 * 1024 * 1024
# Headers of a GET answer that are not the object's own (a copy gets its own).
_NOT_COPIED = frozenset((
    'content-length', 'etag', 'x-timestamp', 'last-modified', 'date', 'server',
    'connection', 'keep-alive', 'transfer-encoding', 'accept-ranges', 'content-range',
    'x-trans-id', 'x-openstack-request-id', 'x-newest', 'vary', 'x-copied-from',
    'x-copied-from-account', 'x-copied-from-last-modified', 'x-delete-at'))


class Failed(SwiftlikeError):
    """A step failed: the client gets this status and reason."""

    def __init__(self, status, reason):
        super().__init__(reason)
        self.http_status = status


def version_prefix(obj):
    """The versions-container prefix of object `obj` (real str): its length
    in UTF-8 bytes as 3 hex digits, the name, and a slash."""
    return '%03x%s/' % (len(obj.encode('utf-8')), obj)


def version_name(obj, timestamp):
    return version_prefix(obj) + Timestamp(timestamp).internal


def source_timestamp(headers):
    """The X-Timestamp of a GET answer (else its Last-Modified), as a Timestamp."""
    value = headers.get('x-timestamp')
    if value:
        try:
            return Timestamp(value)
        except (TypeError, ValueError):
            pass
    modified = headers.get('last-modified', '')
    try:
        return Timestamp(time.mktime(time.strptime(modified, '%a, %d %b %Y %H:%M:%S GMT'))
                         - time.timezone)
    except (TypeError, ValueError, OverflowError):
        return Timestamp.now()


def copied_headers(headers, now=None):
    """The headers of a GET answer ({lower: value}) a copy of it is PUT with."""
    out = {}
    for name, value in headers.items():
        if name in _NOT_COPIED or name.startswith('x-backend-'):
            continue
        out['-'.join(p.capitalize() for p in name.split('-'))] = value
    delete_at = headers.get('x-delete-at', '')
    # An expiry still ahead stays with the copy (an old version expires when
    # the object would have); one already passed is not copied (the PUT would
    # be refused, and the copy is the object's past anyway).
    if is_decimal(delete_at) and int(delete_at) > (now or time.time()) + 1:
        out['X-Delete-At'] = delete_at
    return out


def check(resp, what):
    """Nothing if `resp` succeeded; else Failed (and the answer closed): a
    404 means the container is not there (412, as Swift answers), another
    4xx is passed on, a 5xx is 503."""
    if resp.status // 100 == 2:
        return
    body = b''
    if resp.status < 500:
        try:
            body = resp.read(4096)
        except (ValueError, SwiftlikeError):
            body = b''
    resp.close()
    reason = body.decode('utf-8', 'replace').strip()
    if resp.status == 404:
        raise Failed(412, '%s: not found (does the versions container exist?)' % what)
    if resp.status < 500:
        raise Failed(resp.status, reason or '%s: status %d' % (what, resp.status))
    raise ServiceUnavailable('%s: status %d; nothing was changed' % (what, resp.status))


class Versioner:
    """The steps of one client request to a versioned container.

    `environ` is the client request's; account, container, obj and versions
    (the versions container) are real str."""

    def __init__(self, app, environ, account, container, obj, versions):
        self.app = app
        self.environ = environ
        self.account = account
        self.container = container
        self.obj = obj
        self.versions = versions
        self.path = object_path(account, container, obj)

    # -- subrequests ------------------------------------------------------------

    def _sub(self, method, path, query=None, headers=None):
        env = make_environ(self.environ, method, path, query, headers, source=SOURCE)
        # Pre-authorised (the requester's right was checked): no auth hook,
        # so the proxy acts as for the account's owner.
        for key in (AUTHORIZE_KEY, AUTHORIZE_OVERRIDE_KEY, OWNER_KEY):
            env.pop(key, None)
        return env

    def send(self, method, path):
        """A pre-authorised request without a body; its SubResponse."""
        return call(self.app, self._sub(method, path))

    def authorize(self, method, container_info):
        """Raise 401/403 unless the requester may write the versioned
        container (checked before anything is read or written)."""
        hook = self.environ.get(AUTHORIZE_KEY)
        if hook is None:
            return
        own_account = path_account(self.path) == path_account(self.environ.get('PATH_INFO', ''))
        if own_account and self.environ.get(OWNER_KEY):
            return
        env = dict(self.environ)
        env['REQUEST_METHOD'] = method
        env['PATH_INFO'] = self.path
        if not own_account:
            env.pop(OWNER_KEY, None)
        denied = hook(env, container_info.get('read_acl', ''),
                      container_info.get('write_acl', ''), True)
        if denied:
            status, reason = denied
            raise (Unauthorized if status.startswith('401') else Forbidden)(reason)

    def get(self, path):
        """GET an object (the object itself: a symlink or a manifest as
        stored), newest replica; None when there is none."""
        resp = call(self.app, self._sub('GET', path, 'symlink=get', {'X-Newest': 'true'}))
        if resp.status == 404:
            resp.discard()
            return None
        check(resp, 'Reading %s' % _readable(path))
        length = resp.headers.get('content-length', '')
        if not is_decimal(length) or int(length) > MAX_FILE_SIZE:
            resp.close()
            raise RequestEntityTooLarge('%s is too large to keep a version of'
                                        % _readable(path))
        return resp

    def put_copy(self, source, path, what):
        """PUT the object `source` (a GET answer) at `path`, streamed."""
        headers = copied_headers(source.headers)
        headers['Content-Length'] = source.headers['content-length']
        etag = source.headers.get('etag', '').strip('"')
        if etag:
            headers['ETag'] = etag
        env = self._sub('PUT', path, headers=headers)
        env['wsgi.input'] = BodyInput(source)
        try:
            resp = call(self.app, env)
            check(resp, what)
            resp.discard()
        finally:
            source.close()

    def delete(self, path, what, missing_ok=True):
        resp = call(self.app, self._sub('DELETE', path))
        if resp.status == 404 and missing_ok:
            resp.discard()
            return
        check(resp, what)
        resp.discard()

    def listing(self):
        """The versions of the object, newest first (dicts of a JSON listing),
        page by page; nothing when the versions container is missing."""
        prefix = version_prefix(self.obj)
        marker = ''
        path = object_path(self.account, self.versions)
        while True:
            query = {'format': 'json', 'prefix': prefix, 'reverse': 'on'}
            if marker:
                query['marker'] = marker
            resp = call(self.app, self._sub('GET', path, query))
            if resp.status == 404:
                resp.discard()
                return
            if resp.status // 100 != 2:
                resp.close()
                if resp.status < 500:
                    raise PreconditionFailed('Listing the versions container: status %d'
                                             % resp.status)
                raise ServiceUnavailable('Listing the versions container: status %d'
                                         % resp.status)
            if resp.status == 204:
                resp.close()
                return
            try:
                items = json.loads(resp.read(MAX_LISTING_BYTES))
                if not isinstance(items, list) or not all(
                        isinstance(i, dict) and isinstance(i.get('name'), str) for i in items):
                    raise ValueError('not a listing')
            except ValueError as err:
                raise ServiceUnavailable('Listing the versions container: %s' % err)
            if not items:
                return
            yield from items
            marker = items[-1]['name']

    def version_path(self, name):
        return object_path(self.account, self.versions, name)

    # -- the steps ------------------------------------------------------------------

    def copy_current(self, container_info, method='PUT'):
        """Before an overwrite (or a history-mode delete): the current object,
        if any, into the versions container, named by its timestamp."""
        self.authorize(method, container_info)
        current = self.get(self.path)
        if current is None:
            return
        name = version_name(self.obj, source_timestamp(current.headers))
        self.put_copy(current, self.version_path(name), 'Keeping the old version')

    def push_delete(self, container_info):
        """History mode: keep the current object and a delete marker; the
        client's DELETE then removes the object."""
        self.copy_current(container_info, 'DELETE')
        name = version_name(self.obj, Timestamp.now())
        env = self._sub('PUT', self.version_path(name),
                        headers={'Content-Type': DELETE_MARKER, 'Content-Length': '0'})
        resp = call(self.app, env)
        check(resp, 'Writing the delete marker')
        resp.discard()

    def pop_delete(self, container_info):
        """Stack mode: the path the client's DELETE should remove, after the
        newest version (if any) was put back in the object's place; None to
        delete the object itself."""
        items = self.listing()
        for item in items:
            self.authorize('DELETE', container_info)
            if item.get('content_type') == DELETE_MARKER:
                return self._undo_delete_marker(item, items)
            if self._restore(item['name']):
                return self.version_path(item['name'])
        return None

    def _undo_delete_marker(self, marker, items):
        """The newest version is a delete marker: with a current object, the
        DELETE removes that object; without one, the version before the
        marker comes back and the marker is deleted."""
        head = call(self.app, self._sub('HEAD', self.path, headers={'X-Newest': 'true'}))
        head.discard()
        if head.status != 404:
            check(head, 'Reading the current object')
            return None
        for item in items:
            if item.get('content_type') == DELETE_MARKER:
                break
            if self._restore(item['name']):
                self.delete(self.version_path(item['name']), 'Removing the restored version')
                break
        return self.version_path(marker['name'])

    def _restore(self, name):
        """Copy version `name` back to the object; False if it vanished."""
        version = self.get(self.version_path(name))
        if version is None:
            return False
        self.put_copy(version, self.path, 'Restoring the previous version')
        return True


def _readable(path):
    try:
        return path.encode('latin-1').decode('utf-8')
    except (UnicodeEncodeError, UnicodeDecodeError):
        return path


__all__ = ['Versioner', 'Failed', 'DELETE_MARKER', 'version_prefix', 'version_name',
           'copied_headers', 'source_timestamp']
