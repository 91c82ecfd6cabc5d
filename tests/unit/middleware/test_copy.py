"""The copy middleware: its pure rules with tables and hypothesis, then the
middleware over an in-memory stand-in for the rest of the pipeline (and over
the dlo middleware, for copies of large objects)."""
import hashlib
import io
from urllib.parse import parse_qsl, quote

import pytest
from hypothesis import given, strategies as st

from swiftlike import conditional, ranges
from swiftlike.constraints import MAX_FILE_SIZE
from swiftlike.exceptions import (BadRequest, ConnectionTimeout, PreconditionFailed,
                                  RangeNotSatisfiable, SwiftlikeError)
from swiftlike.http import make_response
from swiftlike.middleware import copy, copy_rules, dlo, info
from swiftlike.middleware.subrequest import call
from swiftlike.middleware.toolkit import AUTHORIZE_KEY, FEATURES_KEY, OWNER_KEY, EnvironHeaders
from swiftlike.paths import str_to_wsgi


def md5hex(data):
    return hashlib.md5(data).hexdigest()


def wsgi(text):
    return str_to_wsgi(text)


# -- pure rules ----------------------------------------------------------------------

@pytest.mark.parametrize('value,expected', [
    ('c/o', ('c', 'o')),
    ('/c/o', ('c', 'o')),
    ('c/a%20b/c', ('c', 'a b/c')),
    ('c/dealde%252Fl04 011e%25204c8df/flash.png', ('c', 'dealde%2Fl04 011e%204c8df/flash.png')),
    (wsgi('/c/\u00e9'), ('c', '\u00e9')),
    ('%C3%A9t%C3%A9/x', ('\u00e9t\u00e9', 'x')),
    ('c/line%0D%0Abreak', ('c', 'line\r\nbreak')),
    ('c/o?x=1', ('c', 'o?x=1')),
    ('c/trailing/', ('c', 'trailing/')),
])
def test_split_copy_path(value, expected):
    assert copy_rules.split_copy_path(value, 'Destination') == expected


@pytest.mark.parametrize('value,error', [
    ('', PreconditionFailed), ('nope', PreconditionFailed), ('/c', PreconditionFailed),
    ('c/', PreconditionFailed), ('//c', PreconditionFailed), ('/', PreconditionFailed),
    ('%2F%2F', PreconditionFailed),
    ('%FF%FE/x', BadRequest), ('c/%FF', BadRequest), ('\xff/x', BadRequest),
    ('c/a%00b', BadRequest), ('c/' + 'o' * 1025, BadRequest), ('c' * 257 + '/o', BadRequest),
    ('c/\u0100', BadRequest),                      # not a WSGI (latin-1) string
])
def test_split_copy_path_refuses(value, error):
    with pytest.raises(error) as err:
        copy_rules.split_copy_path(value, 'Destination')
    assert 'Destination' in err.value.reason


names = st.text(st.characters(blacklist_categories=('Cs',), blacklist_characters='\x00'),
                min_size=1, max_size=40)


@given(container=names.filter(lambda c: '/' not in c), obj=names)
def test_split_copy_path_round_trips_quoted_names(container, obj):
    value = quote('/%s/%s' % (container, obj))
    assert copy_rules.split_copy_path(value, 'X-Copy-From') == (container, obj)


@given(st.binary(max_size=60))
def test_split_copy_path_never_fails_otherwise(raw):
    try:
        copy_rules.split_copy_path(raw.decode('latin-1'), 'X-Copy-From')
    except (BadRequest, PreconditionFailed):
        pass


@pytest.mark.parametrize('value,expected', [
    ('AUTH_test', 'AUTH_test'), ('AUTH_%C3%A9', 'AUTH_\u00e9'), (wsgi('AUTH_\u00e9'), 'AUTH_\u00e9'),
])
def test_account_header(value, expected):
    assert copy_rules.account_header(value, 'Destination-Account') == expected


