"""Server-side copy (the copy middleware) through a real cluster: hostile
headers, missing and unreadable sources, conditions on the source,
cross-account denial and a large streamed copy. (Copies of large objects:
test_proxy_dlo.py.)"""
import hashlib
import json
import os

import pytest

from tests.functional.proxy_helpers import Api, raw


@pytest.fixture(scope='module')
def api(cluster):
    return Api(cluster)


@pytest.fixture(scope='module')
def api2(cluster):
    return Api(cluster, user='test2:tester2')


@pytest.fixture(scope='module')
def src(api):
    c = api.put_container()
    api.put_object(c, 'src', b'0123456789', {'X-Object-Meta-Color': 'red',
                                             'Content-Type': 'text/x-src'})
    return c


def names(api, container):
    status, _h, body = api.request('GET', '/' + container, query='format=json')
    return [] if status == 204 else [i['name'] for i in json.loads(body)]


@pytest.mark.parametrize('headers,status', [
    ({}, 412),
    ({'Destination': ''}, 412),
    ({'Destination': 'no-slash'}, 412),
    ({'Destination': '/container-only'}, 412),
    ({'Destination': '//x'}, 412),
    ({'Destination': '%FF%FE/x'}, 400),
    ({'Destination': 'c/%00'}, 400),
    ({'Destination': 'c/' + 'o' * 1100}, 400),
    ({'Destination': 'c/o', 'Destination-Account': ''}, 412),
    ({'Destination': 'c/o', 'Destination-Account': 'a/b'}, 412),
    ({'Destination': 'c/o', 'Destination-Account': '%FF'}, 400),
])
def test_hostile_destinations(api, src, headers, status):
    got, _h, body = api.request('COPY', '/%s/src' % src, headers)
    assert got == status and body, (headers, got, body)
    assert names(api, src) == ['src']


@pytest.mark.parametrize('headers,status', [
    ({'X-Copy-From': '/only'}, 412),
    ({'X-Copy-From': '%FF/x'}, 400),
    ({'X-Copy-From': 'c/o', 'X-Copy-From-Account': '/'}, 412),
])
def test_hostile_copy_from(api, src, headers, status):
    got, _h, _b = api.request('PUT', '/%s/dst' % src, dict(headers, **{'Content-Length': '0'}),
                              b'')
    assert got == status
    assert names(api, src) == ['src']


def test_missing_source_creates_nothing(api, src):
    dest = api.put_container()
    assert api.request('COPY', '/%s/nope' % src, {'Destination': '%s/o' % dest})[0] == 404
    assert api.request('PUT', '/%s/o' % dest, {'X-Copy-From': '%s/nope' % src,
                                               'Content-Length': '0'}, b'')[0] == 404
    assert api.request('COPY', '/no-such-container/x', {'Destination': '%s/o' % dest})[0] == 404
    assert names(api, dest) == []


def test_copy_answer_and_merged_metadata(api, src):
    status, h, body = api.request('COPY', '/%s/src' % src,
                                  {'Destination': '%s/copy' % src, 'X-Object-Meta-Size': 'L'})
    assert status == 201, body
    assert h['x-copied-from'] == '%s/src' % src
    assert h['x-copied-from-account'] == api.account_path.rsplit('/', 1)[1]
    assert h['x-copied-from-last-modified'] and h['etag'] == hashlib.md5(b'0123456789').hexdigest()
    status, h, body = api.request('GET', '/%s/copy' % src)
    assert (status, body) == (200, b'0123456789')
    assert h['x-object-meta-color'] == 'red' and h['x-object-meta-size'] == 'L'
    assert h['content-type'] == 'text/x-src'


def test_conditions_apply_to_the_source(api, src):
    dest = api.put_container()
    etag = hashlib.md5(b'0123456789').hexdigest()
    path = '/%s/src' % src
    assert api.request('COPY', path, {'Destination': '%s/a' % dest,
                                      'If-Match': 'nope'})[0] == 412
    assert api.request('COPY', path, {'Destination': '%s/a' % dest,
                                      'If-None-Match': '*'})[0] == 304
    assert api.request('COPY', path, {'Destination': '%s/a' % dest,
                                      'If-Modified-Since': 'Fri, 01 Jan 2100 00:00:00 GMT'}
                       )[0] == 304
    assert names(api, dest) == []
    assert api.request('COPY', path, {'Destination': '%s/a' % dest, 'If-Match': etag,
                                      'Range': 'bytes=-3'})[0] == 201
    assert api.request('GET', '/%s/a' % dest)[2] == b'789'
    assert api.request('COPY', path, {'Destination': '%s/b' % dest,
                                      'Range': 'bytes=0-1,5-6'})[0] == 400
    assert api.request('COPY', path, {'Destination': '%s/b' % dest,
                                      'Range': 'bytes=50-'})[0] == 416
    assert names(api, dest) == ['a']


def test_cross_account_denial(api, api2, src):
    closed = api2.put_container()
    account2 = api2.account_path.rsplit('/', 1)[1]
    status, _h, _b = api.request('COPY', '/%s/src' % src,
                                 {'Destination': '%s/o' % closed,
                                  'Destination-Account': account2})
    assert status == 403
    status, _h, _b = api.request('PUT', '/%s/o' % src,
                                 {'X-Copy-From': '%s/anything' % closed,
                                  'X-Copy-From-Account': account2, 'Content-Length': '0'}, b'')
    assert status == 403
    assert names(api2, closed) == [] and 'o' not in names(api, src)


def test_large_copy_streams(api):
    """16 MiB (far above buffered_put_size) copied whole and by range."""
    c = api.put_container()
    data = os.urandom(1 << 20) * 16
    api.put_object(c, 'big', data)
    status, h, body = api.request('COPY', '/%s/big' % c, {'Destination': '%s/big2' % c})
    assert status == 201, body
    assert h['etag'] == hashlib.md5(data).hexdigest()
    status, h, body = api.request('GET', '/%s/big2' % c)
    assert status == 200 and hashlib.md5(body).digest() == hashlib.md5(data).digest()
    status, _h, _b = api.request('PUT', '/%s/part' % c,
                                 {'X-Copy-From': '%s/big' % c, 'Range': 'bytes=1000-3000999',
                                  'Content-Length': '0'}, b'')
    assert status == 201
    status, h, body = api.request('HEAD', '/%s/part' % c)
    assert h['content-length'] == '3000000'
    assert h['etag'] == hashlib.md5(data[1000:3001000]).hexdigest()


def test_options_lists_copy(api, src):
    status, h, _b = api.request('OPTIONS', '/%s/src' % src)
    assert status == 200 and 'COPY' in [m.strip() for m in h['allow'].split(',')]


def test_info_lists_copy(cluster, api):
    status, _h, body = raw(api.host, api.port, 'GET', '/info')
    assert status == 200 and 'copy' in json.loads(body)
