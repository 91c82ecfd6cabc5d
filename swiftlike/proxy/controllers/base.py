"""What the account, container and object controllers share: replies, backend
fan-out with handoffs and quorum, newest-wins reads, and cached info."""
import http.client
import itertools
import time
from urllib.parse import quote

from swiftlike.concurrency import GreenPile
from swiftlike.config import is_true
from swiftlike.constraints import is_decimal
from swiftlike.exceptions import (ConnectionTimeout, Forbidden, ServiceUnavailable, SwiftlikeError,
                                  Unauthorized)
from swiftlike.http import status_line
from swiftlike.paths import str_to_wsgi
from swiftlike.middleware.toolkit import AUTHORIZE_KEY, OWNER_KEY, TXN_KEY
from swiftlike import backend_http as backend
from swiftlike.proxy import cors
from swiftlike.proxy.node_iter import best_status, choose_read_answer, iter_nodes, newest
from swiftlike.timestamp import Timestamp

HOP_BY_HOP = frozenset(('connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer',
                        'upgrade', 'proxy-authenticate', 'proxy-authorization', 'date',
                        'server', 'content-length'))
TIMESTAMP_HEADERS = ('x-backend-timestamp', 'x-backend-put-timestamp', 'x-put-timestamp',
                     'x-timestamp')
# What only the account's owners (env[OWNER_KEY]) may set and see.
OWNER_ONLY_HEADERS = frozenset((
    'x-container-read', 'x-container-write', 'x-container-sync-key', 'x-container-sync-to',
    'x-account-meta-temp-url-key', 'x-account-meta-temp-url-key-2',
    'x-container-meta-temp-url-key', 'x-container-meta-temp-url-key-2',
    'x-account-access-control'))


class Reply:
    """A minimal WSGI response: status, header list, body bytes or iterator."""

    __slots__ = ('status', 'headers', 'body', 'app_iter')

    def __init__(self, status, headers=None, body=b'', app_iter=None, content_length=None):
        self.status = status
        self.headers = list(headers.items()) if isinstance(headers, dict) else list(headers or ())
        if isinstance(body, str):
            body = body.encode('utf-8')
        self.body = body
        self.app_iter = app_iter
        if app_iter is None:
            if not any(k.lower() == 'content-type' for k, _ in self.headers):
                # Swift's habit, which clients see on every bodiless answer.
                self.headers.append(('Content-Type', 'text/plain; charset=UTF-8' if body
                                     else 'text/html; charset=UTF-8'))
            self.headers.append(('Content-Length', str(len(body))))
        elif content_length is not None:
            self.headers.append(('Content-Length', str(content_length)))

    def __call__(self, environ, start_response):
        start_response(status_line(self.status), self.headers)
        if self.app_iter is not None:
            return self.app_iter
        if environ.get('REQUEST_METHOD') == 'HEAD':
            return [b'']
        return [self.body]


def name_path(account, container=None, obj=None):
    """'/<account>[/<container>[/<obj>]]' URL-quoted, as backends expect."""
    parts = [account] if container is None else (
        [account, container] if obj is None else [account, container, obj])
    return quote('/' + '/'.join(parts), safe='/')


def node_path(node, part, suffix):
    return '/%s/%d%s' % (quote(node['device'], safe=''), part, suffix)


def error_reply(status, reason='', headers=None):
    return Reply(status, headers, reason)


def response_timestamp(headers):
    """The newest of the timestamps a backend reports (None if none)."""
    best = None
    for name in TIMESTAMP_HEADERS:
        value = headers.get(name)
        if value:
            try:
                ts = Timestamp(value)
            except (ValueError, TypeError):
                continue
            if best is None or ts > best:
                best = ts
    return best


def client_headers(backend_headers, sysmeta=False):
    """Backend response headers a client may see (order kept). With `sysmeta`,
    system metadata stays for the middlewares (the gatekeeper hides it)."""
    return [(_title(k), v) for k, v in backend_headers.items()
            if k not in HOP_BY_HOP and not k.startswith('x-backend-') and
            (sysmeta or '-sysmeta-' not in k)]


def without_owner_headers(headers):
    return [(k, v) for k, v in headers if k.lower() not in OWNER_ONLY_HEADERS]


def _title(name):
    return '-'.join(part.capitalize() for part in name.split('-'))


