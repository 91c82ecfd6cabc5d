"""The Swift v1 API through the proxy of a real cluster: every verb on every
level, metadata, listings, copies, expiry, ranges and conditionals."""
import hashlib
import json
import time
import xml.etree.ElementTree as ET

import pytest

from tests.functional.proxy_helpers import Api, raw, unique


@pytest.fixture(scope='module')
def api(cluster):
    return Api(cluster)


def wait_for(predicate, timeout=10.0):
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value or time.time() > deadline:
            return value
        time.sleep(0.2)


# -- account ----------------------------------------------------------------

def test_account_head_get_and_counts(api):
    c = api.put_container()
    api.put_object(c, 'o1', b'12345')
    status, h, _ = api.request('HEAD')
    assert status == 204
    for name in ('x-account-container-count', 'x-account-object-count',
                 'x-account-bytes-used', 'x-timestamp', 'x-trans-id'):
        assert name in h
    assert int(h['x-account-container-count']) >= 1
    status, h, body = api.request('GET', query='format=json')
    assert status == 200 and h['content-type'].startswith('application/json')
    names = [item['name'] for item in json.loads(body)]
    assert c in names
    status, _h, body = api.request('GET')
    assert status == 200 and c in body.decode().splitlines()
    status, h, body = api.request('GET', query='format=xml')
    assert status == 200 and 'xml' in h['content-type']
    assert c in [e.findtext('name') for e in ET.fromstring(body).iter('container')]
    status, _h, body = api.request('GET', headers={'Accept': 'application/json'})
    assert status == 200 and isinstance(json.loads(body), list)


def test_account_metadata_set_and_remove(api):
    status, _h, _b = api.request('POST', headers={'X-Account-Meta-Color': 'blue',
                                                  'X-Account-Meta-Shape': 'round'})
    assert status == 204
    _s, h, _b = api.request('HEAD')
    assert h['x-account-meta-color'] == 'blue'
    api.request('POST', headers={'X-Remove-Account-Meta-Color': 'x',
                                 'X-Account-Meta-Shape': ''})
    _s, h, _b = api.request('HEAD')
    assert 'x-account-meta-color' not in h and 'x-account-meta-shape' not in h


def test_account_put_delete_need_account_management(api):
    assert api.request('PUT')[0] == 403      # owner, not reseller admin
    assert api.request('DELETE')[0] == 403


def test_new_account_looks_empty_then_is_created(cluster):
    admin = Api(cluster, 'test2:tester2')
    status, h, body = admin.request('GET', query='format=json')
    assert status in (200, 204)
    status, h, _ = admin.request('HEAD')
    assert status == 204 and 'x-account-container-count' in h


def test_account_listing_parameters(api):
    prefix = unique('lst')
    for suffix in ('a', 'b', 'c', 'd'):
        api.put_container('%s-%s' % (prefix, suffix))
    def names(query):
        status, _h, body = api.request('GET', query='format=json&' + query)
        assert status == 200
        return [i.get('name', i.get('subdir')) for i in json.loads(body)]
    assert names('prefix=%s' % prefix) == ['%s-%s' % (prefix, s) for s in 'abcd']
    assert names('prefix=%s&limit=2' % prefix) == ['%s-a' % prefix, '%s-b' % prefix]
    assert names('prefix=%s&marker=%s-b' % (prefix, prefix)) == ['%s-c' % prefix, '%s-d' % prefix]
    assert names('prefix=%s&end_marker=%s-b' % (prefix, prefix)) == ['%s-a' % prefix]
    assert names('prefix=%s&reverse=true' % prefix)[0] == '%s-d' % prefix
    assert names('prefix=%s&delimiter=-' % prefix) == [prefix + '-']


# -- container --------------------------------------------------------------