@pytest.mark.parametrize('value,error', [
    ('', PreconditionFailed), ('a/b', PreconditionFailed), ('a%2Fb', PreconditionFailed),
    ('a' * 257, PreconditionFailed), ('%FF', BadRequest), ('a%00', BadRequest),
])
def test_account_header_refuses(value, error):
    with pytest.raises(error):
        copy_rules.account_header(value, 'Destination-Account')


SOURCE = [('Content-Type', 'text/x-src'), ('Content-Length', '5'), ('ETag', '"abc"'),
          ('Last-Modified', 'x'), ('X-Timestamp', '1.0'), ('X-Object-Meta-A', '1'),
          ('Content-Encoding', 'gzip'), ('X-Delete-At', '9999999999'),
          ('X-Object-Sysmeta-Thing', 's'), ('X-Object-Transient-Sysmeta-T', 't'),
          ('X-Object-Sysmeta-Container-Update-Override-Etag', 'oe'),
          ('X-Object-Manifest', 'c/p'), ('Accept-Ranges', 'bytes'), ('X-Trans-Id', 'tx')]


PLAIN_SOURCE = [(k, v) for k, v in SOURCE if k != 'X-Object-Manifest']


@pytest.mark.parametrize('fresh,etag_ok,expected', [
    (False, True, ['X-Object-Meta-A', 'Content-Encoding', 'X-Delete-At',
                   'X-Object-Sysmeta-Thing', 'X-Object-Transient-Sysmeta-T',
                   'X-Object-Sysmeta-Container-Update-Override-Etag', 'ETag']),
    (True, True, ['X-Object-Sysmeta-Thing',
                  'X-Object-Sysmeta-Container-Update-Override-Etag', 'ETag']),
    # a ranged copy: the listing override describes the whole, so it goes
    (False, False, ['X-Object-Meta-A', 'Content-Encoding', 'X-Delete-At',
                    'X-Object-Sysmeta-Thing', 'X-Object-Transient-Sysmeta-T']),
])
def test_copied_headers_of_a_plain_object(fresh, etag_ok, expected):
    got = copy_rules.copied_headers(PLAIN_SOURCE, fresh, False, etag_ok)
    assert sorted(n for n, _v in got) == sorted(expected)


@pytest.mark.parametrize('fresh,manifest_get,etag_ok,expected', [
    # a large object's assembled body: none of its manifest's system metadata
    (False, False, False, ['X-Object-Meta-A', 'Content-Encoding', 'X-Delete-At',
                           'X-Object-Transient-Sysmeta-T']),
    (True, False, False, []),
    (False, True, False, ['X-Object-Meta-A', 'Content-Encoding', 'X-Delete-At',
                          'X-Object-Sysmeta-Thing', 'X-Object-Transient-Sysmeta-T',
                          'X-Object-Manifest']),
    (True, True, False, ['X-Object-Sysmeta-Thing', 'X-Object-Manifest']),
])
def test_copied_headers(fresh, manifest_get, etag_ok, expected):
    got = copy_rules.copied_headers(SOURCE, fresh, manifest_get, etag_ok)
    assert sorted(n for n, _v in got) == sorted(expected)
    if etag_ok:
        assert dict(got)['ETag'] == 'abc'


@pytest.mark.parametrize('status,headers,manifest_get,expected', [
    (200, {}, False, True), (206, {}, False, False),
    (200, {'x-object-manifest': 'c/p'}, False, False),
    (200, {'x-object-manifest': 'c/p'}, True, True),
    (200, {'x-static-large-object': 'True'}, True, False),
])
def test_source_etag_is_content(status, headers, manifest_get, expected):
    assert copy_rules.source_etag_is_content(status, headers, manifest_get) is expected