class BodyIter:
    """Streams a backend response body to the client, then frees the connection.

    If the backend fails mid-body and a `resume(offset, failed_node)` callback
    is given, the rest comes from another replica (a ranged GET of the same
    ETag), so the client still gets every byte.
    """

    def __init__(self, resp, chunk_size, resume=None, logger=None):
        self.resp = resp
        self.chunk_size = chunk_size
        self.resume = resume
        self.logger = logger

    def __iter__(self):
        sent = 0
        length = self.resp.headers.get('content-length')
        expected = int(length) if length and is_decimal(length) else None
        try:
            while True:
                resp = self.resp
                try:
                    chunk = resp.read(self.chunk_size)
                    failure = None
                except (OSError, ValueError, http.client.HTTPException) as err:
                    chunk, failure = b'', err
                    if expected is not None and sent >= expected:
                        break
                if not chunk and (failure is not None or
                                  (expected is not None and sent < expected)):
                    resp.close()
                    replacement = self.resume(sent, resp.node) if self.resume else None
                    if self.logger:
                        self.logger.warning('ERROR reading from %s:%s after %d bytes: %s%s',
                                            resp.node['ip'], resp.node['port'], sent,
                                            failure or 'short body',
                                            '; resuming' if replacement else '')
                    if replacement is None:
                        raise ConnectionTimeout('reading from %s:%s failed'
                                                % (resp.node['ip'], resp.node['port']))
                    self.resp = replacement
                    continue
                if not chunk:
                    break
                sent += len(chunk)
                yield chunk
        finally:
            self.resp.release()

    def close(self):
        self.resp.close()


