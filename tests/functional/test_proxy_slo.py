"""Static large objects (the slo middleware) through a real cluster."""
import base64
import hashlib
import json

import pytest

from tests.functional.proxy_helpers import Api, unique


def md5hex(data):
    return hashlib.md5(data).hexdigest()


@pytest.fixture(scope='module')
def api(cluster):
    return Api(cluster)


def put_manifest(api, container, name, items, headers=None, query='multipart-manifest=put'):
    body = items if isinstance(items, bytes) else json.dumps(items).encode('utf-8')
    return api.request('PUT', '/%s/%s' % (container, name), headers, body, query=query)


@pytest.fixture(scope='module')
def slo(api):
    """Segments a..e of 10 bytes, a manifest of them, and one nesting it."""
    c = api.put_container(unique('slo'))
    segs = {}
    for letter in 'abcde':
        api.put_object(c, 'seg_' + letter, letter.encode() * 10)
        segs[letter] = {'path': '/%s/seg_%s' % (c, letter), 'etag': md5hex(letter.encode() * 10),
                        'size_bytes': 10}
    status, h, body = put_manifest(api, c, 'man', [segs[x] for x in 'abcde'],
                                   {'Content-Type': 'text/x-big', 'X-Object-Meta-Color': 'blue'})
    assert status == 201, body
    etag = md5hex(''.join(segs[x]['etag'] for x in 'abcde').encode())
    assert h['etag'] == '"%s"' % etag
    status, _h, body = put_manifest(api, c, 'nested', [
        segs['a'], {'path': '/%s/man' % c, 'etag': etag, 'size_bytes': 50, 'range': '5-44'},
        {'data': base64.b64encode(b'XYZ').decode()}])
    assert status == 201, body
    whole = b''.join(x.encode() * 10 for x in 'abcde')
    return {'c': c, 'segs': segs, 'etag': etag, 'whole': whole,
            'nested': b'a' * 10 + whole[5:45] + b'XYZ'}


def test_get_head_and_listing(api, slo):
    c = slo['c']
    status, h, body = api.request('GET', '/%s/man' % c)
    assert (status, body) == (200, slo['whole'])
    assert h['etag'] == '"%s"' % slo['etag'] and h['content-length'] == '50'
    assert h['x-static-large-object'] == 'True' and h['content-type'] == 'text/x-big'
    assert h['x-object-meta-color'] == 'blue'
    assert not [k for k in h if 'sysmeta' in k]
    status, h2, body = api.request('HEAD', '/%s/man' % c)
    assert (status, body, h2['content-length'], h2['etag']) == (200, b'', '50', h['etag'])
    status, mh, mbody = api.request('GET', '/%s/man' % c, query='multipart-manifest=get')
    assert status == 200 and mh['content-type'] == 'application/json; charset=utf-8'
    assert mh['etag'] == md5hex(mbody) == h['x-manifest-etag']
    assert [i['name'] for i in json.loads(mbody)] == ['/%s/seg_%s' % (c, x) for x in 'abcde']
    status, rh, raw = api.request('GET', '/%s/man' % c, query='multipart-manifest=get&format=raw')
    assert status == 200 and rh['etag'] == md5hex(raw) and rh['content-type'] == 'text/x-big'
    assert json.loads(raw) == [slo['segs'][x] for x in 'abcde']
    status, _h, listing = api.request('GET', '/' + c, query='format=json')
    (item,) = [i for i in json.loads(listing) if i['name'] == 'man']
    assert item['bytes'] == 50 and item['hash'] == md5hex(mbody)
    assert item['slo_etag'] == '"%s"' % slo['etag'] and item['content_type'] == 'text/x-big'
    status, _h, xml = api.request('GET', '/' + c, query='format=xml')
    assert b'<hash>%s</hash>' % md5hex(mbody).encode() in xml and b'slo_etag=' not in xml


def test_nested_and_data_segments(api, slo):
    status, h, body = api.request('GET', '/%s/nested' % slo['c'])
    assert (status, body) == (200, slo['nested'])
    assert h['content-length'] == str(len(slo['nested']))
    status, _h, body = api.request('GET', '/%s/nested' % slo['c'], {'Range': 'bytes=8-12'})
    assert (status, body) == (206, slo['nested'][8:13])


