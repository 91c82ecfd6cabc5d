"""The symlink middleware: pure rules with tables (and hypothesis for the
header parsers), then the middleware over an in-memory stand-in for the
proxy app (objects with sysmeta, ACL-like refusals, conditions, ranges and
listings built from the container-update override)."""
import hashlib
import io
import json
from urllib.parse import quote

import pytest
from hypothesis import given, strategies as st

from swiftlike import conditional, ranges
from swiftlike.exceptions import BadRequest, PreconditionFailed, RangeNotSatisfiable
from swiftlike.middleware import info, symlink, symlink_listing
from swiftlike.middleware import symlink_rules as rules
from swiftlike.middleware.subrequest import call, make_environ
from swiftlike.paths import wsgi_to_str
from swiftlike.proxy.unsupported import FEATURES_KEY


def md5hex(data):
    return hashlib.md5(data).hexdigest()


# -- pure parts ----------------------------------------------------------------

@pytest.mark.parametrize('value,expected', [
    ('c/o', ('c', 'o')),
    ('c/o/with/slashes/', ('c', 'o/with/slashes/')),
    ('c/dealde%2Fl04 011e%204c8df/flash.png', ('c', 'dealde/l04 011e 4c8df/flash.png')),
    ('%C3%A9/x', ('\u00e9', 'x')),
    ('\xc3\xa9/\xc3\xa9', ('\u00e9', '\u00e9')),            # raw UTF-8 as a WSGI str
])
def test_parse_target_good(value, expected):
    assert rules.parse_target(value) == expected


@pytest.mark.parametrize('value,error,reason', [
    ('nocontainer', PreconditionFailed, 'must be of the form'),
    ('/c/o', PreconditionFailed, 'must be of the form'),
    ('c/', PreconditionFailed, 'must be of the form'),
    ('%2Fc', PreconditionFailed, 'must be of the form'),
    ('c/%FF', BadRequest, 'not valid UTF-8'),
    ('\xff/o', BadRequest, 'not valid UTF-8'),
    ('c/a%00b', BadRequest, 'NUL'),
    ('c' * 257 + '/o', BadRequest, 'container name is longer'),
    ('c/' + 'o' * 1025, BadRequest, 'object name is longer'),
])
def test_parse_target_bad(value, error, reason):
    with pytest.raises(error) as err:
        rules.parse_target(value)
    assert reason in err.value.reason


@pytest.mark.parametrize('value,expected', [
    (None, None), ('', None), ('  ', None), ('AUTH_test', 'AUTH_test'),
    ('AUTH_%C3%A9', 'AUTH_\u00e9'),
])
def test_parse_account(value, expected):
    assert rules.parse_account(value) == expected


@pytest.mark.parametrize('value,error', [
    ('a/b', PreconditionFailed), ('a%2Fb', PreconditionFailed), ('a%00', BadRequest),
    ('%FF', BadRequest), ('a' * 257, BadRequest)])
def test_parse_account_bad(value, error):
    with pytest.raises(error):
        rules.parse_account(value)


@pytest.mark.parametrize('value,expected', [
    ('abc', 'abc'), ('"abc"', 'abc'), (' "abc" ', 'abc')])
def test_normalize_etag(value, expected):
    assert rules.normalize_etag(value) == expected


@pytest.mark.parametrize('value', ['""', '', 'a;b', 'a b', 'x' * 257, 'a=b', '\u00e9', 'a,b'])
def test_normalize_etag_bad(value):
    with pytest.raises(BadRequest):
        rules.normalize_etag(value)


@given(st.text(max_size=80))
def test_parse_target_never_fails_otherwise(text):
    value = text.encode('utf-8').decode('latin-1')
    try:
        container, obj = rules.parse_target(value)
    except (BadRequest, PreconditionFailed):
        return
    assert container and obj and '\x00' not in container + obj
    # What is stored reads back as the same names.
    assert rules.parse_target(rules.Link(container, obj).quoted_target) == (container, obj)


@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40),
       st.one_of(st.none(), st.text(min_size=1, max_size=20)),
       st.one_of(st.none(), st.from_regex(r'[0-9a-f]{32}', fullmatch=True)),
       st.integers(min_value=0, max_value=2 ** 40))