def test_queries():
    query = {'multipart-manifest': 'get', 'symlink': 'get', 'version-id': '1', 'other': 'x'}
    assert copy_rules.source_query(query) == {'multipart-manifest': 'get', 'symlink': 'get',
                                              'version-id': '1', 'format': 'raw'}
    assert copy_rules.source_query({'other': 'x'}) == {}
    assert dict(parse_qsl(copy_rules.sink_query(query, {}))) == {'other': 'x'}
    assert dict(parse_qsl(copy_rules.sink_query(query, {'x-static-large-object': 'True'}))) \
        == {'other': 'x', 'multipart-manifest': 'put'}


# -- an in-memory rest of the pipeline ------------------------------------------------

class Store:
    """Objects of any account; an access rule per (account, container); records
    every request with its environ. A PUT reads its input in small pieces and
    stores it only when all of it arrived (as the object servers do)."""

    def __init__(self):
        self.objects = {}       # path -> (body or chunk iterator factory, headers)
        self.containers = set()
        self.no_read = set()    # (account, container) a non-owner may not read
        self.no_write = set()
        self.calls = []
        self.reads = []         # sizes the PUTs asked for

    def put(self, path, body, **headers):
        hdrs = {'Content-Type': 'application/octet-stream', 'ETag': md5hex(body),
                'Last-Modified': 'Wed, 12 Feb 2014 22:24:52 GMT'}
        hdrs.update({k.replace('_', '-'): v for k, v in headers.items()})
        self.objects[path] = (body, hdrs)
        self.containers.add('/'.join(path.split('/')[:4]))

    def denied(self, env, write):
        if env.get(OWNER_KEY) or AUTHORIZE_KEY not in env:
            return False
        _v, account, container = env['PATH_INFO'].split('/', 4)[1:4]
        return (account, container) in (self.no_write if write else self.no_read)

    def __call__(self, env, start_response):
        method, path = env['REQUEST_METHOD'], env['PATH_INFO']
        self.calls.append((method, path, env))
        try:
            reply = self.handle(env, method, path)
        except SwiftlikeError as err:
            reply = make_response(err.http_status, err.reason)
        if isinstance(reply, tuple):
            status, headers, body = reply
            start_response(status, headers)
            return body
        return reply(env, start_response)

    def handle(self, env, method, path):
        parts = path.split('/', 4)
        if len(parts) == 4:
            return self.listing(env, path)
        if method == 'PUT':
            return self.handle_put(env, path)
        if method == 'OPTIONS':
            return '200 OK', [('Allow', 'GET, HEAD, PUT, POST, DELETE, OPTIONS'),
                              ('Content-Length', '0')], [b'']
        if self.denied(env, write=False):
            return make_response(403, 'Access denied')
        if path not in self.objects:
            return make_response(404, '')
        body, headers = self.objects[path]
        headers = dict(headers)
        req = EnvironHeaders(env)
        decided = conditional.evaluate(req, headers['ETag'], 0, method)
        if decided:
            return '%d X' % decided, [('ETag', headers['ETag']), ('Content-Length', '0')], [b'']
        status = '200 OK'
        if callable(body):                   # a large body made on the fly
            return status, list(headers.items()), body()
        if req.get('Range'):
            try:
                spans = ranges.resolve_ranges(req.get('Range'), len(body))
            except RangeNotSatisfiable:
                return '416 X', [(k, v) for k, v in headers.items()
                                 if k != 'Content-Length'] + [('Content-Length', '0')], [b'']
            if spans and len(spans) > 1:
                headers['Content-Type'] = 'multipart/byteranges; boundary=x'
                status = '206 Partial Content'
            elif spans:
                start, stop = spans[0]
                headers['Content-Range'] = ranges.content_range(start, stop, len(body))
                body, status = body[start:stop], '206 Partial Content'
        headers['Content-Length'] = str(len(body))
        return status, list(headers.items()), [body[i:i + 4] for i in range(0, len(body), 4)]

    def listing(self, env, path):
        import json
        if self.denied(env, write=False):
            return make_response(403, 'Access denied')
        names = sorted(p[len(path) + 1:] for p in self.objects if p.startswith(path + '/'))
        query = dict(parse_qsl(env.get('QUERY_STRING', '')))
        items = [{'name': n, 'bytes': len(self.objects[path + '/' + n][0]),
                  'hash': self.objects[path + '/' + n][1]['ETag']}
                 for n in names if n.startswith(query.get('prefix', ''))
                 and n > query.get('marker', '')]
        body = json.dumps(items).encode()
        return '200 OK', [('Content-Length', str(len(body)))], [body]

    def handle_put(self, env, path):
        if self.denied(env, write=True):
            return make_response(403, 'Access denied')
        if '/'.join(path.split('/')[:4]) not in self.containers:
            return make_response(404, 'Container not found')
        length = env.get('CONTENT_LENGTH')
        reader = env['wsgi.input'].read
        md5, got, kept = hashlib.md5(), 0, []
        while True:
            size = 1000 if length is None else min(1000, int(length) - got)
            if size <= 0:
                break
            self.reads.append(size)
            data = reader(size)
            if not data:
                break
            got += len(data)
            md5.update(data)
            if got <= 1 << 20:
                kept.append(data)
        if length is not None and got != int(length):
            return make_response(499, 'short')
        etag = env.get('HTTP_ETAG')
        if etag and etag != md5.hexdigest():
            return make_response(422, 'etag')
        headers = {k[5:].replace('_', '-').title(): v for k, v in env.items()
                   if k.startswith('HTTP_X_OBJECT_') or k in ('HTTP_CONTENT_ENCODING',
                                                              'HTTP_X_DELETE_AT')}
        headers['Content-Type'] = env.get('CONTENT_TYPE', 'guessed/by-name')
        headers['ETag'] = md5.hexdigest()
        self.objects[path] = (b''.join(kept), headers)
        return '201 Created', [('ETag', md5.hexdigest()), ('Content-Length', '0'),
                               ('Last-Modified', 'now')], [b'']


