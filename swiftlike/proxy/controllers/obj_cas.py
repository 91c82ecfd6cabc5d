"""Arbiter-first commits: a compare-and-swap of a small object (an appendable
object's manifest) without a consensus protocol.

The append middleware asks for it by putting a `Commit` in the subrequest's
environ under COMMIT_KEY (an environ key: clients cannot send one). The PUT
then goes first to the object's FIRST primary node only (the arbiter), as a
conditional PUT the object server applies atomically: `If-Match: <etag>` (the
manifest the appender read) or `If-None-Match: *` (creating). Only once the
arbiter accepted, the same body with the same X-Timestamp goes to the other
primaries (handoffs replace failed ones). Success needs the arbiter plus a
majority in all.

The answer carries `X-Append-Commit`:
- `committed` (201): the arbiter and a majority stored it;
- `refused` (412): the arbiter holds another version (another appender won,
  or the arbiter is stale): `X-Append-Arbiter-Timestamp` / `-Etag` say what
  it holds ('' when nothing);
- `unavailable` (503): the arbiter could not be asked; nothing was stored;
- `ambiguous` (503): the arbiter stored it but no majority did: the new
  version may still become visible (replication spreads it).
"""
import dataclasses

from swiftlike import backend_http as backend
from swiftlike.concurrency import GreenPile
from swiftlike.exceptions import ConnectionTimeout
from swiftlike.proxy.controllers import obj_put
from swiftlike.proxy.controllers.base import Reply, name_path, node_path
from swiftlike.proxy.node_iter import quorum_size

COMMIT_KEY = 'swiftlike.append.commit'
RESULT_HEADER = 'X-Append-Commit'


@dataclasses.dataclass
class Commit:
    timestamp: object            # swiftlike.timestamp.Timestamp of the new version
    if_match: str = None         # the ETag the arbiter must hold; None: must hold nothing


def _answer(status, result, extra=None, reason=''):
    headers = {RESULT_HEADER: result}
    headers.update(extra or {})
    return Reply(status, headers, reason)


def commit(controller, ring, part, nodes, headers_list, length, reader):
    """PUT the (small) body arbiter-first; the Reply described above."""
    spec = controller.req.environ[COMMIT_KEY]
    app = controller.app
    if length is None:
        return _answer(411, 'unavailable', reason='A commit needs a Content-Length')
    body = obj_put.read_whole(reader, length, app.conf.client_timeout)
    suffix = name_path(controller.account, controller.container, controller.obj)
    arbiter = nodes[0]
    first = dict(headers_list[0])
    if spec.if_match:
        first['If-Match'] = spec.if_match
    else:
        first['If-None-Match'] = '*'
    try:
        resp = backend.request(app.pool, arbiter, 'PUT', node_path(arbiter, part, suffix),
                               first, body, None, app.conf.conn_timeout,
                               app.conf.node_timeout)
        resp.body = resp.read()
        resp.release()
    except ConnectionTimeout as err:
        app.limiter.error(arbiter)
        app.logger.warning('ERROR append arbiter %s', err.reason)
        return _answer(503, 'unavailable', reason='The object\'s arbiter node is unavailable')
    if resp.status in (409, 412):
        return _answer(412, 'refused', {
            'X-Append-Arbiter-Timestamp': resp.headers.get('x-backend-timestamp', ''),
            'X-Append-Arbiter-Etag': resp.headers.get('x-backend-etag', '')},
            'The arbiter holds another version')
    if resp.status != 201:
        if resp.status >= 500:
            app.limiter.error(arbiter)
        return _answer(503, 'unavailable', reason='The arbiter answered %d' % resp.status)
    app.limiter.success(arbiter)
    stored = 1 + _others(controller, ring, part, nodes, headers_list, suffix, body)
    etag = resp.headers.get('etag', '')
    if stored < quorum_size(len(nodes)):
        return _answer(503, 'ambiguous', {'ETag': etag},
                       'Stored on %d of %d replicas; it may still become visible'
                       % (stored, len(nodes)))
    return _answer(201, 'committed', {'ETag': etag,
                                      'Last-Modified': spec.timestamp.last_modified})


def _others(controller, ring, part, nodes, headers_list, suffix, body):
    """How many of the other replicas stored the body (or hold a newer version)."""
    if len(nodes) < 2:
        return 0
    node_iter = controller.nodes(ring, part, nodes[1:])
    pile = GreenPile(len(nodes) - 1)
    for headers in headers_list[1:len(nodes)]:
        pile.spawn(controller._request_one, node_iter, 'PUT', part, suffix, headers, None, body)
    # 409: an equal (this very write) or newer version is there already.
    return sum(1 for resp in pile if resp is not None and resp.status in (201, 409))