def test_link_round_trips_through_sysmeta_and_listing(container, obj, account, etag, size):
    if '/' in container or '\x00' in container + obj + (account or '') or \
            (account is not None and ('/' in account or not account.strip())):
        return
    link = rules.Link(container, obj, account, etag, size if etag else None)
    headers = {k.lower(): v for k, v in link.sysmeta().items()}
    assert rules.link_from_headers(headers) == link
    value = 'text/plain' + rules.listing_params(link) + '; other=1'
    cleaned, found = rules.strip_symlink_params(value)
    assert cleaned == 'text/plain; other=1'
    keys = rules.listing_keys(found, 'AUTH_me')
    account_part = quote((account or 'AUTH_me').encode('utf-8'), safe='')
    assert keys['symlink_path'] == '/v1/%s/%s' % (account_part, link.quoted_target)
    if etag:
        assert (keys['symlink_etag'], keys['symlink_bytes']) == (etag, size)
    else:
        assert 'symlink_etag' not in keys


def test_damaged_sysmeta_is_not_a_link():
    assert rules.link_from_headers({}) is None
    assert rules.link_from_headers({'x-object-sysmeta-symlink-target': 'nope'}) is None
    assert rules.link_from_headers({'x-object-sysmeta-symlink-target': 'c/%FF'}) is None
    link = rules.link_from_headers({'x-object-sysmeta-symlink-target': 'c/o',
                                    'x-object-sysmeta-symlink-target-etag': 'e',
                                    'x-object-sysmeta-symlink-target-bytes': 'junk'})
    assert (link.etag, link.size) == ('e', 0)


def test_listing_rewrite_json_and_xml():
    rows = [{'name': 'l', 'hash': EMPTY + '; symlink_target=c/o; slo_etag=x', 'bytes': 0,
             'content_type': 'application/symlink', 'last_modified': 't'},
            {'name': 's', 'hash': EMPTY + '; symlink_target=c/o%20p; symlink_target_account='
             'AUTH_b; symlink_target_etag=abc; symlink_target_bytes=11', 'bytes': 0,
             'content_type': 'text/plain', 'last_modified': 't'},
            {'subdir': 'd/'},
            {'name': 'plain', 'hash': 'abc', 'bytes': 1, 'content_type': 'a/b;x=1'}]
    body = json.dumps(rows).encode()
    out = json.loads(symlink_listing.rewrite(body, 'application/json; charset=utf-8', 'AUTH_a'))
    assert out[0]['hash'] == EMPTY + '; slo_etag=x'
    assert out[0]['symlink_path'] == '/v1/AUTH_a/c/o'
    assert out[1] == {'name': 's', 'hash': EMPTY, 'bytes': 0, 'content_type': 'text/plain',
                      'last_modified': 't', 'symlink_path': '/v1/AUTH_b/c/o%20p',
                      'symlink_etag': 'abc', 'symlink_bytes': 11}
    assert out[2:] == rows[2:]
    xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<container name="c"><object><name>l'
           '</name><hash>%s; symlink_target=c/o</hash><bytes>0</bytes><content_type>a/b'
           '</content_type></object></container>' % EMPTY).encode()
    assert symlink_listing.rewrite(xml, 'application/xml', 'AUTH_a') == xml.replace(
        b'; symlink_target=c/o', b'')
    # not a listing, or nothing to do: unchanged
    for junk in (b'{"symlink_target": 1}', b'[symlink_target', b'[]', b'\xff symlink_target'):
        assert symlink_listing.rewrite(junk, 'application/json', 'a') == junk
        assert symlink_listing.rewrite(junk, 'application/xml', 'a') == junk
    assert symlink_listing.rewrite(b'x; symlink_target=1', 'text/plain', 'a') == \
        b'x; symlink_target=1'


# -- the middleware over a fake cluster ------------------------------------------

EMPTY = md5hex(b'')
LAST_MODIFIED = 'Wed, 12 Feb 2014 22:24:52 GMT'
STORED = ('content-type', 'x-object-manifest')