def request(app, method, path, headers=None, query='', environ=None, body=b''):
    env = {'REQUEST_METHOD': method, 'PATH_INFO': path, 'QUERY_STRING': query,
           'wsgi.input': io.BytesIO(body), 'SERVER_NAME': 'x', 'SERVER_PORT': '80',
           'wsgi.url_scheme': 'http', 'swiftlike.txn_id': 'tx1',
           'HTTP_X_AUTH_TOKEN': 'tok', 'REMOTE_USER': 'AUTH_test',
           AUTHORIZE_KEY: lambda *a: None, OWNER_KEY: True}
    if body:
        env['CONTENT_LENGTH'] = str(len(body))
    for k, v in (headers or {}).items():
        key = k.upper().replace('-', '_')
        env[key if key in ('CONTENT_TYPE', 'CONTENT_LENGTH') else 'HTTP_' + key] = v
    env.update(environ or {})
    sub = call(app, env)
    data = b''.join(sub)
    sub.close()
    return sub.status, sub.headers, data


@pytest.fixture
def store():
    s = Store()
    s.put('/v1/AUTH_test/c/src', b'hello world', Content_Type='text/x-src',
          X_Object_Meta_A='1', Content_Encoding='gzip', X_Object_Sysmeta_Thing='kept')
    s.containers.update({'/v1/AUTH_test/d', '/v1/AUTH_other/open', '/v1/AUTH_other/closed'})
    s.no_write.add(('AUTH_other', 'closed'))
    return s


@pytest.fixture
def mw(store):
    return copy.filter_factory({})(store)


def methods(store):
    return [(m, p) for m, p, _e in store.calls]


