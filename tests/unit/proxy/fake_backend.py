"""A storage cluster in memory, for driving the proxy's controllers in process.

`FakeCluster` holds fake object, container and account nodes and fake rings
(primaries, then handoffs). `cluster.install(monkeypatch)` replaces
`backend_http.request` and `backend_http.open_put`, the only way the
controllers reach storage, and `cluster.app(**conf)` builds a real proxy App
on the fake rings. `call(app, method, path, ...)` drives it with a WSGI
environ.

Each node answers like a storage server (newest X-Timestamp wins, tombstones
answer 404 with their timestamp, If-Match, single ranges, If-None-Match: *)
and takes scriptable faults:

- `down`: connecting fails (ConnectionTimeout);
- `status`: every request is answered with it (507, 503, ...);
- `slow`: no answer until the test sets `node.wake`, so the proxy's node
  timeout always fires first (no race: the event is set, if ever, after);
- `fail_after`: a GET body breaks after that many bytes;
- `put_fail_after`: a streamed PUT breaks after that many body bytes;
- `expect_status`: the answer to Expect: 100-continue instead of 100;
- `fault_methods`: a set of methods the faults above apply to (None: all).
A stale replica is seeded data: `cluster.put_object(..., nodes=[2], ts=old)`.

Every backend request lands in `cluster.log` and every connection is
tracked, so a test can check what was asked and that nothing was leaked.
"""
import hashlib
import io
import json
from urllib.parse import parse_qs, unquote

from swiftlike import backend_http, body_check
from swiftlike.backend_http import BackendResponse, ConnectionPool, Putter, header_dict
from swiftlike.concurrency import Event, Timeout
from swiftlike.exceptions import ConnectionTimeout
from swiftlike.http import Request
from swiftlike.proxy.server import App, Conf
from swiftlike.timestamp import Timestamp

USER_META = ('x-object-meta-', 'x-container-meta-', 'x-account-meta-')


class FakeConn:
    """Stands for one backend connection: open, closed or back in the pool."""

    def __init__(self, cluster):
        self.state = 'open'
        cluster.conns.append(self)

    def close(self):
        self.state = 'closed'


class FakePool(ConnectionPool):
    def put(self, node, conn):
        conn.state = 'pooled'


class FakeBody:
    """What BackendResponse reads from: bytes that may break after `fail_after`."""

    will_close = False

    def __init__(self, data, fail_after=None):
        self.data, self.pos, self.fail_after = data, 0, fail_after

    @property
    def length(self):
        return len(self.data) - self.pos

    def read(self, size=None):
        end = len(self.data) if size is None else self.pos + size
        if self.fail_after is not None:
            if self.pos >= self.fail_after:
                raise OSError('connection reset by fake node')
            end = min(end, self.fail_after)
        chunk = self.data[self.pos:end]
        self.pos += len(chunk)
        return chunk

    def isclosed(self):
        return self.pos >= len(self.data)


class Version:
    def __init__(self, ts, body=b'', meta=None, deleted=False):
        self.ts, self.body, self.meta, self.deleted = Timestamp(ts), body, dict(meta or {}), deleted
        self.etag = hashlib.md5(body).hexdigest()


