"""The slo middleware over an in-memory stand-in for the rest of the pipeline."""
import base64
import hashlib
import io
import json
import logging

import pytest

from swiftlike import ranges
from swiftlike.exceptions import RangeNotSatisfiable
from swiftlike.middleware import info, slo


def md5hex(data):
    return hashlib.md5(data).hexdigest()


class FakeCluster:
    """Objects of one account (with their headers, sysmeta included)."""

    def __init__(self):
        self.objects = {}       # path -> (body, {header: value})
        self.calls = []
        self.puts = []          # environs of PUTs
        self.fail_reading = set()

    def put(self, path, body, **headers):
        hdrs = {'Content-Type': 'application/octet-stream', 'Etag': md5hex(body),
                'Last-Modified': 'Wed, 12 Feb 2014 22:24:52 GMT'}
        hdrs.update(headers)
        self.objects[path] = (body, hdrs)

    def __call__(self, env, start_response):
        method, path = env['REQUEST_METHOD'], env['PATH_INFO']
        self.calls.append((method, path))
        if path.count('/') == 3:       # a container listing
            body = json.dumps([{'name': 'm', 'hash': 'abc; slo_etag=def', 'bytes': 5}]).encode()
            start_response('200 OK', [('Content-Type', 'application/json; charset=utf-8'),
                                      ('Content-Length', str(len(body)))])
            return [body]
        if method == 'PUT':
            self.puts.append(env)
            body = env['wsgi.input'].read()
            headers = {'-'.join(p.capitalize() for p in k[5:].split('_')): v
                       for k, v in env.items() if k.startswith('HTTP_X_OBJECT_')}
            self.put(path, body, **headers)
            start_response('201 Created', [('Etag', md5hex(body)), ('Content-Length', '0'),
                                           ('Last-Modified', 'Thu, 13 Feb 2014 00:00:00 GMT')])
            return [b'']
        if path not in self.objects:
            start_response('404 Not Found', [('Content-Length', '9')])
            return [b'Not Found']
        if method == 'DELETE':
            del self.objects[path]
            start_response('204 No Content', [])
            return [b'']
        body, headers = self.objects[path]
        out = list(headers.items())
        status = '200 OK'
        spans = None
        if env.get('HTTP_RANGE'):
            try:
                spans = ranges.resolve_ranges(env['HTTP_RANGE'], len(body))
            except RangeNotSatisfiable:
                start_response('416 Requested Range Not Satisfiable', out)
                return [b'']
        if spans:
            start, stop = spans[0]
            body = body[start:stop]
            status = '206 Partial Content'
            out.append(('Content-Range', ranges.content_range(start, stop, len(body))))
        out.append(('Content-Length', str(len(body))))
        start_response(status, out)
        if method == 'HEAD':
            return [b'']
        if path in self.fail_reading:
            return _Failing(body)
        return [body]


class _Failing:
    def __init__(self, body):
        self.body = body

    def __iter__(self):
        yield self.body[:2]
        raise slo.SwiftlikeError('backend went away')


def environ(method, path, query='', body=b'', **headers):
    env = {'REQUEST_METHOD': method, 'PATH_INFO': path, 'QUERY_STRING': query,
           'SERVER_NAME': 'localhost', 'SERVER_PORT': '80', 'SERVER_PROTOCOL': 'HTTP/1.1',
           'wsgi.input': io.BytesIO(body), 'CONTENT_LENGTH': str(len(body)),
           'wsgi.url_scheme': 'http', 'wsgi.errors': io.StringIO()}
    for name, value in headers.items():
        env[name.upper() if name == 'content_type' else 'HTTP_' + name.upper()] = value
    return env


def request(mw, method, path, query='', body=b'', **headers):
    env = environ(method, path, query, body, **headers)
    got = {}

    def start_response(status, header_list, exc_info=None):
        got['status'] = int(status.split()[0])
        got['headers'] = {k.lower(): v for k, v in header_list}
    out = mw(env, start_response)
    try:
        data = b''.join(out)
    finally:
        getattr(out, 'close', lambda: None)()
    return got['status'], got['headers'], data, env