@pytest.mark.parametrize('range_header,start,stop', [
    ('bytes=8-32', 8, 33), ('bytes=10-19', 10, 20), ('bytes=-1', 49, 50), ('bytes=45-', 45, 50),
    ('bytes=0-0', 0, 1), ('bytes=0-1000', 0, 50)])
def test_ranges(api, slo, range_header, start, stop):
    status, h, body = api.request('GET', '/%s/man' % slo['c'], {'Range': range_header})
    assert (status, body) == (206, slo['whole'][start:stop])
    assert h['content-range'] == 'bytes %d-%d/50' % (start, stop - 1)
    assert h['etag'] == '"%s"' % slo['etag']


def test_multi_range_and_unsatisfiable(api, slo):
    status, h, body = api.request('GET', '/%s/man' % slo['c'], {'Range': 'bytes=5-14,40-44'})
    assert status == 206 and h['content-type'].startswith('multipart/byteranges')
    assert int(h['content-length']) == len(body)
    assert b'aaaaabbbbb' in body and b'eeeee' in body and b'bytes 40-44/50' in body
    status, h, _b = api.request('GET', '/%s/man' % slo['c'], {'Range': 'bytes=50-60'})
    assert status == 416 and h['content-range'] == 'bytes */50'


@pytest.mark.parametrize('method', ['GET', 'HEAD'])
def test_conditions(api, slo, method):
    path, etag = '/%s/man' % slo['c'], slo['etag']
    assert api.request(method, path, {'If-Match': '"%s"' % etag})[0] == 200
    assert api.request(method, path, {'If-Match': 'not-' + etag})[0] == 412
    assert api.request(method, path, {'If-None-Match': '"%s"' % etag})[0] == 304
    manifest_etag = api.request('HEAD', path)[1]['x-manifest-etag']
    assert api.request(method, path, {'If-None-Match': manifest_etag})[0] == 200


@pytest.mark.parametrize('method', ['GET', 'HEAD'])
def test_part_number(api, slo, method):
    path = '/%s/man' % slo['c']
    status, h, body = api.request(method, path, query='part-number=2')
    assert status == 206 and h['content-range'] == 'bytes 10-19/50'
    assert h['x-parts-count'] == '5' and body == (b'b' * 10 if method == 'GET' else b'')
    status, h, body = api.request(method, path, query='part-number=6')
    assert status == 416 and h['content-range'] == 'bytes */50'
    for bad in ('0', '-1', 'x', ''):
        assert api.request(method, path, query='part-number=' + bad)[0] == 400


def test_copies(api, slo):
    c = slo['c']
    status, _h, body = api.request('COPY', '/%s/man' % c, {'Destination': '%s/copy' % c})
    assert status == 201, body
    status, h, body = api.request('GET', '/%s/copy' % c, query='multipart-manifest=get')
    assert (status, body) == (200, slo['whole']) and 'x-static-large-object' not in h
    status, _h, body = api.request('PUT', '/%s/part' % c, {'X-Copy-From': '%s/man' % c},
                                   b'', query='part-number=3')
    assert status == 201, body
    assert api.request('GET', '/%s/part' % c)[2] == b'c' * 10
    status, h, body = api.request('COPY', '/%s/man' % c, {'Destination': '%s/mcopy' % c,
                                                          'X-Object-Meta-Color': 'red'},
                                  query='multipart-manifest=get')
    assert status == 201, body
    assert h['x-copied-from'] == '%s/man' % c
    status, h, body = api.request('GET', '/%s/mcopy' % c)
    assert (status, body, h['x-static-large-object']) == (200, slo['whole'], 'True')
    assert h['x-object-meta-color'] == 'red' and h['content-type'] == 'text/x-big'