class FakeProxy:
    """Objects of any account: (account, container, name) -> (body, headers).
    Stores sysmeta and the listing override as the proxy and object servers
    do; `denied` (account, container) pairs answer 403 to every subrequest
    without the owner's verdict."""

    def __init__(self):
        self.objects = {}
        self.denied = set()
        self.calls = []

    def put(self, account, container, name, body=b'', **headers):
        hdrs = {'content-type': 'application/octet-stream', 'etag': md5hex(body),
                'last-modified': LAST_MODIFIED}
        hdrs.update({k.replace('_', '-').lower(): v for k, v in headers.items()})
        self.objects[(account, container, name)] = (body, hdrs)

    def __call__(self, environ, start_response):
        method, path = environ['REQUEST_METHOD'], wsgi_to_str(environ['PATH_INFO'])
        self.calls.append((method, path, environ.get('QUERY_STRING', '')))
        _, _v, account, container, *rest = path.split('/', 4)
        if (account, container) in self.denied and not environ.get('swiftlike.owner'):
            return self.reply(start_response, 403, {}, b'Forbidden')
        if not rest:
            return self.listing(environ, start_response, account, container)
        key = (account, container, rest[0])
        if method == 'PUT':
            return self.do_put(environ, start_response, key)
        if method == 'COPY':
            dest = environ['HTTP_DESTINATION']
            environ['HTTP_X_COPY_FROM'] = '%s/%s' % (container, rest[0])
            environ['HTTP_X_COPY_FROM_ACCOUNT'] = account
            dest_account = environ.get('HTTP_DESTINATION_ACCOUNT', account)
            dc, do = dest.lstrip('/').split('/', 1)
            return self.do_put(environ, start_response, (dest_account, dc, do))
        if key not in self.objects:
            return self.reply(start_response, 404, {}, b'Not Found')
        body, hdrs = self.objects[key]
        if method == 'POST':
            hdrs.update({k[5:].replace('_', '-').lower(): v for k, v in environ.items()
                         if k.startswith('HTTP_X_OBJECT_META_')})
            return self.reply(start_response, 202, {k: v for k, v in hdrs.items()
                                                    if k.startswith('x-object-sysmeta-')}, b'')
        if method == 'DELETE':
            del self.objects[key]
            return self.reply(start_response, 204, {}, b'')
        get = _Headers(environ)
        decided = conditional.evaluate(get, hdrs['etag'], 1392243892, method)
        if decided:
            return self.reply(start_response, decided, hdrs, b'')
        status, out = 200, body
        if get.get('Range'):
            try:
                spans = ranges.resolve_ranges(get.get('Range'), len(body))
            except RangeNotSatisfiable:
                return self.reply(start_response, 416, hdrs, b'')
            if spans and len(spans) == 1:
                status, out = 206, body[spans[0][0]:spans[0][1]]
        return self.reply(start_response, status, dict(hdrs, **{'content-length': str(len(out))}),
                          b'' if method == 'HEAD' else out)

    def do_put(self, environ, start_response, key):
        source = environ.get('HTTP_X_COPY_FROM')
        hdrs = {k[5:].replace('_', '-').lower(): v for k, v in environ.items()
                if k.startswith('HTTP_X_OBJECT_')}
        if source:
            src_account = environ.get('HTTP_X_COPY_FROM_ACCOUNT', key[0])
            sc, so = wsgi_to_str(source).lstrip('/').split('/', 1)
            found = self.objects.get((src_account, sc, so))
            if found is None:
                return self.reply(start_response, 404, {}, b'source not found')
            body = found[0]
            hdrs.update({k: v for k, v in found[1].items()
                         if k.startswith('x-object-meta-') or k in STORED})
        else:
            body = environ['wsgi.input'].read()
        if environ.get('CONTENT_TYPE'):
            hdrs['content-type'] = environ['CONTENT_TYPE']
        self.put(*key, body, **hdrs)
        return self.reply(start_response, 201, {'etag': md5hex(body)}, b'')

    def listing(self, environ, start_response, account, container):
        rows = []
        for (a, c, name), (body, hdrs) in sorted(self.objects.items()):
            if (a, c) == (account, container):
                rows.append({'name': name, 'bytes': len(body), 'content_type': hdrs.get(
                    'x-object-sysmeta-container-update-override-content-type',
                    hdrs['content-type']), 'hash': hdrs['etag']})
        body = json.dumps(rows).encode()
        return self.reply(start_response, 200, {'content-type': 'application/json'}, body)

    @staticmethod
    def reply(start_response, status, headers, body):
        headers = dict(headers)
        headers.setdefault('content-length', str(len(body)))
        start_response('%d X' % status, list(headers.items()))
        return [body]


