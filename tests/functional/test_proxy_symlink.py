"""Symlinks (the symlink middleware) through a real cluster: links, static
links, loops, listings, links across accounts and hostile link headers."""
import hashlib
import json

import pytest

from tests.functional.proxy_helpers import Api, raw, unique

BODY = b'target body'


def md5hex(data):
    return hashlib.md5(data).hexdigest()


@pytest.fixture(scope='module')
def api(cluster):
    return Api(cluster)


@pytest.fixture(scope='module')
def api2(cluster):
    return Api(cluster, 'test2:tester2')


@pytest.fixture
def cont(api):
    name = api.put_container(unique('sym'))
    api.put_object(name, 'tgt', BODY, {'Content-Type': 'application/target'})
    return name


def put_link(api, cont, name, target, **headers):
    hdrs = {'X-Symlink-Target': target, 'Content-Length': '0'}
    hdrs.update({k.replace('_', '-'): v for k, v in headers.items()})
    return api.request('PUT', '/%s/%s' % (cont, name), hdrs, b'')


def test_link_get_head_and_itself(api, cont):
    assert put_link(api, cont, 'l', '%s/tgt' % cont)[0] == 201
    location = '%s/%s/tgt' % (api.account_path, cont)
    status, h, body = api.request('GET', '/%s/l' % cont)
    assert (status, body) == (200, BODY)
    assert h['content-location'] == location and h['etag'] == md5hex(BODY)
    assert h['content-type'] == 'application/target'
    status, h, body = api.request('HEAD', '/%s/l' % cont)
    assert (status, h['content-length']) == (200, '11')
    status, h, body = api.request('GET', '/%s/l' % cont, query='symlink=get')
    assert (status, body, h['x-symlink-target']) == (200, b'', '%s/tgt' % cont)
    assert h['content-type'] == 'application/symlink' and h['etag'] == md5hex(b'')
    assert not any('sysmeta' in k for k in h)
    assert api.request('GET', '/%s/l' % cont, {'Range': 'bytes=7-10'})[2] == b'body'
    assert api.request('GET', '/%s/l' % cont, {'If-Match': md5hex(BODY)})[0] == 200
    assert api.request('GET', '/%s/l' % cont, {'If-Match': 'nope'})[0] == 412
    assert api.request('HEAD', '/%s/l' % cont, {'If-None-Match': md5hex(BODY)})[0] == 304
    # POST changes the link and points at the target
    status, h, _b = api.request('POST', '/%s/l' % cont, {'X-Object-Meta-A': 'b'})
    assert (status, h['location']) == (307, location)
    h = api.request('HEAD', '/%s/l' % cont, query='symlink=get')[1]
    assert h['x-object-meta-a'] == 'b'
    assert 'x-object-meta-a' not in api.request('HEAD', '/%s/l' % cont)[1]
    # DELETE removes the link only
    assert api.request('DELETE', '/%s/l' % cont)[0] == 204
    assert api.request('GET', '/%s/tgt' % cont)[2] == BODY