@pytest.fixture
def cluster():
    c = FakeCluster()
    for letter in 'abc':
        c.put('/v1/a/c/' + letter, letter.encode() * 4)
    return c


@pytest.fixture
def mw(cluster):
    return slo.filter_factory({'rate_limit_segments_per_sec': '0'})(cluster)


def put_manifest(mw, path, items, query='multipart-manifest=put', **headers):
    return request(mw, 'PUT', path, query, json.dumps(items).encode(), **headers)


def test_put_stores_manifest_with_sysmeta_and_listing_override(mw, cluster):
    status, h, _b, _env = put_manifest(mw, '/v1/a/c/m', [
        {'path': '/c/a'}, {'path': 'c/b', 'range': '1-2'}, {'data': 'WFk='}],
        content_type='text/x')
    etag = md5hex((md5hex(b'aaaa') + md5hex(b'bbbb') + ':1-2;' + md5hex(b'XY')).encode())
    assert status == 201 and h['etag'] == '"%s"' % etag
    (put,) = cluster.puts
    stored = put['wsgi.input'].getvalue()
    assert put['HTTP_ETAG'] == md5hex(stored)
    assert put['HTTP_X_OBJECT_SYSMETA_SLO_ETAG'] == etag
    assert put['HTTP_X_OBJECT_SYSMETA_SLO_SIZE'] == '8'
    assert put['HTTP_X_OBJECT_SYSMETA_CONTAINER_UPDATE_OVERRIDE_ETAG'] == \
        '%s; slo_etag=%s' % (md5hex(stored), etag)
    assert put['HTTP_X_OBJECT_SYSMETA_CONTAINER_UPDATE_OVERRIDE_CONTENT_TYPE'] == \
        'text/x;swift_bytes=8'
    assert 'multipart-manifest' not in put['QUERY_STRING']
    items = json.loads(stored)
    assert [i.get('name') for i in items] == ['/c/a', '/c/b', None]
    assert items[1]['range'] == '1-2' and items[2] == {'data': 'WFk='}


def test_get_head_ranges_and_parts(mw, cluster):
    put_manifest(mw, '/v1/a/c/m', [{'path': '/c/a'}, {'path': '/c/b'}, {'path': '/c/c'}])
    status, h, body, _e = request(mw, 'GET', '/v1/a/c/m')
    assert (status, body) == (200, b'aaaabbbbcccc')
    assert h['x-static-large-object'] == 'True' and h['content-length'] == '12'
    cluster.calls.clear()
    status, h, body, _e = request(mw, 'HEAD', '/v1/a/c/m')
    assert (status, body, h['content-length']) == (200, b'', '12')
    assert cluster.calls == [('HEAD', '/v1/a/c/m')]     # HEAD reads no segment
    status, h, body, _e = request(mw, 'GET', '/v1/a/c/m', range='bytes=3-8')
    assert (status, body, h['content-range']) == (206, b'abbbbc', 'bytes 3-8/12')
    status, h, body, _e = request(mw, 'GET', '/v1/a/c/m', 'part-number=2')
    assert (status, body, h['x-parts-count']) == (206, b'bbbb', '3')
    status, h, body, _e = request(mw, 'GET', '/v1/a/c/m', 'part-number=4')
    assert status == 416 and body == b'The requested part number is not satisfiable'
    status, h, body, _e = request(mw, 'HEAD', '/v1/a/c/m', 'part-number=0')
    assert (status, body) == (400, b'')
    status, h, body, _e = request(mw, 'GET', '/v1/a/c/m', range='bytes=0-0,11-11')
    assert status == 206 and h['content-type'].startswith('multipart/byteranges')
    assert len(body) == int(h['content-length']) and b'\r\n\r\na\r\n' in body