class _Headers:
    def __init__(self, environ):
        self.environ = environ

    def get(self, name, default=None):
        return self.environ.get('HTTP_' + name.upper().replace('-', '_'), default)


@pytest.fixture
def cluster():
    proxy = FakeProxy()
    proxy.put('AUTH_a', 'c', 'tgt', b'target body', content_type='application/target')
    return proxy


def request(app, method, path, headers=None, body=b'', query='', owner=True):
    env = make_environ({'swiftlike.owner': owner}, method, path, query, headers)
    if owner:
        env['swiftlike.owner'] = True
    env['wsgi.input'] = io.BytesIO(body)
    env['CONTENT_LENGTH'] = str(len(body))
    for key, value in (headers or {}).items():
        if key.lower() == 'content-length':
            env['CONTENT_LENGTH'] = value
    resp = call(app, env)
    return resp.status, resp.headers, resp.read(), env


def make(cluster, **conf):
    return symlink.Symlink(cluster, symlink.Conf(**conf))


def link(app, path, target, **headers):
    hdrs = {'X-Symlink-Target': target}
    hdrs.update({k.replace('_', '-'): v for k, v in headers.items()})
    status, _h, body, _e = request(app, 'PUT', path, hdrs)
    return status, body


def test_info_and_feature(cluster):
    app = make(cluster, symloop_max=5)
    assert info.capabilities()['symlink'] == {'symloop_max': 5, 'static_links': True}
    _s, _h, _b, env = request(app, 'GET', '/v1/AUTH_a/c/tgt')
    assert 'symlink' in env[FEATURES_KEY]


def test_put_get_head_and_link_itself(cluster):
    app = make(cluster)
    assert link(app, '/v1/AUTH_a/c/l', 'c/tgt') == (201, b'')
    body, hdrs = cluster.objects[('AUTH_a', 'c', 'l')]
    assert body == b'' and hdrs['content-type'] == 'application/symlink'
    assert hdrs['x-object-sysmeta-symlink-target'] == 'c/tgt'
    assert hdrs['x-object-sysmeta-container-update-override-content-type'] == \
        'application/symlink; symlink_target=c/tgt'
    status, h, body, _ = request(app, 'GET', '/v1/AUTH_a/c/l')
    assert (status, body) == (200, b'target body')
    assert h['content-location'] == '/v1/AUTH_a/c/tgt' and h['etag'] == md5hex(b'target body')
    status, h, body, _ = request(app, 'HEAD', '/v1/AUTH_a/c/l')
    assert status == 200 and h['content-location'] == '/v1/AUTH_a/c/tgt'
    status, h, body, _ = request(app, 'GET', '/v1/AUTH_a/c/l', query='symlink=get')
    assert (status, body, h['x-symlink-target']) == (200, b'', 'c/tgt')
    assert 'content-location' not in h
    # a plain object is not touched
    status, h, body, _ = request(app, 'GET', '/v1/AUTH_a/c/tgt', query='symlink=get')
    assert (status, body) == (200, b'target body') and 'x-symlink-target' not in h


def test_conditions_and_ranges_apply_to_the_target(cluster):
    app = make(cluster)
    link(app, '/v1/AUTH_a/c/l', 'c/tgt')
    etag = md5hex(b'target body')
    assert request(app, 'GET', '/v1/AUTH_a/c/l', {'If-Match': etag})[0] == 200
    status, h, _b, _ = request(app, 'GET', '/v1/AUTH_a/c/l', {'If-Match': 'nope'})
    assert status == 412 and h['content-location'] == '/v1/AUTH_a/c/tgt'
    assert request(app, 'GET', '/v1/AUTH_a/c/l', {'If-None-Match': etag})[0] == 304
    status, _h, body, _ = request(app, 'GET', '/v1/AUTH_a/c/l', {'Range': 'bytes=7-10'})
    assert (status, body) == (206, b'body')


