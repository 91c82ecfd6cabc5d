"""Streaming an object PUT to its replicas.

Each replica slot opens a PUT with Expect: 100-continue; a slot whose node
fails to connect, errors, or says 507 moves on to the next handoff. The body
is read once from the client and written to every open connection; the write
succeeds when a quorum of replicas answer 201.
"""
import hashlib
import socket
import time

from swiftlike.concurrency import GreenPile, Timeout
from swiftlike.constraints import MAX_FILE_SIZE, body_read_timeout
from swiftlike.exceptions import (ClientDisconnect, ConnectionTimeout, RequestEntityTooLarge,
                                  RequestTimeout, ServiceUnavailable)
from swiftlike import backend_http as backend
from swiftlike import body_check
from swiftlike.http_framing import chunk_frame
from swiftlike.proxy.controllers.base import node_path
from swiftlike.proxy.node_iter import best_status, quorum_size


def _open_slot(app, nodes, part, suffix, headers):
    """A Putter for one replica, or a BackendResponse with a final answer,
    or None when every node failed."""
    for node in nodes:
        path = node_path(node, part, suffix)
        start = time.monotonic()
        try:
            result = backend.open_put(app.pool, node, path, headers,
                                      app.conf.conn_timeout, app.conf.node_timeout)
        except ConnectionTimeout as err:
            app.backend_done(node, 'PUT', None, time.monotonic() - start)
            app.limiter.error(node)
            app.logger.warning('ERROR %s', err.reason)
            continue
        app.backend_done(node, 'PUT', 100 if isinstance(result, backend.Putter)
                         else result.status, time.monotonic() - start)
        if isinstance(result, backend.Putter):
            return result
        if result.status == 507:
            app.limiter.limit_now(node)
            continue
        if result.status >= 500:
            app.limiter.error(node)
            continue
        return result
    return None


def open_putters(app, nodes, part, suffix, headers_list):
    """(putters, final responses) after opening one PUT per replica."""
    pile = GreenPile(len(headers_list))
    for headers in headers_list:
        pile.spawn(_open_slot, app, nodes, part, suffix, headers)
    putters, finals = [], []
    for result in pile:
        if isinstance(result, backend.Putter):
            putters.append(result)
        elif result is not None:
            finals.append(result)
    return putters, finals


def _read_client(reader, size, client_timeout):
    try:
        with Timeout(body_read_timeout(size, client_timeout),
                     RequestTimeout('Timed out reading the request body')):
            return reader(size)
    except (socket.timeout, TimeoutError):
        raise RequestTimeout('Timed out reading the request body')
    except (OSError, ValueError):
        raise ClientDisconnect('Client disconnected while sending the body')


def read_whole(reader, length, client_timeout):
    """The whole (small) body; 499 if the client stops short."""
    parts = []
    got = 0
    while got < length:
        data = _read_client(reader, length - got, client_timeout)
        if not data:
            raise ClientDisconnect('Client disconnected after %d of %d bytes' % (got, length))
        parts.append(data)
        got += len(data)
    return b''.join(parts)


def checked_headers(headers_list, content_length):
    """The replicas' headers for a body sent chunked (open_put) with the MD5
    and CRC trailer that stream_body ends it with (swiftlike.body_check)."""
    for headers in headers_list:
        headers[body_check.HEADER] = body_check.SEND.name
        if content_length is not None:
            headers[body_check.LENGTH_HEADER] = str(content_length)
    return headers_list


def stream_body(putters, reader, content_length, chunk_size, client_timeout, replicas):
    """Copy the body from `reader(size)` to every putter, then end it with
    the trailer (the body's MD5, and the CRC each replica checks the bytes
    it got by); returns bytes sent."""
    quorum = quorum_size(replicas)
    md5 = hashlib.md5(usedforsecurity=False)
    crc = body_check.SEND.algorithm()
    sent = 0
    while True:
        size = chunk_size
        if content_length is not None:
            size = min(chunk_size, content_length - sent)
            if size <= 0:
                break
        data = _read_client(reader, size, client_timeout)
        if not data:
            if content_length is not None and sent < content_length:
                raise ClientDisconnect('Client disconnected after %d of %d bytes'
                                       % (sent, content_length))
            break
        sent += len(data)
        if sent > MAX_FILE_SIZE:
            raise RequestEntityTooLarge('Your request is too large (limit %d bytes).'
                                        % MAX_FILE_SIZE)
        md5.update(data)
        crc.update(data)
        # Framed once for every replica (a copy per putter cost the proxy
        # ~11 ms more per 64 MiB upload).
        framed = chunk_frame(data)
        for putter in putters:
            putter.send(data, framed)
        if sum(1 for p in putters if not p.failed) < quorum:
            raise ServiceUnavailable('Lost the connections to a quorum of object servers')
    last = body_check.trailer(md5, crc)
    for putter in putters:
        putter.finish(last)
    return sent


def collect_responses(app, putters, replicas):
    """Final status a quorum agrees on, and the response to report."""
    pile = GreenPile(max(1, len(putters)))
    for putter in putters:
        pile.spawn(_response, app, putter)
    responses = [r for r in pile if r is not None]
    status = best_status([r.status for r in responses], replicas)
    chosen = next((r for r in responses if r.status == status), None)
    return status, chosen, responses


def _response(app, putter):
    try:
        return putter.response(app.pool, app.conf.node_timeout)
    except ConnectionTimeout as err:
        app.limiter.error(putter.node)
        app.logger.warning('ERROR %s', err.reason)
        return None


def close_all(putters):
    for putter in putters:
        putter.close()
