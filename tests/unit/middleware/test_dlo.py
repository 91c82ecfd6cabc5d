"""The dlo middleware: pure parts with tables, then the middleware over an
in-memory stand-in for the rest of the pipeline."""
import hashlib
import io
import json
import logging
from urllib.parse import parse_qsl

import pytest

from swiftlike import conditional, ranges
from swiftlike.exceptions import BadRequest, ConnectionTimeout, RangeNotSatisfiable
from swiftlike.middleware import dlo, info
from swiftlike.middleware.segments import (Segment, SegmentError, SegmentStream,
                                           large_object_etag, segment_slices)
from swiftlike.middleware.subrequest import call, make_environ
from swiftlike.middleware.toolkit import EnvironHeaders
from swiftlike.proxy.unsupported import FEATURES_KEY


def md5hex(data):
    return hashlib.md5(data).hexdigest()


# -- pure parts --------------------------------------------------------------

@pytest.mark.parametrize('value,expected', [
    ('c/o', ('c', 'o')),
    ('c/obj/with/slashes', ('c', 'obj/with/slashes')),
    ('c/trailing/slash/', ('c', 'trailing/slash/')),
    ('c/multiple//slashes///', ('c', 'multiple//slashes///')),
    ('c/seg_upper_%25ff', ('c', 'seg_upper_%ff')),            # URL-quoted
    ('c%20d/p%2Fq', ('c d', 'p/q')),
    ('\xc3\xa9t\xc3\xa9/pr\xc3\xa9', ('\u00e9t\u00e9', 'pr\u00e9')),  # raw UTF-8 (WSGI str)
    ('%C3%A9/x', ('\u00e9', 'x')),
])
def test_parse_manifest_good(value, expected):
    assert dlo.parse_manifest(value) == expected


@pytest.mark.parametrize('value,reason', [
    ('', 'not empty'),
    ('   ', 'not empty'),
    ('/leading/slash', 'container is missing'),
    ('double//slash', 'starts with a slash'),
    ('container-only', 'prefix is missing'),
    ('whole-container/', 'prefix is missing'),
    ('c/o?short=querystring', 'query string'),
    ('c/o&x', 'query string'),
    ('c/%FF', 'not valid UTF-8'),
    ('\xff/x', 'not valid UTF-8'),
    ('c/a%00b', 'NUL'),
    ('%2Fc/x', 'container is missing'),
    ('c' * 257 + '/x', 'container name is too long'),
    ('c/' + 'x' * 1025, 'prefix is too long'),
])
def test_parse_manifest_bad(value, reason):
    with pytest.raises(BadRequest) as err:
        dlo.parse_manifest(value)
    assert reason in err.value.reason
    assert err.value.reason.startswith('X-Object-Manifest must be <container>/<prefix>')


SEGS = [Segment('a', 10, 'ea'), Segment('b', 0, 'eb'), Segment('c', 5, 'ec'),
        Segment('d', 10, 'ed')]


@pytest.mark.parametrize('start,stop,offset,expected', [
    (0, 25, 0, [('a', 0, 10), ('c', 0, 5), ('d', 0, 10)]),   # whole; empty skipped
    (8, 13, 0, [('a', 8, 10), ('c', 0, 3)]),
    (10, 15, 0, [('c', 0, 5)]),                               # on boundaries
    (14, 16, 0, [('c', 4, 5), ('d', 0, 1)]),
    (24, 25, 0, [('d', 9, 10)]),                              # last byte
    (0, 1, 0, [('a', 0, 1)]),                                 # first byte
    (5, 5, 0, []),                                            # nothing
    (100, 110, 100, [('a', 0, 10)]),                          # a later page
    (105, 120, 100, [('a', 5, 10), ('c', 0, 5), ('d', 0, 5)]),
])
def test_segment_slices(start, stop, offset, expected):
    got = [(s.name, a, b) for s, a, b in segment_slices(SEGS, start, stop, offset)]
    assert got == expected