def test_conditions_use_the_large_object_etag(mw):
    _s, h, _b, _e = put_manifest(mw, '/v1/a/c/m', [{'path': '/c/a'}])
    assert request(mw, 'GET', '/v1/a/c/m', if_none_match=h['etag'])[0] == 304
    assert request(mw, 'GET', '/v1/a/c/m', if_match='"nope"')[0] == 412
    assert request(mw, 'HEAD', '/v1/a/c/m', if_match=h['etag'])[0] == 200


def test_problems_are_listed_sorted(mw, cluster):
    status, _h, body, _e = put_manifest(mw, '/v1/a/c/m', [
        {'path': '/c/zz'}, {'path': '/c/a', 'etag': 'x'}, {'path': '/c/b', 'size_bytes': 1}],
        accept='application/json')
    assert status == 400
    assert json.loads(body) == {'Errors': [['/c/a', 'Etag Mismatch'], ['/c/b', 'Size Mismatch'],
                                           ['/c/zz', '404 Not Found']]}
    assert not cluster.puts


def test_heartbeat_summary(mw):
    status, h, body, env = put_manifest(mw, '/v1/a/c/m', [{'path': '/c/a'}],
                                        'multipart-manifest=put&heartbeat=on',
                                        accept='application/json', etag='bad')
    assert status == 202 and body.startswith(b' \r\n\r\n')
    assert json.loads(body[5:]) == {
        'Response Status': '422 Unprocessable Entity', 'Errors': [],
        'Response Body': 'Unprocessable Entity\nUnable to process the contained instructions'}
    assert env['eventlet.minimum_write_chunk_size'] == 0


def test_stored_manifest_garbage_is_a_409(mw, cluster):
    cluster.put('/v1/a/c/bad', b'{not json', **{'X-Object-Sysmeta-Slo-Etag': 'x',
                                                'X-Object-Sysmeta-Slo-Size': '3'})
    status, _h, body, _e = request(mw, 'GET', '/v1/a/c/bad')
    assert status == 409 and b'not valid' in body
    status, _h, body, _e = request(mw, 'GET', '/v1/a/c/bad', 'multipart-manifest=get&format=raw')
    assert status == 409


def test_missing_first_segment_and_broken_later_one(mw, cluster, caplog):
    put_manifest(mw, '/v1/a/c/m', [{'path': '/c/a'}, {'path': '/c/b'}])
    cluster.fail_reading.add('/v1/a/c/b')
    with caplog.at_level(logging.WARNING):
        with pytest.raises(slo.SwiftlikeError):
            request(mw, 'GET', '/v1/a/c/m')
    assert 'segment /c/b: reading failed' in caplog.text
    del cluster.objects['/v1/a/c/a']
    status, _h, body, _e = request(mw, 'GET', '/v1/a/c/m')
    assert status == 409 and b'/c/a' in body


def test_nesting_too_deep(mw, cluster):
    put_manifest(mw, '/v1/a/c/m0', [{'path': '/c/a'}])
    for depth in range(1, 12):
        assert put_manifest(mw, '/v1/a/c/m%d' % depth,
                            [{'path': '/c/m%d' % (depth - 1)}])[0] == 201
    assert request(mw, 'GET', '/v1/a/c/m5')[2] == b'aaaa'
    status, _h, body, _e = request(mw, 'GET', '/v1/a/c/m11')
    assert status == 409 and b'There was a conflict' in body


def test_manifest_delete_and_reserved_header(mw, cluster):
    put_manifest(mw, '/v1/a/c/inner', [{'path': '/c/b'}])
    put_manifest(mw, '/v1/a/c/m', [{'path': '/c/a'}, {'path': '/c/inner'}, {'data': 'WFk='}])
    status, _h, body, _e = request(mw, 'DELETE', '/v1/a/c/m', 'multipart-manifest=delete')
    assert status == 200 and b'Number Deleted: 4' in body, body
    assert set(cluster.objects) == {'/v1/a/c/c'}
    status, _h, body, _e = request(mw, 'PUT', '/v1/a/c/x', body=b'1', x_static_large_object='1')
    assert status == 400 and b'reserved header' in body


