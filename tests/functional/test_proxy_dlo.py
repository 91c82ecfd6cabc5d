"""Dynamic large objects (the dlo middleware) through a real cluster."""
import hashlib
import json

import pytest

from tests.functional.proxy_helpers import Api, raw, unique


def md5hex(data):
    return hashlib.md5(data).hexdigest()


@pytest.fixture(scope='module')
def api(cluster):
    return Api(cluster)


@pytest.fixture(scope='module')
def dlo(api):
    """A container of 5 segments of 10 bytes and a manifest in another one."""
    segs = api.put_container(unique('segs'))
    mans = api.put_container(unique('mans'))
    for letter in 'abcde':
        api.put_object(segs, 'big/%s' % letter, letter.encode() * 10)
    api.put_object(segs, 'bigger', b'not me')
    api.put_object(mans, 'man', b'', {'X-Object-Manifest': '%s/big/' % segs,
                                      'Content-Type': 'text/x-big',
                                      'X-Object-Meta-Color': 'blue'})
    whole = b''.join(c.encode() * 10 for c in 'abcde')
    etag = md5hex(''.join(md5hex(c.encode() * 10) for c in 'abcde').encode())
    return {'segs': segs, 'mans': mans, 'path': '/%s/man' % mans, 'whole': whole,
            'etag': etag}


def test_get_and_head(api, dlo):
    status, h, body = api.request('GET', dlo['path'])
    assert (status, body) == (200, dlo['whole'])
    assert h['etag'] == '"%s"' % dlo['etag'] and h['content-length'] == '50'
    assert h['x-object-manifest'] == '%s/big/' % dlo['segs']
    assert h['content-type'] == 'text/x-big' and h['x-object-meta-color'] == 'blue'
    status, h2, body = api.request('HEAD', dlo['path'])
    assert (status, body) == (200, b'')
    assert h2['etag'] == h['etag'] and h2['content-length'] == '50'
    # the manifest itself
    status, h, body = api.request('GET', dlo['path'], query='multipart-manifest=get')
    assert (status, body) == (200, b'') and h['etag'] == md5hex(b'')
    assert h['x-object-manifest'] == '%s/big/' % dlo['segs']


@pytest.mark.parametrize('range_header,status,start,stop', [
    ('bytes=8-32', 206, 8, 33),
    ('bytes=10-19', 206, 10, 20),
    ('bytes=-1', 206, 49, 50),
    ('bytes=45-', 206, 45, 50),
    ('bytes=0-4,10-14', 200, 0, 50),
])
def test_ranges(api, dlo, range_header, status, start, stop):
    got, h, body = api.request('GET', dlo['path'], {'Range': range_header})
    assert (got, body) == (status, dlo['whole'][start:stop])
    if status == 206:
        assert h['content-range'] == 'bytes %d-%d/50' % (start, stop - 1)


def test_unsatisfiable_range(api, dlo):
    status, h, _body = api.request('GET', dlo['path'], {'Range': 'bytes=50-60'})
    assert status == 416 and h['content-range'] == 'bytes */50'


@pytest.mark.parametrize('method', ['GET', 'HEAD'])
def test_conditions(api, dlo, method):
    etag = dlo['etag']
    assert api.request(method, dlo['path'], {'If-Match': '"%s"' % etag})[0] == 200
    assert api.request(method, dlo['path'], {'If-Match': 'not-' + etag})[0] == 412
    assert api.request(method, dlo['path'], {'If-None-Match': etag})[0] == 304
    assert api.request(method, dlo['path'], {'If-None-Match': md5hex(b'')})[0] == 200