def test_encoded_target_is_normalised(cluster):
    app = make(cluster)
    cluster.put('AUTH_a', 'c', 'dealde/l04 011e 4c8df/flash.png', b'x')
    assert link(app, '/v1/AUTH_a/c/l', 'c/dealde%2Fl04 011e%204c8df/flash.png')[0] == 201
    status, h, body, _ = request(app, 'GET', '/v1/AUTH_a/c/l')
    assert (status, body) == (200, b'x')
    assert h['content-location'] == '/v1/AUTH_a/c/dealde/l04%20011e%204c8df/flash.png'
    h = request(app, 'HEAD', '/v1/AUTH_a/c/l', query='symlink=get')[1]
    assert h['x-symlink-target'] == 'c/dealde/l04%20011e%204c8df/flash.png'


@pytest.mark.parametrize('headers,body,status,reason', [
    ({'X-Symlink-Target': 'tgt'}, b'', 412, b'X-Symlink-Target header must be of the form'),
    ({'X-Symlink-Target': '/c/tgt'}, b'', 412, b'must be of the form'),
    ({'X-Symlink-Target': 'c/'}, b'', 412, b'must be of the form'),
    ({'X-Symlink-Target': 'c/tgt'}, b'data', 400, b'Symlink requests require a zero byte body'),
    ({'X-Symlink-Target': 'c/tgt', 'Content-Length': '5'}, b'', 400, b'zero byte body'),
    ({'X-Symlink-Target': 'c/l'}, b'', 400, b'Symlink cannot target itself'),
    ({'X-Symlink-Target': 'c/l', 'X-Symlink-Target-Account': 'AUTH_a'}, b'', 400,
     b'cannot target itself'),
    ({'X-Symlink-Target': 'c/%FF'}, b'', 400, b'not valid UTF-8'),
    ({'X-Symlink-Target': 'c/a%00b'}, b'', 400, b'NUL'),
    ({'X-Symlink-Target': 'c/tgt', 'X-Symlink-Target-Account': 'a/b'}, b'', 412,
     b'Account name cannot contain slashes'),
    ({'X-Symlink-Target': 'c/tgt', 'X-Symlink-Target-Etag': 'a b'}, b'', 400,
     b'not a valid ETag'),
    ({'X-Symlink-Target': 'c/tgt', 'X-Symlink-Target-Etag': 'nope'}, b'', 409,
     b"Object Etag '%s' does not match X-Symlink-Target-Etag header 'nope'"
     % md5hex(b'target body').encode()),
    ({'X-Symlink-Target': 'c/missing', 'X-Symlink-Target-Etag': 'e'}, b'', 409,
     b'X-Symlink-Target does not exist'),
])
def test_put_refused(cluster, headers, body, status, reason):
    app = make(cluster)
    got, _h, text, _ = request(app, 'PUT', '/v1/AUTH_a/c/l', headers, body)
    assert got == status and reason in text
    assert ('AUTH_a', 'c', 'l') not in cluster.objects


def test_chunked_put(cluster):
    app = make(cluster)
    for data, status in ((b'', 201), (b'x', 400)):
        env = make_environ({}, 'PUT', '/v1/AUTH_a/c/l', headers={'X-Symlink-Target': 'c/tgt'})
        env.pop('CONTENT_LENGTH')
        env.update({'HTTP_TRANSFER_ENCODING': 'chunked', 'wsgi.input': io.BytesIO(data),
                    'swiftlike.owner': True})
        assert call(app, env).status == status