def test_container_lifecycle(api):
    name = unique()
    assert api.request('HEAD', '/' + name)[0] == 404
    assert api.request('PUT', '/' + name, {'X-Container-Meta-Owner': 'me'})[0] == 201
    assert api.request('PUT', '/' + name)[0] == 202
    status, h, _ = api.request('HEAD', '/' + name)
    assert status == 204
    assert h['x-container-meta-owner'] == 'me'
    assert h['x-container-object-count'] == '0' and h['x-container-bytes-used'] == '0'
    assert api.request('POST', '/' + name, {'X-Container-Meta-Owner': 'you',
                                            'X-Container-Meta-Extra': 'x'})[0] == 204
    _s, h, _b = api.request('HEAD', '/' + name)
    assert h['x-container-meta-owner'] == 'you' and h['x-container-meta-extra'] == 'x'
    api.request('POST', '/' + name, {'X-Remove-Container-Meta-Extra': '1'})
    _s, h, _b = api.request('HEAD', '/' + name)
    assert 'x-container-meta-extra' not in h
    api.put_object(name, 'obj')
    assert api.request('DELETE', '/' + name)[0] == 409
    assert api.request('DELETE', '/%s/obj' % name)[0] == 204
    assert api.request('DELETE', '/' + name)[0] == 204
    assert api.request('HEAD', '/' + name)[0] == 404
    assert api.request('DELETE', '/' + name)[0] == 404
    assert api.request('POST', '/' + name, {'X-Container-Meta-A': 'b'})[0] == 404


def test_container_listing_formats_and_parameters(api):
    c = api.put_container()
    for name in ('a/1', 'a/2', 'b/1', 'c', 'd'):
        api.put_object(c, name, name.encode())
    status, h, body = api.request('GET', '/' + c)
    assert status == 200 and body.decode().splitlines() == ['a/1', 'a/2', 'b/1', 'c', 'd']
    assert h['x-container-object-count'] == '5'
    status, h, body = api.request('GET', '/' + c, query='format=json')
    items = json.loads(body)
    assert [i['name'] for i in items] == ['a/1', 'a/2', 'b/1', 'c', 'd']
    assert items[0]['bytes'] == 3
    assert items[0]['hash'] == hashlib.md5(b'a/1').hexdigest()
    assert 'content_type' in items[0] and 'last_modified' in items[0]
    status, h, body = api.request('GET', '/' + c, query='format=xml')
    assert [e.findtext('name') for e in ET.fromstring(body).iter('object')][:2] == ['a/1', 'a/2']

    def names(query):
        status, _h, body = api.request('GET', '/' + c, query='format=json&' + query)
        assert status == 200, body
        return [i.get('name', i.get('subdir')) for i in json.loads(body)]
    assert names('prefix=a/') == ['a/1', 'a/2']
    assert names('delimiter=/') == ['a/', 'b/', 'c', 'd']
    assert names('prefix=a/&delimiter=/') == ['a/1', 'a/2']
    assert names('marker=b/1') == ['c', 'd']
    assert names('end_marker=b') == ['a/1', 'a/2']
    assert names('limit=2') == ['a/1', 'a/2']
    assert names('reverse=true&limit=2') == ['d', 'c']
    assert names('path=a') == ['a/1', 'a/2']
    status, _h, body = api.request('GET', '/' + c, query='limit=10001')
    assert status == 412
    assert api.request('GET', '/' + c, query='limit=abc')[0] == 200   # ignored, as Swift
    assert api.request('GET', '/' + c, query='format=yaml')[0] == 400
    status, _h, body = api.request('GET', '/' + unique())
    assert status == 404


def test_empty_container_listing(api):
    c = api.put_container()
    status, _h, body = api.request('GET', '/' + c)
    assert status in (200, 204) and body == b''
    status, _h, body = api.request('GET', '/' + c, query='format=json')
    assert status == 200 and json.loads(body) == []


# -- object -----------------------------------------------------------------

