"""Object requests: streamed PUT to a quorum, newest-wins GET/HEAD, metadata
POST, DELETE. (Server-side copy is the copy middleware's: a GET of the source
and a PUT of the destination through the pipeline.)"""
import mimetypes
import time

from swiftlike.config import is_true
from swiftlike.constraints import check_content_length, check_utf8, is_decimal
from swiftlike.exceptions import (BadRequest, NotFound, NotImplemented_, ServiceUnavailable,
                                  SwiftlikeError)
from swiftlike.http import client_content_type
from swiftlike.proxy.controllers import obj_cas, obj_put
from swiftlike.middleware.environ_keys import WRITE_ONCE_READ_KEY
from swiftlike.proxy.controllers.base import (AUTHORIZE_KEY, Controller, Reply, error_reply,
                                              name_path)
from swiftlike.proxy.controllers.params import metadata_headers, sysmeta_headers
from swiftlike.timestamp import Timestamp

READ_HEADERS = ('Range', 'If-Match', 'If-None-Match', 'If-Modified-Since',
                'If-Unmodified-Since', 'If-Range', 'X-Newest')
# Client headers stored with the object besides X-Object-Meta-*
# (X-Object-Manifest only reaches here when the dlo middleware runs).
STORED_HEADERS = ('Content-Disposition', 'Content-Encoding', 'Content-Language',
                  'Cache-Control', 'Expires', 'X-Object-Manifest')
# The largest time a ten-digit X-Delete-At can name (as Swift caps it).
MAX_DELETE_AT = 9999999999