class FakeNode:
    def __init__(self, cluster, kind, index):
        self.cluster = cluster
        self.dev = {'id': index, 'ip': '10.0.%d.%d' % ('aco'.index(kind[0]), index),
                    'port': 6000 + index, 'device': 'sd%s' % chr(97 + index),
                    'region': 1, 'zone': index, 'weight': 1.0}
        self.objects = {}     # '/a/c/o' -> Version
        self.dbs = {}         # '/a' or '/a/c' -> {'ts', 'deleted', 'meta', 'rows'}
        self.down = self.slow = False
        self.status = self.fail_after = self.put_fail_after = self.expect_status = None
        self.fault_methods = None
        self.wake = Event()

    def __repr__(self):
        return '<FakeNode %s>' % self.dev['device']

    def connect(self, method, timeout):
        """Where the faults strike (only for `fault_methods`, when set);
        returns the status to answer with instead, if any."""
        if self.fault_methods is not None and method not in self.fault_methods:
            return None
        if self.down:
            raise ConnectionTimeout('connect to %s failed (down)' % self.dev['device'])
        if self.slow:
            with Timeout(timeout, ConnectionTimeout('%s timed out' % self.dev['device'])):
                self.wake.wait()
        return self.status

    # -- objects ------------------------------------------------------------

    def object_request(self, method, name, h, body=b''):
        cur = self.objects.get(name)
        live = cur is not None and not cur.deleted
        gone = {'X-Backend-Timestamp': cur.ts.internal} if cur is not None else {}
        ts = Timestamp(h['x-timestamp']) if 'x-timestamp' in h else None
        if method in ('GET', 'HEAD'):
            if not live:
                return 404, gone, b''
            headers = dict(cur.meta, **{'ETag': cur.etag, 'X-Timestamp': cur.ts.normal,
                                        'X-Backend-Timestamp': cur.ts.internal,
                                        'Content-Length': str(len(cur.body))})
            if h.get('if-match', '*').strip('"') not in ('*', cur.etag):
                return 412, {k: headers[k] for k in ('ETag', 'X-Backend-Timestamp')}, b''
            data, status = cur.body, 200
            rng = h.get('range', '')
            if rng.startswith('bytes=') and method == 'GET':
                first, _, last = rng[6:].partition('-')
                start, stop = int(first), min(int(last or len(data) - 1) + 1, len(data))
                if start >= len(data):
                    return 416, {}, b''
                headers['Content-Range'] = 'bytes %d-%d/%d' % (start, stop - 1, len(data))
                data, status = data[start:stop], 206
                headers['Content-Length'] = str(len(data))
            return status, headers, data if method == 'GET' else b''
        if method == 'PUT':
            early = self.put_precondition(name, h)
            if early:
                return early
            if 'content-length' in h and int(h['content-length']) != len(body):
                return 499, {}, b''
            version = Version(ts, body, {k.title(): v for k, v in h.items()
                                         if k.startswith(USER_META) or k == 'content-type'})
            if h.get('etag', version.etag) != version.etag:
                return 422, {}, b''
            self.objects[name] = version
            self.cluster.update_listing(h, 'X-Container', name, version)
            return 201, {'ETag': version.etag}, b''
        if cur is not None and cur.ts >= ts:
            return 409, gone, b''
        if method == 'POST':
            if not live:
                return 404, gone, b''
            cur.meta = {k: v for k, v in cur.meta.items() if not k.lower().startswith(USER_META)}
            cur.meta.update((k.title(), v) for k, v in h.items() if k.startswith(USER_META))
            cur.ts = ts
            return 202, {}, b''
        if method == 'DELETE':
            self.objects[name] = tomb = Version(ts, deleted=True)
            self.cluster.update_listing(h, 'X-Container', name, tomb)
            # As the object server: the deleted object's system metadata.
            headers = {'X-Backend-Timestamp': ts.internal}
            if live:
                headers.update((k, v) for k, v in cur.meta.items()
                               if k.lower().startswith('x-object-sysmeta-'))
            return (204 if live else 404), headers, b''
        return 405, {}, b''

    def put_precondition(self, name, h):
        """The answer an object server gives before reading a PUT's body, if any."""
        cur = self.objects.get(name)
        if cur is None:
            return None
        if h.get('if-none-match') == '*' and not cur.deleted:
            return 412, {'X-Backend-Timestamp': cur.ts.internal}, b''
        if cur.ts >= Timestamp(h['x-timestamp']):
            return 409, {'X-Backend-Timestamp': cur.ts.internal}, b''
        return None

    # -- containers and accounts -------------------------------------------

    def db_request(self, kind, method, name, h, query):
        db = self.dbs.get(name)
        live = db is not None and not db['deleted']
        prefix = 'x-%s-' % kind
        meta = {k.title(): v for k, v in h.items() if k.startswith(prefix) or
                k in ('x-container-read', 'x-container-write')}
        if method == 'PUT':
            if live:
                db['meta'].update(meta)
                return 202, {}, b''
            self.dbs[name] = {'ts': Timestamp(h['x-timestamp']), 'deleted': False,
                              'meta': meta, 'rows': {}}
            if kind == 'container':
                self.cluster.update_listing(h, 'X-Account', name, self.dbs[name])
            return 201, {}, b''
        if not live:
            return 404, {}, b''
        rows = sorted(self.dbs[name]['rows'].items())
        if method == 'POST':
            db['meta'].update(meta)
            return 204, {}, b''
        if method == 'DELETE':
            if rows:
                return 409, {}, b''
            db['deleted'] = True
            return 204, {}, b''
        count, size = sum(r.get('count', 1) for _n, r in rows), sum(r['bytes'] for _n, r in rows)
        headers = dict(db['meta'], **{'X-Timestamp': db['ts'].normal,
                                      'X-Backend-Put-Timestamp': db['ts'].internal,
                                      'X-%s-Object-Count' % kind.title(): str(count),
                                      'X-%s-Bytes-Used' % kind.title(): str(size)})
        if kind == 'account':
            headers['X-Account-Container-Count'] = str(len(rows))
        if method == 'HEAD' or not rows:
            return 204, headers, b''
        if parse_qs(query or '').get('format') == ['json']:
            body = json.dumps([dict(r, name=n) for n, r in rows]).encode()
        else:
            body = ''.join(n + '\n' for n, _r in rows).encode()
        return 200, dict(headers, **{'Content-Length': str(len(body))}), body


