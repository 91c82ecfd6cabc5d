"""PUT/GET/HEAD/POST/DELETE statuses over both backends."""
import hashlib
import io
import time

import pytest

from swiftlike.obj.backend import DiskFileQuarantined

P = '/sda/1/a/c/o'


def test_put_get_head(obj):
    resp = obj.put(P, b'hello', {'X-Object-Meta-Color': 'blue', 'X-Object-Sysmeta-K': 'v'})
    assert resp.status_int == 201
    assert resp.headers['ETag'] == hashlib.md5(b'hello').hexdigest()
    resp = obj.req('GET', P)
    assert resp.status_int == 200
    assert resp.body == b'hello'
    assert resp.headers['Content-Type'] == 'text/plain'
    assert resp.headers['X-Object-Meta-Color'] == 'blue'
    assert resp.headers['X-Object-Sysmeta-K'] == 'v'
    assert resp.headers['X-Backend-Data-Timestamp']
    resp = obj.req('HEAD', P)
    assert resp.status_int == 200
    assert resp.headers['Content-Length'] == '5'
    assert resp.body == b''


def test_large_body_streams(obj):
    body = bytes(range(256)) * 1000  # 256 000 bytes: several chunks
    assert obj.put(P, body).status_int == 201
    resp = obj.req('GET', P)
    assert resp.body == body


def test_empty_object(obj):
    assert obj.put(P, b'').status_int == 201
    resp = obj.req('GET', P)
    assert resp.status_int == 200 and resp.body == b''
    assert resp.headers['ETag'] == hashlib.md5(b'').hexdigest()


def test_get_missing_404(obj):
    assert obj.req('GET', P).status_int == 404
    assert obj.req('HEAD', P).status_int == 404


def test_put_etag_mismatch_422(obj):
    resp = obj.put(P, b'hello', {'ETag': 'a' * 32})
    assert resp.status_int == 422
    assert obj.req('GET', P).status_int == 404
    assert obj.put(P, b'hello', {'ETag': '"%s"' % hashlib.md5(b'hello').hexdigest()}
                   ).status_int == 201


def test_put_short_body_499_nothing_committed(obj):
    hdrs = {'X-Timestamp': obj.ts(), 'Content-Type': 'text/plain', 'Content-Length': '100'}
    resp = obj.req('PUT', P, hdrs, environ={'wsgi.input': io.BytesIO(b'short')})
    assert resp.status_int == 499
    assert obj.req('GET', P).status_int == 404


def test_put_large_short_body_499(obj):
    hdrs = {'X-Timestamp': obj.ts(), 'Content-Type': 'text/plain', 'Content-Length': '300000'}
    resp = obj.req('PUT', P, hdrs, environ={'wsgi.input': io.BytesIO(b'x' * 200000)})
    assert resp.status_int == 499
    assert obj.req('GET', P).status_int == 404


class _Broken:
    def read(self, n):
        raise OSError('connection reset by peer')


def test_put_client_disconnect_499(obj):
    hdrs = {'X-Timestamp': obj.ts(), 'Content-Type': 'text/plain', 'Content-Length': '10'}
    resp = obj.req('PUT', P, hdrs, environ={'wsgi.input': _Broken()})
    assert resp.status_int == 499


def test_put_chunked(obj):
    hdrs = {'X-Timestamp': obj.ts(), 'Content-Type': 'text/plain',
            'Transfer-Encoding': 'chunked'}
    body = b'z' * 150000
    resp = obj.req('PUT', P, hdrs, environ={'wsgi.input': io.BytesIO(body)})
    assert resp.status_int == 201
    assert obj.req('GET', P).body == body


def test_put_missing_length_411(obj):
    hdrs = {'X-Timestamp': obj.ts(), 'Content-Type': 'text/plain'}
    resp = obj.req('PUT', P, hdrs, environ={'wsgi.input': io.BytesIO(b'')})
    assert resp.status_int == 411


@pytest.mark.parametrize('value', ['abc', '-1', '1.5', ' '])
def test_put_bad_content_length_400(obj, value):
    hdrs = {'X-Timestamp': obj.ts(), 'Content-Type': 'text/plain', 'Content-Length': value}
    resp = obj.req('PUT', P, hdrs, environ={'wsgi.input': io.BytesIO(b'')})
    assert resp.status_int == 400


def test_put_too_large_413(obj):
    hdrs = {'X-Timestamp': obj.ts(), 'Content-Type': 'text/plain',
            'Content-Length': str(6 * 1024 ** 3)}
    resp = obj.req('PUT', P, hdrs, environ={'wsgi.input': io.BytesIO(b'')})
    assert resp.status_int == 413