class ObjectController(Controller):
    server_type = 'object'
    passes_sysmeta = True
    verbs = ('GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS')

    def _ring(self, container=None, obj=None):
        ring = self.app.object_ring
        part, nodes = ring.get_nodes(self.account, container or self.container, obj or self.obj)
        return ring, part, nodes

    def _check_access(self, write=False, container=None, account=None, method=None):
        """For non-owners of `account` (default: the request's target): the
        container's ACLs decide (via the auth middleware)."""
        account = account or self.account
        container = container or self.container
        if account == self.path_account and self.is_owner:
            return
        if AUTHORIZE_KEY not in self.req.environ:
            return
        info = self.container_info(account, container)
        self.authorize(info.get('read_acl', ''), info.get('write_acl', ''), is_object=True,
                       method=method, account=account, container=container)

    # -- reads -------------------------------------------------------------

    def GET(self):
        self._check_access()
        headers = self.base_headers()
        for name in READ_HEADERS:
            value = self.req.headers.get(name)
            if value is not None:
                headers[name] = value
        ring, part, nodes = self._ring()
        fanout = 1 if self.req.environ.get(WRITE_ONCE_READ_KEY) else \
            self.app.conf.object_read_fanout
        resp = self.read(ring, part, nodes, self.req.method,
                         name_path(self.account, self.container, self.obj), headers,
                         fanout=fanout)
        resume = None
        if resp is not None and self.req.method == 'GET' and 'Range' not in headers:
            etag = resp.headers.get('etag', '')
            resume = lambda offset, failed: self._resume(  # noqa: E731
                ring, part, nodes, offset, failed, etag)
        return self.read_reply(resp, resume=resume)

    def _resume(self, ring, part, nodes, offset, failed, etag):
        """The rest of the object from `offset`, from another replica with the
        same ETag (None if none can give it)."""
        self.app.limiter.error(failed)
        headers = self.base_headers()
        headers['Range'] = 'bytes=%d-' % offset
        if etag:
            headers['If-Match'] = etag
        suffix = name_path(self.account, self.container, self.obj)
        count = len(nodes) + self.app.request_node_count(len(nodes))
        for node in self.nodes(ring, part, nodes):
            count -= 1
            if count < 0:
                break
            if node is failed or (node['ip'], node['port'], node['device']) == \
                    (failed['ip'], failed['port'], failed['device']):
                continue
            resp = self._request_one(iter([node]), 'GET', part, suffix, headers, None, b'',
                                     False)
            if resp is not None and resp.status == 206 and \
                    'multipart' not in resp.headers.get('content-type', ''):
                return resp
            if resp is not None:
                resp.discard()
        return None

    HEAD = GET


    # -- writes ------------------------------------------------------------

    def _delete_at(self, headers):
        """X-Delete-At / X-Delete-After -> absolute int, or None; 400 when bad
        (with Swift's wording). A time past the year 2286 is capped there."""
        value = self.req.headers.get('X-Delete-At')
        after = self.req.headers.get('X-Delete-After')
        now = time.time()
        if after is not None:
            try:
                after = int(after)
            except ValueError:
                raise BadRequest('Non-integer X-Delete-After')
            if after < 0:
                raise BadRequest('X-Delete-After in past')
            delete_at = int(now + after)
        elif value is not None:
            try:
                delete_at = int(value)
            except ValueError:
                raise BadRequest('Non-integer X-Delete-At')
        else:
            return None
        if delete_at < now:
            raise BadRequest('X-Delete-At in past')
        delete_at = min(delete_at, MAX_DELETE_AT)
        headers['X-Delete-At'] = str(delete_at)
        return delete_at

    def _expirer_headers(self, delete_at, count):
        """X-Delete-At-* headers (one queue replica per object replica)."""
        conf = self.app.conf
        container = str(delete_at // conf.expiring_objects_container_divisor
                        * conf.expiring_objects_container_divisor)
        part, nodes = self.app.container_ring.get_nodes(conf.expiring_objects_account, container)
        out = []
        for i in range(count):
            node = nodes[i % len(nodes)]
            out.append({'X-Delete-At-Container': container,
                        'X-Delete-At-Host': '%s:%s' % (node['ip'], node['port']),
                        'X-Delete-At-Device': node['device'],
                        'X-Delete-At-Partition': str(part)})
        return out

    def _container_headers(self, count):
        """X-Container-* update targets, one container replica per object replica."""
        info = self.container_info()
        if info['status'] == 404:
            raise NotFound('Container not found')
        if info['status'] // 100 != 2:
            raise ServiceUnavailable('Container servers did not answer')
        cpart, cnodes = info['partition'], info['nodes']
        out = []
        for i in range(count):
            node = cnodes[i % len(cnodes)]
            out.append({'X-Container-Host': '%s:%s' % (node['ip'], node['port']),
                        'X-Container-Device': node['device'],
                        'X-Container-Partition': str(cpart)})
        return out

    def _per_node(self, common, nodes, delete_at=None):
        headers_list = []
        targets = self._container_headers(len(nodes))
        expirer = self._expirer_headers(delete_at, len(nodes)) if delete_at else None
        for i in range(len(nodes)):
            h = dict(common)
            h.update(targets[i])
            if expirer:
                h.update(expirer[i])
            headers_list.append(h)
        return headers_list

    def POST(self):
        self._check_access(write=True)
        ring, part, nodes = self._ring()
        headers = self.base_headers()
        headers.update(metadata_headers(self.req.headers, 'object'))
        # Stored system metadata stays as the PUT left it; transient may change.
        headers.update((k, v) for k, v in sysmeta_headers(self.req.headers, 'object').items()
                       if k.lower().startswith('x-object-transient-sysmeta-'))
        for name in STORED_HEADERS:
            if name in self.req.headers:
                headers[name] = self.req.headers[name]
        ctype = client_content_type(self.req.environ)
        if ctype:
            check_utf8(ctype, 'Content-Type')
            headers['Content-Type'] = ctype
        delete_at = self._delete_at(headers)
        headers['X-Timestamp'] = Timestamp.now().internal
        headers_list = [dict(headers) for _ in nodes]
        if ctype:
            # A new type shows in the listing: the object servers update it.
            for h, extra in zip(headers_list, self._container_headers(len(nodes))):
                h.update(extra)
        if delete_at:
            for h, extra in zip(headers_list, self._expirer_headers(delete_at, len(nodes))):
                h.update(extra)
        resp = self.make_requests(ring, part, nodes, 'POST',
                                  name_path(self.account, self.container, self.obj),
                                  headers_list)
        return self.write_reply(resp)

    def DELETE(self):
        self._check_access(write=True)
        ring, part, nodes = self._ring()
        common = self.base_headers()
        if_delete_at = self.req.headers.get('X-If-Delete-At')
        if if_delete_at is not None:
            if not is_decimal(if_delete_at.strip()):
                raise BadRequest('Bad X-If-Delete-At header value')
            common['X-If-Delete-At'] = if_delete_at.strip()
        common['X-Timestamp'] = Timestamp.now().internal
        resp = self.make_requests(ring, part, nodes, 'DELETE',
                                  name_path(self.account, self.container, self.obj),
                                  self._per_node(common, nodes))
        return self.write_reply(resp)

    def PUT(self):
        self._check_access(write=True)
        return self._put(self.base_headers(), self._body_length(),
                         self.req.environ['wsgi.input'].read)

    def _put(self, headers, length, reader):
        meta = metadata_headers(self.req.headers, 'object')
        headers.update(meta)
        headers.update(sysmeta_headers(self.req.headers, 'object'))
        for name in STORED_HEADERS:
            if name in self.req.headers:
                headers[name] = self.req.headers[name]
        headers = {k: v for k, v in headers.items() if v != '' or not k.startswith('X-Object-Meta-')}
        self._content_type(headers)
        etag = self.req.headers.get('ETag')
        if etag:
            headers['ETag'] = etag.strip().strip('"')
        if_none_match = self.req.headers.get('If-None-Match')
        if if_none_match is not None:
            if if_none_match.strip() != '*':
                raise BadRequest('If-None-Match only supports *')
            headers['If-None-Match'] = '*'
        delete_at = self._delete_at(headers)
        # An append middleware's manifest commit names its own timestamp.
        cas = self.req.environ.get(obj_cas.COMMIT_KEY)
        timestamp = cas.timestamp if cas is not None else Timestamp.now()
        headers['X-Timestamp'] = timestamp.internal
        if length is not None:
            headers['Content-Length'] = str(length)
        ring, part, nodes = self._ring()
        headers_list = self._per_node(headers, nodes, delete_at)
        if cas is not None:
            return obj_cas.commit(self, ring, part, nodes, headers_list, length, reader)
        # A create-only PUT is streamed: every replica can refuse it before any
        # of them stored it (a buffered PUT would write where the object is
        # missing, and that newer copy would replace it everywhere later).
        if length is not None and length <= self.app.conf.buffered_put_size and \
                'If-None-Match' not in headers:
            return self._buffered_put(ring, part, nodes, headers_list, length, reader, timestamp)
        return self._stream_put(ring, part, nodes, headers_list, length, reader, timestamp)

    def _body_length(self):
        """The body's declared length; None for a chunked body."""
        te = self.req.headers.get('Transfer-Encoding', '').lower()
        if te and te != 'chunked':
            raise NotImplemented_('Transfer-Encoding %s is not supported' % te[:32])
        if te == 'chunked':
            return None
        return check_content_length(self.req.headers)

    def _content_type(self, headers):
        detect = is_true(self.req.headers.get('X-Detect-Content-Type'))
        ctype = client_content_type(self.req.environ)
        if ctype and not detect:
            check_utf8(ctype, 'Content-Type')
            headers['Content-Type'] = ctype
        else:
            guessed = mimetypes.guess_type(self.obj)[0]
            headers['Content-Type'] = guessed or 'application/octet-stream'

    def _buffered_put(self, ring, part, nodes, headers_list, length, reader, timestamp):
        """Small bodies are read whole first, then sent with their headers in one
        go (no 100-continue round trip); a failed node is retried on a handoff
        with the same bytes."""
        body = obj_put.read_whole(reader, length, self.app.conf.client_timeout)
        resp = self.make_requests(ring, part, nodes, 'PUT',
                                  name_path(self.account, self.container, self.obj),
                                  headers_list, body=body)
        if resp is None:
            return error_reply(503, 'Service unavailable: no quorum of object servers stored it')
        return self._put_reply(resp.status, resp, timestamp, length)

    def _put_reply(self, status, chosen, timestamp, size=None):
        if status == 201:
            if size is not None:
                cache = self.app.info_cache
                cache.add_usage(('container', self.account, self.container), size)
                cache.add_usage(('account', self.account), size)
            headers = [('ETag', chosen.headers.get('etag', '')),
                       ('Last-Modified', timestamp.last_modified)]
            return Reply(201, headers, b'')
        if status == 409:
            return Reply(202, {}, 'A newer version of the object exists')
        if status == 422:
            return error_reply(422, 'ETag does not match the body')
        if status == 499:
            return error_reply(499, 'Client disconnected')
        if status // 100 == 4:
            return error_reply(status, 'Object servers refused the upload')
        return error_reply(503, 'Service unavailable: no quorum of object servers stored it')

    def _stream_put(self, ring, part, nodes, headers_list, length, reader, timestamp):
        app = self.app
        suffix = name_path(self.account, self.container, self.obj)
        node_iter = self.nodes(ring, part, nodes)
        # Chunked to the replicas: the body ends with its MD5 and CRC.
        putters, finals = obj_put.open_putters(app, node_iter, part, suffix,
                                               obj_put.checked_headers(headers_list, length))
        replicas = len(nodes)
        create_only = 'If-None-Match' in headers_list[0]
        if create_only and any(r.status == 412 for r in finals):
            # One replica holding the object is enough to refuse (as Swift does).
            obj_put.close_all(putters)
            return error_reply(412, 'The object exists (If-None-Match: *)')
        if len(putters) < obj_put.quorum_size(replicas):
            obj_put.close_all(putters)
            statuses = [r.status for r in finals]
            status = obj_put.best_status(statuses, replicas)
            if status == 409:
                return Reply(202, {}, 'A newer version of the object exists')
            if status in (412, 422) or (status // 100 == 4 and status != 409):
                return error_reply(status, 'Object servers refused the upload')
            return error_reply(503, 'Service unavailable: could not reach a quorum of '
                                    'object servers')
        try:
            sent = obj_put.stream_body(putters, reader, length, app.conf.client_chunk_size,
                                       app.conf.client_timeout, replicas)
        except SwiftlikeError:
            obj_put.close_all(putters)
            raise
        status, chosen, responses = obj_put.collect_responses(app, putters, replicas)
        if create_only and any(r.status == 412 for r in responses):
            return error_reply(412, 'The object exists (If-None-Match: *)')
        return self._put_reply(status, chosen, timestamp, sent)