@pytest.mark.parametrize('value', [
    '', 'container-only', '/leading/slash', 'whole-container/', 'c//double',
    'c/p?query=1', 'c/p&x', '%FF/x', 'c/%00', 'c' * 300 + '/x',
])
def test_bad_manifest_values_are_400_and_store_nothing(api, value):
    c = api.put_container()
    status, _h, body = api.request('PUT', '/%s/m' % c, {'X-Object-Manifest': value}, b'')
    assert status == 400, (value, status, body)
    assert b'X-Object-Manifest must be <container>/<prefix>' in body
    assert api.request('HEAD', '/%s/m' % c)[0] == 404
    api.put_object(c, 'plain', b'x')
    status, _h, body = api.request('POST', '/%s/plain' % c, {'X-Object-Manifest': value})
    assert status == 400, (value, status, body)


def test_quoted_utf8_manifest(api):
    c = api.put_container(unique('s\u00e9gs'))
    api.put_object(c, 'p\u00e9/1', b'one')
    api.put_object(c, 'p\u00e9/2', b'two')
    value = '%s/p%%C3%%A9/' % c.replace('\u00e9', '%C3%A9')
    api.put_object(c, 'man', b'', {'X-Object-Manifest': value})
    status, h, body = api.request('GET', '/%s/man' % c)
    assert (status, body) == (200, b'onetwo') and h['x-object-manifest'] == value


def test_prefix_matching_nothing_is_empty(api):
    c = api.put_container()
    api.put_object(c, 'man', b'', {'X-Object-Manifest': '%s/nothing-here/' % c})
    status, h, body = api.request('GET', '/%s/man' % c)
    assert (status, body) == (200, b'')
    assert h['content-length'] == '0' and h['etag'] == '"%s"' % md5hex(b'')


def test_missing_segment_container_is_404(api):
    c = api.put_container()
    api.put_object(c, 'man', b'', {'X-Object-Manifest': '%s/p' % unique('gone')})
    assert api.request('GET', '/%s/man' % c)[0] == 404
    assert api.request('GET', '/%s/man' % c, query='multipart-manifest=get')[0] == 200


def test_manifest_matching_itself_does_not_loop(api):
    c = api.put_container()
    api.put_object(c, 'seg1', b'segment-')
    api.put_object(c, 'self', b'SELF', {'X-Object-Manifest': '%s/se' % c})
    status, h, body = api.request('GET', '/%s/self' % c)
    assert (status, body) == (200, b'segment-SELF') and h['content-length'] == '12'


def test_segments_the_user_cannot_read_are_403(api, cluster, dlo):
    reader = Api(cluster, 'test:tester3')
    mans = api.put_container()
    api.put_object(mans, 'man', b'', {'X-Object-Manifest': '%s/big/' % dlo['segs']})
    path = api.account_path + '/%s/man' % mans
    # not even the manifest at first; then the manifest but not the segments
    assert raw(api.host, api.port, 'GET', path, {'X-Auth-Token': reader.token})[0] == 403
    api.request('POST', '/' + mans, {'X-Container-Read': 'test:tester3'})
    for method in ('GET', 'HEAD'):
        status, _h, _b = raw(api.host, api.port, method, path, {'X-Auth-Token': reader.token})
        assert status == 403, method
    segs2 = api.put_container()
    for letter in 'xy':
        api.put_object(segs2, 'p/%s' % letter, letter.encode() * 3)
    api.request('POST', '/' + segs2, {'X-Container-Read': 'test:tester3'})
    api.put_object(mans, 'man2', b'', {'X-Object-Manifest': '%s/p/' % segs2})
    status, _h, body = raw(api.host, api.port, 'GET', api.account_path + '/%s/man2' % mans,
                           {'X-Auth-Token': reader.token})
    assert (status, body) == (200, b'xxxyyy')


def test_no_token_is_401(api, dlo):
    assert api.request('GET', dlo['path'], token=False)[0] == 401


