"""The append middleware's dispatch and guards over a fake app (no cluster):
what passes through untouched, what is refused before anything is written."""
import io

import pytest

from swiftlike.middleware import append
from swiftlike.middleware.toolkit import FEATURES_KEY


class FakeApp:
    def __init__(self):
        self.calls = []

    def __call__(self, environ, start_response):
        self.calls.append((environ['REQUEST_METHOD'], environ['PATH_INFO'],
                           environ.get('QUERY_STRING', '')))
        if environ.get('swiftlike.info_request'):
            start_response('404 Not Found', [('Content-Length', '0')])
            return [b'']
        start_response('200 OK', [('Content-Length', '2'), ('Content-Type', 'text/plain')])
        return [b'ok']


def run(mw, method, path, headers=None, query='', body=b''):
    env = {'REQUEST_METHOD': method, 'PATH_INFO': path, 'QUERY_STRING': query,
           'wsgi.input': io.BytesIO(body), 'CONTENT_LENGTH': str(len(body)),
           'SERVER_NAME': 'x', 'SERVER_PORT': '80', 'SERVER_PROTOCOL': 'HTTP/1.1'}
    for name, value in (headers or {}).items():
        env['HTTP_' + name.upper().replace('-', '_')] = value
    out = {}

    def start_response(status, hdrs, exc_info=None):
        out['status'] = int(status.split()[0])
        out['headers'] = dict(hdrs)
    data = b''.join(mw(env, start_response))
    return out['status'], out['headers'], data, env


@pytest.fixture
def mw():
    return append.AppendableObjects(FakeApp(), append.Conf())


def test_marks_the_feature_and_passes_plain_requests(mw):
    status, _h, body, env = run(mw, 'GET', '/v1/a/c/o')
    assert (status, body) == (200, b'ok') and 'append' in env[FEATURES_KEY]
    run(mw, 'PUT', '/v1/a/c/o', body=b'x')
    run(mw, 'GET', '/v1/a/c')
    assert [c[0] for c in mw.app.calls] == ['GET', 'PUT', 'GET']


@pytest.mark.parametrize('method,query', [
    ('PUT', 'append-manifest=get'), ('POST', 'append-manifest=get'),
    ('GET', 'append-manifest=put'), ('DELETE', 'append-manifest=get'),
])
def test_append_manifest_only_reads(mw, method, query):
    status, _h, _b, _env = run(mw, method, '/v1/a/c/o', query=query)
    assert status == 400 and mw.app.calls == []


def test_append_manifest_get_passes(mw):
    assert run(mw, 'GET', '/v1/a/c/o', query='append-manifest=get')[0] == 200


@pytest.mark.parametrize('headers,body,status', [
    ({'X-Append-Offset': '-1'}, b'x', 400),
    ({'X-Append-Offset': 'ten'}, b'x', 400),
    ({'X-Append-Offset': '9' * 25}, b'x', 400),
    ({'X-Append-Offset': '0'}, b'', 400),
    ({'X-Append-Offset': '0', 'X-Copy-From': 'c/o'}, b'x', 400),
    ({'X-Append-Offset': '0', 'X-Delete-After': '5'}, b'x', 400),
    ({'X-Append-Offset': '0', 'If-None-Match': '*'}, b'x', 400),
])
def test_bad_appends_write_nothing(mw, headers, body, status):
    got, _h, reason, _env = run(mw, 'PUT', '/v1/a/c/o', headers, body=body)
    assert got == status and reason
    assert [c for c in mw.app.calls if c[0] == 'PUT'] == []


def test_long_names_refused(mw):
    assert run(mw, 'PUT', '/v1/a/c/' + 'o' * 1000, {'X-Append-Offset': '0'}, body=b'x')[0] == 400
    assert run(mw, 'PUT', '/v1/a/' + 'c' * 250 + '/o', {'X-Append-Offset': '0'},
               body=b'x')[0] == 400


def test_missing_container(mw):
    status, _h, _b, _env = run(mw, 'PUT', '/v1/a/c/o', {'X-Append-Offset': '0'}, body=b'x')
    assert status == 404


def test_a_plain_delete_costs_no_lookup(mw):
    # Whether the object was appendable comes back with the DELETE's answer.
    run(mw, 'DELETE', '/v1/a/c/o')
    assert [c[:2] for c in mw.app.calls] == [('DELETE', '/v1/a/c/o')]


@pytest.mark.parametrize('values,message', [
    ({'compact_after': '-1'}, 'compact_after'), ({'compact_piece_size': '0'}, 'sizes'),
    ({'max_get_time': '0'}, 'max_get_time'), ({'bogus': '1'}, 'bogus'),
])
def test_config(values, message):
    from swiftlike.exceptions import ConfigError
    with pytest.raises((ConfigError, ValueError)) as err:
        append.filter_factory(values)
    assert message in str(err.value)


class _FakeResponse:
    def __init__(self, data, log):
        self.status = 200
        self.headers = {'etag': __import__('hashlib').md5(data).hexdigest(),
                        'content-length': str(len(data))}
        self.data = data
        self.log = log
        self.closed = False

    def __iter__(self):
        return iter([self.data])

    def close(self):
        if not self.closed:
            self.closed = True
            self.log.append(('close', self.data))


def _pieces(*datas):
    import hashlib
    from swiftlike.middleware.segments import Segment
    return [Segment('p%d' % i, len(d), hashlib.md5(d).hexdigest()) for i, d in enumerate(datas)]


def test_prefetching_stream_serves_in_order_and_releases_everything():
    import logging
    from swiftlike.middleware.segments import segment_slices
    datas = [b'aa', b'bbb', b'c', b'dddd']
    pieces = _pieces(*datas)
    log = []
    opened = []

    def fetch(segment, first, stop):
        opened.append(segment.name)
        return _FakeResponse(datas[int(segment.name[1:])], log)
    stream = append._PrefetchingStream(fetch, list(segment_slices(pieces, 0, 10)), 'x',
                                       logging.getLogger('t'), 100)
    stream.prime()
    assert opened[0] == 'p0' and stream.ahead[0][0].name == 'p1'   # asked for ahead
    assert b''.join(stream) == b'aabbbcdddd'
    stream.close()
    assert opened == ['p0', 'p1', 'p2', 'p3']
    assert sorted(d for _op, d in log) == sorted(datas)   # every answer closed


def test_prefetching_stream_closed_early_releases_the_one_ahead():
    import logging
    from swiftlike.middleware.segments import segment_slices
    datas = [b'aa', b'bbb', b'c']
    log = []

    def fetch(segment, first, stop):
        return _FakeResponse(datas[int(segment.name[1:])], log)
    stream = append._PrefetchingStream(fetch, list(segment_slices(_pieces(*datas), 0, 6)), 'x',
                                       logging.getLogger('t'), 100)
    stream.prime()
    stream.close()
    assert sorted(d for _op, d in log) == [b'aa', b'bbb']
