"""Appendable objects (the append middleware) through a real cluster."""
import hashlib
import json
import threading

import pytest

from tests.functional.proxy_helpers import Api, unique


def md5hex(data):
    return hashlib.md5(data).hexdigest()


def chain(pieces):
    etag = ''
    for piece in pieces:
        etag = md5hex((etag + md5hex(piece)).encode())
    return etag


@pytest.fixture(scope='module')
def api(cluster):
    return Api(cluster)


@pytest.fixture
def container(api):
    return api.put_container(unique('app'))


def append(api, container, name, offset, body, headers=None):
    hdrs = {'X-Append-Offset': str(offset)}
    hdrs.update(headers or {})
    return api.request('PUT', '/%s/%s' % (container, name), hdrs, body)


def build(api, container, name, pieces):
    offset = 0
    for piece in pieces:
        status, h, body = append(api, container, name, offset, piece)
        assert status == 201, (status, body)
        offset += len(piece)
        assert h['x-append-length'] == str(offset)
    return b''.join(pieces)


def test_append_and_read(api, container):
    pieces = [b'hello ', b'appendable ', b'world\n']
    status, h, body = append(api, container, 'log', 0, pieces[0],
                             {'Content-Type': 'text/plain', 'X-Object-Meta-Color': 'blue'})
    assert status == 201 and h['x-append-length'] == '6'
    assert h['etag'] == '"%s"' % chain(pieces[:1])
    whole = pieces[0] + build_rest(api, container, 'log', pieces[1:], 6)
    status, h, body = api.request('GET', '/%s/log' % container)
    assert (status, body) == (200, whole)
    assert h['etag'] == '"%s"' % chain(pieces)
    assert h['content-length'] == str(len(whole)) == h['x-append-length']
    assert h['content-type'] == 'text/plain' and h['x-object-meta-color'] == 'blue'
    assert not any('sysmeta' in k for k in h)
    status, h2, body = api.request('HEAD', '/%s/log' % container)
    assert (status, body) == (200, b'')
    assert h2['etag'] == h['etag'] and h2['content-length'] == str(len(whole))
    # the listing shows the whole object
    status, _h, body = api.request('GET', '/' + container, query='format=json')
    item = [i for i in json.loads(body) if i['name'] == 'log'][0]
    assert item['bytes'] == len(whole) and item['hash'] == chain(pieces)
    assert item['content_type'] == 'text/plain'
    # the manifest itself
    status, h, body = api.request('GET', '/%s/log' % container, query='append-manifest=get')
    doc = json.loads(body)
    assert status == 200 and doc['length'] == len(whole) and len(doc['pieces']) == 3
    assert doc['container'] == container + '_segments'


def build_rest(api, container, name, pieces, offset):
    out = b''
    for piece in pieces:
        status, h, body = append(api, container, name, offset, piece)
        assert status == 201, (status, body)
        offset += len(piece)
        out += piece
    return out


@pytest.fixture(scope='module')
def log(api):
    container = api.put_container(unique('applog'))
    pieces = [bytes([65 + i]) * (i + 1) for i in range(10)]    # A, BB, CCC, ...
    whole = build(api, container, 'log', pieces)
    return {'path': '/%s/log' % container, 'whole': whole, 'etag': chain(pieces),
            'container': container}


@pytest.mark.parametrize('range_header,start,stop', [
    ('bytes=0-0', 0, 1), ('bytes=2-9', 2, 10), ('bytes=-5', 50, 55), ('bytes=40-', 40, 55),
    ('bytes=0-54', 0, 55), ('bytes=3-1000', 3, 55),
])
def test_single_ranges(api, log, range_header, start, stop):
    status, h, body = api.request('GET', log['path'], {'Range': range_header})
    assert (status, body) == (206, log['whole'][start:stop])
    assert h['content-range'] == 'bytes %d-%d/55' % (start, stop - 1)


def test_multiple_ranges(api, log):
    status, h, body = api.request('GET', log['path'], {'Range': 'bytes=0-1,10-14,-3'})
    assert status == 206 and h['content-type'].startswith('multipart/byteranges')
    assert int(h['content-length']) == len(body)
    boundary = h['content-type'].split('boundary=')[1]
    parts = body.split(b'--' + boundary.encode())[1:-1]
    got = [p.split(b'\r\n\r\n', 1)[1][:-2] for p in parts]
    whole = log['whole']
    assert got == [whole[0:2], whole[10:15], whole[52:55]]
    assert b'Content-Range: bytes 10-14/55' in parts[1]