class FakeRing:
    """Primaries are the first `replicas` nodes, handoffs the rest, in order."""

    def __init__(self, nodes, replicas, part=7):
        self.nodes, self.replica_count, self.part = nodes, replicas, part

    def get_nodes(self, account, container=None, obj=None):
        return self.part, self.get_part_nodes(self.part)

    def get_part_nodes(self, part):
        return [dict(n.dev, index=i) for i, n in enumerate(self.nodes[:self.replica_count])]

    def get_more_nodes(self, part):
        for node in self.nodes[self.replica_count:]:
            yield dict(node.dev, index=None)


class FakePutter(Putter):
    """A streamed PUT to a fake node: bytes gathered, stored on response()."""

    def __init__(self, cluster, fnode, node, name, h):
        super().__init__(node, FakeConn(cluster))
        self.fnode, self.name, self.h, self.body = fnode, name, h, bytearray()
        self.last = None

    def send(self, data, framed=None):
        limit = self.fnode.put_fail_after
        if not self.failed and limit is not None and len(self.body) + len(data) > limit:
            self.body += data[:limit - len(self.body)]
            self.failed = True
        if not self.failed:
            self.body += data

    def finish(self, last=b'0\r\n\r\n'):
        self.last = last

    def _checked(self):
        """As an object server checks a body sent with body_check's trailer:
        the whole body came, and its CRC and MD5 are the ones sent."""
        lines = self.last.decode('ascii').split('\r\n')
        trailers = {k.lower(): v.strip() for k, _, v in (line.partition(':') for line in lines[1:-2])}
        check = body_check.KINDS[self.h[body_check.HEADER.lower()]]
        crc = check.algorithm()
        crc.update(bytes(self.body))
        length = self.h.get(body_check.LENGTH_HEADER.lower())
        return lines[0] == '0' and (length is None or int(length) == len(self.body)) and \
            trailers.get(check.trailer.lower()) == crc.hexdigest() and \
            trailers.get('x-backend-body-md5') == hashlib.md5(self.body).hexdigest()

    def response(self, pool, timeout):
        if self.failed or self.last is None:
            self.conn.close()
            raise ConnectionTimeout('sending to %s failed' % self.fnode.dev['device'])
        if body_check.HEADER.lower() in self.h and not self._checked():
            status, headers = 422, {}
        else:
            status, headers, _ = self.fnode.object_request('PUT', self.name, self.h,
                                                           bytes(self.body))
        resp = BackendResponse(self.node, status, header_dict(headers.items()), FakeBody(b''),
                               self.conn, pool)
        resp.read()
        return resp