@pytest.mark.parametrize('body,ctype,expected', [
    (b'[{"name": "m", "hash": "abc; slo_etag=def"}]', 'application/json',
     [{'name': 'm', 'hash': 'abc', 'slo_etag': '"def"'}]),
    (b'[{"name": "m", "hash": "abc"}]', 'application/json', [{'name': 'm', 'hash': 'abc'}]),
    (b'[{"subdir": "x/"}, {"name": "y", "hash": "e; slo_etag=\\"q\\""}]', 'application/json',
     [{'subdir': 'x/'}, {'name': 'y', 'hash': 'e', 'slo_etag': '"q"'}]),
    (b'not json slo_etag=', 'application/json', b'not json slo_etag='),
])
def test_rewrite_listing(body, ctype, expected):
    got = slo.rewrite_listing(body, ctype)
    assert (json.loads(got) if isinstance(expected, list) else got) == expected


def test_rewrite_xml_listing():
    body = b'<object><name>m</name><hash>abc; slo_etag=def</hash></object>'
    assert slo.rewrite_listing(body, 'application/xml') == \
        b'<object><name>m</name><hash>abc</hash><slo_etag>&quot;def&quot;</slo_etag></object>'


def test_listing_through_the_middleware(mw):
    status, h, body, _e = request(mw, 'GET', '/v1/a/c')
    assert status == 200 and json.loads(body)[0]['slo_etag'] == '"def"'
    assert h['content-length'] == str(len(body))


def test_conf_and_info():
    factory = slo.filter_factory({'max_manifest_segments': '5', 'yield_frequency': '1'})
    factory(lambda env, sr: [])
    assert info.capabilities()['slo'] == {'max_manifest_segments': 5,
                                          'max_manifest_size': 8 * 1024 * 1024,
                                          'min_segment_size': 1, 'yield_frequency': 1.0}
    for bad in ({'concurrency': '0'}, {'min_segment_size': '0'}, {'max_get_time': '0'},
                {'yield_frequency': '-1'}, {'max_manifest_segmentz': '1'}):
        with pytest.raises(Exception):
            slo.filter_factory(bad)


def test_data_only_manifest(mw):
    data = base64.b64encode(b'hello').decode()
    assert put_manifest(mw, '/v1/a/c/d', [{'data': data}, {'data': data}])[0] == 201
    assert request(mw, 'GET', '/v1/a/c/d')[2] == b'hellohello'
    assert request(mw, 'GET', '/v1/a/c/d', range='bytes=3-6')[2] == b'lohe'


class _Reader:
    def __init__(self, chunks, error=None):
        self.chunks = list(chunks)
        self.error = error

    def read(self, size):
        if self.chunks:
            return self.chunks.pop(0)
        if self.error:
            raise self.error
        return b''


@pytest.mark.parametrize('env,status', [
    ({'wsgi.input': _Reader([b'[]'])}, 411),
    ({'CONTENT_LENGTH': 'x', 'wsgi.input': _Reader([])}, 411),
    ({'CONTENT_LENGTH': '101', 'wsgi.input': _Reader([])}, 413),
    ({'HTTP_TRANSFER_ENCODING': 'chunked', 'wsgi.input': _Reader([b'x' * 60] * 2)}, 413),
    ({'CONTENT_LENGTH': '100', 'wsgi.input': _Reader([b'x' * 60] * 2)}, 413),
    ({'CONTENT_LENGTH': '10', 'wsgi.input': _Reader([b'x'], OSError('reset'))}, 499),
    ({'CONTENT_LENGTH': '10', 'wsgi.input': _Reader([b'x'], TimeoutError())}, 408),
])
def test_manifest_body_reading(env, status):
    from swiftlike.middleware.slo_put import read_manifest_body
    with pytest.raises(slo.SwiftlikeError) as err:
        read_manifest_body(env, 100)
    assert err.value.http_status == status


def test_manifest_body_chunked_within_limit():
    from swiftlike.middleware.slo_put import read_manifest_body
    env = {'HTTP_TRANSFER_ENCODING': 'chunked', 'wsgi.input': _Reader([b'[', b']'])}
    assert read_manifest_body(env, 100) == b'[]'