def test_segment_slices_reads_no_further_than_needed():
    seen = []

    def lazy():
        for seg in SEGS:
            seen.append(seg.name)
            yield seg
    assert [s.name for s, _a, _b in segment_slices(lazy(), 0, 5)] == ['a']
    assert seen == ['a']


@pytest.mark.parametrize('etags,expected', [
    ([], md5hex(b'')),
    ([md5hex(b'x')], md5hex(md5hex(b'x').encode())),
    (['"abc"', 'def'], md5hex(b'abcdef')),                    # quotes ignored
])
def test_large_object_etag(etags, expected):
    assert large_object_etag(etags) == expected


@pytest.mark.parametrize('header,length,expected', [
    ('bytes=8-32', 50, [(8, 33)]),
    ('bytes=-5', 50, [(45, 50)]),
    ('bytes=47-', 50, [(47, 50)]),
    ('bytes=0-4,10-14', 50, [(0, 5), (10, 15)]),              # the dlo serves these whole
    ('bytes=x', 50, None),
])
def test_ranges_of_the_whole(header, length, expected):
    assert ranges.resolve_ranges(header, length) == expected


def test_unsatisfiable_range_names_the_length():
    with pytest.raises(RangeNotSatisfiable) as err:
        ranges.resolve_ranges('bytes=50-56', 50)
    assert err.value.headers == {'Content-Range': 'bytes */50'}


def test_conf_validation():
    from swiftlike.exceptions import ConfigError
    for bad in ({'max_get_time': '0'}, {'rate_limit_after_segment': '-1'},
                {'rate_limit_segments_per_sec': '-2'}):
        with pytest.raises(ConfigError):
            dlo.filter_factory(bad)
    make = dlo.filter_factory({'max_get_time': '60', 'rate_limit_segments_per_sec': '0'})
    assert make.conf.max_get_time == 60 and make.conf.rate_limit_segments_per_sec == 0


# -- an in-memory rest of the pipeline -----------------------------------------

class FakeCluster:
    """Objects and listings of one account; records every request."""

    def __init__(self):
        self.objects = {}      # (container, name) -> (body, headers)
        self.containers = set()
        self.forbidden = set()
        self.calls = []
        self.environs = []
        self.hooks = {}        # (method, path) -> callable(environ) run first
        self.broken = set()    # containers / (container, name) whose body fails midway

    def put(self, container, name, body, **headers):
        self.containers.add(container)
        hdrs = {'Content-Type': 'application/octet-stream', 'ETag': md5hex(body),
                'Last-Modified': 'Wed, 12 Feb 2014 22:24:52 GMT'}
        hdrs.update({k.replace('_', '-'): v for k, v in headers.items()})
        self.objects[(container, name)] = (body, hdrs)

    def __call__(self, environ, start_response):
        method, path = environ['REQUEST_METHOD'], environ['PATH_INFO']
        query = dict(parse_qsl(environ.get('QUERY_STRING', '')))
        self.calls.append((method, path, environ.get('QUERY_STRING', '')))
        self.environs.append(environ)
        hook = self.hooks.get((method, path))
        if hook:
            hook(environ)
        parts = path.split('/', 4)
        container = parts[3].encode('latin-1').decode('utf-8')
        if container in self.forbidden:
            start_response('403 Forbidden', [('Content-Length', '13')])
            return [b'Access denied']
        if len(parts) == 4:
            return self.listing(container, query, start_response)
        obj = parts[4].encode('latin-1').decode('utf-8')
        if (container, obj) not in self.objects:
            start_response('404 Not Found', [('Content-Length', '0')])
            return [b'']
        body, headers = self.objects[(container, obj)]
        headers = dict(headers)
        req = EnvironHeaders(environ)
        decided = conditional.evaluate(req, headers['ETag'], 0, method)
        if decided:
            keep = {k: v for k, v in headers.items() if k in ('ETag', 'X-Object-Manifest')}
            start_response('%d X' % decided, list(keep.items()) + [('Content-Length', '0')])
            return [b'']
        status = '200 OK'
        if req.get('Range') and method == 'GET':
            try:
                spans = ranges.resolve_ranges(req.get('Range'), len(body))
            except RangeNotSatisfiable:
                start_response('416 X', list(headers.items()) + [('Content-Length', '0')])
                return [b'']
            if spans and len(spans) == 1:
                start, stop = spans[0]
                headers['Content-Range'] = ranges.content_range(start, stop, len(body))
                body, status = body[start:stop], '206 Partial Content'
        headers['Content-Length'] = str(len(body))
        start_response(status, list(headers.items()))
        if method == 'HEAD':
            return [b'']
        chunks = [body[i:i + 4] for i in range(0, len(body), 4)]
        return _breaking(chunks) if (container, obj) in self.broken else chunks

    def listing(self, container, query, start_response):
        if container not in self.containers:
            start_response('404 Not Found', [('Content-Length', '0')])
            return [b'']
        prefix, marker = query.get('prefix', ''), query.get('marker', '')
        limit = int(query.get('limit', 10000))
        names = sorted(n for c, n in self.objects if c == container and n.startswith(prefix)
                       and n > marker)[:limit]
        items = [{'name': n, 'bytes': len(self.objects[(container, n)][0]),
                  'hash': self.objects[(container, n)][1]['ETag']} for n in names]
        body = json.dumps(items).encode()
        start_response('200 OK', [('Content-Type', 'application/json'),
                                  ('Content-Length', str(len(body)))])
        return _breaking([body[:5], body[5:]]) if container in self.broken else [body]

    def segment_gets(self):
        return [p for m, p, q in self.calls if m == 'GET' and p.startswith('/v1/AUTH_test/segs/')]


