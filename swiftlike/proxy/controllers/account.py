"""Account requests: listing and stats, metadata, and (for reseller admins,
when allowed) creation and deletion."""
from xml.sax.saxutils import escape

from swiftlike.constraints import ACCOUNT_LISTING_LIMIT
from swiftlike.db import listing
from swiftlike.exceptions import MethodNotAllowed
from swiftlike.middleware.toolkit import INFO_REQUEST_KEY, info_headers
from swiftlike.proxy.controllers.base import Controller, Reply, name_path, without_owner_headers
from swiftlike.proxy.controllers.params import (listing_format, listing_query,
                                                metadata_headers, parse_query,
                                                sysmeta_headers)
from swiftlike.timestamp import Timestamp


class AccountController(Controller):
    server_type = 'account'
    verbs = ('GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS')
    # Middlewares keep their account state in X-Account-Sysmeta-* (tempauth's
    # ACL): sent on with PUT/POST, returned up to them (the gatekeeper hides it).
    passes_sysmeta = True

    def _ring(self):
        ring = self.app.account_ring
        part, nodes = ring.get_nodes(self.account)
        return ring, part, nodes

    def GET(self):
        if self.req.method == 'HEAD' and self.req.environ.get(INFO_REQUEST_KEY):
            return self.cached_info_reply()
        query = listing_query(self.req.query_string, self.req.headers.get('Accept'),
                              ACCOUNT_LISTING_LIMIT)
        ring, part, nodes = self._ring()
        headers = self.base_headers()
        for name in ('Accept', 'X-Newest'):
            if name in self.req.headers:
                headers[name] = self.req.headers[name]
        resp = self.read(ring, part, nodes, self.req.method, name_path(self.account),
                         headers, query)
        if resp is not None and resp.status == 404 and self.app.conf.account_autocreate \
                and resp.headers.get('x-account-status', '').lower() != 'deleted':
            resp.close()
            return self.empty_account()
        reply = self.read_reply(resp)
        if not self.is_owner:
            reply.headers = without_owner_headers(reply.headers)
        return reply

    HEAD = GET

    def cached_info_reply(self):
        """A middleware's account_info() subrequest: the answer from this
        worker's info cache (no backend request while it is fresh)."""
        info = self.account_info()
        headers = info_headers(info, 'account') if 200 <= info['status'] < 300 else []
        return Reply(info['status'], headers, app_iter=[b''], content_length=0)

    def empty_account(self):
        """What an account that does not exist yet looks like (it is created on
        the first container PUT)."""
        now = Timestamp.now()
        headers = [('X-Account-Container-Count', '0'), ('X-Account-Object-Count', '0'),
                   ('X-Account-Bytes-Used', '0'), ('X-Timestamp', now.normal),
                   ('X-Put-Timestamp', now.normal)]
        fmt = listing_format(parse_query(self.req.query_string), self.req.headers.get('Accept'))
        content_type = [('Content-Type', listing.content_type(fmt)),
                        ('Accept-Ranges', 'bytes')]
        if self.req.method == 'HEAD' or fmt == 'plain':
            return Reply(204, headers + content_type)
        if fmt == 'json':
            return Reply(200, headers + content_type, b'[]')
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<account name=%s></account>'
                % _xml_attr(self.account))
        return Reply(200, headers + content_type, body)

    def POST(self):
        meta = self.metadata()
        ring, part, nodes = self._ring()
        headers = self.base_headers()
        headers.update(meta)
        headers['X-Timestamp'] = Timestamp.now().internal
        resp = self.make_requests(ring, part, nodes, 'POST', name_path(self.account),
                                  [headers] * len(nodes))
        if resp is not None and resp.status == 404 and self.app.conf.account_autocreate:
            created = self.autocreate()
            if created is not None and created.status // 100 == 2:
                headers['X-Timestamp'] = Timestamp.now().internal
                resp = self.make_requests(ring, part, nodes, 'POST', name_path(self.account),
                                          [headers] * len(nodes))
        self.app.info_cache.pop(('account', self.account))
        return self.write_reply(resp)

    def PUT(self):
        if not self.app.conf.allow_account_management:
            raise MethodNotAllowed('Account management is disabled', {'Allow': 'GET, HEAD, POST'})
        meta = self.metadata()
        resp = self.autocreate(meta)
        self.app.info_cache.pop(('account', self.account))
        return self.write_reply(resp)

    def DELETE(self):
        if not self.app.conf.allow_account_management:
            raise MethodNotAllowed('Account management is disabled', {'Allow': 'GET, HEAD, POST'})
        if self.req.query_string:
            # Swift refuses this too: a stray query string may be a mistyped
            # container DELETE.
            return Reply(400, {}, 'DELETE of an account takes no query string')
        ring, part, nodes = self._ring()
        headers = self.base_headers()
        headers['X-Timestamp'] = Timestamp.now().internal
        resp = self.make_requests(ring, part, nodes, 'DELETE', name_path(self.account),
                                  [headers] * len(nodes))
        self.app.info_cache.pop(('account', self.account))
        return self.write_reply(resp)

    def metadata(self):
        """User metadata of the request (checked), and the system metadata a
        middleware set (clients cannot: the gatekeeper drops theirs)."""
        meta = metadata_headers(self.req.headers, 'account')
        meta.update(sysmeta_headers(self.req.headers, 'account'))
        return meta


    def autocreate(self, meta=None):
        """PUT the account on its account servers (first container PUT)."""
        ring, part, nodes = self._ring()
        headers = self.base_headers()
        headers.update(meta or {})
        headers['X-Timestamp'] = Timestamp.now().internal
        return self.make_requests(ring, part, nodes, 'PUT', name_path(self.account),
                                  [headers] * len(nodes))


def _xml_attr(value):
    return '"%s"' % escape(value, {'"': '&quot;'})

