"""The versioned_writes middleware: pure parts with tables (and hypothesis for
the names), then the middleware over an in-memory rest of the pipeline."""
import hashlib
import io
import json
from urllib.parse import parse_qsl

import pytest
from hypothesis import given, settings, strategies as st

from swiftlike import concurrency
from swiftlike.exceptions import BadRequest, ConfigError, PreconditionFailed
from swiftlike.middleware import info, versioned_writes as vw
from swiftlike.middleware.subrequest import call
from swiftlike.middleware.toolkit import AUTHORIZE_KEY, OWNER_KEY
from swiftlike.middleware.versioned_writes_ops import (DELETE_MARKER, copied_headers,
                                                       source_timestamp, version_name,
                                                       version_prefix)
from swiftlike.proxy.unsupported import FEATURES_KEY
from swiftlike.timestamp import Timestamp


def md5hex(data):
    return hashlib.md5(data).hexdigest()


# -- pure parts --------------------------------------------------------------

@pytest.mark.parametrize('value,expected', [
    ('versions', 'versions'),
    ('  padded  ', 'padded'),
    ('v%20s', 'v s'),
    ('%C3%A9t%C3%A9', '\u00e9t\u00e9'),
    ('\xc3\xa9t\xc3\xa9', '\u00e9t\u00e9'),             # raw UTF-8 (a WSGI str)
    # names whose UTF-8 ends in a byte str.strip() takes for a space (0x85, 0xA0)
    ('ab\xe5\x98\x85', 'ab\u5605'), ('\xc2\xa0', '\u00a0'),
    ('x' * 256, 'x' * 256),
])
def test_parse_location_good(value, expected):
    assert vw.parse_location(value) == expected


@pytest.mark.parametrize('value,error,reason', [
    ('a/b', PreconditionFailed, 'cannot contain slashes'),
    ('a%2Fb', PreconditionFailed, 'cannot contain slashes'),   # Swift takes 'a'
    ('%FF', BadRequest, 'UTF-8'),
    ('\xff\xfe', BadRequest, 'UTF-8'),
    ('\u0100', BadRequest, 'UTF-8'),                           # not a WSGI str
    ('a%00b', BadRequest, 'NUL'),
    ('x' * 257, BadRequest, 'longer than 256'),
    ('%C3%A9' * 129, BadRequest, 'longer than 256'),           # 258 bytes
])
def test_parse_location_bad(value, error, reason):
    with pytest.raises(error) as err:
        vw.parse_location(value)
    assert reason in err.value.reason


V, H = vw.VERSIONS_LOCATION, vw.HISTORY_LOCATION
RV, RH = vw.REMOVE_HEADERS


@pytest.mark.parametrize('headers,expected', [
    ({}, None),
    ({V: 'vers'}, ('set', 'vers', 'stack')),
    ({H: 'hist'}, ('set', 'hist', 'history')),
    ({V: ''}, ('remove',)),
    ({H: ''}, ('remove',)),
    ({V: '', H: 'hist'}, ('set', 'hist', 'history')),       # the empty one is dropped
    ({V: 'vers', H: ''}, ('set', 'vers', 'stack')),
    ({V: '', H: ''}, ('remove',)),
    ({RV: 'x'}, ('remove',)),
    ({RH: 'x'}, ('remove',)),
    ({RV: ''}, None),                                       # an empty remove is nothing
    ({RV: 'x', V: 'vers'}, ('set', 'vers', 'stack')),        # setting wins
    ({RH: 'x', H: 'hist'}, ('set', 'hist', 'history')),
    ({RV: 'x', H: 'hist'}, ('set', 'hist', 'history')),
    ({'HTTP_X_VERSIONS_MODE': 'history', V: 'vers'}, ('set', 'vers', 'stack')),  # ignored
])
def test_container_plan(headers, expected):
    assert vw.container_plan(headers) == expected


def test_container_plan_refusals():
    with pytest.raises(BadRequest) as err:
        vw.container_plan({V: 'a', H: 'b'})
    assert 'Only one of X-Versions-Location or X-History-Location' in err.value.reason
    with pytest.raises(PreconditionFailed) as err:
        vw.container_plan({V: 'a'}, enabled=False)
    assert err.value.reason == 'Versioned Writes is disabled'
    # clearing stays allowed when disabled
    assert vw.container_plan({V: ''}, enabled=False) == ('remove',)
    with pytest.raises(PreconditionFailed):
        vw.container_plan({H: 'a/b'})