def _breaking(chunks):
    yield chunks[0]
    raise ConnectionTimeout('backend went away')


def request(app, method, path, headers=None, query='', environ=None):
    env = {'REQUEST_METHOD': method, 'PATH_INFO': path, 'QUERY_STRING': query,
           'wsgi.input': io.BytesIO(b''), 'SERVER_NAME': 'x', 'SERVER_PORT': '80',
           'wsgi.url_scheme': 'http', 'swiftlike.txn_id': 'tx1',
           'HTTP_X_AUTH_TOKEN': 'tok', 'REMOTE_USER': 'AUTH_test'}
    for k, v in (headers or {}).items():
        env['HTTP_' + k.upper().replace('-', '_')] = v
    env.update(environ or {})
    sub = call(app, env)
    body = b''.join(sub) if method != 'HEAD' else b''
    sub.close()
    return sub.status, sub.headers, body, env


@pytest.fixture
def cluster():
    c = FakeCluster()
    for letter in 'abcde':
        c.put('segs', 'pre/seg_%s' % letter, letter.encode() * 10)
    c.put('segs', 'other', b'zzz')
    c.put('mancon', 'man', b'', X_Object_Manifest='segs/pre/seg_', Content_Type='text/x-dlo',
          X_Object_Meta_Color='blue')
    return c


@pytest.fixture
def mw(cluster):
    return dlo.filter_factory({'rate_limit_segments_per_sec': '0'})(cluster)


WHOLE = b''.join(letter.encode() * 10 for letter in 'abcde')
ETAG = md5hex(''.join(md5hex(c.encode() * 10) for c in 'abcde').encode())


def test_get_concatenates_in_name_order(mw, cluster):
    status, h, body, env = request(mw, 'GET', '/v1/AUTH_test/mancon/man')
    assert status == 200 and body == WHOLE
    assert h['content-length'] == '50' and h['etag'] == '"%s"' % ETAG
    assert h['x-object-manifest'] == 'segs/pre/seg_'
    assert h['content-type'] == 'text/x-dlo' and h['x-object-meta-color'] == 'blue'
    assert h['accept-ranges'] == 'bytes'
    assert 'dlo' in env[FEATURES_KEY]
    # the listing and segments were subrequests, tagged, with the user's identity
    for sub in cluster.environs[1:]:
        assert sub['swiftlike.source'] == 'DLO'
        assert sub['HTTP_X_AUTH_TOKEN'] == 'tok' and sub['REMOTE_USER'] == 'AUTH_test'
    assert len(cluster.segment_gets()) == 5


