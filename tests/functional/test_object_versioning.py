"""Object versioning (X-Versions-Enabled) end to end on a real cluster:
versions, delete markers, ?version-id, ?versions listings, hidden containers
that clients can neither reach nor list, hostile inputs, and concurrent
overwrites that all keep their versions."""
import hashlib
import json
import threading

import pytest

from tests.functional.proxy_helpers import Api, raw, unique

DM = 'application/x-deleted;swift_versions_deleted=1'


@pytest.fixture(scope='module')
def api(cluster):
    return Api(cluster)


def versioned(api):
    return api.put_container(headers={'X-Versions-Enabled': 'true'})


def put(api, c, o, body, headers=None):
    status, h, b = api.request('PUT', '/%s/%s' % (c, o), dict(headers or {}), body)
    assert status == 201, (status, b)
    return h.get('x-object-version-id')


def versions(api, c, query=''):
    status, _h, body = api.request('GET', '/' + c, query='versions' + (
        '&' + query if query else ''))
    assert status == 200, (status, body)
    return json.loads(body)


def test_enable_disable_and_info(api, cluster):
    c = versioned(api)
    _s, h, _b = api.request('HEAD', '/' + c)
    assert h['x-versions-enabled'] == 'True'
    assert not [k for k in h if 'sysmeta' in k]
    status, _h, _b = api.request('POST', '/' + c, {'X-Versions-Enabled': 'false'})
    assert status == 204
    assert api.request('HEAD', '/' + c)[1]['x-versions-enabled'] == 'False'
    info = json.loads(raw(api.host, api.port, 'GET', '/info')[2])
    assert 'object_versioning' in info


@pytest.mark.parametrize('value', ['garbage', 'ture', '2', 'x' * 300])
def test_enabled_garbage_is_400_and_changes_nothing(api, value):
    c = versioned(api)
    status, _h, body = api.request('POST', '/' + c, {'X-Versions-Enabled': value})
    assert status == 400 and b'true or false' in body
    assert api.request('HEAD', '/' + c)[1]['x-versions-enabled'] == 'True'
    status, _h, _b = api.request('PUT', '/' + unique(), {'X-Versions-Enabled': value})
    assert status == 400


def test_versions_delete_markers_and_version_ids(api):
    c = versioned(api)
    v1 = put(api, c, 'o', b'one', {'Content-Type': 'text/one'})
    v2 = put(api, c, 'o', b'two', {'Content-Type': 'text/two', 'X-Object-Meta-K': 'v'})
    assert v1 and v2 and v1 < v2
    status, h, body = api.request('GET', '/%s/o' % c)
    assert (status, body) == (200, b'two')
    assert h['x-object-version-id'] == v2
    assert h['content-location'].endswith('/%s/o?version-id=%s' % (c, v2))
    status, h, body = api.request('GET', '/%s/o' % c, query='version-id=' + v1)
    assert (status, body, h['content-type']) == (200, b'one', 'text/one')
    assert 'x-object-meta-k' not in h
    status, h, _b = api.request('DELETE', '/%s/o' % c)
    assert status == 204
    marker = h['x-object-version-id']
    assert api.request('GET', '/%s/o' % c)[0] == 404
    status, h, _b = api.request('HEAD', '/%s/o' % c, query='version-id=' + marker)
    assert status == 404 and h['x-object-version-id'] == marker
    assert h['content-type'] == DM
    listing = versions(api, c)
    assert [(e['version_id'], e['is_latest'], e['content_type']) for e in listing] == [
        (marker, True, DM), (v2, False, 'text/two'), (v1, False, 'text/one')]
    # make v1 current again
    status, h, _b = api.request('PUT', '/%s/o' % c, {'Content-Length': '0'},
                                query='version-id=' + v1)
    assert status == 201
    assert api.request('GET', '/%s/o' % c)[2] == b'one'
    assert [e['is_latest'] for e in versions(api, c)] == [False, False, True]
    # delete v1 for good: the object is gone, the others stay
    status, h, _b = api.request('DELETE', '/%s/o' % c, query='version-id=' + v1)
    assert status == 204 and h['x-object-version-id'] == v1
    assert api.request('GET', '/%s/o' % c)[0] == 404
    assert len(versions(api, c)) == 2


