"""Answers that must be Swift's own, byte for byte where clients compare them
(found by running Swift's functional suite against a real cluster; see
doc/api.md). Each test here failed before the behaviour was fixed."""
import json
import time

import pytest

from tests.functional.proxy_helpers import Api, raw, raw_bytes, unique


@pytest.fixture(scope='module')
def api(cluster):
    return Api(cluster)


@pytest.fixture(scope='module')
def api2(cluster):
    return Api(cluster, user='test2:tester2')


def _path_status(api, path):
    return raw(api.host, api.port, 'GET', path, {'X-Auth-Token': api.token})


@pytest.mark.parametrize('path,status,body', [
    ('/v1', 412, b'Bad URL'), ('/v1/', 412, b'Bad URL'), ('/info%20asdf', 412, b'Bad URL'),
    ('/', 404, None), ('//v1/AUTH_test', 404, None), ('/v1//c/o', 404, None),
    ('/v1/AUTH_test//o', 404, None), ('/v2/AUTH_test', 400, None),
    ('/v1/AUTH_test/%FF', 412, b'Invalid UTF8 or contains NULL'),
    ('/v1/AUTH_test/c%00', 412, b'Invalid UTF8 or contains NULL'),
])
def test_bad_paths_answer_as_swift(api, path, status, body):
    got, headers, data = _path_status(api, path)
    assert got == status, (path, data)
    assert headers['x-trans-id'].startswith('tx')
    if body is not None:
        assert data == body