@pytest.mark.parametrize('headers,expected', [
    ([], []),
    ([('X-Container-Sysmeta-Versions-Location', 'v')], [('X-Versions-Location', 'v')]),
    ([('x-container-sysmeta-versions-location', 'v'),
      ('x-container-sysmeta-versions-mode', 'stack')], [('X-Versions-Location', 'v')]),
    ([('X-Container-Sysmeta-Versions-Mode', 'history'),
      ('X-Container-Sysmeta-Versions-Location', 'h%20x')], [('X-History-Location', 'h%20x')]),
    ([('X-Container-Sysmeta-Versions-Mode', 'history')], []),
    ([('X-Container-Sysmeta-Versions-Location', 'v'),
      ('X-Container-Sysmeta-Versions-Mode', 'bogus')], [('X-Versions-Location', 'v')]),
])
def test_location_headers(headers, expected):
    assert vw.location_headers(headers) == expected


@pytest.mark.parametrize('obj,prefix', [
    ('o', '001o/'),
    ('\u00e9', '002\u00e9/'),                  # bytes, not characters
    ('a/b/c', '005a/b/c/'),
    ('x' * 1024, '400' + 'x' * 1024 + '/'),
    ('%25ff', '005%25ff/'),
])
def test_version_prefix(obj, prefix):
    assert version_prefix(obj) == prefix


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=300).filter(lambda s: '\x00' not in s),
       st.text(min_size=1, max_size=300).filter(lambda s: '\x00' not in s),
       st.floats(min_value=1e9, max_value=4e9), st.floats(min_value=1e9, max_value=4e9))
def test_version_names_never_mix_objects_and_sort_by_time(a, b, t1, t2):
    na1, na2 = version_name(a, t1), version_name(a, t2)
    # one object's versions share its prefix, and another object's never do
    assert na1.startswith(version_prefix(a))
    if a != b:
        assert not version_name(b, t1).startswith(version_prefix(a))
    # listing order (UTF-8 byte order) is time order
    if Timestamp(t1) < Timestamp(t2):
        assert na1.encode('utf-8') < na2.encode('utf-8')


def test_copied_headers_and_source_timestamp():
    headers = {'content-type': 'text/x', 'content-length': '5', 'etag': 'e',
               'x-timestamp': '1700000000.00000', 'last-modified': 'x',
               'x-object-meta-color': 'blue', 'x-object-sysmeta-slo-size': '9',
               'x-object-manifest': 'c/p', 'x-backend-timestamp': '1', 'date': 'd',
               'x-delete-at': '100', 'content-encoding': 'gzip'}
    out = copied_headers(headers, now=50)
    assert out == {'Content-Type': 'text/x', 'X-Object-Meta-Color': 'blue',
                   'X-Object-Sysmeta-Slo-Size': '9', 'X-Object-Manifest': 'c/p',
                   'X-Delete-At': '100', 'Content-Encoding': 'gzip'}
    assert 'X-Delete-At' not in copied_headers(headers, now=200)   # already passed
    assert source_timestamp(headers) == Timestamp('1700000000.00000')
    assert source_timestamp({'last-modified': 'Tue, 14 Nov 2023 22:13:20 GMT'}) == \
        Timestamp(1700000000)


def test_conf_and_info():
    with pytest.raises(ConfigError):
        vw.filter_factory({'allow_versioned_writes': 'maybe'})
    with pytest.raises(ConfigError):
        vw.filter_factory({'bogus': '1'})
    info._capabilities.pop('versioned_writes', None)
    vw.filter_factory({'allow_versioned_writes': 'false'})(FakeCluster())
    assert 'versioned_writes' not in info.capabilities()
    vw.filter_factory({})(FakeCluster())
    assert info.capabilities()['versioned_writes'] == {
        'allowed_flags': ['x-versions-location', 'x-history-location']}


# -- an in-memory rest of the pipeline -----------------------------------------