def test_put_no_content_type_400(obj):
    resp = obj.req('PUT', P, {'X-Timestamp': obj.ts()}, b'x')
    assert resp.status_int == 400
    assert b'content type' in resp.body


@pytest.mark.parametrize('ts', [None, '', 'abc', '-1', '1.2.3', '99999999999'])
def test_bad_or_missing_timestamp_400(obj, ts):
    for method in ('PUT', 'POST', 'DELETE'):
        hdrs = {'Content-Type': 'text/plain'}
        if ts is not None:
            hdrs['X-Timestamp'] = ts
        resp = obj.req(method, P, hdrs, b'x')
        assert resp.status_int == 400, (method, ts)
        assert b'X-Timestamp' in resp.body


def test_put_older_or_equal_409(obj):
    ts = obj.ts()
    assert obj.put(P, b'new', ts=ts).status_int == 201
    resp = obj.put(P, b'same', ts=ts)
    assert resp.status_int == 409
    assert resp.headers['X-Backend-Timestamp'] == ts
    older = '%.5f' % (float(ts) - 10)
    assert obj.put(P, b'old', ts=older).status_int == 409
    assert obj.req('GET', P).body == b'new'


def test_put_over_newer_tombstone_409(obj):
    ts_old = obj.ts()
    ts_new = obj.ts()
    assert obj.req('DELETE', P, {'X-Timestamp': ts_new}).status_int == 404
    resp = obj.put(P, b'x', ts=ts_old)
    assert resp.status_int == 409
    assert resp.headers['X-Backend-Timestamp'] == ts_new


def test_newer_put_replaces(obj):
    obj.put(P, b'one')
    obj.put(P, b'two', {'Content-Type': 'app/two'})
    resp = obj.req('GET', P)
    assert resp.body == b'two' and resp.headers['Content-Type'] == 'app/two'


def test_post_metadata(obj):
    obj.put(P, b'x', {'X-Object-Meta-A': '1', 'X-Object-Sysmeta-S': 's',
                      'Content-Disposition': 'inline'})
    resp = obj.req('POST', P, {'X-Timestamp': obj.ts(), 'X-Object-Meta-B': '2'})
    assert resp.status_int == 202
    resp = obj.req('HEAD', P)
    assert resp.headers.get('X-Object-Meta-B') == '2'
    assert 'X-Object-Meta-A' not in resp.headers  # POST replaces user metadata
    assert 'Content-Disposition' not in resp.headers
    assert resp.headers['X-Object-Sysmeta-S'] == 's'  # sysmeta stays with the data
    assert resp.headers['X-Backend-Meta-Timestamp'] != resp.headers['X-Backend-Data-Timestamp']
    assert obj.req('GET', P).body == b'x'


def test_post_missing_404_and_older_409(obj):
    assert obj.req('POST', P, {'X-Timestamp': obj.ts()}).status_int == 404
    ts = obj.ts()
    obj.put(P, b'x', ts=obj.ts())
    resp = obj.req('POST', P, {'X-Timestamp': ts})
    assert resp.status_int == 409
    obj.req('DELETE', P, {'X-Timestamp': obj.ts()})
    assert obj.req('POST', P, {'X-Timestamp': obj.ts()}).status_int == 404


def test_post_then_put_drops_meta(obj):
    obj.put(P, b'x')
    obj.req('POST', P, {'X-Timestamp': obj.ts(), 'X-Object-Meta-B': '2'})
    obj.put(P, b'y')
    assert 'X-Object-Meta-B' not in obj.req('HEAD', P).headers


def test_delete(obj):
    ts1 = obj.ts()
    obj.put(P, b'x', ts=ts1)
    ts2 = obj.ts()
    resp = obj.req('DELETE', P, {'X-Timestamp': ts2})
    assert resp.status_int == 204
    resp = obj.req('GET', P)
    assert resp.status_int == 404
    assert resp.headers['X-Backend-Timestamp'] == ts2
    assert resp.headers['X-Timestamp']
    assert obj.req('HEAD', P).headers['X-Backend-Timestamp'] == ts2
    # deleting again: 404, but a newer tombstone is still written
    ts3 = obj.ts()
    assert obj.req('DELETE', P, {'X-Timestamp': ts3}).status_int == 404
    assert obj.req('GET', P).headers['X-Backend-Timestamp'] == ts3
    # an older delete conflicts
    resp = obj.req('DELETE', P, {'X-Timestamp': ts1})
    assert resp.status_int == 409 and resp.headers['X-Backend-Timestamp'] == ts3