def test_unsatisfiable_range(api, log):
    status, h, _body = api.request('GET', log['path'], {'Range': 'bytes=55-60'})
    assert status == 416 and h['content-range'] == 'bytes */55'


@pytest.mark.parametrize('method', ['GET', 'HEAD'])
def test_conditions(api, log, method):
    etag = log['etag']
    assert api.request(method, log['path'], {'If-Match': '"%s"' % etag})[0] == 200
    assert api.request(method, log['path'], {'If-Match': 'nope'})[0] == 412
    assert api.request(method, log['path'], {'If-None-Match': '"%s"' % etag})[0] == 304
    assert api.request(method, log['path'], {'If-None-Match': 'other'})[0] == 200
    status, h, body = api.request('GET', log['path'], {'Range': 'bytes=0-1',
                                                       'If-Range': '"%s"' % etag})
    assert (status, body) == (206, b'AB')
    status, h, body = api.request('GET', log['path'], {'Range': 'bytes=0-1',
                                                       'If-Range': '"stale"'})
    assert (status, body) == (200, log['whole'])


def test_offset_mismatch_changes_nothing(api, log):
    before = api.request('GET', log['path'], query='append-manifest=get')[2]
    for offset in (0, 54, 56, 10 ** 12):
        status, h, body = append(api, log['container'], 'log', offset, b'zzz')
        assert status == 409 and h['x-append-length'] == '55', (offset, status, body)
    assert api.request('GET', log['path'], query='append-manifest=get')[2] == before
    assert api.request('GET', log['path'])[2] == log['whole']


@pytest.mark.parametrize('offset', ['-1', 'abc', '1.5', '0x10', '9' * 30, str(2 ** 60), ''])
def test_bad_offsets(api, container, offset):
    status, _h, body = append(api, container, 'bad', offset, b'data')
    assert status == 400, (status, body)
    assert api.request('HEAD', '/%s/bad' % container)[0] == 404


def test_hostile_requests(api, container):
    status, _h, body = append(api, container, 'o', 0, b'')
    assert status == 400 and b'body' in body
    status, _h, body = append(api, container, 'o', 0, b'x', {'X-Copy-From': 'a/b'})
    assert status == 400
    status, _h, body = append(api, container, 'o', 0, b'x',
                              {'X-Object-Manifest': '%s/p' % container})
    assert status == 400
    status, _h, _b = append(api, container, 'o' * 1000, 0, b'x')
    assert status == 400
    status, _h, _b = append(api, unique('missing'), 'o', 0, b'x')
    assert status == 404
    status, _h, _b = api.request('PUT', '/%s/o' % container, {'Content-Length': '1'}, b'x',
                                 query='append-manifest=put')
    assert status == 400
    status, _h, _b = append(api, container, 'o', 0, b'x', {'ETag': md5hex(b'y')})
    assert status == 422
    assert api.request('HEAD', '/%s/o' % container)[0] == 404


def test_plain_and_other_objects_are_not_appendable(api, container):
    api.put_object(container, 'plain', b'12345')
    for offset in (0, 5):
        status, h, _body = append(api, container, 'plain', offset, b'x')
        assert status == 409 and 'x-append-length' not in h
    assert api.request('GET', '/%s/plain' % container)[2] == b'12345'
    api.put_object(container, 'dlo', b'', {'X-Object-Manifest': '%s/seg' % container})
    assert append(api, container, 'dlo', 0, b'x')[0] == 409


def test_chunked_append(api, container):
    data = b'x' * 2500
    status, h, body = append(api, container, 'chunky', 0, data,
                             {'Transfer-Encoding': 'chunked'})
    assert status == 201 and h['x-append-length'] == '2500', body
    assert api.request('GET', '/%s/chunky' % container)[2] == data


def test_delete_removes_pieces(api, container):
    build(api, container, 'gone', [b'a', b'b', b'c'])
    segs = container + '_segments'
    listing = json.loads(api.request('GET', '/' + segs, query='format=json')[2])
    assert len([i for i in listing if i['name'].startswith('gone/append/')]) == 3
    assert api.request('DELETE', '/%s/gone' % container)[0] == 204
    assert api.request('GET', '/%s/gone' % container)[0] == 404
    listing = json.loads(api.request('GET', '/' + segs, query='format=json')[2] or b'[]')
    assert not [i for i in listing if i['name'].startswith('gone/append/')]
    # and it can start again
    assert append(api, container, 'gone', 0, b'new')[0] == 201