def test_copy_verb(mw, store):
    status, h, _b = request(mw, 'COPY', '/v1/AUTH_test/c/src',
                            {'Destination': '/d/dst', 'X-Object-Meta-B': '2'})
    assert status == 201
    assert h['x-copied-from'] == 'c/src' and h['x-copied-from-account'] == 'AUTH_test'
    assert h['x-copied-from-last-modified'] == 'Wed, 12 Feb 2014 22:24:52 GMT'
    assert methods(store) == [('GET', '/v1/AUTH_test/c/src'), ('PUT', '/v1/AUTH_test/d/dst')]
    body, headers = store.objects['/v1/AUTH_test/d/dst']
    assert body == b'hello world'
    assert headers['X-Object-Meta-A'] == '1' and headers['X-Object-Meta-B'] == '2'
    assert headers['Content-Type'] == 'text/x-src' and headers['Content-Encoding'] == 'gzip'
    assert headers['X-Object-Sysmeta-Thing'] == 'kept'
    put_env = store.calls[1][2]
    assert put_env['HTTP_ETAG'] == md5hex(b'hello world')      # the object servers check it
    assert 'HTTP_DESTINATION' not in put_env and put_env['swiftlike.source'] == 'SSC'
    assert 'copy' in put_env[FEATURES_KEY]


def test_x_copy_from(mw, store):
    status, h, _b = request(mw, 'PUT', '/v1/AUTH_test/d/dst',
                            {'X-Copy-From': 'c/src', 'Content-Type': 'text/new',
                             'X-Object-Meta-A': '', 'Content-Length': '0'})
    assert status == 201 and h['x-copied-from'] == 'c/src'
    _body, headers = store.objects['/v1/AUTH_test/d/dst']
    assert headers['Content-Type'] == 'text/new'
    assert headers['X-Object-Meta-A'] == ''          # the proxy drops an emptied key
    assert 'HTTP_X_COPY_FROM' not in store.calls[1][2]


def test_fresh_metadata_and_detected_type(mw, store):
    status, _h, _b = request(mw, 'COPY', '/v1/AUTH_test/c/src',
                             {'Destination': 'd/x.html', 'X-Fresh-Metadata': 'true',
                              'X-Detect-Content-Type': 'true', 'X-Object-Meta-C': '3'})
    assert status == 201
    _body, headers = store.objects['/v1/AUTH_test/d/x.html']
    assert 'X-Object-Meta-A' not in headers and headers['X-Object-Meta-C'] == '3'
    assert 'Content-Encoding' not in headers and headers['X-Object-Sysmeta-Thing'] == 'kept'
    assert headers['Content-Type'] == 'guessed/by-name'


@pytest.mark.parametrize('destination,status', [
    (None, 412), ('', 412), ('nope', 412), ('/d', 412), ('d/', 412), ('//d', 412),
    ('%FF%FE/x', 400), ('d/%00', 400), ('d/' + 'o' * 1100, 400), ('\xc3/x', 400),
])
def test_hostile_destinations(mw, store, destination, status):
    headers = {} if destination is None else {'Destination': destination}
    got, _h, body = request(mw, 'COPY', '/v1/AUTH_test/c/src', headers)
    assert got == status and body
    assert store.calls == []        # refused before anything is read


@pytest.mark.parametrize('account,status', [('', 412), ('a/b', 412), ('%FF', 400),
                                            ('x' * 300, 412)])
def test_hostile_accounts(mw, store, account, status):
    got, _h, _b = request(mw, 'COPY', '/v1/AUTH_test/c/src',
                          {'Destination': 'd/o', 'Destination-Account': account})
    assert got == status
    got, _h, _b = request(mw, 'PUT', '/v1/AUTH_test/d/o',
                          {'X-Copy-From': 'c/src', 'X-Copy-From-Account': account})
    assert got == status
    assert store.calls == []


def test_a_copy_with_a_body_is_refused(mw, store):
    status, _h, body = request(mw, 'PUT', '/v1/AUTH_test/d/o', {'X-Copy-From': 'c/src'},
                               body=b'data')
    assert status == 400 and b'empty body' in body and store.calls == []
    status, _h, _b = request(mw, 'PUT', '/v1/AUTH_test/d/o', {'X-Copy-From': 'c/src'},
                             environ={'HTTP_TRANSFER_ENCODING': 'chunked'})
    assert status == 400