def test_delete_answers_with_the_deleted_objects_sysmeta(obj):
    obj.put(P, b'x', ts=obj.ts(), headers={'X-Object-Sysmeta-Append-Format': '1',
                                           'X-Object-Meta-Color': 'red'})
    resp = obj.req('DELETE', P, {'X-Timestamp': obj.ts()})
    assert resp.status_int == 204
    assert resp.headers['X-Object-Sysmeta-Append-Format'] == '1'
    assert 'X-Object-Meta-Color' not in resp.headers
    again = obj.req('DELETE', P, {'X-Timestamp': obj.ts()})
    assert again.status_int == 404 and 'X-Object-Sysmeta-Append-Format' not in again.headers


def test_delete_missing_404(obj):
    assert obj.req('DELETE', P, {'X-Timestamp': obj.ts()}).status_int == 404


def test_x_if_delete_at(obj):
    at = int(time.time()) + 1000
    obj.put(P, b'x', {'X-Delete-At': str(at)})
    resp = obj.req('DELETE', P, {'X-Timestamp': obj.ts(), 'X-If-Delete-At': str(at + 1)})
    assert resp.status_int == 412
    assert obj.req('GET', P).status_int == 200
    resp = obj.req('DELETE', P, {'X-Timestamp': obj.ts(), 'X-If-Delete-At': 'soon'})
    assert resp.status_int == 400
    resp = obj.req('DELETE', P, {'X-Timestamp': obj.ts(), 'X-If-Delete-At': str(at)})
    assert resp.status_int == 204
    resp = obj.req('DELETE', '/sda/1/a/c/missing',
                   {'X-Timestamp': obj.ts(), 'X-If-Delete-At': str(at)})
    assert resp.status_int == 412


def test_delete_at_stored_and_validated(obj):
    at = int(time.time()) + 1000
    assert obj.put(P, b'x', {'X-Delete-At': str(at)}).status_int == 201
    assert obj.req('HEAD', P).headers['X-Delete-At'] == str(at)
    for bad in ('abc', '1.5', str(int(time.time()) - 10), '-5'):
        resp = obj.put('/sda/1/a/c/o2', b'x', {'X-Delete-At': bad})
        assert resp.status_int == 400, bad
        resp = obj.req('POST', P, {'X-Timestamp': obj.ts(), 'X-Delete-At': bad})
        assert resp.status_int == 400, bad


def test_expired_object_404(obj, monkeypatch):
    at = int(time.time()) + 2
    obj.put(P, b'x', {'X-Delete-At': str(at)})
    assert obj.req('GET', P).status_int == 200
    real_time = time.time
    monkeypatch.setattr(time, 'time', lambda: real_time() + 10)
    assert obj.req('GET', P).status_int == 404
    assert obj.req('HEAD', P).status_int == 404
    assert obj.req('POST', P, {'X-Timestamp': obj.ts()}).status_int == 404
    resp = obj.req('DELETE', P, {'X-Timestamp': obj.ts(), 'X-If-Delete-At': str(at)})
    assert resp.status_int == 404  # expired counts as gone, tombstone still written


def test_post_clears_delete_at(obj):
    at = int(time.time()) + 1000
    obj.put(P, b'x', {'X-Delete-At': str(at)})
    obj.req('POST', P, {'X-Timestamp': obj.ts()})
    assert 'X-Delete-At' not in obj.req('HEAD', P).headers
    obj.req('POST', P, {'X-Timestamp': obj.ts(), 'X-Delete-At': str(at + 5)})
    assert obj.req('HEAD', P).headers['X-Delete-At'] == str(at + 5)


def test_quarantine_on_bad_bytes(obj):
    import os
    obj.put(P, b'hello world')
    if obj.kind == 'mem':
        backend = obj.app.backend
        backend.corrupt(os.path.join(obj.devices, 'sda'), 1, 'a', 'c', 'o', b'HELLO WORLD')
    else:
        from tests.unit.obj.conftest import data_files
        [path] = data_files(obj.devices)
        with open(path, 'r+b') as f:
            f.write(b'HELLO')
    resp = obj.req('GET', P)
    assert resp.status_int == 200
    with pytest.raises(DiskFileQuarantined):
        b''.join(resp.app_iter)
    assert obj.req('GET', P).status_int == 404
    if obj.kind == 'fs':
        qdir = os.path.join(obj.devices, 'sda', 'quarantined', 'objects')
        assert len(os.listdir(qdir)) == 1
    else:
        assert obj.app.backend.quarantined