def test_manifest_delete(api):
    c = api.put_container(unique('slodel'))
    for name in ('s1', 's2', 's3'):
        api.put_object(c, name, b'x' * 5)
    assert put_manifest(api, c, 'inner', [{'path': '/%s/s2' % c}, {'path': '/%s/s3' % c}])[0] == 201
    assert put_manifest(api, c, 'outer', [{'path': '/%s/s1' % c}, {'path': '/%s/inner' % c},
                                          {'data': 'aGk='}])[0] == 201
    status, _h, body = api.request('DELETE', '/%s/outer' % c, {'Accept': 'application/json'},
                                   query='multipart-manifest=delete')
    result = json.loads(body)
    assert status == 200 and result['Response Status'] == '200 OK', result
    assert result['Number Deleted'] == 5
    assert api.request('GET', '/' + c)[0] == 204
    # not a manifest: refused, nothing deleted
    api.put_object(c, 'plain', b'data')
    status, _h, body = api.request('DELETE', '/%s/plain' % c, query='multipart-manifest=delete')
    assert status == 200 and b'400 Bad Request' in body and b'Not an SLO manifest' in body
    assert api.request('GET', '/%s/plain' % c)[2] == b'data'
    status, _h, body = api.request('DELETE', '/%s/gone' % c, query='multipart-manifest=delete')
    assert status == 200 and b'Number Not Found: 1' in body


def test_heartbeat(api, slo):
    c = slo['c']
    status, h, body = put_manifest(api, c, 'hb', [slo['segs']['a'], {'path': 'nope/x'}],
                                   {'Accept': 'application/json'},
                                   query='multipart-manifest=put&heartbeat=on')
    assert status == 202
    head, sep, summary = body.partition(b'\r\n\r\n')
    assert sep and not head.strip()
    assert json.loads(summary) == {
        'Response Status': '400 Bad Request', 'Errors': [['nope/x', '404 Not Found']],
        'Response Body': 'Bad Request\nThe server could not comply with the request since it '
                         'is either malformed or otherwise incorrect.'}
    status, h, body = put_manifest(api, c, 'hb', [slo['segs']['a']], None,
                                   query='multipart-manifest=put&heartbeat=on')
    assert status == 202 and b'Response Status: 201 Created' in body and b'\nEtag: ' in body


def test_post_keeps_the_large_object(api, slo):
    c = slo['c']
    assert put_manifest(api, c, 'posted', [slo['segs']['a']])[0] == 201
    status, _h, _b = api.request('POST', '/%s/posted' % c, {'X-Object-Meta-X': 'y',
                                                            'Content-Type': 'image/jpeg'})
    assert status == 202
    status, h, body = api.request('GET', '/%s/posted' % c)
    assert (status, body, h['x-static-large-object']) == (200, b'a' * 10, 'True')
    listing = json.loads(api.request('GET', '/' + c, query='format=json')[2])
    (item,) = [i for i in listing if i['name'] == 'posted']
    assert (item['bytes'], item['content_type']) == (10, 'image/jpeg')


def test_reserved_header_and_conditional_put(api, slo):
    c = slo['c']
    status, _h, body = api.request('PUT', '/%s/fake' % c, {'X-Static-Large-Object': 'true'}, b'x')
    assert status == 400 and b'reserved header' in body
    item = [slo['segs']['a']]
    assert put_manifest(api, c, 'inm', item, {'If-None-Match': '*'})[0] == 201
    assert put_manifest(api, c, 'inm', item, {'If-None-Match': '*'})[0] == 412
    assert put_manifest(api, c, 'inm2', item, {'If-None-Match': '"x"'})[0] == 400
    assert put_manifest(api, c, 'etag', item, {'ETag': 'wrong'})[0] == 422
    assert put_manifest(api, c, 'etag', item, {'ETag': md5hex(item[0]['etag'].encode())})[0] == 201


# -- hostile manifests: a clear 4xx, never a 500, and nothing stored changes ------------

@pytest.fixture(scope='module')
def victim(api, slo):
    """An object that failed manifest PUTs over it must leave alone."""
    api.put_object(slo['c'], 'victim', b'precious')
    return '/%s/victim' % slo['c']