def test_head_gives_totals_without_reading_segments(mw, cluster):
    status, h, body, _env = request(mw, 'HEAD', '/v1/AUTH_test/mancon/man')
    assert status == 200 and h['content-length'] == '50' and h['etag'] == '"%s"' % ETAG
    assert cluster.segment_gets() == []


@pytest.mark.parametrize('range_header,status,expected,content_range', [
    ('bytes=8-32', 206, WHOLE[8:33], 'bytes 8-32/50'),
    ('bytes=47-47', 206, b'e', 'bytes 47-47/50'),
    ('bytes=-5', 206, WHOLE[-5:], 'bytes 45-49/50'),
    ('bytes=10-19', 206, WHOLE[10:20], 'bytes 10-19/50'),
    ('bytes=0-4,10-14', 200, WHOLE, None),      # several ranges: the whole body
    ('bytes=oops', 200, WHOLE, None),
])
def test_ranges_across_segments(mw, range_header, status, expected, content_range):
    got, h, body, _env = request(mw, 'GET', '/v1/AUTH_test/mancon/man', {'Range': range_header})
    assert (got, body) == (status, expected)
    assert h.get('content-range') == content_range
    assert h['content-length'] == str(len(expected))


def test_range_fetches_only_the_segments_it_needs(mw, cluster):
    request(mw, 'GET', '/v1/AUTH_test/mancon/man', {'Range': 'bytes=12-14'})
    segs = cluster.segment_gets()
    assert segs == ['/v1/AUTH_test/segs/pre/seg_b']
    assert cluster.environs[-1]['HTTP_RANGE'] == 'bytes=2-4'


def test_unsatisfiable_range(mw):
    status, h, _body, _env = request(mw, 'GET', '/v1/AUTH_test/mancon/man',
                                     {'Range': 'bytes=50-56'})
    assert status == 416 and h['content-range'] == 'bytes */50'


@pytest.mark.parametrize('headers,method,status', [
    ({'If-Match': '"%s"' % ETAG}, 'GET', 200),
    ({'If-Match': ETAG}, 'HEAD', 200),
    ({'If-Match': 'not-%s' % ETAG}, 'GET', 412),
    ({'If-Match': 'not-%s' % ETAG}, 'HEAD', 412),
    ({'If-None-Match': '"%s"' % ETAG}, 'GET', 304),
    ({'If-None-Match': ETAG}, 'HEAD', 304),
    ({'If-None-Match': 'nope'}, 'GET', 200),
    ({'If-Match': md5hex(b'')}, 'GET', 412),        # the manifest's own ETag is not it
    ({'If-None-Match': md5hex(b'')}, 'GET', 200),
])
def test_conditions_apply_to_the_large_object(mw, headers, method, status):
    got, h, body, _env = request(mw, method, '/v1/AUTH_test/mancon/man', headers)
    assert got == status
    if status == 200 and method == 'GET':
        assert body == WHOLE
    if status == 304:
        assert body == b'' and h['etag'] == '"%s"' % ETAG


def test_manifest_itself(mw, cluster):
    status, h, body, _env = request(mw, 'GET', '/v1/AUTH_test/mancon/man',
                                    query='multipart-manifest=get')
    assert status == 200 and body == b'' and h['x-object-manifest'] == 'segs/pre/seg_'
    assert len(cluster.calls) == 1


def test_plain_objects_pass_through_with_one_request(mw, cluster):
    status, h, body, _env = request(mw, 'GET', '/v1/AUTH_test/segs/other')
    assert (status, body) == (200, b'zzz') and len(cluster.calls) == 1
    status, _h, _b, _env = request(mw, 'GET', '/v1/AUTH_test/segs/other',
                                   {'If-None-Match': md5hex(b'zzz')})
    assert status == 304 and len(cluster.calls) == 2