def test_copy_of_appendable_is_plain(api, container):
    whole = build(api, container, 'src', [b'one ', b'two'])
    status, _h, body = api.request('PUT', '/%s/dst' % container,
                                   {'X-Copy-From': '%s/src' % container, 'Content-Length': '0'})
    assert status == 201, body
    status, h, body = api.request('GET', '/%s/dst' % container)
    assert (status, body) == (200, whole) and h['etag'] == md5hex(whole)
    assert append(api, container, 'dst', len(whole), b'x')[0] == 409


def test_post_keeps_appendable(api, container):
    build(api, container, 'meta', [b'abc'])
    status, _h, _b = api.request('POST', '/%s/meta' % container, {'X-Object-Meta-K': 'v'})
    assert status == 202
    status, h, _b = append(api, container, 'meta', 3, b'def')
    assert status == 201
    status, h, body = api.request('GET', '/%s/meta' % container)
    assert body == b'abcdef' and h['x-object-meta-k'] == 'v'


def test_concurrent_appenders(api, container):
    """20 appenders race for each offset: exactly one wins each time, the
    others get 409 with the length that won; no acknowledged append is lost."""
    acked = []
    lock = threading.Lock()
    rounds = 5

    def worker(i):
        client = Api(api.cluster)
        offset = 0
        done = 0
        while done < rounds:
            data = b'<%02d-%d>' % (i, done)
            status, h, _body = append(client, container, 'race', offset, data)
            if status == 201:
                with lock:
                    acked.append((offset, data))
                offset = int(h['x-append-length'])
                done += 1
            elif status == 409:
                offset = int(h['x-append-length'])
            else:
                raise AssertionError((status, _body))
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    status, h, body = api.request('GET', '/%s/race' % container)
    assert status == 200
    acked.sort()
    # every acknowledged append sits at its offset; together they are the object
    assert b''.join(data for _offset, data in acked) == body
    offsets = [o for o, _d in acked]
    assert len(set(offsets)) == len(offsets) == 20 * rounds


@pytest.mark.timeout(1800)
def test_many_small_appends_compact(api, container):
    """2,000 small appends (500 to each of 4 logs, written at once): every
    log reads back whole, its manifest stays short, and merged pieces are gone."""
    logs = ['compact%d' % i for i in range(4)]
    errors = []

    def writer(name):
        client = Api(api.cluster)
        offset = 0
        for i in range(500):
            data = b'%s line %05d\n' % (name.encode(), i)
            status, h, body = append(client, container, name, offset, data)
            if status != 201:
                errors.append((name, i, status, body))
                return
            offset += len(data)
    threads = [threading.Thread(target=writer, args=(name,)) for name in logs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for name in logs:
        whole = b''.join(b'%s line %05d\n' % (name.encode(), i) for i in range(500))
        status, h, body = api.request('GET', '/%s/%s' % (container, name))
        assert (status, body) == (200, whole)
        doc = json.loads(api.request('GET', '/%s/%s' % (container, name),
                                     query='append-manifest=get')[2])
        assert len(doc['pieces']) < 64
        segs = json.loads(api.request('GET', '/%s_segments' % container,
                                      query='format=json&prefix=%s/' % name)[2])
        assert sorted(s['name'] for s in segs) == sorted(p[0] for p in doc['pieces'])


def test_info(api):
    status, _h, body = api.request('GET', '', token=False)
    from tests.functional.conftest import http
    status, _h, body = http('GET', api.cluster.proxy_url + '/info')
    assert status == 200
    info = json.loads(body)
    assert info['append']['compact_after'] == 32


def test_appends_refused_in_versioned_containers(api):
    """Appends and object versioning do not compose: refused with a reason,
    nothing stored."""
    c = api.put_container(headers={'X-Versions-Enabled': 'true'})
    status, _h, body = api.request('PUT', '/%s/log' % c, {'X-Append-Offset': '0'}, b'abc')
    assert status == 400 and b'versioning' in body
    assert api.request('GET', '/%s/log' % c)[0] == 404