def test_object_put_get_head_post_delete(api):
    c = api.put_container()
    data = b'x' * 100000
    h = api.put_object(c, 'big.bin', data, {'X-Object-Meta-Color': 'red',
                                             'Content-Type': 'application/x-test',
                                             'Content-Disposition': 'attachment'})
    assert h['etag'] == hashlib.md5(data).hexdigest()
    assert 'last-modified' in h and 'x-trans-id' in h
    status, h, body = api.request('GET', '/%s/big.bin' % c)
    assert status == 200 and body == data
    assert h['content-type'] == 'application/x-test'
    assert h['x-object-meta-color'] == 'red'
    assert h['content-disposition'] == 'attachment'
    assert h['etag'] == hashlib.md5(data).hexdigest()
    assert 'x-timestamp' in h and 'last-modified' in h
    assert not any(k.startswith('x-backend') for k in h)
    status, h, body = api.request('HEAD', '/%s/big.bin' % c)
    assert status == 200 and body == b'' and h['content-length'] == str(len(data))
    assert api.request('POST', '/%s/big.bin' % c, {'X-Object-Meta-Size': 'L'})[0] == 202
    _s, h, _b = api.request('HEAD', '/%s/big.bin' % c)
    assert h['x-object-meta-size'] == 'L' and 'x-object-meta-color' not in h
    assert api.request('DELETE', '/%s/big.bin' % c)[0] == 204
    assert api.request('GET', '/%s/big.bin' % c)[0] == 404
    assert api.request('HEAD', '/%s/big.bin' % c)[0] == 404
    assert api.request('DELETE', '/%s/big.bin' % c)[0] == 404
    assert api.request('POST', '/%s/big.bin' % c, {'X-Object-Meta-A': 'b'})[0] == 404


def test_object_put_into_missing_container_is_404(api):
    status, _h, _b = api.request('PUT', '/%s/o' % unique(), {'Content-Length': '1'}, b'x')
    assert status == 404


def test_content_type_guessed(api):
    c = api.put_container()
    status, _h, _b = api.request('PUT', '/%s/page.html' % c, {'Content-Length': '2'}, b'hi')
    assert status == 201
    assert api.request('HEAD', '/%s/page.html' % c)[1]['content-type'].startswith('text/html')
    api.request('PUT', '/%s/noext' % c, {'Content-Length': '2'}, b'hi')
    assert api.request('HEAD', '/%s/noext' % c)[1]['content-type'] == 'application/octet-stream'
    api.request('PUT', '/%s/x.json' % c, {'Content-Length': '2', 'Content-Type': 'text/plain',
                                           'X-Detect-Content-Type': 'true'}, b'{}')
    assert api.request('HEAD', '/%s/x.json' % c)[1]['content-type'] == 'application/json'


def test_etag_checked(api):
    c = api.put_container()
    good = hashlib.md5(b'abc').hexdigest()
    assert api.request('PUT', '/%s/o' % c, {'ETag': good}, b'abc')[0] == 201
    status, _h, _b = api.request('PUT', '/%s/o2' % c, {'ETag': 'f' * 32}, b'abc')
    assert status == 422
    assert api.request('HEAD', '/%s/o2' % c)[0] == 404


def test_chunked_upload(api):
    c = api.put_container()
    data = bytes(range(256)) * 1000
    status, h, _b = api.request('PUT', '/%s/chunked' % c, {'Transfer-Encoding': 'chunked'}, data)
    assert status == 201 and h['etag'] == hashlib.md5(data).hexdigest()
    status, _h, body = api.request('GET', '/%s/chunked' % c)
    assert body == data


def test_zero_byte_object(api):
    c = api.put_container()
    assert api.request('PUT', '/%s/empty' % c, {'Content-Length': '0'}, b'')[0] == 201
    status, h, body = api.request('GET', '/%s/empty' % c)
    assert status == 200 and body == b'' and h['etag'] == hashlib.md5(b'').hexdigest()