def test_prefix_matching_nothing_is_empty(mw, cluster):
    cluster.put('mancon', 'empty', b'', X_Object_Manifest='segs/nothing-here')
    status, h, body, _env = request(mw, 'GET', '/v1/AUTH_test/mancon/empty')
    assert (status, body) == (200, b'')
    assert h['etag'] == '"%s"' % md5hex(b'') and h['content-length'] == '0'


def test_manifest_listing_itself_reads_its_own_bytes(mw, cluster):
    cluster.put('mancon', 'self', b'SELF', X_Object_Manifest='mancon/s')
    cluster.put('mancon', 'seg', b'-seg')
    status, _h, body, _env = request(mw, 'GET', '/v1/AUTH_test/mancon/self')
    assert (status, body) == (200, b'-segSELF')


@pytest.mark.parametrize('where,status', [('forbidden', 403), ('missing', 404)])
def test_listing_errors_are_the_answer(mw, cluster, where, status):
    cluster.put('mancon', 'm2', b'', X_Object_Manifest='segs2/p')
    if where == 'forbidden':
        cluster.containers.add('segs2')
        cluster.forbidden.add('segs2')
    for method in ('GET', 'HEAD'):
        got, _h, _body, _env = request(mw, method, '/v1/AUTH_test/mancon/m2')
        assert got == status


def test_first_segment_missing_is_an_error_status(mw, cluster, caplog):
    cluster.hooks[('GET', '/v1/AUTH_test/segs/pre/seg_a')] = \
        lambda env: cluster.objects.pop(('segs', 'pre/seg_a'))
    status, _h, body, _env = request(mw, 'GET', '/v1/AUTH_test/mancon/man')
    assert status == 409 and b'seg_a' in body


def test_segment_vanishing_mid_stream_ends_the_body(mw, cluster, caplog):
    cluster.hooks[('GET', '/v1/AUTH_test/segs/pre/seg_c')] = \
        lambda env: cluster.objects.pop(('segs', 'pre/seg_c'))
    env = {'REQUEST_METHOD': 'GET', 'PATH_INFO': '/v1/AUTH_test/mancon/man',
           'wsgi.input': io.BytesIO(b'')}
    sub = call(mw, env)
    assert sub.status == 200 and sub.headers['content-length'] == '50'
    got = []
    logging.getLogger('swiftlike.proxy-server').propagate = True
    try:
        with pytest.raises(SegmentError):
            for chunk in sub:
                got.append(chunk)
    finally:
        logging.getLogger('swiftlike.proxy-server').propagate = False
        sub.close()
    assert b''.join(got) == WHOLE[:20]
    assert any('seg_c' in r.getMessage() and 'ends after 20 bytes' in r.getMessage()
               for r in caplog.records)


def test_backend_failures_are_503_or_end_the_body(mw, cluster):
    cluster.broken.add('segs')
    for method in ('GET', 'HEAD'):
        status, _h, body, _env = request(mw, method, '/v1/AUTH_test/mancon/man')
        assert status == 503
    cluster.broken = {('segs', 'pre/seg_b')}
    sub = call(mw, {'REQUEST_METHOD': 'GET', 'PATH_INFO': '/v1/AUTH_test/mancon/man',
                    'wsgi.input': io.BytesIO(b'')})
    got = []
    with pytest.raises(SegmentError) as err:
        for chunk in sub:
            got.append(chunk)
    sub.close()
    assert b''.join(got) == WHOLE[:14] and err.value.http_status == 503
    assert 'backend went away' in err.value.reason


def test_changed_segment_ends_the_body(mw, cluster):
    def change(env):
        cluster.put('segs', 'pre/seg_b', b'B' * 10)
    cluster.hooks[('GET', '/v1/AUTH_test/segs/pre/seg_b')] = change
    sub = call(mw, {'REQUEST_METHOD': 'GET', 'PATH_INFO': '/v1/AUTH_test/mancon/man',
                    'wsgi.input': io.BytesIO(b'')})
    got = []
    with pytest.raises(SegmentError) as err:
        for chunk in sub:
            got.append(chunk)
    sub.close()
    assert b''.join(got) == WHOLE[:10] and 'ETag' in err.value.reason