def test_missing_source_is_404_and_nothing_written(mw, store):
    status, _h, _b = request(mw, 'COPY', '/v1/AUTH_test/c/nope', {'Destination': 'd/o'})
    assert status == 404
    status, _h, _b = request(mw, 'COPY', '/v1/AUTH_test/c/nope',
                             {'Destination': 'closed/o', 'Destination-Account': 'AUTH_other'})
    assert status == 404        # before the destination is judged
    assert [m for m, _p in methods(store)] == ['GET', 'GET']


def test_unreadable_source_is_403(mw, store):
    store.no_read.add(('AUTH_test', 'c'))
    status, _h, _b = request(mw, 'COPY', '/v1/AUTH_test/c/src', {'Destination': 'd/o'},
                             environ={OWNER_KEY: False})
    assert status == 403 and [m for m, _p in methods(store)] == ['GET']


def test_cross_account_copies_judge_the_other_account(mw, store):
    status, h, _b = request(mw, 'COPY', '/v1/AUTH_test/c/src',
                            {'Destination': 'open/o', 'Destination-Account': 'AUTH_other'})
    assert status == 201 and h['x-copied-from-account'] == 'AUTH_test'
    get_env, put_env = store.calls[0][2], store.calls[1][2]
    assert get_env[OWNER_KEY] is True           # the requester's own account
    assert OWNER_KEY not in put_env             # judged again for AUTH_other
    assert put_env['PATH_INFO'] == '/v1/AUTH_other/open/o'
    status, _h, _b = request(mw, 'COPY', '/v1/AUTH_test/c/src',
                             {'Destination': 'closed/o', 'Destination-Account': 'AUTH_other'})
    assert status == 403 and '/v1/AUTH_other/closed/o' not in store.objects
    # X-Copy-From-Account: the source is in the other account
    store.calls.clear()
    store.no_read.add(('AUTH_other', 'closed'))
    store.put('/v1/AUTH_other/closed/secret', b'no')
    status, _h, _b = request(mw, 'PUT', '/v1/AUTH_test/d/leak',
                             {'X-Copy-From': 'closed/secret',
                              'X-Copy-From-Account': 'AUTH_other'})
    assert status == 403 and methods(store) == [('GET', '/v1/AUTH_other/closed/secret')]
    assert OWNER_KEY not in store.calls[0][2]


def test_conditions_and_range_apply_to_the_source(mw, store):
    etag = md5hex(b'hello world')
    status, _h, _b = request(mw, 'COPY', '/v1/AUTH_test/c/src',
                             {'Destination': 'd/o', 'If-Match': 'other'})
    assert status == 412
    status, _h, _b = request(mw, 'COPY', '/v1/AUTH_test/c/src',
                             {'Destination': 'd/o', 'If-None-Match': '*'})
    assert status == 304
    assert [m for m, _p in methods(store)] == ['GET', 'GET']
    status, _h, _b = request(mw, 'COPY', '/v1/AUTH_test/c/src',
                             {'Destination': 'd/o', 'If-Match': etag, 'Range': 'bytes=2-4',
                              'If-None-Match': 'x'})
    assert status == 201 and store.objects['/v1/AUTH_test/d/o'][0] == b'llo'
    put_env = store.calls[-1][2]
    assert not any(k in put_env for k in ('HTTP_IF_MATCH', 'HTTP_RANGE', 'HTTP_IF_NONE_MATCH',
                                          'HTTP_ETAG'))     # a part: no source ETag to check
    status, _h, _b = request(mw, 'COPY', '/v1/AUTH_test/c/src',
                             {'Destination': 'd/o', 'Range': 'bytes=0-1,4-5'})
    assert status == 400
    status, _h, _b = request(mw, 'COPY', '/v1/AUTH_test/c/src',
                             {'Destination': 'd/o', 'Range': 'bytes=100-'})
    assert status == 416