def test_static_link(cluster):
    app = make(cluster)
    etag = md5hex(b'target body')
    assert link(app, '/v1/AUTH_a/c/s', 'c/tgt', X_Symlink_Target_Etag='"%s"' % etag)[0] == 201
    hdrs = cluster.objects[('AUTH_a', 'c', 's')][1]
    assert hdrs['content-type'] == 'application/target'        # the target's
    assert hdrs['x-object-sysmeta-symlink-target-etag'] == etag
    assert hdrs['x-object-sysmeta-symlink-target-bytes'] == '11'
    h = request(app, 'HEAD', '/v1/AUTH_a/c/s', query='symlink=get')[1]
    assert (h['x-symlink-target-etag'], h['x-symlink-target-bytes']) == (etag, '11')
    assert request(app, 'GET', '/v1/AUTH_a/c/s')[2] == b'target body'
    cluster.put('AUTH_a', 'c', 'tgt', b'changed')
    for method in ('GET', 'HEAD'):
        status, h, body, _ = request(app, method, '/v1/AUTH_a/c/s', {'If-Match': etag})
        assert status == 409 and h['content-location'] == '/v1/AUTH_a/c/tgt'
    del cluster.objects[('AUTH_a', 'c', 'tgt')]
    assert request(app, 'GET', '/v1/AUTH_a/c/s')[0] == 404


def test_static_link_to_a_static_large_object(cluster):
    app = make(cluster)
    cluster.put('AUTH_a', 'c', 'slo', b'[manifest]', x_object_sysmeta_slo_etag='"abc"',
                x_object_sysmeta_slo_size='4194305')
    assert link(app, '/v1/AUTH_a/c/s', 'c/slo', X_Symlink_Target_Etag='abc')[0] == 409
    assert link(app, '/v1/AUTH_a/c/s', 'c/slo',
                X_Symlink_Target_Etag=md5hex(b'[manifest]'))[0] == 201
    hdrs = cluster.objects[('AUTH_a', 'c', 's')][1]
    assert hdrs['x-object-sysmeta-symlink-target-bytes'] == '4194305'
    assert hdrs['x-object-sysmeta-container-update-override-etag'] == EMPTY + '; slo_etag=abc'
    # a dynamic link over it forgets that
    assert link(app, '/v1/AUTH_a/c/s', 'c/slo')[0] == 201
    assert 'x-object-sysmeta-container-update-override-etag' not in \
        cluster.objects[('AUTH_a', 'c', 's')][1]


def test_static_link_through_links(cluster):
    app = make(cluster, symloop_max=3)
    etag = md5hex(b'target body')
    link(app, '/v1/AUTH_a/c/d', 'c/tgt')
    # to a dynamic link: its own (empty) ETag
    assert link(app, '/v1/AUTH_a/c/s1', 'c/d', X_Symlink_Target_Etag=EMPTY)[0] == 201
    assert cluster.objects[('AUTH_a', 'c', 's1')][1][
        'x-object-sysmeta-symlink-target-bytes'] == '0'
    # to a static link: the ETag it demands
    assert link(app, '/v1/AUTH_a/c/s2', 'c/s1', X_Symlink_Target_Etag=EMPTY)[0] == 201
    assert link(app, '/v1/AUTH_a/c/s3', 'c/s2', X_Symlink_Target_Etag=etag)[0] == 409
    assert request(app, 'GET', '/v1/AUTH_a/c/s2')[2] == b'target body'


def test_loops_and_chains(cluster):
    app = make(cluster, symloop_max=2)
    link(app, '/v1/AUTH_a/c/l1', 'c/tgt')
    link(app, '/v1/AUTH_a/c/l2', 'c/l1')
    link(app, '/v1/AUTH_a/c/l3', 'c/l2')
    status, h, body, _ = request(app, 'GET', '/v1/AUTH_a/c/l2')
    assert (status, body, h['content-location']) == (200, b'target body', '/v1/AUTH_a/c/tgt')
    status, _h, body, _ = request(app, 'GET', '/v1/AUTH_a/c/l3')
    assert (status, body) == (409, b'Too many levels of symbolic links, maximum allowed is 2')
    link(app, '/v1/AUTH_a/c/x', 'c/y')
    link(app, '/v1/AUTH_a/c/y', 'c/x')
    assert request(app, 'HEAD', '/v1/AUTH_a/c/x')[:3:2] == (409, b'')
    assert request(app, 'GET', '/v1/AUTH_a/c/x', query='symlink=get')[0] == 200