class FakeCluster:
    """Containers (with sysmeta and ACLs) and objects of AUTH_test; object
    writes get increasing timestamps; records every request."""

    def __init__(self):
        self.containers = {}   # name -> {'sysmeta': {}, 'write_acl': ''}
        self.objects = {}      # (container, name) -> (body, headers)
        self.calls = []
        self.clock = 1700000000.0
        self.fail = {}         # (method, path) -> status
        self.yield_every_call = False

    def add_container(self, name, **sysmeta):
        self.containers[name] = {'sysmeta': {k.replace('_', '-'): v for k, v in sysmeta.items()},
                                 'write_acl': ''}

    def put(self, container, name, body, **headers):
        self.clock += 1
        hdrs = {'Content-Type': 'application/octet-stream', 'Etag': md5hex(body),
                'X-Timestamp': Timestamp(self.clock).normal}
        hdrs.update({k.replace('_', '-'): v for k, v in headers.items()})
        self.objects[(container, name)] = (body, hdrs)

    def names(self, container):
        return sorted(n for c, n in self.objects if c == container)

    def body(self, container, name):
        return self.objects[(container, name)][0]

    def __call__(self, environ, start_response):
        if self.yield_every_call:
            concurrency.sleep(0)
        method, path = environ['REQUEST_METHOD'], environ['PATH_INFO']
        self.calls.append((method, path, environ.get('QUERY_STRING', ''),
                           AUTHORIZE_KEY in environ))
        status = self.fail.get((method, path))
        if status:
            start_response('%d X' % status, [('Content-Length', '4')])
            return [b'fail']
        parts = [p.encode('latin-1').decode('utf-8', 'replace') for p in path.split('/', 4)]
        if len(parts) < 4:
            start_response('200 OK', [('Content-Length', '0')])
            return [b'']
        container = parts[3]
        if len(parts) == 4:
            return self.container(environ, container, start_response)
        obj = parts[4]
        if method in ('GET', 'HEAD'):
            if (container, obj) not in self.objects:
                start_response('404 Not Found', [('Content-Length', '0')])
                return [b'']
            body, headers = self.objects[(container, obj)]
            start_response('200 OK', list(headers.items()) +
                           [('Content-Length', str(len(body)))])
            return [b''] if method == 'HEAD' else [body[i:i + 3] for i in range(0, len(body), 3)]
        if container not in self.containers:
            start_response('404 Not Found', [('Content-Length', '0')])
            return [b'']
        if method == 'PUT':
            length = int(environ.get('CONTENT_LENGTH') or 0)
            data = b''
            while len(data) < length:
                if self.yield_every_call:
                    concurrency.sleep(0)
                chunk = environ['wsgi.input'].read(min(2, length - len(data)))
                if not chunk:
                    break
                data += chunk
            etag = environ.get('HTTP_ETAG')
            if len(data) != length:
                start_response('499 X', [('Content-Length', '0')])
                return [b'']
            if etag and etag != md5hex(data):
                start_response('422 X', [('Content-Length', '0')])
                return [b'']
            extra = {k[5:].replace('_', '-').title(): v for k, v in environ.items()
                     if k.startswith('HTTP_X_OBJECT_') or k == 'HTTP_X_OBJECT_MANIFEST'}
            self.put(container, obj, data, Content_Type=environ.get('CONTENT_TYPE', 'x/y'),
                     **{k.replace('-', '_'): v for k, v in extra.items()})
            start_response('201 Created', [('Content-Length', '0')])
            return [b'']
        if method == 'DELETE':
            found = self.objects.pop((container, obj), None)
            start_response('204 No Content' if found else '404 Not Found',
                           [('Content-Length', '0')])
            return [b'']
        start_response('405 X', [('Content-Length', '0')])
        return [b'']

    def container(self, environ, container, start_response):
        method = environ['REQUEST_METHOD']
        if method in ('PUT', 'POST'):
            c = self.containers.setdefault(container, {'sysmeta': {}, 'write_acl': ''})
            for key, value in environ.items():
                if key.startswith('HTTP_X_CONTAINER_SYSMETA_'):
                    c['sysmeta'][key[25:].lower().replace('_', '-')] = value
            start_response('204 No Content', [('Content-Length', '0')])
            return [b'']
        if container not in self.containers:
            start_response('404 Not Found', [('Content-Length', '0')])
            return [b'']
        c = self.containers[container]
        headers = [('X-Container-Sysmeta-%s' % k, v) for k, v in c['sysmeta'].items() if v]
        if c['write_acl']:
            headers.append(('X-Container-Write', c['write_acl']))
        if method == 'HEAD':
            start_response('204 No Content', headers + [('Content-Length', '0')])
            return [b'']
        query = dict(parse_qsl(environ.get('QUERY_STRING', '')))
        prefix, marker = query.get('prefix', ''), query.get('marker')
        names = [n for n in self.names(container) if n.startswith(prefix)]
        if query.get('reverse') == 'on':
            names = [n for n in reversed(names) if marker is None or n < marker]
        else:
            names = [n for n in names if marker is None or n > marker]
        items = [{'name': n, 'bytes': len(self.body(container, n)),
                  'content_type': self.objects[(container, n)][1]['Content-Type']}
                 for n in names[:2]]          # small pages: the paging is used
        body = json.dumps(items).encode()
        start_response('200 OK', headers + [('Content-Length', str(len(body)))])
        return [body]