def test_ranged_copy_drops_listing_overrides(mw, store):
    store.put('/v1/AUTH_test/c/ov', b'0123456789',
              X_Object_Sysmeta_Container_Update_Override_Etag='x')
    request(mw, 'COPY', '/v1/AUTH_test/c/ov', {'Destination': 'd/whole'})
    request(mw, 'COPY', '/v1/AUTH_test/c/ov', {'Destination': 'd/part', 'Range': 'bytes=1-2'})
    key = 'X-Object-Sysmeta-Container-Update-Override-Etag'
    assert key in store.objects['/v1/AUTH_test/d/whole'][1]
    assert key not in store.objects['/v1/AUTH_test/d/part'][1]


def test_query_parameters_name_the_source(mw, store):
    status, _h, _b = request(mw, 'COPY', '/v1/AUTH_test/c/src', {'Destination': 'd/o'},
                             query='symlink=get&version-id=5&keep=1')
    assert status == 201
    get_q = dict(parse_qsl(store.calls[0][2]['QUERY_STRING']))
    put_q = dict(parse_qsl(store.calls[1][2]['QUERY_STRING']))
    assert get_q == {'symlink': 'get', 'version-id': '5'} and put_q == {'keep': '1'}


def test_source_failing_midway_writes_nothing(mw, store):
    def broken():
        yield b'x' * 100
        raise ConnectionTimeout('backend went away')
    store.put('/v1/AUTH_test/c/big', b'')
    store.objects['/v1/AUTH_test/c/big'] = (lambda: broken(), {
        'Content-Length': '5000', 'ETag': 'e', 'Content-Type': 'a/b'})
    status, _h, body = request(mw, 'COPY', '/v1/AUTH_test/c/big', {'Destination': 'd/o'})
    assert status == 503 and b'backend went away' in body
    assert '/v1/AUTH_test/d/o' not in store.objects


def test_short_source_writes_nothing(mw, store):
    store.objects['/v1/AUTH_test/c/short'] = (lambda: iter([b'x' * 10]), {
        'Content-Length': '20', 'ETag': 'e', 'Content-Type': 'a/b'})
    status, _h, body = request(mw, 'COPY', '/v1/AUTH_test/c/short', {'Destination': 'd/o'})
    assert status == 503 and b'ended after 10 of 20 bytes' in body
    assert '/v1/AUTH_test/d/o' not in store.objects


def test_too_large_source(mw, store):
    store.objects['/v1/AUTH_test/c/huge'] = (lambda: iter([b'']), {
        'Content-Length': str(MAX_FILE_SIZE + 1), 'ETag': 'e', 'Content-Type': 'a/b'})
    status, _h, _b = request(mw, 'COPY', '/v1/AUTH_test/c/huge', {'Destination': 'd/o'})
    assert status == 413 and [m for m, _p in methods(store)] == ['GET']


def test_large_copy_streams(mw, store):
    """50 MiB pass in 64 KiB pieces: the source is read only as fast as the
    PUT takes it, never whole."""
    produced = []
    piece = b'y' * 65536
    count = 800

    def source():
        for _i in range(count):
            produced.append(len(store.reads))
            yield piece
    store.objects['/v1/AUTH_test/c/large'] = (source, {
        'Content-Length': str(len(piece) * count), 'ETag': md5hex(piece * count),
        'Content-Type': 'a/b'})
    status, _h, _b = request(mw, 'COPY', '/v1/AUTH_test/c/large', {'Destination': 'd/o'})
    assert status == 201
    assert store.objects['/v1/AUTH_test/d/o'][1]['ETag'] == md5hex(piece * count)
    # each source piece was produced only once the PUT had read the previous one
    assert all(b - a >= 60 for a, b in zip(produced, produced[1:]))
    assert max(store.reads) <= 1000


def test_chunked_source_is_a_chunked_put(mw, store):
    store.objects['/v1/AUTH_test/c/nolen'] = (lambda: iter([b'ab', b'cd']), {
        'ETag': md5hex(b'abcd'), 'Content-Type': 'a/b'})
    status, _h, _b = request(mw, 'COPY', '/v1/AUTH_test/c/nolen', {'Destination': 'd/o'})
    assert status == 201 and store.objects['/v1/AUTH_test/d/o'][0] == b'abcd'
    assert store.calls[1][2]['HTTP_TRANSFER_ENCODING'] == 'chunked'