def test_missing_and_denied_targets(cluster):
    app = make(cluster)
    link(app, '/v1/AUTH_a/c/l', 'c/nothing')
    status, h, _b, _ = request(app, 'GET', '/v1/AUTH_a/c/l')
    assert status == 404 and h['content-location'] == '/v1/AUTH_a/c/nothing'
    # another account's target: the requester's rights there decide
    cluster.put('AUTH_b', 'private', 'o', b'secret')
    cluster.denied.add(('AUTH_b', 'private'))
    assert link(app, '/v1/AUTH_a/c/x', 'private/o', X_Symlink_Target_Account='AUTH_b')[0] == 201
    status, h, body, _ = request(app, 'GET', '/v1/AUTH_a/c/x')
    assert status == 403 and b'secret' not in body
    assert h['content-location'] == '/v1/AUTH_b/private/o'
    assert link(app, '/v1/AUTH_a/c/y', 'private/o', X_Symlink_Target_Account='AUTH_b',
                X_Symlink_Target_Etag=md5hex(b'secret'))[0] == 403
    cluster.denied.clear()
    assert request(app, 'GET', '/v1/AUTH_a/c/x')[2] == b'secret'


def test_post(cluster):
    app = make(cluster)
    link(app, '/v1/AUTH_a/c/l', 'c/tgt')
    status, h, body, _ = request(app, 'POST', '/v1/AUTH_a/c/l', {'X-Object-Meta-A': 'b'})
    assert status == 307 and h['location'] == '/v1/AUTH_a/c/tgt'
    assert cluster.objects[('AUTH_a', 'c', 'l')][1]['x-object-meta-a'] == 'b'
    assert request(app, 'POST', '/v1/AUTH_a/c/tgt', {'X-Object-Meta-A': 'b'})[0] == 202
    status, _h, body, _ = request(app, 'POST', '/v1/AUTH_a/c/tgt', {'X-Symlink-Target': 'c/o'})
    assert (status, body) == (400, b'A PUT request is required to set a symlink target')
    assert request(app, 'POST', '/v1/AUTH_a/c/none', {'X-Object-Meta-A': 'b'})[0] == 404


def test_delete_removes_the_link_only(cluster):
    app = make(cluster)
    link(app, '/v1/AUTH_a/c/l', 'c/tgt')
    assert request(app, 'DELETE', '/v1/AUTH_a/c/l')[0] == 204
    assert ('AUTH_a', 'c', 'tgt') in cluster.objects


def test_copies(cluster):
    app = make(cluster)
    link(app, '/v1/AUTH_a/c/l', 'c/tgt')
    # the target's bytes
    assert request(app, 'PUT', '/v1/AUTH_a/c/copy', {'X-Copy-From': 'c/l'})[0] == 201
    assert cluster.objects[('AUTH_a', 'c', 'copy')][0] == b'target body'
    assert request(app, 'COPY', '/v1/AUTH_a/c/l', {'Destination': 'c/copy2'})[0] == 201
    assert cluster.objects[('AUTH_a', 'c', 'copy2')][0] == b'target body'
    # the link itself
    assert request(app, 'PUT', '/v1/AUTH_a/c/l2', {'X-Copy-From': 'c/l'},
                   query='symlink=get')[0] == 201
    assert request(app, 'COPY', '/v1/AUTH_a/c/l', {'Destination': 'c/l3'},
                   query='symlink=get')[0] == 201
    for name in ('l2', 'l3'):
        assert request(app, 'GET', '/v1/AUTH_a/c/' + name)[2] == b'target body'
    # to another account: the target is relative to the destination's account
    cluster.put('AUTH_b', 'c', 'tgt', b'b target')
    env = {'X-Copy-From': 'c/l', 'X-Copy-From-Account': 'AUTH_a'}
    assert request(app, 'PUT', '/v1/AUTH_b/c/l', env, query='symlink=get')[0] == 201
    assert request(app, 'GET', '/v1/AUTH_b/c/l')[2] == b'b target'


def test_copy_through_a_link_into_a_denied_account(cluster):
    app = make(cluster)
    cluster.put('AUTH_b', 'private', 'o', b'secret')
    cluster.denied.add(('AUTH_b', 'private'))
    link(app, '/v1/AUTH_a/c/x', 'private/o', X_Symlink_Target_Account='AUTH_b')
    assert request(app, 'COPY', '/v1/AUTH_a/c/x', {'Destination': 'c/stolen'})[0] == 403
    assert request(app, 'PUT', '/v1/AUTH_a/c/stolen', {'X-Copy-From': 'c/x'})[0] == 403
    assert ('AUTH_a', 'c', 'stolen') not in cluster.objects