def hook_allowing(*users):
    def hook(env, read_acl, write_acl, is_object):
        if env.get('REMOTE_USER') in users or env.get('REMOTE_USER') in write_acl.split(','):
            return None
        return ('403 Forbidden', 'no write for %s' % env.get('REMOTE_USER'))
    return hook


def request(app, method, path, headers=None, body=b'', user=None, owner=True):
    env = {'REQUEST_METHOD': method, 'PATH_INFO': path, 'QUERY_STRING': '',
           'wsgi.input': io.BytesIO(body), 'CONTENT_LENGTH': str(len(body)),
           'SERVER_NAME': 'x', 'SERVER_PORT': '80', 'wsgi.url_scheme': 'http',
           'swiftlike.txn_id': 'tx1', 'HTTP_X_AUTH_TOKEN': 'tok'}
    if user is not None:
        env['REMOTE_USER'] = user
        env[AUTHORIZE_KEY] = hook_allowing('owner')
        if owner:
            env[OWNER_KEY] = True
    for k, v in (headers or {}).items():
        key = k.upper().replace('-', '_')
        env[key if key in ('CONTENT_TYPE', 'CONTENT_LENGTH') else 'HTTP_' + key] = v
    sub = call(app, env)
    data = b''.join(sub)
    sub.close()
    return sub.status, sub.headers, data, env


@pytest.fixture
def cluster():
    c = FakeCluster()
    c.add_container('vers')
    c.add_container('objs', versions_location='vers', versions_mode='stack')
    c.add_container('hist', versions_location='vers', versions_mode='history')
    return c


@pytest.fixture
def mw(cluster):
    return vw.filter_factory({})(cluster)


def versions(cluster, obj='o'):
    return [cluster.body('vers', n) for n in cluster.names('vers')
            if n.startswith(version_prefix(obj))]


# -- containers ------------------------------------------------------------------

def test_container_put_sets_sysmeta_and_drops_client_headers(mw, cluster):
    status, _h, _b, env = request(mw, 'PUT', '/v1/AUTH_test/new',
                                  {'X-History-Location': 'vers',
                                   'X-Remove-Versions-Location': 'x'})
    assert status == 204
    assert cluster.containers['new']['sysmeta'] == {'versions-location': 'vers',
                                                    'versions-mode': 'history'}
    assert not any(k in env for k in vw.CLIENT_HEADERS)
    assert 'versioned_writes' in env[FEATURES_KEY]
    status, h, _b, _env = request(mw, 'HEAD', '/v1/AUTH_test/new')
    assert h['x-history-location'] == 'vers' and 'x-versions-location' not in h
    request(mw, 'POST', '/v1/AUTH_test/new', {'X-Remove-History-Location': 'x'})
    assert cluster.containers['new']['sysmeta'] == {'versions-location': '',
                                                    'versions-mode': ''}
    _s, h, _b, _env = request(mw, 'GET', '/v1/AUTH_test/new')
    assert 'x-history-location' not in h and 'x-versions-location' not in h