def test_destination_refusals_pass_through(mw, store):
    status, _h, body = request(mw, 'COPY', '/v1/AUTH_test/c/src', {'Destination': 'gone/o'})
    assert status == 404 and body == b'Container not found'


def test_other_requests_pass_through(mw, store):
    for method, path, headers in (('PUT', '/v1/AUTH_test/d/plain', {}),
                                  ('COPY', '/v1/AUTH_test/c', {'Destination': 'd/o'}),
                                  ('PUT', '/v1/AUTH_test/d/empty', {'X-Copy-From': ''})):
        store.calls.clear()
        request(mw, method, path, headers)
        assert methods(store) == [(method, path)]
        assert 'HTTP_X_COPY_FROM' not in store.calls[0][2]


def test_options_allows_copy(mw, store):
    _s, h, _b = request(mw, 'OPTIONS', '/v1/AUTH_test/c/src')
    assert h['allow'].endswith(', COPY')


def test_info_advertises_copy_when_in_the_pipeline(store):
    info._capabilities.pop('copy', None)
    assert 'copy' not in info.capabilities()
    copy.filter_factory({})(store)
    assert info.capabilities()['copy'] == {}


# -- over the dlo middleware -----------------------------------------------------------

@pytest.fixture
def dlo_store(store):
    for letter in 'abc':
        store.put('/v1/AUTH_test/segs/p/%s' % letter, letter.encode() * 10)
    store.put('/v1/AUTH_test/c/man', b'', X_Object_Manifest='segs/p/', X_Object_Meta_M='m')
    return store


@pytest.fixture
def pipeline(dlo_store):
    return copy.filter_factory({})(dlo.filter_factory({'rate_limit_segments_per_sec': '0'})(
        dlo_store))


def test_copy_of_a_dlo_is_a_plain_object(pipeline, dlo_store):
    status, _h, _b = request(pipeline, 'COPY', '/v1/AUTH_test/c/man', {'Destination': 'd/o'})
    assert status == 201
    body, headers = dlo_store.objects['/v1/AUTH_test/d/o']
    assert body == b'a' * 10 + b'b' * 10 + b'c' * 10
    assert 'X-Object-Manifest' not in headers and headers['X-Object-Meta-M'] == 'm'
    put_env = [e for m, _p, e in dlo_store.calls if m == 'PUT'][0]
    assert 'HTTP_ETAG' not in put_env       # the large object's ETag is not an MD5
    status, _h, _b = request(pipeline, 'PUT', '/v1/AUTH_test/d/part',
                             {'X-Copy-From': 'c/man', 'Range': 'bytes=8-11'})
    assert status == 201 and dlo_store.objects['/v1/AUTH_test/d/part'][0] == b'aabb'


def test_copy_of_the_manifest_itself(pipeline, dlo_store):
    status, _h, _b = request(pipeline, 'COPY', '/v1/AUTH_test/c/man', {'Destination': 'd/m'},
                             query='multipart-manifest=get')
    assert status == 201
    body, headers = dlo_store.objects['/v1/AUTH_test/d/m']
    assert body == b'' and headers['X-Object-Manifest'] == 'segs/p/'
    put_env = [e for m, _p, e in dlo_store.calls if m == 'PUT'][0]
    assert put_env['QUERY_STRING'] == '' and put_env['HTTP_ETAG'] == md5hex(b'')


def test_copy_of_a_dlo_with_unreadable_segments(pipeline, dlo_store):
    dlo_store.no_read.add(('AUTH_test', 'segs'))
    status, _h, _b = request(pipeline, 'COPY', '/v1/AUTH_test/c/man', {'Destination': 'd/o'},
                             environ={OWNER_KEY: False})
    assert status == 403 and '/v1/AUTH_test/d/o' not in dlo_store.objects