def test_paging_through_listings(monkeypatch, mw, cluster):
    monkeypatch.setattr(dlo, 'LISTING_PAGE', 2)
    status, h, body, _env = request(mw, 'GET', '/v1/AUTH_test/mancon/man')
    assert (status, body) == (200, WHOLE) and h['etag'] == '"%s"' % ETAG
    listings = [q for m, p, q in cluster.calls if p == '/v1/AUTH_test/segs']
    # one pass for the totals (3 pages), one to stream them
    assert len(listings) == 6
    assert 'marker=pre%2Fseg_b' in listings[1]
    # a range starts listing at the page that holds it
    del cluster.calls[:]
    status, _h, body, _env = request(mw, 'GET', '/v1/AUTH_test/mancon/man',
                                     {'Range': 'bytes=41-44'})
    assert (status, body) == (206, WHOLE[41:45])
    listings = [q for m, p, q in cluster.calls if p == '/v1/AUTH_test/segs']
    assert len(listings) == 4 and 'marker=pre%2Fseg_d' in listings[-1]


def test_listing_changing_between_pages_ends_the_body(monkeypatch, mw, cluster):
    monkeypatch.setattr(dlo, 'LISTING_PAGE', 2)

    def add(env):
        cluster.put('segs', 'pre/seg_cc', b'new')
    cluster.hooks[('GET', '/v1/AUTH_test/segs/pre/seg_b')] = add
    sub = call(mw, {'REQUEST_METHOD': 'GET', 'PATH_INFO': '/v1/AUTH_test/mancon/man',
                    'wsgi.input': io.BytesIO(b'')})
    got = []
    with pytest.raises(SegmentError) as err:
        for chunk in sub:
            got.append(chunk)
    sub.close()
    assert b''.join(got) == WHOLE[:20] and 'listing changed' in err.value.reason


@pytest.mark.parametrize('method', ['PUT', 'POST'])
def test_bad_manifest_values_are_refused(mw, cluster, method):
    status, _h, body, _env = request(mw, method, '/v1/AUTH_test/c/o',
                                     {'X-Object-Manifest': 'no-prefix'})
    assert status == 400 and b'<container>/<prefix>' in body
    assert cluster.calls == []


def test_manifest_header_on_containers_is_not_ours(mw, cluster):
    cluster.containers.add('c')
    status, _h, _b, _env = request(mw, 'PUT', '/v1/AUTH_test/c', {'X-Object-Manifest': '/x'})
    assert len(cluster.calls) == 1


def test_info_advertises_dlo_when_in_the_pipeline(cluster):
    info._capabilities.pop('dlo', None)
    assert 'dlo' not in info.capabilities()
    dlo.filter_factory({'max_get_time': '600'})(cluster)
    assert info.capabilities()['dlo']['max_get_time'] == 600


def test_features_set_created_or_extended(mw, cluster):
    cluster.containers.add('c')
    _s, _h, _b, env = request(mw, 'GET', '/v1/AUTH_test/c')
    assert env[FEATURES_KEY] == {'dlo'}
    _s, _h, _b, env = request(mw, 'GET', '/v1/AUTH_test/c', environ={FEATURES_KEY: {'slo'}})
    assert env[FEATURES_KEY] == {'slo', 'dlo'}


# -- pacing (fake clock) ---------------------------------------------------------

class Clock:
    def __init__(self):
        self.now = 1000.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(round(seconds, 6))
        self.now += seconds


def _fetch_ok(segment, first, stop):
    class Resp:
        status = 200
        headers = {'etag': segment.etag, 'content-length': str(segment.size)}

        def __iter__(self):
            yield b'x' * segment.size

        def close(self):
            pass
    return Resp()