class FakeCluster:
    def __init__(self, replicas=3, object_nodes=6, db_nodes=4):
        self.replicas = replicas
        self.log = []     # (device, method, '/a/c/o', {lower-case header: value})
        self.conns = []
        self.object_nodes = [FakeNode(self, 'object', i) for i in range(object_nodes)]
        self.container_nodes = [FakeNode(self, 'container', i) for i in range(db_nodes)]
        self.account_nodes = [FakeNode(self, 'account', i) for i in range(db_nodes)]
        self.by_key = {(n.dev['ip'], n.dev['port'], n.dev['device']): (kind, n)
                       for kind, nodes in (('object', self.object_nodes),
                                           ('container', self.container_nodes),
                                           ('account', self.account_nodes))
                       for n in nodes}
        self.rings = {kind: FakeRing(getattr(self, kind + '_nodes'), replicas)
                      for kind in ('object', 'container', 'account')}

    # -- set-up -------------------------------------------------------------

    def install(self, monkeypatch):
        monkeypatch.setattr(backend_http, 'request', self.request)
        monkeypatch.setattr(backend_http, 'open_put', self.open_put)

    def app(self, **conf):
        conf.setdefault('node_timeout', 0.05)
        app = App(Conf(**conf), account_ring=self.rings['account'],
                  container_ring=self.rings['container'], object_ring=self.rings['object'])
        app.pool = FakePool()
        return app

    def put_container(self, account, container):
        for node in self.account_nodes[:self.replicas]:
            node.dbs.setdefault('/' + account, {'ts': Timestamp(1), 'deleted': False,
                                                'meta': {}, 'rows': {}})
        for node in self.container_nodes[:self.replicas]:
            node.dbs['/%s/%s' % (account, container)] = {'ts': Timestamp(1), 'deleted': False,
                                                          'meta': {}, 'rows': {}}

    def put_object(self, path, body=b'', ts=1, nodes=(0, 1, 2), deleted=False, **meta):
        for i in nodes:
            self.object_nodes[i].objects[path] = Version(ts, body, meta, deleted)

    def versions(self, path):
        """Per object node: the stored timestamp of path (None if absent)."""
        return [n.objects[path].ts if path in n.objects else None for n in self.object_nodes]

    def requests(self, method=None, path=None):
        return [entry for entry in self.log
                if (method is None or entry[1] == method) and (path is None or entry[2] == path)]

    def open_conns(self):
        return [c for c in self.conns if c.state == 'open']

    # -- the patched client --------------------------------------------------

    def _find(self, node, path):
        kind, fnode = self.by_key[(node['ip'], node['port'], node['device'])]
        _, device, part, name = path.split('/', 3)
        assert device == node['device'] and part.isdigit(), path
        return kind, fnode, unquote('/' + name)

    def answer(self, fnode, node, status, headers, body=b'', method=None, pool=None):
        resp = BackendResponse(node, status, header_dict(headers.items()),
                               FakeBody(body, fnode.fail_after if method == 'GET' else None),
                               FakeConn(self), pool)
        resp.method = method
        return resp

    def request(self, pool, node, method, path, headers, body=b'', query=None,
                conn_timeout=0.5, timeout=10.0):
        kind, fnode, name = self._find(node, path)
        h = {k.lower(): v for k, v in headers.items()}
        self.log.append((node['device'], method, name, h))
        status = fnode.connect(method, timeout)
        if status is not None:
            return self.answer(fnode, node, status, {}, method=method, pool=pool)
        if kind == 'object':
            status, rh, data = fnode.object_request(method, name, h, body)
        else:
            status, rh, data = fnode.db_request(kind, method, name, h, query)
        return self.answer(fnode, node, status, rh, data, method, pool)

    def open_put(self, pool, node, path, headers, conn_timeout=0.5, timeout=10.0):
        _kind, fnode, name = self._find(node, path)
        # (the body goes chunked, as backend_http.open_put sends it)
        h = {k.lower(): v for k, v in headers.items() if k.lower() != 'content-length'}
        self.log.append((node['device'], 'PUT', name, h))
        status = fnode.connect('PUT', timeout)
        early = (status, {}, b'') if status else \
            (fnode.expect_status, {}, b'') if fnode.expect_status else \
            fnode.put_precondition(name, h)
        if early:
            return BackendResponse(node, early[0], header_dict(early[1].items()))
        return FakePutter(self, fnode, node, name, h)

    def update_listing(self, h, prefix, name, record):
        """What an object (container) server sends its container (account)
        replica after a write, when the proxy named one."""
        host = h.get(prefix.lower() + '-host')
        if not host:
            return
        ip, port = host.rsplit(':', 1)
        _kind, target = self.by_key[(ip, int(port), h[prefix.lower() + '-device'])]
        parts = name.split('/', 3 if prefix == 'X-Container' else 2)
        parent, leaf = '/'.join(parts[:-1]), parts[-1]
        db = target.dbs.get(parent)
        if db is None:
            return
        if isinstance(record, Version) and record.deleted:
            db['rows'].pop(leaf, None)
        elif isinstance(record, Version):
            db['rows'][leaf] = {'bytes': len(record.body), 'hash': record.etag}
        else:
            db['rows'][leaf] = {'bytes': 0, 'count': 0}


class Result:
    def __init__(self, status, headers, body, error):
        self.status, self.headers, self.body, self.error = status, headers, body, error

    def __repr__(self):
        return '<Result %s %r>' % (self.status, self.body[:60])


def call(app, method, path, headers=None, body=b'', chunked=False, content_length=None,
         environ=None):
    """Run one request through `app`; the body is read to its end (a failure
    while streaming it is kept in `.error`, as a client sees a cut connection).
    `environ`: keys a middleware above the proxy would have set."""
    req = Request.blank(path, method=method, headers=headers or {})
    req.environ.update(environ or {})
    req.environ['wsgi.input'] = io.BytesIO(body)
    if chunked:
        req.environ['HTTP_TRANSFER_ENCODING'] = 'chunked'
        req.environ.pop('CONTENT_LENGTH', None)
    else:
        req.environ['CONTENT_LENGTH'] = str(len(body) if content_length is None
                                            else content_length)
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen['status'], seen['headers'] = int(status.split()[0]), dict(headers)

    body_iter = app(req.environ, start_response)
    chunks, error = [], None
    try:
        for chunk in body_iter:
            chunks.append(chunk)
    except Exception as err:     # noqa: BLE001 -- what a WSGI server would see
        error = err
    finally:
        if hasattr(body_iter, 'close'):
            body_iter.close()
    return Result(seen['status'], seen['headers'], b''.join(chunks), error)
