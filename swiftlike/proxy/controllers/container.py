"""Container requests: create (auto-creating the account), metadata and ACLs,
listing, delete."""
from swiftlike.constraints import CONTAINER_LISTING_LIMIT, check_utf8
from swiftlike.exceptions import NotFound, ServiceUnavailable
from swiftlike.middleware.toolkit import INFO_REQUEST_KEY, info_headers
from swiftlike.proxy.controllers.account import AccountController
from swiftlike.proxy.controllers.base import (OWNER_ONLY_HEADERS, Controller, Reply, name_path,
                                              without_owner_headers)
from swiftlike.policies import POLICY_HEADER, check_policy_name
from swiftlike.proxy.controllers.params import listing_query, metadata_headers, sysmeta_headers
from swiftlike.timestamp import Timestamp

# Stored as they are; owners only (X-Remove-<name minus X-> clears one).
OWNER_HEADERS = ('X-Container-Read', 'X-Container-Write', 'X-Container-Sync-Key')


class ContainerController(Controller):
    server_type = 'container'
    passes_sysmeta = True
    verbs = ('GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS')

    def _ring(self):
        ring = self.app.container_ring
        part, nodes = ring.get_nodes(self.account, self.container)
        return ring, part, nodes

    def GET(self):
        if self.req.method == 'HEAD' and self.req.environ.get(INFO_REQUEST_KEY):
            return self.cached_info_reply()
        if not self.is_owner:
            info = self.container_info()
            if info['status'] == 404:
                # Do not tell a stranger whether the container exists.
                self.authorize('', '')
            self.authorize(info.get('read_acl', ''), info.get('write_acl', ''))
        query = listing_query(self.req.query_string, self.req.headers.get('Accept'),
                              CONTAINER_LISTING_LIMIT)
        ring, part, nodes = self._ring()
        headers = self.base_headers()
        for name in ('Accept', 'X-Newest'):
            if name in self.req.headers:
                headers[name] = self.req.headers[name]
        resp = self.read(ring, part, nodes, self.req.method,
                         name_path(self.account, self.container), headers, query)
        reply = self.read_reply(resp)
        if not self.is_owner:
            reply.headers = without_owner_headers(reply.headers)
        return reply

    HEAD = GET

    def cached_info_reply(self):
        """A middleware's container_info() subrequest: the answer from this
        worker's info cache (no backend request while it is fresh)."""
        info = self.container_info()
        headers = info_headers(info, 'container') if 200 <= info['status'] < 300 else []
        return Reply(info['status'], headers, app_iter=[b''], content_length=0)

    def _write_headers(self):
        meta = metadata_headers(self.req.headers, 'container')
        meta.update(sysmeta_headers(self.req.headers, 'container'))
        if not self.is_owner:
            # Someone an ACL lets write (not an owner) changes metadata, not
            # who may access the container.
            meta = {k: v for k, v in meta.items() if k.lower() not in OWNER_ONLY_HEADERS}
            return self._with_timestamp(meta)
        for name in OWNER_HEADERS:
            value = self.req.headers.get(name)
            if value is not None:
                check_utf8(value, name)
                meta[name] = value
            elif self.req.headers.get('X-Remove-' + name[2:]) is not None:
                meta[name] = ''
        return self._with_timestamp(meta)

    def _with_timestamp(self, meta):
        headers = self.base_headers()
        headers.update(meta)
        headers['X-Timestamp'] = Timestamp.now().internal
        return headers

    def PUT(self):
        self._owner_only()
        check_policy_name(self.req.headers.get(POLICY_HEADER))
        headers = self._write_headers()
        account_info = self.account_info()
        if account_info['status'] == 404:
            if not self.app.conf.account_autocreate:
                raise NotFound('Account not found')
            created = AccountController(self.app, self.req, self.account).autocreate()
            if created is None or created.status // 100 != 2:
                raise ServiceUnavailable('Could not create the account')
            self.app.info_cache.pop(('account', self.account))
        elif account_info['status'] // 100 != 2:
            raise ServiceUnavailable('Account servers did not answer')
        ring, part, nodes = self._ring()
        resp = self.make_requests(ring, part, nodes, 'PUT',
                                  name_path(self.account, self.container),
                                  self._with_account_targets(headers, len(nodes)))
        self.invalidate()
        return self.write_reply(resp)

    def POST(self):
        self._owner_only()
        headers = self._write_headers()
        ring, part, nodes = self._ring()
        resp = self.make_requests(ring, part, nodes, 'POST',
                                  name_path(self.account, self.container),
                                  [headers] * len(nodes))
        self.invalidate()
        return self.write_reply(resp)

    def DELETE(self):
        self._owner_only()
        ring, part, nodes = self._ring()
        headers = self.base_headers()
        headers['X-Timestamp'] = Timestamp.now().internal
        resp = self.make_requests(ring, part, nodes, 'DELETE',
                                  name_path(self.account, self.container),
                                  self._with_account_targets(headers, len(nodes)))
        self.invalidate()
        return self.write_reply(resp)

    def _with_account_targets(self, headers, count):
        """Per container replica, the account replica it reports its stats to."""
        apart, anodes = self.app.account_ring.get_nodes(self.account)
        headers_list = []
        for i in range(count):
            h = dict(headers)
            anode = anodes[i % len(anodes)]
            h['X-Account-Host'] = '%s:%s' % (anode['ip'], anode['port'])
            h['X-Account-Device'] = anode['device']
            h['X-Account-Partition'] = str(apart)
            headers_list.append(h)
        return headers_list

    def _owner_only(self):
        # Changing a container is for its account's owners; ACLs never grant it.
        if not self.is_owner:
            self.authorize('', '')


    def invalidate(self):
        self.app.info_cache.pop(('container', self.account, self.container))
        self.app.info_cache.pop(('account', self.account))