def test_ranges_and_conditionals(api):
    c = api.put_container()
    data = b'0123456789'
    etag = api.put_object(c, 'r', data)['etag']
    status, h, body = api.request('GET', '/%s/r' % c, {'Range': 'bytes=2-4'})
    assert status == 206 and body == b'234' and h['content-range'] == 'bytes 2-4/10'
    status, _h, body = api.request('GET', '/%s/r' % c, {'Range': 'bytes=-3'})
    assert status == 206 and body == b'789'
    assert api.request('GET', '/%s/r' % c, {'Range': 'bytes=50-60'})[0] == 416
    assert api.request('GET', '/%s/r' % c, {'If-None-Match': etag})[0] == 304
    assert api.request('GET', '/%s/r' % c, {'If-Match': '"nope"'})[0] == 412
    assert api.request('GET', '/%s/r' % c, {'If-Match': etag})[0] == 200
    status, h, _b = api.request('HEAD', '/%s/r' % c)
    lm = h['last-modified']
    assert api.request('GET', '/%s/r' % c, {'If-Modified-Since': lm})[0] == 304
    assert api.request('GET', '/%s/r' % c, {'If-Unmodified-Since': 'Mon, 01 Jan 2001 00:00:00 GMT'})[0] == 412


def test_x_newest(api):
    c = api.put_container()
    api.put_object(c, 'n', b'v1')
    api.put_object(c, 'n', b'v2')
    status, _h, body = api.request('GET', '/%s/n' % c, {'X-Newest': 'true'})
    assert status == 200 and body == b'v2'
    assert api.request('HEAD', '/' + c, {'X-Newest': 'true'})[0] == 204


def test_overwrite_returns_latest(api):
    c = api.put_container()
    for i in range(5):
        api.put_object(c, 'o', b'version %d' % i)
        assert api.request('GET', '/%s/o' % c)[2] == b'version %d' % i


def test_copy_with_x_copy_from(api):
    c1, c2 = api.put_container(), api.put_container()
    api.put_object(c1, 'src', b'payload', {'X-Object-Meta-A': '1', 'Content-Type': 'text/x-src'})
    status, h, _b = api.request('PUT', '/%s/dst' % c2, {'X-Copy-From': '/%s/src' % c1,
                                                        'Content-Length': '0',
                                                        'X-Object-Meta-B': '2'})
    assert status == 201, _b
    assert h['x-copied-from'] == '%s/src' % c1
    status, h, body = api.request('GET', '/%s/dst' % c2)
    assert body == b'payload' and h['content-type'] == 'text/x-src'
    assert h['x-object-meta-a'] == '1' and h['x-object-meta-b'] == '2'
    status, _h, _b = api.request('PUT', '/%s/fresh' % c2, {
        'X-Copy-From': '%s/src' % c1, 'Content-Length': '0', 'X-Fresh-Metadata': 'true',
        'X-Object-Meta-C': '3', 'Content-Type': 'text/plain'})
    assert status == 201
    _s, h, body = api.request('GET', '/%s/fresh' % c2)
    assert body == b'payload' and h['x-object-meta-c'] == '3' and 'x-object-meta-a' not in h
    assert h['content-type'] == 'text/plain'
    assert api.request('PUT', '/%s/x' % c2, {'X-Copy-From': '/%s/missing' % c1,
                                             'Content-Length': '0'})[0] == 404
    assert api.request('PUT', '/%s/x' % c2, {'X-Copy-From': 'nocontainer',
                                             'Content-Length': '0'})[0] == 412
    assert api.request('PUT', '/%s/x' % c2, {'X-Copy-From': '/%s/src' % c1},
                       b'body')[0] == 400


def test_copy_verb_with_destination(api):
    c = api.put_container()
    api.put_object(c, 'a b', b'spaced', {'X-Object-Meta-K': 'v'})
    status, h, _b = api.request('COPY', '/%s/a b' % c, {'Destination': '/%s/copy%%20of' % c})
    assert status == 201, _b
    status, h, body = api.request('GET', '/%s/copy of' % c)
    assert status == 200 and body == b'spaced' and h['x-object-meta-k'] == 'v'
    assert api.request('COPY', '/%s/a b' % c)[0] == 412