def test_plain_listing_shows_the_current_versions(api):
    c = versioned(api)
    put(api, c, 'a', b'12345', {'Content-Type': 'text/plain; charset=utf-8'})
    put(api, c, 'a', b'123', {'Content-Type': 'text/x'})
    status, h, body = api.request('GET', '/' + c, query='format=json')
    rows = json.loads(body)
    assert [(r['name'], r['bytes'], r['content_type'], r['hash']) for r in rows] == [
        ('a', 3, 'text/x', hashlib.md5(b'123').hexdigest())]
    status, h, body = api.request('GET', '/' + c, query='format=xml')
    assert b'swift_versions_pointer' not in body and b'<content_type>text/x<' in body
    _s, h, _b = api.request('HEAD', '/' + c)
    assert h['x-container-object-count'] == '1'
    assert int(h['x-container-bytes-used']) == 8        # both versions


def test_null_versions_are_kept(api):
    c = api.put_container()
    put(api, c, 'o', b'before')
    status, _h, _b = api.request('POST', '/' + c, {'X-Versions-Enabled': 'true'})
    assert status == 204
    assert [(e['version_id'], e['is_latest']) for e in versions(api, c)] == [('null', True)]
    v1 = put(api, c, 'o', b'after')
    listing = versions(api, c)
    assert [e['is_latest'] for e in listing] == [True, False]
    assert listing[0]['version_id'] == v1
    old = listing[1]['version_id']
    assert api.request('GET', '/%s/o' % c, query='version-id=' + old)[2] == b'before'


def test_disabled_writes_are_null_versions(api):
    c = versioned(api)
    v1 = put(api, c, 'o', b'v1')
    api.request('POST', '/' + c, {'X-Versions-Enabled': 'false'})
    assert put(api, c, 'o', b'plain') is None
    assert [(e['version_id'], e['is_latest']) for e in versions(api, c)] == [
        ('null', True), (v1, False)]
    assert api.request('DELETE', '/%s/o' % c)[0] == 204
    assert [e['version_id'] for e in versions(api, c)] == [v1]


@pytest.mark.parametrize('value,status', [
    ('bad', 400), ('-1', 400), ('1e5', 400), ('1234567890.123456', 400), ('%00', 400),
    ('%ff', 400), ('9' * 5000, 400), ('1234567890.12345', 404)])
def test_bad_version_ids(api, value, status):
    c = versioned(api)
    put(api, c, 'o', b'x')
    for method in ('GET', 'HEAD', 'DELETE'):
        got = api.request(method, '/%s/o' % c, query='version-id=' + value)[0]
        assert got in ((status,) if value != '%ff' else (400, 412)), (method, got)
    assert api.request('GET', '/%s/o' % c)[2] == b'x'


def test_version_ids_need_a_versioned_container_and_put_rules(api):
    c = api.put_container()
    put(api, c, 'o', b'x')
    assert api.request('GET', '/%s/o' % c, query='version-id=1234567890.12345')[0] == 400
    v = versioned(api)
    vid = put(api, v, 'o', b'x')
    assert api.request('POST', '/%s/o' % v, query='version-id=' + vid)[0] == 400
    assert api.request('PUT', '/%s/o' % v, {'Content-Length': '0'},
                       query='version-id=null')[0] == 400
    assert api.request('PUT', '/%s/o' % v, {}, b'body', query='version-id=' + vid)[0] == 400