def test_static_link_and_listing(api, cont):
    etag = md5hex(BODY)
    assert put_link(api, cont, 'dyn', '%s/tgt' % cont)[0] == 201
    assert put_link(api, cont, 'st', '%s/tgt' % cont, X_Symlink_Target_Etag=etag)[0] == 201
    h = api.request('HEAD', '/%s/st' % cont, query='symlink=get')[1]
    assert (h['x-symlink-target-etag'], h['x-symlink-target-bytes']) == (etag, '11')
    rows = {r['name']: r for r in json.loads(
        api.request('GET', '/' + cont, query='format=json')[2])}
    path = '/v1/%s/%s/tgt' % (api.account_path.split('/')[-1], cont)
    assert rows['dyn']['symlink_path'] == path and 'symlink_etag' not in rows['dyn']
    assert rows['dyn']['content_type'] == 'application/symlink'
    assert rows['dyn']['bytes'] == 0 and rows['dyn']['hash'] == md5hex(b'')
    assert (rows['st']['symlink_etag'], rows['st']['symlink_bytes']) == (etag, 11)
    assert rows['st']['content_type'] == 'application/target'
    assert 'symlink_path' not in rows['tgt']
    xml = api.request('GET', '/' + cont, query='format=xml')[2]
    assert b'symlink_target' not in xml and b'<content_type>application/symlink<' in xml
    # a POST with a new type: listed, the link kept
    assert api.request('POST', '/%s/st' % cont, {'Content-Type': 'application/foo'})[0] == 307
    rows = {r['name']: r for r in json.loads(
        api.request('GET', '/' + cont, query='format=json')[2])}
    assert rows['st']['content_type'] == 'application/foo'
    assert rows['st']['symlink_path'] == path
    # the target changes: the static link no longer reads, the dynamic one does
    api.put_object(cont, 'tgt', b'changed')
    status, h, body = api.request('GET', '/%s/st' % cont)
    assert status == 409 and h['content-location'].endswith('/%s/tgt' % cont)
    assert api.request('GET', '/%s/dyn' % cont)[2] == b'changed'
    api.request('DELETE', '/%s/tgt' % cont)
    assert api.request('GET', '/%s/st' % cont)[0] == 404
    assert api.request('GET', '/%s/dyn' % cont)[0] == 404
    status, _h, body = put_link(api, cont, 'st2', '%s/tgt' % cont, X_Symlink_Target_Etag=etag)
    assert (status, body) == (409, b'X-Symlink-Target does not exist')


def test_loops(api, cont, cluster):
    assert put_link(api, cont, 'a', '%s/b' % cont)[0] == 201
    assert put_link(api, cont, 'b', '%s/a' % cont)[0] == 201
    status, _h, body = api.request('GET', '/%s/a' % cont)
    assert status == 409 and body.startswith(b'Too many levels of symbolic links')
    assert api.request('HEAD', '/%s/b' % cont)[0] == 409
    assert api.request('GET', '/%s/a' % cont, query='symlink=get')[0] == 200
    status, _h, body = put_link(api, cont, 'self', '%s/self' % cont)
    assert (status, body) == (400, b'Symlink cannot target itself')
    assert api.request('COPY', '/%s/a' % cont, {'Destination': '%s/copy' % cont})[0] == 409


def test_copies(api, cont):
    assert put_link(api, cont, 'l', '%s/tgt' % cont)[0] == 201
    # of the target
    assert api.request('PUT', '/%s/c1' % cont, {'X-Copy-From': '%s/l' % cont,
                                               'Content-Length': '0'})[0] == 201
    status, h, body = api.request('GET', '/%s/c1' % cont)
    assert (status, body) == (200, BODY) and 'content-location' not in h
    assert h['content-type'] == 'application/target'
    assert api.request('COPY', '/%s/l' % cont, {'Destination': '%s/c2' % cont})[0] == 201
    assert api.request('GET', '/%s/c2' % cont, query='symlink=get')[2] == BODY
    # of the link
    assert api.request('COPY', '/%s/l' % cont, {'Destination': '%s/l2' % cont},
                       query='symlink=get')[0] == 201
    assert api.request('PUT', '/%s/l3' % cont, {'X-Copy-From': '%s/l' % cont,
                                               'Content-Length': '0'},
                       query='symlink=get')[0] == 201
    for name in ('l2', 'l3'):
        h = api.request('HEAD', '/%s/%s' % (cont, name), query='symlink=get')[1]
        assert h['x-symlink-target'] == '%s/tgt' % cont
        assert api.request('GET', '/%s/%s' % (cont, name))[2] == BODY


def test_link_to_a_dlo(api, cont):
    segs = api.put_container(unique('segs'))
    for letter in 'abc':
        api.put_object(segs, 'p/%s' % letter, letter.encode() * 4)
    api.put_object(cont, 'man', b'', {'X-Object-Manifest': '%s/p/' % segs})
    assert put_link(api, cont, 'l', '%s/man' % cont)[0] == 201
    assert api.request('GET', '/%s/l' % cont)[2] == b'aaaabbbbcccc'
    assert api.request('GET', '/%s/l' % cont, {'Range': 'bytes=3-5'})[2] == b'abb'
    status, h, body = api.request('GET', '/%s/l' % cont, query='multipart-manifest=get')
    assert (status, body) == (200, b'') and h['x-object-manifest'] == '%s/p/' % segs