def hostile_cases(c, segs):
    a = segs['a']
    return [
        (b'not json', 400, b'Manifest must be valid JSON'),
        (b'\xff\xfe\xfd', 400, b'valid JSON'),
        (b'{"path": "/c/o"}', 400, b'must be a list'),
        (b'[]', 400, b'at least one segment'),
        (b'[' * 50000 + b']' * 50000, 400, b'valid JSON'),
        ([{'path': '/%s/victim' % c}], 400, b'must not include itself'),
        ([{'path': '/%s/missing' % c}], 400, b'404 Not Found'),
        ([{'path': '/nocontainer-x/o'}], 400, b'404 Not Found'),
        ([dict(a, etag='0' * 32)], 400, b'Etag Mismatch'),
        ([dict(a, size_bytes=11)], 400, b'Size Mismatch'),
        ([dict(a, size_bytes=10 ** 30)], 400, b'Size Mismatch'),
        ([dict(a, range='10-20')], 400, b'Unsatisfiable Range'),
        ([dict(a, range='5-1')], 400, b'invalid range'),
        ([dict(a, range='1-2,3-4')], 400, b'multiple ranges'),
        ([dict(a, teag='x')], 400, b'extraneous keys'),
        ([{'path': '/%s' % c}], 400, b'does not refer to an object'),
        ([{'path': '/c/\udcff'}], 400, b'valid UTF-8'),
        ([{'data': '***'}], 400, b'valid base64'),
        ([{'path': '/c/' + 'x' * 5000}], 400, b'too long'),
        ([a] * 1001, 413, b'Number of segments must be <= 1000'),
        ([a] * 10000, 413, b'Number of segments must be <= 1000'),
    ]


@pytest.mark.parametrize('index', range(21))
def test_hostile_manifests(api, slo, victim, index):
    c = slo['c']
    items, status, reason = hostile_cases(c, slo['segs'])[index]
    got, _h, body = put_manifest(api, c, 'victim', items)
    assert got == status, body[:300]
    assert reason in body
    assert api.request('GET', victim)[2] == b'precious'


def test_ten_megabyte_manifest(api, slo, victim):
    body = json.dumps([slo['segs']['a']] * 120000).encode()
    assert len(body) > 8 * 1024 * 1024
    status, _h, reply = put_manifest(api, slo['c'], 'victim', body)
    assert status == 413 and b'Manifest File > 8388608 bytes' in reply
    status, _h, reply = put_manifest(api, slo['c'], 'victim', body,
                                     {'Transfer-Encoding': 'chunked'})
    assert status in (413, 400)
    assert api.request('GET', victim)[2] == b'precious'


def test_changed_segment_and_sub_manifest(api):
    c = api.put_container(unique('slochg'))
    api.put_object(c, 's1', b'1' * 10)
    api.put_object(c, 's2', b'2' * 10)
    assert put_manifest(api, c, 'inner', [{'path': '/%s/s2' % c}])[0] == 201
    assert put_manifest(api, c, 'm', [{'path': '/%s/s1' % c}, {'path': '/%s/inner' % c}])[0] == 201
    assert api.request('GET', '/%s/m' % c)[2] == b'1' * 10 + b'2' * 10
    # the first segment changes: 409 before any byte
    api.put_object(c, 's1', b'3' * 10)
    status, _h, body = api.request('GET', '/%s/m' % c)
    assert status == 409 and b's1' in body
    # the nested manifest is replaced by another large object: 409 too
    api.put_object(c, 's1', b'1' * 10)
    assert put_manifest(api, c, 'inner', [{'path': '/%s/s1' % c}])[0] == 201
    status, _h, body = api.request('GET', '/%s/m' % c, {'Range': 'bytes=10-'})
    assert status == 409
    # HEAD still answers from the manifest's metadata
    assert api.request('HEAD', '/%s/m' % c)[0] == 200


def test_quota_counts_the_manifest_bytes(api, slo):
    """As in Swift: a manifest PUT counts its own bytes toward quotas (and the
    container's bytes used), not the size of the large object."""
    c = api.put_container(unique('sloquota'), {'X-Container-Meta-Quota-Bytes': '100000'})
    items = [slo['segs'][x] for x in 'abcde'] * 20          # 1000 bytes of large object
    status, _h, body = put_manifest(api, c, 'm', items)
    assert status == 201, body
    stored = api.request('GET', '/%s/m' % c, query='multipart-manifest=get')[2]
    status, h, _b = api.request('HEAD', '/' + c)
    assert int(h['x-container-bytes-used']) == len(stored)
    listing = json.loads(api.request('GET', '/' + c, query='format=json')[2])
    assert listing[0]['bytes'] == 1000
    tight = api.put_container(unique('sloquota'), {'X-Container-Meta-Quota-Bytes': '100'})
    status, _h, body = put_manifest(api, tight, 'm', items)
    assert status == 413, body