def test_listing(cluster):
    app = make(cluster)
    etag = md5hex(b'target body')
    link(app, '/v1/AUTH_a/c/l', 'c/tgt')
    link(app, '/v1/AUTH_a/c/s', 'c/tgt', X_Symlink_Target_Etag=etag)
    status, h, body, _ = request(app, 'GET', '/v1/AUTH_a/c', query='format=json')
    rows = {r['name']: r for r in json.loads(body)}
    assert int(h['content-length']) == len(body)
    assert rows['l'] == {'name': 'l', 'bytes': 0, 'content_type': 'application/symlink',
                         'hash': EMPTY, 'symlink_path': '/v1/AUTH_a/c/tgt'}
    assert rows['s']['symlink_etag'] == etag and rows['s']['symlink_bytes'] == 11
    assert rows['tgt'] == {'name': 'tgt', 'bytes': 11, 'content_type': 'application/target',
                           'hash': etag}


@pytest.mark.parametrize('method', ['PUT', 'POST'])
def test_reserved_content_type_parameters(cluster, method):
    app = make(cluster)
    status, _h, body, _ = request(app, method, '/v1/AUTH_a/c/tgt', {
        'Content-Type': 'text/plain; symlink_target=c/secret'})
    assert status == 400 and b'reserved' in body
    assert request(app, method, '/v1/AUTH_a/c/tgt', {
        'Content-Type': 'text/plain; name=symlink_target'})[0] in (201, 202)


def test_other_requests_pass(cluster):
    app = make(cluster)
    assert request(app, 'GET', '/v1/AUTH_a/nocontainer/x')[0] == 404
    assert request(app, 'PUT', '/v1/AUTH_a/c/plain', body=b'abc')[0] == 201
    assert request(app, 'PUT', '/v1/AUTH_a/c/plain2', {'X-Symlink-Target': ''})[0] == 201
    assert 'x-object-sysmeta-symlink-target' not in cluster.objects[('AUTH_a', 'c', 'plain2')][1]


@pytest.mark.parametrize('symloop_max', [0, -1])
def test_bad_conf(symloop_max):
    with pytest.raises(Exception):
        symlink.filter_factory({'symloop_max': str(symloop_max)})


def test_a_link_written_again_by_a_middleware(cluster):
    """What a copy middleware (or versioning) does: the link's stored state
    on a PUT of its own; a client's X-Symlink-Target-Account re-points it."""
    app = make(cluster)
    env_headers = {'X-Object-Sysmeta-Symlink-Target': 'c/tgt',
                   'X-Object-Sysmeta-Symlink-Target-Etag': 'not-checked-again',
                   'X-Object-Sysmeta-Symlink-Target-Bytes': '3',
                   'Content-Type': 'text/x-link'}
    assert request(app, 'PUT', '/v1/AUTH_a/c/again', env_headers)[0] == 201
    hdrs = cluster.objects[('AUTH_a', 'c', 'again')][1]
    assert hdrs['x-object-sysmeta-symlink-target-etag'] == 'not-checked-again'
    assert hdrs['x-object-sysmeta-container-update-override-content-type'] == \
        'text/x-link; symlink_target=c/tgt; symlink_target_etag=not-checked-again; ' \
        'symlink_target_bytes=3'
    cluster.put('AUTH_b', 'c', 'tgt', b'b')
    moved = dict(env_headers, **{'X-Symlink-Target-Account': 'AUTH_b',
                                 'X-Object-Sysmeta-Symlink-Target-Etag': md5hex(b'b')})
    assert request(app, 'PUT', '/v1/AUTH_a/c/moved', moved)[0] == 201
    assert request(app, 'GET', '/v1/AUTH_a/c/moved')[2] == b'b'
    bad = dict(env_headers, **{'X-Object-Sysmeta-Symlink-Target': 'junk'})
    assert request(app, 'PUT', '/v1/AUTH_a/c/bad', bad)[0] == 400