def test_delete_after_and_delete_at(api):
    c = api.put_container()
    api.put_object(c, 'short', b'bye', {'X-Delete-After': '2'})
    status, h, _b = api.request('HEAD', '/%s/short' % c)
    assert status == 200 and int(h['x-delete-at']) <= int(time.time()) + 3
    time.sleep(3.1)
    assert api.request('GET', '/%s/short' % c)[0] == 404
    at = int(time.time()) + 3600
    api.put_object(c, 'later', b'x', {'X-Delete-At': str(at)})
    assert api.request('HEAD', '/%s/later' % c)[1]['x-delete-at'] == str(at)
    assert api.request('POST', '/%s/later' % c, {'X-Delete-At': str(at + 5)})[0] == 202
    assert api.request('HEAD', '/%s/later' % c)[1]['x-delete-at'] == str(at + 5)
    # The object servers queued the object for the expirer (on the queue's
    # container servers; the hidden account is not reachable through the API,
    # not even for a reseller admin, as in Swift).
    queue = str((at + 5) // 86400 * 86400)
    admin = Api(api.cluster, 'admin:admin')
    assert raw(admin.host, admin.port, 'GET', '/v1/.expiring_objects/%s' % queue,
               {'X-Auth-Token': admin.token})[0] == 403
    from swiftlike.ring import Ring
    part, nodes = Ring(api.cluster.swift_dir, ring_name='container').get_nodes(
        '.expiring_objects', queue)
    names = set()
    for node in nodes:
        status, _h, body = raw(node['ip'], node['port'], 'GET', '/%s/%d/.expiring_objects/%s'
                               '?format=json' % (node['device'], part, queue))
        if status == 200:
            names.update(item['name'] for item in json.loads(body))
    assert '%d-AUTH_test/%s/later' % (at + 5, c) in names
    assert api.request('PUT', '/%s/p' % c, {'X-Delete-At': '12'}, b'x')[0] == 400
    assert api.request('PUT', '/%s/p' % c, {'X-Delete-At': 'soon'}, b'x')[0] == 400
    assert api.request('PUT', '/%s/p' % c, {'X-Delete-After': '-5'}, b'x')[0] == 400


def test_container_counts_follow_objects(api):
    c = api.put_container()
    api.put_object(c, 'a', b'123')
    api.put_object(c, 'b', b'4567')
    _s, h, _b = api.request('HEAD', '/' + c)
    assert h['x-container-object-count'] == '2' and h['x-container-bytes-used'] == '7'
    # Account stats follow through the container updater (as in Swift).
    for node in range(1, 5):
        status, out = api.cluster.run_daemon('container-updater', node)
        assert status == 0, out
    assert wait_for(lambda: int(api.request('HEAD')[1]['x-account-bytes-used']) >= 7)


def test_healthcheck_and_info(api):
    from tests.functional.proxy_helpers import raw
    status, _h, body = raw(api.host, api.port, 'GET', '/healthcheck')
    assert status == 200 and body == b'OK'
    status, h, body = raw(api.host, api.port, 'GET', '/info')
    assert status == 200
    info = json.loads(body)
    swift = info['swift']
    assert swift['max_file_size'] == 5 * 1024 ** 3
    assert swift['max_object_name_length'] == 1024
    assert swift['container_listing_limit'] == 10000
    assert swift['max_meta_count'] == 90
    assert 'tempauth' in info
    assert 'max_get_time' in info['dlo']
    for present in ('tempurl', 'symlink', 'copy', 'formpost', 'ratelimit'):
        assert present in info
    assert info['ratelimit']['max_sleep_time_seconds'] == 60
    # Features not built are absent, not faked.
    for absent in ('container_sync',):
        assert absent not in info


def test_trans_id_on_every_response(api):
    for method, path in (('GET', ''), ('HEAD', '/' + unique()), ('PUT', '/x/' + 'y' * 2000)):
        status, h, _b = api.request(method, path)
        assert h['x-trans-id'].startswith('tx')
        assert h['x-openstack-request-id'] == h['x-trans-id']


def test_options_and_unknown_method(api):
    c = api.put_container()
    assert api.request('OPTIONS', '/%s/o' % c)[0] == 200
    status, h, _b = api.request('PATCH', '/%s/o' % c)
    assert status == 405 and 'allow' in h
    # The storage servers' own verbs are not the API's.
    for method in ('UPDATE', 'REPLICATE'):
        for path in ('/' + c, '/%s/o' % c):
            status, h, _b = api.request(method, path, body=b'[]')
            assert status == 405 and 'allow' in h, (method, path)