class Controller:
    """Base of the per-level controllers; one instance per request."""

    server_type = 'base'
    # Whether responses carry the backends' system metadata up the pipeline.
    passes_sysmeta = False

    def __init__(self, app, req, account, container=None, obj=None):
        self.app = app
        self.req = req
        # The account in the URL, whose ownership the auth middleware judged
        # (a cross-account copy acts on another one as well).
        self.path_account = account
        self.account = account
        self.container = container
        self.obj = obj
        self.txn_id = req.environ.get(TXN_KEY, '-')

    # -- auth -----------------------------------------------------------

    def authorize(self, read_acl='', write_acl='', is_object=False, method=None,
                  account=None, container=None):
        """Ask the auth middleware about a non-owner, now that the ACLs are known
        (`method`: judge as if the request were that, e.g. GET for a copy source;
        `account`/`container`: judge that container, e.g. another account's)."""
        hook = self.req.environ.get(AUTHORIZE_KEY)
        if hook is None:
            return
        environ = self.req.environ
        if method is not None or account is not None:
            environ = dict(environ)
            if method is not None:
                environ['REQUEST_METHOD'] = method
            if account is not None:
                environ['PATH_INFO'] = str_to_wsgi('/v1/%s/%s' % (account, container or ''))
        denied = hook(environ, read_acl, write_acl, is_object)
        if denied:
            status, reason = denied
            if status.startswith('401'):
                raise Unauthorized(reason)
            raise Forbidden(reason)

    @property
    def is_owner(self):
        env = self.req.environ
        return env.get(OWNER_KEY, False) or AUTHORIZE_KEY not in env

    # -- backend I/O ----------------------------------------------------

    def base_headers(self):
        return {'X-Trans-Id': self.txn_id}

    def nodes(self, ring, part, primaries, max_handoffs=None):
        return iter_nodes(primaries, ring.get_more_nodes(part), self.app.limiter,
                          max_handoffs=max_handoffs)

    def _request_one(self, nodes, method, part, suffix, headers, query, body, read_body=True):
        """Try nodes in turn until one gives a non-5xx answer."""
        app = self.app
        for node in nodes:
            path = node_path(node, part, suffix)
            start = time.monotonic()
            try:
                resp = backend.request(app.pool, node, method, path, headers, body, query,
                                       app.conf.conn_timeout, app.conf.node_timeout)
            except ConnectionTimeout as err:
                app.backend_done(node, method, None, time.monotonic() - start)
                app.limiter.error(node)
                app.logger.warning('ERROR %s', err.reason)
                continue
            app.backend_done(node, method, resp.status, time.monotonic() - start)
            if resp.status == 507:
                app.limiter.limit_now(node)
                resp.close()
                continue
            if resp.status >= 500:
                app.limiter.error(node)
                resp.close()
                continue
            app.limiter.success(node)
            if read_body:
                resp.body = resp.read()
                resp.release()
            return resp
        return None

    def make_requests(self, ring, part, primaries, method, suffix, headers_list,
                      query=None, body=b''):
        """Send one write to each primary at once (handoffs replace failures);
        answer with the status a quorum agrees on."""
        nodes = self.nodes(ring, part, primaries)
        pile = GreenPile(len(headers_list))
        for headers in headers_list:
            pile.spawn(self._request_one, nodes, method, part, suffix, headers, query, body)
        responses = [r for r in pile if r is not None]
        status = best_status([r.status for r in responses], len(primaries))
        resp = next((r for r in responses if r.status == status), None)
        if resp is not None and method == 'DELETE':
            # What any replica knew of the deleted object's system metadata
            # (a replica that missed it answers without).
            for other in responses:
                resp.headers.update([(k, v) for k, v in other.headers.items()
                                     if k.startswith('x-object-sysmeta-') and k not in resp.headers])
        return resp

    def write_reply(self, resp, status=None):
        if resp is None:
            return error_reply(503, 'Service unavailable: no quorum of storage nodes answered')
        return Reply(status or resp.status, client_headers(resp.headers, self.passes_sysmeta),
                     resp.body)

    def read(self, ring, part, primaries, method, suffix, headers, query=None, fanout=1):
        """GET/HEAD: ask `fanout` nodes at once, prefer the newest answer, and
        fall back through the other primaries and handoffs.

        Returns a BackendResponse with its body unread, or None if no node
        answered at all.
        """
        app = self.app
        if is_true(headers.get('X-Newest')):
            fanout = len(primaries)
        fanout = max(1, min(fanout, len(primaries)))
        nodes = self.nodes(ring, part, primaries, max_handoffs=app.request_node_count(len(primaries)))
        # One GET; the other replicas are only asked for their version (HEAD),
        # so a read costs one body, not `fanout` of them. The first request
        # runs in this green thread (it takes the first node before the others
        # start); the others in their own, at once.
        others = ()
        if fanout > 1:
            probe, probe_headers = (method, headers) if method != 'GET' else (
                'HEAD', {k: v for k, v in headers.items() if k not in ('Range', 'If-Range')})
            others = GreenPile(fanout - 1)
            for _i in range(1, fanout):
                others.spawn(self._request_one, nodes, probe, part, suffix, probe_headers, query,
                             b'', False)
        answers = [self._request_one(nodes, method, part, suffix, headers, query, b'', False)]
        answers = [r for r in itertools.chain(answers, others) if r is not None]
        while True:
            found = [r for r in answers if _read_kind(r.status) == 'found']
            missing = [r for r in answers if _read_kind(r.status) == 'missing']
            other = [r for r in answers if _read_kind(r.status) == 'other']
            # "Not found" needs as many 404s as there are primaries, not a
            # quorum: an acknowledged write may sit on one primary only (its
            # other replicas on handoffs while two primaries were down), and
            # a tombstone seen first may be older than that copy.
            if found or other or len(missing) >= len(primaries):
                break
            more = self._request_one(nodes, method, part, suffix, headers, query, b'', False)
            if more is None:
                break
            answers.append(more)
        choice = choose_read_answer(found, missing, other,
                                    lambda r: response_timestamp(r.headers))
        if choice is not None and choice.method != method:
            choice = self._fetch_probed(choice, nodes, method, part, suffix, headers, query,
                                        answers)
        for resp in answers:
            if resp is not choice and resp is not None:
                resp.discard()
        return choice

    def _fetch_probed(self, probe, nodes, method, part, suffix, headers, query, answers):
        """The GET of the state a version probe (HEAD) showed: from the probed
        node, else from a further node with the same kind of answer at least as
        new (the probed node may fail a GET it answered a HEAD for). Else the
        probe itself when it is not a found object (a newer tombstone needs no
        body), or the newest body already opened. New answers join `answers`."""
        wanted = response_timestamp(probe.headers)
        kind = _read_kind(probe.status)
        for node in itertools.chain([probe.node], nodes):
            resp = self._request_one(iter([node]), method, part, suffix, headers, query,
                                     b'', False)
            if resp is None:
                continue
            answers.append(resp)
            ts = response_timestamp(resp.headers)
            if node is probe.node or (_read_kind(resp.status) == kind and (
                    wanted is None or (ts is not None and ts >= wanted))):
                return resp
        if kind != 'found':
            return probe
        gets = [r for r in answers if r.method == method and _read_kind(r.status) == 'found']
        return newest(gets, lambda r: response_timestamp(r.headers))

    def read_reply(self, resp, extra_headers=None, resume=None):
        """Turn a backend GET/HEAD answer into the client's response."""
        if resp is None:
            return error_reply(503, 'Service unavailable: no storage node answered')
        headers = client_headers(resp.headers, self.passes_sysmeta)
        if extra_headers:
            headers.extend(extra_headers)
        if self.req.method == 'HEAD' or resp.status in (204, 304):
            resp.discard()
            length = resp.headers.get('content-length')
            if length is not None and resp.status not in (204, 304):
                headers.append(('Content-Length', length))
            elif resp.status != 304:
                headers.append(('Content-Length', '0'))
            return Reply(resp.status, headers, app_iter=[b''])
        length = resp.headers.get('content-length')
        if length is not None:
            headers.append(('Content-Length', length))
        if resp.status >= 400:
            body = resp.read()
            resp.release()
            return Reply(resp.status, headers, app_iter=[body],
                         content_length=None if length is not None else len(body))
        return Reply(resp.status, headers,
                     app_iter=BodyIter(resp, self.app.conf.object_chunk_size,
                                       resume if resp.status == 200 else None, self.app.logger))

    # -- cached info ----------------------------------------------------

    def account_info(self, account=None):
        """{'status', 'container_count', 'object_count', 'bytes', 'meta', 'sysmeta'}
        of an account (meta/sysmeta keyed by lower-case header suffix), cached
        briefly in this worker."""
        account = account or self.account
        return self.app.info_cache.get(('account', account), lambda: self._fetch_account_info(account))

    def _fetch_account_info(self, account):
        ring = self.app.account_ring
        part, nodes = ring.get_nodes(account)
        resp = self.read(ring, part, nodes, 'HEAD', name_path(account),
                         self.base_headers())
        if resp is None:
            raise ServiceUnavailable('No account server answered')
        resp.discard()
        if resp.status == 404 or not (200 <= resp.status < 300):
            return {'status': resp.status}
        h = resp.headers
        return {'status': resp.status,
                'container_count': int(h.get('x-account-container-count', 0) or 0),
                'object_count': int(h.get('x-account-object-count', 0) or 0),
                'bytes': int(h.get('x-account-bytes-used', 0) or 0),
                'meta': _suffixes(h, 'x-account-meta-'),
                'sysmeta': _suffixes(h, 'x-account-sysmeta-')}

    def container_info(self, account=None, container=None):
        account = account or self.account
        container = container or self.container
        return self.app.info_cache.get(('container', account, container),
                                       lambda: self._fetch_container_info(account, container))

    def _fetch_container_info(self, account, container):
        ring = self.app.container_ring
        part, nodes = ring.get_nodes(account, container)
        resp = self.read(ring, part, nodes, 'HEAD',
                         name_path(account, container),
                         self.base_headers())
        if resp is None:
            raise ServiceUnavailable('No container server answered')
        resp.discard()
        if not (200 <= resp.status < 300):
            return {'status': resp.status}
        h = resp.headers
        return {'status': resp.status,
                'object_count': int(h.get('x-container-object-count', 0) or 0),
                'bytes': int(h.get('x-container-bytes-used', 0) or 0),
                'read_acl': h.get('x-container-read', ''),
                'write_acl': h.get('x-container-write', ''),
                'meta': _suffixes(h, 'x-container-meta-'),
                'sysmeta': _suffixes(h, 'x-container-sysmeta-'),
                'partition': part, 'nodes': nodes}

    # -- CORS ---------------------------------------------------------------

    def _cors(self):
        try:
            info = self.container_info()
        except SwiftlikeError:
            return None
        if not 200 <= info.get('status', 0) < 300:
            return None
        return cors.container_cors(info.get('meta', {}))

    def OPTIONS(self):
        """Allowed methods; for a browser's preflight (Origin and
        Access-Control-Request-Method), the container's CORS rules decide."""
        origin = self.req.headers.get('Origin')
        if not origin or self.container is None:
            return Reply(200, [('Allow', ', '.join(self.verbs))])
        settings = self._cors() or {}
        conf = self.app.conf
        status, headers = cors.preflight(
            origin, self.req.headers.get('Access-Control-Request-Method'),
            self.req.headers.get('Access-Control-Request-Headers'), settings,
            conf.cors_origins, self.verbs)
        return Reply(status, headers)

    def cors_headers(self, response_headers):
        """CORS headers for the response to a request with an Origin."""
        origin = self.req.headers.get('Origin')
        if not origin or self.container is None or self.req.method == 'OPTIONS':
            return []
        settings = self._cors()
        if settings is None:
            return []
        conf = self.app.conf
        return cors.response_headers(origin, settings, conf.cors_origins, conf.strict_cors_mode,
                                     conf.cors_expose, response_headers)

    def invalidate_info(self, *key):
        self.app.info_cache.pop(key)


def _read_kind(status):
    """'found' (the object is there: 2xx/3xx, or a precondition or range that
    failed against it), 'missing' (404) or 'other' for a read's answer."""
    if status < 400 or status in (412, 416):
        return 'found'
    return 'missing' if status == 404 else 'other'


def _suffixes(headers, prefix):
    return {k[len(prefix):]: v for k, v in headers.items() if k.startswith(prefix)}