def test_delete_versioned_container(api):
    c = versioned(api)
    vid = put(api, c, 'o', b'x')
    status, h, _b = api.request('DELETE', '/%s/o' % c)
    marker = h['x-object-version-id']
    assert api.request('DELETE', '/' + c)[0] == 409
    api.request('POST', '/' + c, {'X-Versions-Enabled': 'false'})
    assert api.request('DELETE', '/' + c)[0] == 409
    for v in (vid, marker):
        assert api.request('DELETE', '/%s/o' % c, query='version-id=' + v)[0] == 204
    assert api.request('DELETE', '/' + c)[0] == 204
    assert api.request('HEAD', '/' + c)[0] == 404


def test_hidden_containers_stay_hidden(api):
    c = versioned(api)
    put(api, c, 'o', b'x')
    status, _h, body = api.request('GET', '', query='format=json&prefix=')
    names = [e['name'] for e in json.loads(body)]
    assert c in names and not [n for n in names if '\x00' in n]
    # clients cannot name reserved containers, with or without the backend header
    for headers in ({}, {'X-Backend-Allow-Reserved-Names': 'true'}):
        path = '%s/%%00versions%%00%s' % (api.account_path, c)
        hdrs = dict(headers, **{'X-Auth-Token': api.token})
        assert raw(api.host, api.port, 'GET', path, hdrs)[0] == 412
        assert raw(api.host, api.port, 'PUT', path + '/x', hdrs, b'evil')[0] == 412
        assert raw(api.host, api.port, 'DELETE', path, hdrs)[0] == 412
    assert len(versions(api, c)) == 1


def test_versions_listing_is_json_only(api):
    c = versioned(api)
    for query in ('format=xml', 'format=plain'):
        assert api.request('GET', '/' + c, query='versions&' + query)[0] == 406
    for accept in ('text/plain', 'application/xml', 'foo/bar'):
        assert api.request('GET', '/' + c, {'Accept': accept}, query='versions')[0] == 406
    assert api.request('GET', '/' + c, query='versions&version_marker=bad&marker=a')[0] == 400
    assert api.request('GET', '/' + c, query='versions&limit=10001')[0] == 412


def test_acl_reader_reads_current_but_not_versions(api, cluster):
    c = versioned(api)
    vid = put(api, c, 'o', b'data')
    other = Api(cluster, 'test:tester3')
    path = '%s/%s/o' % (api.account_path, c)
    assert raw(api.host, api.port, 'GET', path, {'X-Auth-Token': other.token})[0] == 403
    api.request('POST', '/' + c, {'X-Container-Read': 'test:tester3'})
    status, _h, body = raw(api.host, api.port, 'GET', path, {'X-Auth-Token': other.token})
    assert (status, body) == (200, b'data')
    status, _h, _b = raw(api.host, api.port, 'GET', path + '?version-id=' + vid,
                         {'X-Auth-Token': other.token})
    assert status == 403


def test_expired_pointer_keeps_its_version(api):
    c = versioned(api)
    vid = put(api, c, 'o', b'data', {'X-Delete-At': '4102444800'})
    _s, h, _b = api.request('HEAD', '/%s/o' % c, query='version-id=' + vid)
    assert 'x-delete-at' not in h       # the bytes never expire, only the pointer


def test_post_changes_the_current_version(api):
    c = versioned(api)
    vid = put(api, c, 'o', b'version1', {'Content-Type': 'text/one'})
    status, _h, _b = api.request('POST', '/%s/o' % c, {'Content-Type': 'text/updated',
                                                       'X-Object-Meta-Color': 'red'})
    assert status == 202
    _s, h, _b = api.request('HEAD', '/%s/o' % c)
    assert h['content-type'] == 'text/updated' and h['x-object-meta-color'] == 'red'
    listing = versions(api, c)
    assert [(e['version_id'], e['content_type'], e['is_latest']) for e in listing] == [
        (vid, 'text/updated', True)]
    rows = json.loads(api.request('GET', '/' + c, query='format=json')[2])
    assert rows[0]['content_type'] == 'text/updated'