@pytest.mark.parametrize('headers,status', [
    ({'X-Versions-Location': 'a', 'X-History-Location': 'b'}, 400),
    ({'X-Versions-Location': 'a/b'}, 412),
    ({'X-History-Location': '%FF'}, 400),
    ({'X-Versions-Location': 'x' * 300}, 400),
    ({'X-Versions-Location': 'a%00'}, 400),
])
def test_bad_container_headers_change_nothing(mw, cluster, headers, status):
    for method in ('PUT', 'POST'):
        got, _h, body, _env = request(mw, method, '/v1/AUTH_test/objs', headers)
        assert got == status and body
    assert cluster.calls == []
    assert cluster.containers['objs']['sysmeta']['versions-location'] == 'vers'


def test_disabled(cluster):
    mw = vw.filter_factory({'allow_versioned_writes': 'no'})(cluster)
    status, _h, body, _env = request(mw, 'POST', '/v1/AUTH_test/x', {'X-Versions-Location': 'v'})
    assert (status, body) == (412, b'Versioned Writes is disabled')
    cluster.put('objs', 'o', b'one')
    request(mw, 'PUT', '/v1/AUTH_test/objs/o', body=b'two')
    assert cluster.body('objs', 'o') == b'two' and versions(cluster) == []


# -- stack mode ------------------------------------------------------------------

def test_overwrites_keep_versions_and_deletes_restore_them(mw, cluster):
    for body in (b'one', b'two', b'three'):
        assert request(mw, 'PUT', '/v1/AUTH_test/objs/o', body=body)[0] == 201
    assert versions(cluster) == [b'one', b'two']
    first = cluster.names('vers')[0]
    assert first.startswith('001o/') and cluster.objects[('vers', first)][1]['Etag'] == \
        md5hex(b'one')
    # the GET of the old version was pre-authorised, with symlink=get and X-Newest
    gets = [c for c in cluster.calls if c[0] == 'GET' and c[1] == '/v1/AUTH_test/objs/o']
    assert gets and all(q == 'symlink=get' and not authed for _m, _p, q, authed in gets)
    assert request(mw, 'DELETE', '/v1/AUTH_test/objs/o')[0] == 204
    assert cluster.body('objs', 'o') == b'two' and versions(cluster) == [b'one']
    assert request(mw, 'DELETE', '/v1/AUTH_test/objs/o')[0] == 204
    assert cluster.body('objs', 'o') == b'one' and versions(cluster) == []
    assert request(mw, 'DELETE', '/v1/AUTH_test/objs/o')[0] == 204
    assert ('objs', 'o') not in cluster.objects
    assert request(mw, 'DELETE', '/v1/AUTH_test/objs/o')[0] == 404


def test_restore_pages_through_a_long_listing(mw, cluster):
    for i in range(7):
        request(mw, 'PUT', '/v1/AUTH_test/objs/o', body=b'%d' % i)
    cluster.put('vers', '001p/1', b'other object')
    for i in reversed(range(6)):
        assert request(mw, 'DELETE', '/v1/AUTH_test/objs/o')[0] == 204
        assert cluster.body('objs', 'o') == b'%d' % i
    assert cluster.body('vers', '001p/1') == b'other object'


def test_first_write_needs_no_versions_container(mw, cluster):
    cluster.add_container('nov', versions_location='missing')
    assert request(mw, 'PUT', '/v1/AUTH_test/nov/o', body=b'one')[0] == 201
    status, _h, body, _env = request(mw, 'PUT', '/v1/AUTH_test/nov/o', body=b'two')
    assert status == 412 and b'versions container' in body
    assert cluster.body('nov', 'o') == b'one'
    # a stack-mode delete with no versions container deletes (as Swift)
    assert request(mw, 'DELETE', '/v1/AUTH_test/nov/o')[0] == 204


@pytest.mark.parametrize('failing,status', [
    (('GET', '/v1/AUTH_test/objs/o'), 503),          # old version unreadable
    (('GET', '/v1/AUTH_test/objs/o', 403), 403),
    (('PUT', 'version'), 503),                        # copy not stored
])
def test_a_failed_copy_stops_the_overwrite(mw, cluster, failing, status):
    cluster.put('objs', 'o', b'one')
    if failing[1] == 'version':
        ts = cluster.objects[('objs', 'o')][1]['X-Timestamp']
        cluster.fail[('PUT', '/v1/AUTH_test/vers/001o/' + Timestamp(ts).internal)] = 500
    else:
        cluster.fail[failing[:2]] = failing[2] if len(failing) > 2 else 500
    got, _h, body, _env = request(mw, 'PUT', '/v1/AUTH_test/objs/o', body=b'two')
    assert got == status and body
    assert cluster.body('objs', 'o') == b'one'