def test_rate_limit_after_n_segments(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(SegmentStream, 'clock', clock)
    monkeypatch.setattr(SegmentStream, 'sleep', clock.sleep)
    segs = [Segment('s%d' % i, 1, 'e') for i in range(6)]
    stream = SegmentStream(_fetch_ok, segment_slices(segs, 0, 6), 'lo',
                           logging.getLogger('t'), max_time=0, rate_limit_after=2,
                           rate_limit_per_sec=2)
    assert b''.join(stream) == b'x' * 6
    # segments 0 and 1 at once; from segment 2 on, two a second
    assert clock.slept == [0.5, 0.5, 0.5]


def test_rate_limit_counts_only_the_pieces_limit_if_names(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(SegmentStream, 'clock', clock)
    monkeypatch.setattr(SegmentStream, 'sleep', clock.sleep)
    # big (3-byte) and small (1-byte) segments alternate; only small ones count
    segs = [Segment('s%d' % i, 3 if i % 2 else 1, 'e') for i in range(8)]
    stream = SegmentStream(_fetch_ok, segment_slices(segs, 0, 16), 'lo',
                           logging.getLogger('t'), rate_limit_after=1, rate_limit_per_sec=1,
                           limit_if=lambda seg, first, stop: stop - first < 2)
    assert len(b''.join(stream)) == 16
    # four small ones: two at once, then one a second (the big ones never wait)
    assert clock.slept == [1.0, 1.0]


def test_max_get_time_ends_the_body(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(SegmentStream, 'clock', clock)

    def slow_fetch(segment, first, stop):
        clock.now += 40
        return _fetch_ok(segment, first, stop)
    segs = [Segment('s%d' % i, 1, 'e') for i in range(5)]
    stream = SegmentStream(slow_fetch, segment_slices(segs, 0, 5), 'lo',
                           logging.getLogger('t'), max_time=100)
    got = []
    with pytest.raises(SegmentError) as err:
        for chunk in stream:
            got.append(chunk)
    assert len(got) == 3 and 'max_get_time' in err.value.reason


# -- subrequest environs -----------------------------------------------------------

def test_subrequest_environ_carries_identity_only():
    env = {'PATH_INFO': '/v1/AUTH_a/c/o', 'REQUEST_METHOD': 'PUT', 'HTTP_X_AUTH_TOKEN': 't',
           'REMOTE_USER': 'AUTH_a', 'swiftlike.owner': True, 'swiftlike.authorize': print,
           'swiftlike.txn_id': 'tx', 'HTTP_RANGE': 'bytes=1-2', 'HTTP_IF_MATCH': 'x',
           'HTTP_X_OBJECT_META_A': 'b', 'wsgi.input': io.BytesIO(b'body'),
           'HTTP_REFERER': 'http://r', FEATURES_KEY: {'dlo'}}
    sub = make_environ(env, 'GET', '/v1/AUTH_a/c', {'prefix': 'p/\u00e9', 'format': 'json'},
                       {'Range': 'bytes=0-1'}, source='DLO')
    assert sub['REQUEST_METHOD'] == 'GET' and sub['PATH_INFO'] == '/v1/AUTH_a/c'
    assert sub['QUERY_STRING'] == 'prefix=p%2F%C3%A9&format=json'
    assert sub['HTTP_RANGE'] == 'bytes=0-1' and 'HTTP_IF_MATCH' not in sub
    assert 'HTTP_X_OBJECT_META_A' not in sub and sub['wsgi.input'].read() == b''
    assert sub['swiftlike.owner'] is True and sub['swiftlike.authorize'] is print
    assert sub['HTTP_REFERER'] == 'http://r' and sub['swiftlike.source'] == 'DLO'
    assert sub[FEATURES_KEY] == {'dlo'} and sub[FEATURES_KEY] is not env[FEATURES_KEY]
    # ownership was judged for AUTH_a only
    other = make_environ(env, 'GET', '/v1/AUTH_b/c', source='DLO')
    assert 'swiftlike.owner' not in other and other['swiftlike.authorize'] is print