def test_concurrent_overwrites_keep_every_acknowledged_version(api):
    c = versioned(api)
    acknowledged = []
    refused = []
    lock = threading.Lock()

    def writer(i):
        body = b'body-%d' % i
        status, h, b = api.request('PUT', '/%s/o' % c, {}, body)
        with lock:
            if status == 201:
                acknowledged.append((h['x-object-version-id'], body))
            else:
                refused.append((status, b[:200]))
    threads = [threading.Thread(target=writer, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(acknowledged) == 12, refused
    listed = {e['version_id'] for e in versions(api, c)}
    assert listed == {vid for vid, _b in acknowledged}
    for vid, body in acknowledged:
        assert api.request('GET', '/%s/o' % c, query='version-id=' + vid)[2] == body
    latest = [e for e in versions(api, c) if e['is_latest']]
    assert len(latest) == 1
    assert api.request('GET', '/%s/o' % c)[2] == dict(acknowledged)[latest[0]['version_id']]


def test_failed_put_leaves_no_version_and_keeps_the_current(api):
    c = versioned(api)
    vid = put(api, c, 'o', b'good')
    status, _h, _b = api.request('PUT', '/%s/o' % c, {'ETag': 'a' * 32}, b'bad')
    assert status == 422
    assert [e['version_id'] for e in versions(api, c)] == [vid]
    assert api.request('GET', '/%s/o' % c)[2] == b'good'


def test_hostile_names_and_markers(api):
    c = versioned(api)
    path = '%s/%s/bad%%ff' % (api.account_path, c)
    hdrs = {'X-Auth-Token': api.token}
    assert raw(api.host, api.port, 'PUT', path, hdrs, b'x')[0] == 412
    assert raw(api.host, api.port, 'DELETE', path, hdrs)[0] == 412
    assert versions(api, c) == []
    for query in ('marker=a&version_marker=' + '9' * 3000,
                  'prefix=%ff', 'delimiter=%00'):
        status = api.request('GET', '/' + c, query='versions&' + query)[0]
        assert status in (400, 412), (query, status)
    assert api.request('GET', '/' + c, query='versions&marker=' + 'z' * 2000)[0] in (200, 412)


def test_versioned_slo_lists_its_size_and_deletes_one_version_with_its_segments(api):
    c = versioned(api)
    segs = api.put_container()
    seg_body = {'a': b'a' * 1000, 'b': b'b' * 2000}
    for name, body in seg_body.items():
        put(api, segs, name, body)
    ids = {}
    for name, body in seg_body.items():
        manifest = json.dumps([{'path': '/%s/%s' % (segs, name),
                                'etag': hashlib.md5(body).hexdigest(),
                                'size_bytes': len(body)}])
        status, h, b = api.request('PUT', '/%s/slo' % c, {}, manifest.encode(),
                                   query='multipart-manifest=put')
        assert status == 201, (status, b)
        ids[name] = h['x-object-version-id']
    # both the current listing and the versions listing show the large
    # object's size, not its manifest's
    status, _h, body = api.request('GET', '/' + c, query='format=json')
    assert [row['bytes'] for row in json.loads(body)] == [2000]
    assert sorted(row['bytes'] for row in versions(api, c)) == [1000, 2000]
    # the older version goes with its segment; no delete marker is written
    status, _h, body = api.request('DELETE', '/%s/slo' % c, {'Accept': 'application/json'},
                                   query='multipart-manifest=delete&version-id=' + ids['a'])
    result = json.loads(body)
    assert status == 200 and result['Number Deleted'] == 2, body
    assert [row['version_id'] for row in versions(api, c)] == [ids['b']]
    assert api.request('HEAD', '/%s/a' % segs)[0] == 404
    status, _h, body = api.request('GET', '/%s/slo' % c)
    assert (status, body) == (200, seg_body['b'])