def test_a_copy_cut_short_is_refused_and_nothing_overwritten(mw, cluster):
    cluster.put('objs', 'o', b'one hundred bytes' * 6)
    body, headers = cluster.objects[('objs', 'o')]
    cluster.objects[('objs', 'o')] = (body, dict(headers, Etag=md5hex(b'something else')))
    got, _h, _b, _env = request(mw, 'PUT', '/v1/AUTH_test/objs/o', body=b'two')
    assert got == 422
    assert cluster.body('objs', 'o') == body and versions(cluster) == []


def test_writer_without_access_is_refused_before_anything(mw, cluster):
    cluster.put('objs', 'o', b'one')
    cluster.put('vers', '001o/1600000000.00000', b'zero')
    cluster.calls.clear()
    for method in ('PUT', 'DELETE'):
        status, _h, body, _env = request(mw, method, '/v1/AUTH_test/objs/o', body=b'x',
                                         user='stranger', owner=False)
        assert status == 403 and b'no write for stranger' in body
    # only the (cached) info lookups and, for the delete, the listing ran
    assert all(m in ('HEAD', 'GET') and '/objs/o' not in p for m, p, _q, _a in cluster.calls)
    assert cluster.body('objs', 'o') == b'one' and versions(cluster) == [b'zero']
    # with no versions to restore, a DELETE goes to the proxy, whose auth decides
    cluster.objects.pop(('vers', '001o/1600000000.00000'))
    request(mw, 'DELETE', '/v1/AUTH_test/objs/o', user='stranger', owner=False)
    assert cluster.calls[-1][:2] == ('DELETE', '/v1/AUTH_test/objs/o') and cluster.calls[-1][3]
    cluster.put('objs', 'o', b'one')
    # with the container's write ACL, versions are kept in a container the
    # writer has no access to (as Swift)
    cluster.containers['objs']['write_acl'] = 'stranger'
    assert request(mw, 'PUT', '/v1/AUTH_test/objs/o', body=b'two', user='stranger',
                   owner=False)[0] == 201
    assert versions(cluster) == [b'one']


# -- history mode ------------------------------------------------------------------

def test_history_delete_keeps_object_and_marker(mw, cluster):
    request(mw, 'PUT', '/v1/AUTH_test/hist/o', body=b'one')
    request(mw, 'PUT', '/v1/AUTH_test/hist/o', body=b'two')
    assert request(mw, 'DELETE', '/v1/AUTH_test/hist/o')[0] == 204
    assert ('hist', 'o') not in cluster.objects
    assert versions(cluster) == [b'one', b'two', b'']
    marker = cluster.names('vers')[-1]
    assert cluster.objects[('vers', marker)][1]['Content-Type'] == DELETE_MARKER
    assert request(mw, 'DELETE', '/v1/AUTH_test/hist/o')[0] == 404
    assert len(versions(cluster)) == 4
    # a missing versions container: 412 and the object stays
    cluster.add_container('hist2', versions_location='nope', versions_mode='history')
    cluster.put('hist2', 'o', b'keep')
    assert request(mw, 'DELETE', '/v1/AUTH_test/hist2/o')[0] == 412
    assert cluster.body('hist2', 'o') == b'keep'