def test_across_accounts(api, api2, cont):
    cont2 = api2.put_container(unique('sym2'))
    account = api.account_path.split('/')[-1]
    assert put_link(api2, cont2, 'l', '%s/tgt' % cont, X_Symlink_Target_Account=account)[0] \
        == 201
    status, h, body = api2.request('GET', '/%s/l' % cont2)
    assert status == 403 and BODY not in body
    assert h['content-location'] == '/v1/%s/%s/tgt' % (account, cont)
    # a static link needs the read right to be written
    assert put_link(api2, cont2, 's', '%s/tgt' % cont, X_Symlink_Target_Account=account,
                    X_Symlink_Target_Etag=md5hex(BODY))[0] == 403
    # nor may a copy through the link read it
    assert api2.request('COPY', '/%s/l' % cont2, {'Destination': '%s/x' % cont2})[0] == 403
    assert api2.request('PUT', '/%s/x' % cont2, {'X-Copy-From': '%s/l' % cont2,
                                                'Content-Length': '0'})[0] == 403
    assert api2.request('GET', '/%s/x' % cont2)[0] == 404
    user2 = 'test2:tester2'
    assert api.request('POST', '/' + cont, {'X-Container-Read': user2})[0] == 204
    assert api2.request('GET', '/%s/l' % cont2)[2] == BODY
    assert put_link(api2, cont2, 's', '%s/tgt' % cont, X_Symlink_Target_Account=account,
                    X_Symlink_Target_Etag=md5hex(BODY))[0] == 201


@pytest.mark.parametrize('headers,body,status', [
    ({'X-Symlink-Target': 'no-container'}, b'', 412),
    ({'X-Symlink-Target': '/leading/slash'}, b'', 412),
    ({'X-Symlink-Target': 'c/'}, b'', 412),
    ({'X-Symlink-Target': 'c/%FF%FE'}, b'', 400),
    ({'X-Symlink-Target': 'c/a%00b'}, b'', 400),
    ({'X-Symlink-Target': 'c/' + 'x' * 1100}, b'', 400),
    ({'X-Symlink-Target': 'c/o', 'X-Symlink-Target-Account': 'a%2Fb'}, b'', 412),
    ({'X-Symlink-Target': 'c/o', 'X-Symlink-Target-Account': 'A%00'}, b'', 400),
    ({'X-Symlink-Target': 'c/o', 'X-Symlink-Target-Etag': '"a;b"'}, b'', 400),
    ({'X-Symlink-Target': 'c/o', 'X-Symlink-Target-Etag': 'e' * 300}, b'', 400),
    ({'X-Symlink-Target': 'c/o'}, b'a body', 400),
    ({'X-Symlink-Target': 'c/o', 'Transfer-Encoding': 'chunked'}, b'chunked body', 400),
    ({'Content-Type': 'text/plain;symlink_target=c/o'}, b'', 400),
])
def test_hostile_link_headers(api, cont, headers, body, status):
    hdrs = dict(headers)
    if 'Transfer-Encoding' not in hdrs:
        hdrs['Content-Length'] = str(len(body))
    got, _h, reason = api.request('PUT', '/%s/bad' % cont, hdrs, body)
    assert got == status and reason, (got, reason)
    assert api.request('HEAD', '/%s/bad' % cont)[0] == 404
    assert api.request('POST', '/%s/tgt' % cont, {'X-Symlink-Target': 'c/o'})[0] == 400
    assert api.request('GET', '/%s/tgt' % cont)[2] == BODY


def test_info(api):
    status, _h, body = raw(api.host, api.port, 'GET', '/info')
    assert status == 200
    assert json.loads(body)['symlink'] == {'symloop_max': 2, 'static_links': True}