def test_copy_makes_a_plain_object(api, dlo):
    c = api.put_container()
    status, h, body = api.request('COPY', dlo['path'], {'Destination': '%s/copy1' % c})
    assert status == 201, body
    status, h, body = api.request('PUT', '/%s/copy2' % c,
                                  {'X-Copy-From': dlo['path'], 'Content-Length': '0'})
    assert status == 201, body
    for name in ('copy1', 'copy2'):
        status, h, body = api.request('GET', '/%s/%s' % (c, name))
        assert (status, body) == (200, dlo['whole'])
        assert 'x-object-manifest' not in h and h['etag'] == md5hex(dlo['whole'])
        assert h['x-object-meta-color'] == 'blue' and h['content-type'] == 'text/x-big'
    # a ranged copy
    status, _h, body = api.request('PUT', '/%s/part' % c,
                                   {'X-Copy-From': dlo['path'], 'Range': 'bytes=5-14',
                                    'Content-Length': '0'})
    assert status == 201, body
    assert api.request('GET', '/%s/part' % c)[2] == dlo['whole'][5:15]
    listing = json.loads(api.request('GET', '/' + c, query='format=json')[2])
    assert {i['name']: i['bytes'] for i in listing} == {'copy1': 50, 'copy2': 50, 'part': 10}


def test_copy_of_the_manifest_itself(api, dlo):
    c = api.put_container()
    status, _h, body = api.request('COPY', dlo['path'], {'Destination': '%s/m' % c},
                                   query='multipart-manifest=get')
    assert status == 201, body
    status, h, body = api.request('GET', '/%s/m' % c, query='multipart-manifest=get')
    assert (status, body) == (200, b'')
    assert h['x-object-manifest'] == '%s/big/' % dlo['segs']
    assert api.request('GET', '/%s/m' % c)[2] == dlo['whole']


def test_cross_account_copy_needs_the_right_to_read_the_segments(api, cluster):
    other = Api(cluster, 'test2:tester2')
    mans, segs = other.put_container(), other.put_container()
    other.put_object(segs, 'p/1', b'secret')
    other.put_object(mans, 'man', b'', {'X-Object-Manifest': '%s/p/' % segs})
    other.request('POST', '/' + mans, {'X-Container-Read': 'test:tester'})
    dest = api.put_container()
    account = other.account_path.rsplit('/', 1)[1]
    headers = {'X-Copy-From': '%s/man' % mans, 'X-Copy-From-Account': account,
               'Content-Length': '0'}
    status, _h, body = api.request('PUT', '/%s/o' % dest, headers)
    assert status == 403, body
    assert api.request('HEAD', '/%s/o' % dest)[0] == 404
    other.request('POST', '/' + segs, {'X-Container-Read': 'test:tester'})
    status, _h, body = api.request('PUT', '/%s/o' % dest, headers)
    assert status == 201, body
    assert api.request('GET', '/%s/o' % dest)[2] == b'secret'


def test_post_sets_changes_and_removes_the_manifest(api, dlo):
    c = api.put_container()
    api.put_object(c, 'o', b'plain')
    assert api.request('POST', '/%s/o' % c,
                       {'X-Object-Manifest': '%s/big/' % dlo['segs']})[0] == 202
    assert api.request('GET', '/%s/o' % c)[2] == dlo['whole']
    assert api.request('GET', '/%s/o' % c, query='multipart-manifest=get')[2] == b'plain'
    assert api.request('POST', '/%s/o' % c, {'X-Object-Meta-A': 'b'})[0] == 202
    status, h, body = api.request('GET', '/%s/o' % c)
    assert body == b'plain' and 'x-object-manifest' not in h


def test_segments_added_later_join(api):
    c = api.put_container()
    api.put_object(c, 'man', b'', {'X-Object-Manifest': '%s/s/' % c})
    api.put_object(c, 's/2', b'22')
    assert api.request('GET', '/%s/man' % c)[2] == b'22'
    api.put_object(c, 's/1', b'1')
    api.request('DELETE', '/%s/s/2' % c)
    status, h, body = api.request('GET', '/%s/man' % c)
    assert (status, body, h['content-length']) == (200, b'1', '1')


def test_info_advertises_dlo(api):
    status, _h, body = raw(api.host, api.port, 'GET', '/info')
    assert status == 200 and 'max_get_time' in json.loads(body)['dlo']