def test_stack_delete_undoes_history_markers(mw, cluster):
    request(mw, 'PUT', '/v1/AUTH_test/hist/o', body=b'one')
    request(mw, 'PUT', '/v1/AUTH_test/hist/o', body=b'two')
    request(mw, 'DELETE', '/v1/AUTH_test/hist/o')
    cluster.containers['hist']['sysmeta']['versions-mode'] = 'stack'
    # newest is a marker and no current object: 'two' comes back
    assert request(mw, 'DELETE', '/v1/AUTH_test/hist/o')[0] == 204
    assert cluster.body('hist', 'o') == b'two' and versions(cluster) == [b'one']
    # markers after a current object: the delete removes the object only
    cluster.containers['hist']['sysmeta']['versions-mode'] = 'history'
    request(mw, 'DELETE', '/v1/AUTH_test/hist/o')
    assert request(mw, 'DELETE', '/v1/AUTH_test/hist/o')[0] == 404
    assert len(versions(cluster)) == 4          # one, two, marker, marker
    cluster.containers['hist']['sysmeta']['versions-mode'] = 'stack'
    request(mw, 'DELETE', '/v1/AUTH_test/hist/o')    # removes one marker
    assert len(versions(cluster)) == 3 and ('hist', 'o') not in cluster.objects
    request(mw, 'DELETE', '/v1/AUTH_test/hist/o')
    assert cluster.body('hist', 'o') == b'two' and versions(cluster) == [b'one']


# -- concurrency ---------------------------------------------------------------------

def test_concurrent_overwrites_lose_no_acknowledged_version(cluster):
    mw = vw.filter_factory({})(cluster)
    cluster.yield_every_call = True
    results = {}

    def write(i):
        results[i] = request(mw, 'PUT', '/v1/AUTH_test/objs/o', body=b'v%02d' % i)[0]
    pool = concurrency.GreenPool(20)
    for i in range(20):
        pool.spawn(write, i)
    pool.waitall()
    assert set(results.values()) == {201}
    kept = set(versions(cluster)) | {cluster.body('objs', 'o')}
    assert kept == {b'v%02d' % i for i in range(20)}
    assert len(versions(cluster)) == 19
    assert mw.locks.locks == {}                  # nothing left behind


def test_other_objects_and_requests_pass(mw, cluster):
    for method, path in (('GET', '/v1/AUTH_test/objs/o'), ('POST', '/v1/AUTH_test/objs/o'),
                         ('PUT', '/v1/AUTH_test/plain/o'), ('GET', '/v1/AUTH_test'),
                         ('GET', '/info'), ('PUT', '/v1/AUTH_test/objs/%FF')):
        cluster.calls.clear()
        request(mw, method, path)
        assert cluster.calls[-1][:2] == (method, path)


@pytest.mark.parametrize('listing', [b'not json', b'{"a": 1}', b'[{"nameless": 1}]',
                                     b'[1, 2]', b'\xff\xfe'])
def test_unreadable_versions_listing_is_503_and_deletes_nothing(mw, cluster, listing):
    cluster.put('objs', 'o', b'one')
    real = cluster.container

    def broken(environ, container, start_response):
        if container == 'vers' and environ['REQUEST_METHOD'] == 'GET':
            start_response('200 OK', [('Content-Length', str(len(listing)))])
            return [listing]
        return real(environ, container, start_response)
    cluster.container = broken
    status, _h, body, _env = request(mw, 'DELETE', '/v1/AUTH_test/objs/o')
    assert status == 503 and b'Listing the versions container' in body
    assert cluster.body('objs', 'o') == b'one'


@pytest.mark.parametrize('status,expected', [(403, 412), (400, 412), (500, 503), (507, 503)])
def test_versions_listing_errors(mw, cluster, status, expected):
    cluster.put('objs', 'o', b'one')
    cluster.fail[('GET', '/v1/AUTH_test/vers')] = status
    assert request(mw, 'DELETE', '/v1/AUTH_test/objs/o')[0] == expected
    assert cluster.body('objs', 'o') == b'one'


def test_a_location_naming_its_own_container_does_not_loop(cluster):
    mw = vw.filter_factory({})(cluster)
    cluster.add_container('self', versions_location='self')
    for body in (b'one', b'two', b'three'):
        assert request(mw, 'PUT', '/v1/AUTH_test/self/o', body=body)[0] == 201
    assert sorted(cluster.names('self'))[-1] == 'o' and len(cluster.names('self')) == 3
    assert request(mw, 'DELETE', '/v1/AUTH_test/self/o')[0] == 204
    assert cluster.body('self', 'o') == b'two'


def test_create_only_put_keeps_no_version(mw, cluster):
    cluster.put('objs', 'o', b'one')
    request(mw, 'PUT', '/v1/AUTH_test/objs/o', {'If-None-Match': '*'}, b'two')
    assert versions(cluster) == []            # (the proxy answers 412)