def test_request_line_with_a_space_in_the_path(api):
    # Swift reads the words between method and version as the path.
    status, out = raw_bytes(api.host, api.port,
                            b'GET /info asdf HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    assert status == 412 and out.endswith(b'\r\n\r\nBad URL')


def test_container_head_and_get_headers(api):
    c = api.put_container()
    for method in ('HEAD', 'GET'):
        status, h, _b = api.request(method, '/' + c)
        assert status == 204
        assert h['content-type'] == 'text/plain; charset=utf-8'
        assert h['x-storage-policy'] == 'default'
        assert h['accept-ranges'] == 'bytes' and 'last-modified' in h
    status, h, _b = api.request('HEAD', '/' + c, query='format=json')
    assert h['content-type'] == 'application/json; charset=utf-8'
    status, h, _b = api.request('HEAD', '')
    assert h['content-type'] == 'text/plain; charset=utf-8'


def test_container_post_moves_last_modified(api):
    c = api.put_container()
    first = api.request('HEAD', '/' + c)[1]['last-modified']
    time.sleep(1.05)   # Last-Modified has whole seconds
    assert api.request('POST', '/' + c, {'X-Container-Meta-A': 'b'})[0] == 204
    assert api.request('HEAD', '/' + c)[1]['last-modified'] != first


def test_storage_policy_names(api):
    assert api.request('PUT', '/' + unique(), {'X-Storage-Policy': 'nonesuch'})[0] == 400
    assert api.request('PUT', '/' + unique(), {'X-Storage-Policy': ''})[0] == 201
    c = unique()
    assert api.request('PUT', '/' + c, {'X-Storage-Policy': 'Default'})[0] == 201
    listing = json.loads(api.request('GET', '', query='format=json&prefix=' + c)[2])
    assert listing[0]['storage_policy'] == 'default'


def test_listing_parameters_read_leniently_as_swift_does(api):
    c = api.put_container()
    for name in ('a-b-c', 'a-b-d', 'a-x', 'b'):
        api.put_object(c, name)
    # multi-character delimiter
    status, _h, body = api.request('GET', '/' + c, query='delimiter=-b-&format=json')
    assert status == 200
    assert [i.get('subdir', i.get('name')) for i in json.loads(body)] == ['a-b-', 'a-x', 'b']
    # a limit that is not a number is ignored; garbage reverse is false
    assert api.request('GET', '/' + c, query='limit=2.0')[2].split() == \
        [b'a-b-c', b'a-b-d', b'a-x', b'b']
    assert api.request('GET', '/' + c, query='reverse=garbage')[2].split()[0] == b'a-b-c'
    # a marker may hold a NUL (it is only compared with names)
    assert api.request('GET', '/' + c, query='marker=a-x%00')[2].split() == [b'b']


def test_path_listing_shows_marker_objects(api):
    c = api.put_container()
    for name in ('/d/', '/d/f', '/f', 'd/', 'd/e/', 'd/e/g', 'd/h'):
        api.put_object(c, name)
    assert api.request('GET', '/' + c, query='path=/')[2].split() == [b'/d/', b'/f']
    assert api.request('GET', '/' + c, query='path=d')[2].split() == [b'd/e/', b'd/h']


def test_object_headers_and_conditionals(api):
    c = api.put_container()
    h = api.put_object(c, 'o', b'hello')
    etag = h['etag']
    h = api.request('HEAD', '/%s/o' % c)[1]
    assert h['accept-ranges'] == 'bytes'
    status, h, _b = api.request('GET', '/%s/o' % c, {'If-None-Match': etag})
    assert status == 304 and h['etag'] == etag and 'content-type' in h
    past = 'Thu, 01 Jan 2015 00:00:00 GMT'
    # Swift checks If-Unmodified-Since even when If-Match matched.
    assert api.request('GET', '/%s/o' % c, {'If-Match': etag,
                                            'If-Unmodified-Since': past})[0] == 412
    status, h, _b = api.request('GET', '/%s/o' % c, {'Range': 'bytes=10-20'})
    assert status == 416 and h['etag'] == etag and h['content-range'] == 'bytes */5'


def test_conditional_put_and_delete(api):
    c = api.put_container()
    star = {'If-None-Match': '*', 'Content-Length': '0'}
    assert api.request('PUT', '/%s/o' % c, star, b'')[0] == 201
    assert api.request('PUT', '/%s/o' % c, star, b'')[0] == 412
    assert api.request('PUT', '/%s/o' % c, {'If-None-Match': 'x', 'Content-Length': '0'},
                       b'')[0] == 400
    assert api.request('DELETE', '/%s/o' % c, {'X-If-Delete-At': 'bad'})[0] == 400
    status, h, _b = api.request('DELETE', '/%s/o' % c)
    assert status == 204 and h['content-type'] == 'text/html; charset=UTF-8'


@pytest.mark.parametrize('headers,status,body', [
    ({'X-Delete-At': '*'}, 400, b'Non-integer X-Delete-At'),
    ({'X-Delete-After': '*'}, 400, b'Non-integer X-Delete-After'),
    ({'X-Delete-At': '0'}, 400, b'X-Delete-At in past'),
    ({'Transfer-Encoding': 'gzip,chunked'}, 501, None),
])
def test_bad_write_headers(api, headers, status, body):
    c = api.put_container()
    hdrs = dict(headers)
    if 'Transfer-Encoding' not in hdrs:
        hdrs['Content-Length'] = '0'
    got, _h, data = api.request('PUT', '/%s/o' % c, hdrs, None if 'Transfer-Encoding' in hdrs
                                else b'')
    assert got == status, data
    if body is not None:
        assert data == body


def test_far_future_delete_at_is_capped(api):
    c = api.put_container()
    assert api.put_object(c, 'o', b'x', {'X-Delete-At': '1' * 100})
    assert api.request('HEAD', '/%s/o' % c)[1]['x-delete-at'] == '9' * 10


def test_post_changes_content_type_in_object_and_listing(api):
    c = api.put_container()
    api.put_object(c, 'o', b'x' * 10, {'Content-Type': 'text/foobar'})
    before = json.loads(api.request('GET', '/' + c, query='format=json')[2])[0]
    time.sleep(0.01)
    assert api.request('POST', '/%s/o' % c, {'Content-Type': 'image/foo',
                                             'X-Object-Meta-T': 'v'})[0] == 202
    h = api.request('HEAD', '/%s/o' % c)[1]
    assert h['content-type'] == 'image/foo' and h['x-object-meta-t'] == 'v'
    # a later POST without a type keeps it
    assert api.request('POST', '/%s/o' % c, {'X-Object-Meta-U': 'w'})[0] == 202
    assert api.request('HEAD', '/%s/o' % c)[1]['content-type'] == 'image/foo'
    after = json.loads(api.request('GET', '/' + c, query='format=json')[2])[0]
    assert after['content_type'] == 'image/foo' and after['bytes'] == 10
    assert after['hash'] == before['hash'] and after['last_modified'] > before['last_modified']


def test_copy_of_names_with_quoted_characters_and_ranges(api):
    c = api.put_container()
    name = 'dealde%2Fl04 011e%204c8df/flash.png'
    api.put_object(c, name, bytes(range(256)))
    status, _h, body = api.request('COPY', '/%s/%s' % (c, name),
                                   {'Destination': '%s/copy' % c, 'Range': 'bytes=10-19'})
    assert status == 201, body
    assert api.request('GET', '/%s/copy' % c)[2] == bytes(range(10, 20))


def test_cross_account_copy_needs_the_other_accounts_acl(api, api2):
    c = api.put_container()
    api.put_object(c, 'src', b'payload')
    account2 = api2.account_path.rsplit('/', 1)[1]
    open_c = api2.put_container(headers={'X-Container-Write': 'test:tester'})
    closed_c = api2.put_container()
    copy = {'Destination-Account': account2}
    status, h, body = api.request('COPY', '/%s/src' % c, dict(copy, Destination=open_c + '/o'))
    assert status == 201, body
    assert h['x-copied-from-account'] == api.account_path.rsplit('/', 1)[1]
    assert api2.request('GET', '/%s/o' % open_c)[2] == b'payload'
    assert api.request('COPY', '/%s/src' % c,
                       dict(copy, Destination=closed_c + '/o'))[0] == 403
    # a missing source is a 404 before the destination is judged (as Swift)
    assert api.request('COPY', '/%s/nope' % c,
                       dict(copy, Destination=closed_c + '/o'))[0] == 404
    # X-Copy-From-Account: reading another account needs its read ACL
    account1 = api.account_path.rsplit('/', 1)[1]
    from_1 = {'X-Copy-From-Account': account1, 'X-Copy-From': '%s/src' % c,
              'Content-Length': '0'}
    assert api2.request('PUT', '/%s/o2' % closed_c, from_1, b'')[0] == 403
    api.request('POST', '/' + c, {'X-Container-Read': 'test2:tester2'})
    assert api2.request('PUT', '/%s/o2' % closed_c, from_1, b'')[0] == 201
    assert api2.request('GET', '/%s/o2' % closed_c)[2] == b'payload'


def test_cors_preflight_and_actual_requests(api):
    c = api.put_container(headers={'X-Container-Meta-Access-Control-Allow-Origin': '*',
                                   'X-Container-Meta-Access-Control-Max-Age': '30'})
    api.put_object(c, 'cat', b'test', {'X-Object-Meta-Color': 'red'})
    path = api.account_path + '/%s/cat' % c

    def options(headers):
        return raw(api.host, api.port, 'OPTIONS', path, headers)
    assert options({'Origin': 'http://m.com'})[0] == 401
    status, h, _b = options({'Origin': 'http://m.com', 'Access-Control-Request-Method': 'GET'})
    assert status == 200 and h['access-control-allow-origin'] == '*'
    assert h['access-control-max-age'] == '30' and 'access-control-expose-headers' not in h
    status, h, _b = api.request('GET', '/%s/cat' % c, {'Origin': 'http://m.com'})
    assert status == 200 and h['access-control-allow-origin'] == '*'
    assert 'x-object-meta-color' in h['access-control-expose-headers'].split(', ')
    # only one origin allowed: others get no preflight and (strict mode) no headers
    api.request('POST', '/' + c, {'X-Container-Meta-Access-Control-Allow-Origin':
                                  'http://secret.com'})
    assert options({'Origin': 'http://m.com', 'Access-Control-Request-Method': 'GET'})[0] == 401
    h = api.request('GET', '/%s/cat' % c, {'Origin': 'http://m.com'})[1]
    assert 'access-control-allow-origin' not in h
    h = api.request('GET', '/%s/cat' % c, {'Origin': 'http://secret.com'})[1]
    assert h['access-control-allow-origin'] == 'http://secret.com'
    # errors carry them too
    status, h, _b = api.request('GET', '/%s/nope' % c, {'Origin': 'http://secret.com'})
    assert status == 404 and h['access-control-allow-origin'] == 'http://secret.com'
    # a refused token too (tempauth answers it, with the proxy's CORS headers),
    # so a page can see its 401 and get a new token; other origins get none
    bad = {'Origin': 'http://secret.com', 'X-Auth-Token': 'AUTH_tkbogus'}
    status, h, _b = raw(api.host, api.port, 'GET', path, bad)
    assert status == 401 and h['access-control-allow-origin'] == 'http://secret.com'
    status, h, _b = raw(api.host, api.port, 'GET', path, dict(bad, Origin='http://m.com'))
    assert status == 401 and 'access-control-allow-origin' not in h