def test_small_get_answers_its_checked_body_whole(obj):
    """An object the open read whole (up to disk_chunk_size) is checked at
    once and answered as one piece; a bigger one streams."""
    ahead = obj.app.conf.disk_chunk_size
    obj.put(P, b's' * ahead)
    resp = obj.req('GET', P)
    assert resp.status_int == 200 and resp.app_iter == [b's' * ahead]
    obj.put(P, b'b' * (ahead + 1))
    resp = obj.req('GET', P)
    assert resp.status_int == 200 and not isinstance(resp.app_iter, list)
    assert resp.body == b'b' * (ahead + 1)


def test_range_read_does_not_quarantine(obj):
    obj.put(P, b'0123456789')
    resp = obj.req('GET', P, {'Range': 'bytes=2-4'})
    assert resp.status_int == 206
    assert resp.body == b'234'
    assert resp.headers['Content-Range'] == 'bytes 2-4/10'


def test_unknown_verb_405(obj):
    assert obj.req('PATCH', P).status_int == 405


def test_put_if_none_match(obj):
    assert obj.put(P, b'x', {'If-None-Match': '*'}).status_int == 201
    assert obj.put(P, b'y', {'If-None-Match': '*'}).status_int == 412
    etag = hashlib.md5(b'x').hexdigest()
    assert obj.put(P, b'x', {'If-None-Match': '"%s"' % etag}).status_int == 412
    assert obj.put(P, b'z', {'If-None-Match': '"other"'}).status_int == 201
    obj.req('DELETE', P, {'X-Timestamp': obj.ts()})
    assert obj.put(P, b'x', {'If-None-Match': '*'}).status_int == 201


class _Stalled:
    def read(self, n):
        from swiftlike.concurrency import sleep
        sleep(5)  # a client that stops sending (green sleep, like a socket wait)
        return b'x'


def test_put_client_stalls_408(obj):
    obj.app.conf.client_timeout = 0.05
    hdrs = {'X-Timestamp': obj.ts(), 'Content-Type': 'text/plain', 'Content-Length': '10'}
    resp = obj.req('PUT', P, hdrs, environ={'wsgi.input': _Stalled()})
    assert resp.status_int == 408
    assert obj.req('GET', P).status_int == 404


@pytest.mark.parametrize('read_size', [1, 7, 64, 1 << 20])
def test_whole_get_in_disk_read_size_pieces(tmp_path, read_size):
    """GETs move disk_read_size per disk call after the open's read-ahead
    (disk_chunk_size), whole or ranged: the body is intact, and a bad byte near the end is still
    caught before the last piece is sent (the one piece held back)."""
    import os

    from tests.unit.obj.conftest import data_files, make_app
    obj = make_app(tmp_path, 'fs', disk_chunk_size=4, disk_read_size=read_size)
    body = bytes(range(256)) * 3
    obj.put(P, body)
    resp = obj.req('GET', P)
    pieces = list(resp.app_iter)
    assert b''.join(pieces) == body
    assert len(pieces[0]) == 4  # the read-ahead of the open
    assert max(len(p) for p in pieces[1:]) == min(max(read_size, 4), len(body) - 4)
    resp = obj.req('GET', P, {'Range': 'bytes=10-29'})
    step = max(read_size, 4)
    assert [len(p) for p in resp.app_iter] == [min(step, 20 - i) for i in range(0, 20, step)]
    [path] = data_files(obj.devices)
    with open(path, 'r+b') as f:
        f.seek(len(body) - 1)
        f.write(b'\x00')
    resp = obj.req('GET', P)
    sent = b''
    with pytest.raises(DiskFileQuarantined):
        for piece in resp.app_iter:
            sent += piece
    assert 4 <= len(sent) < len(body) and body.startswith(sent)
    assert os.listdir(os.path.join(obj.devices, 'sda', 'quarantined', 'objects'))


def test_conditional_answers_say_whether_it_is_a_manifest(obj):
    """The proxy's dlo middleware judges a manifest's conditions itself: a
    304/412 tells it the object is one."""
    obj.put(P, b'', {'X-Object-Manifest': 'segs/p'})
    etag = hashlib.md5(b'').hexdigest()
    for method in ('GET', 'HEAD'):
        resp = obj.req(method, P, {'If-None-Match': etag})
        assert resp.status_int == 304 and resp.headers['X-Object-Manifest'] == 'segs/p'
        resp = obj.req(method, P, {'If-Match': 'other'})
        assert resp.status_int == 412 and resp.headers['X-Object-Manifest'] == 'segs/p'
    obj.put('/sda/1/a/c/plain', b'x')
    resp = obj.req('GET', '/sda/1/a/c/plain', {'If-Match': 'other'})
    assert resp.status_int == 412 and 'X-Object-Manifest' not in resp.headers
