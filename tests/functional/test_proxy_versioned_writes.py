"""Object versioning with a versions container (the versioned_writes
middleware) through a real cluster: stack and history modes, hostile
settings, missing or inaccessible versions containers, large and DLO
objects, and concurrent overwrites."""
import hashlib
import json
import threading

import pytest

from tests.functional.proxy_helpers import Api, raw, unique

MARKER = 'application/x-deleted;swift_versions_deleted=1'


def md5hex(data):
    return hashlib.md5(data).hexdigest()


@pytest.fixture(scope='module')
def api(cluster):
    return Api(cluster)


@pytest.fixture(scope='module')
def api2(cluster):
    return Api(cluster, 'test2:tester2')


@pytest.fixture(scope='module')
def api3(cluster):
    return Api(cluster, 'test:tester3')


def listing(api, container, prefix=''):
    status, _h, body = api.request('GET', '/' + container,
                                   query='format=json&prefix=%s' % prefix)
    assert status in (200, 204), (status, body)
    return json.loads(body) if status == 200 else []


def versioned(api, mode='X-Versions-Location'):
    versions = api.put_container(unique('vers'))
    objs = api.put_container(unique('objs'), {mode: versions})
    return objs, versions


def read(api, container, obj):
    status, h, body = api.request('GET', '/%s/%s' % (container, obj))
    return status, body, h


def test_info_and_container_headers(api, cluster):
    status, _h, body = raw(api.host, api.port, 'GET', '/info')
    assert json.loads(body)['versioned_writes'] == {
        'allowed_flags': ['x-versions-location', 'x-history-location']}
    objs, versions = versioned(api)
    _s, h, _b = api.request('HEAD', '/' + objs)
    assert h['x-versions-location'] == versions and 'x-history-location' not in h
    assert not [k for k in h if 'sysmeta' in k]
    assert api.request('POST', '/' + objs, {'X-History-Location': versions})[0] == 204
    _s, h, _b = api.request('GET', '/' + objs)
    assert h['x-history-location'] == versions and 'x-versions-location' not in h
    assert api.request('POST', '/' + objs, {'X-Remove-Versions-Location': 'x'})[0] == 204
    _s, h, _b = api.request('HEAD', '/' + objs)
    assert 'x-history-location' not in h and 'x-versions-location' not in h


def test_stack_mode(api):
    objs, versions = versioned(api)
    api.put_object(objs, 'o', b'one', {'Content-Type': 'text/one',
                                       'Content-Disposition': 'attachment',
                                       'X-Object-Meta-Color': 'red'})
    api.put_object(objs, 'o', b'two', {'Content-Type': 'text/two'})
    assert api.request('POST', '/%s/o' % objs, {'X-Object-Meta-Fu': 'baz'})[0] == 202
    api.put_object(objs, 'o', b'three')
    items = listing(api, versions)
    assert [i['name'][:5] for i in items] == ['001o/', '001o/']
    assert [i['content_type'] for i in items] == ['text/one', 'text/two']
    status, body, h = read(api, versions, items[1]['name'])
    assert (status, body) == (200, b'two') and h['x-object-meta-fu'] == 'baz'
    # deletes pop the versions back, with their headers
    assert api.request('DELETE', '/%s/o' % objs)[0] == 204
    assert read(api, objs, 'o')[1] == b'two'
    assert api.request('DELETE', '/%s/o' % objs)[0] == 204
    status, body, h = read(api, objs, 'o')
    assert body == b'one' and h['content-type'] == 'text/one'
    assert h['content-disposition'] == 'attachment' and h['x-object-meta-color'] == 'red'
    assert listing(api, versions) == []
    assert api.request('DELETE', '/%s/o' % objs)[0] == 204
    assert read(api, objs, 'o')[0] == 404


def test_history_mode(api):
    objs, versions = versioned(api, 'X-History-Location')
    api.put_object(objs, 'h\u00e9', b'one')
    api.put_object(objs, 'h\u00e9', b'two')
    assert api.request('DELETE', '/%s/h\u00e9' % objs)[0] == 204
    assert read(api, objs, 'h\u00e9')[0] == 404
    assert api.request('DELETE', '/%s/h\u00e9' % objs)[0] == 404
    items = listing(api, versions)
    assert all(i['name'].startswith('003h\u00e9/') for i in items)
    assert [i['content_type'] for i in items][1:] == ['application/octet-stream', MARKER,
                                                      MARKER]
    assert [read(api, versions, i['name'])[1] for i in items] == [b'one', b'two', b'', b'']


@pytest.mark.parametrize('headers,status', [
    ({'X-Versions-Location': 'a', 'X-History-Location': 'b'}, 400),
    ({'X-Versions-Location': 'a/b'}, 412),
    ({'X-Versions-Location': 'a%2Fb'}, 412),
    ({'X-History-Location': '%FF%FE'}, 400),
    ({'X-History-Location': b'\xff'.decode('latin-1')}, 400),
    ({'X-Versions-Location': 'x' * 257}, 400),
    ({'X-Versions-Location': 'a%00b'}, 400),
])
def test_bad_locations_change_nothing(api, headers, status):
    objs, versions = versioned(api)
    for method in ('POST', 'PUT'):
        got, _h, body = api.request(method, '/' + objs, headers)
        assert got == status and body, (method, got, body)
    _s, h, _b = api.request('HEAD', '/' + objs)
    assert h['x-versions-location'] == versions
    fresh = unique('fresh')
    assert api.request('PUT', '/' + fresh, headers)[0] == status
    assert api.request('HEAD', '/' + fresh)[0] == 404


def test_missing_versions_container(api):
    objs = api.put_container(unique('objs'), {'X-Versions-Location': unique('gone')})
    api.put_object(objs, 'o', b'one')
    status, _h, body = api.request('PUT', '/%s/o' % objs, {}, b'two')
    assert status == 412 and b'versions container' in body
    assert read(api, objs, 'o')[1] == b'one'
    hist = api.put_container(unique('hist'), {'X-History-Location': unique('gone')})
    api.put_object(hist, 'o', b'one')
    assert api.request('DELETE', '/%s/o' % hist)[0] == 412
    assert read(api, hist, 'o')[1] == b'one'


def test_versions_container_without_access(api, api2, api3):
    versions = api.put_container(unique('vers'), {'X-Container-Write': ''})
    objs = api.put_container(unique('objs'), {'X-Container-Write': 'test2:tester2',
                                              'X-Versions-Location': versions})
    path = api.account_path
    assert raw(api2.host, api2.port, 'PUT', '%s/%s/x' % (path, versions),
               {'X-Auth-Token': api2.token}, b'no')[0] == 403
    # a writer of the container cannot move its versions elsewhere ...
    status, _h, _b = raw(api2.host, api2.port, 'POST', '%s/%s' % (path, objs),
                         {'X-Auth-Token': api2.token, 'X-Versions-Location': 'elsewhere'})
    assert status == 403
    # ... but its overwrites are versioned in a container it cannot touch
    for body in (b'first', b'second'):
        status, _h, _b = raw(api2.host, api2.port, 'PUT', '%s/%s/o' % (path, objs),
                             {'X-Auth-Token': api2.token}, body)
        assert status == 201
    items = listing(api, versions)
    assert len(items) == 1 and read(api, versions, items[0]['name'])[1] == b'first'
    version_path = '%s/%s/%s' % (path, versions, items[0]['name'])
    assert raw(api2.host, api2.port, 'GET', version_path,
               {'X-Auth-Token': api2.token})[0] == 403
    # a user without access changes nothing
    for method in ('PUT', 'DELETE'):
        status, _h, _b = raw(api3.host, api3.port, method, '%s/%s/o' % (path, objs),
                             {'X-Auth-Token': api3.token}, b'evil')
        assert status == 403
    assert len(listing(api, versions)) == 1 and read(api, objs, 'o')[1] == b'second'
    # the writer's delete restores the version it cannot read
    status, _h, _b = raw(api2.host, api2.port, 'DELETE', '%s/%s/o' % (path, objs),
                         {'X-Auth-Token': api2.token})
    assert status == 204 and read(api, objs, 'o')[1] == b'first'


def test_large_objects_stream_intact(api):
    objs, versions = versioned(api)
    big = bytes(range(256)) * 4096 + b'tail'            # 1 MiB + 4: a streamed PUT
    api.put_object(objs, 'big', big)
    api.put_object(objs, 'big', b'small')
    items = listing(api, versions)
    assert items[0]['bytes'] == len(big) and items[0]['hash'] == md5hex(big)
    assert read(api, versions, items[0]['name'])[1] == big
    assert api.request('DELETE', '/%s/big' % objs)[0] == 204
    status, body, h = read(api, objs, 'big')
    assert body == big and h['etag'] == md5hex(big)


def test_dlo_manifest_is_versioned_as_a_manifest(api):
    objs, versions = versioned(api)
    for i in '12':
        api.put_object(objs, 'seg/%s' % i, i.encode())
    api.put_object(objs, 'man', b'plain')
    api.put_object(objs, 'man', b'', {'X-Object-Manifest': '%s/seg/' % objs})
    assert read(api, objs, 'man')[1] == b'12'
    api.put_object(objs, 'man', b'plain again')
    (item,) = listing(api, versions, '003man/')[1:]
    status, body, h = read(api, versions, item['name'])
    assert body == b'12' and h['x-object-manifest'] == '%s/seg/' % objs
    assert api.request('DELETE', '/%s/man' % objs)[0] == 204
    status, body, h = read(api, objs, 'man')
    assert body == b'12' and h['x-object-manifest'] == '%s/seg/' % objs


def test_copies_version_their_destination(api):
    objs, versions = versioned(api)
    src = api.put_container()
    api.put_object(src, 's', b'source')
    api.put_object(objs, 'o', b'one')
    assert api.request('COPY', '/%s/s' % src, {'Destination': '%s/o' % objs})[0] == 201
    assert api.request('PUT', '/%s/o' % objs, {'X-Copy-From': '%s/s' % src}, b'')[0] == 201
    assert api.request('COPY', '/%s/gone' % src, {'Destination': '%s/o' % objs})[0] == 404
    assert [read(api, versions, i['name'])[1] for i in listing(api, versions)] == \
        [b'one', b'source']


def test_concurrent_overwrites_lose_no_acknowledged_version(api):
    objs, versions = versioned(api)
    api.put_object(objs, 'o', b'v-initial')
    results = {}

    def write(i):
        body = b'v-%02d' % i + b'.' * (i * 7000)          # some buffered, some streamed
        status, _h, _b = api.request('PUT', '/%s/o' % objs, {}, body)
        results[body] = status
    threads = [threading.Thread(target=write, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    acknowledged = {body for body, status in results.items() if status == 201}
    assert len(acknowledged) == 16, results.values()
    kept = [read(api, versions, i['name'])[1] for i in listing(api, versions)]
    current = read(api, objs, 'o')[1]
    assert sorted(kept + [current]) == sorted(acknowledged | {b'v-initial'})


def test_a_name_too_long_to_version_is_refused_and_kept(api):
    objs, versions = versioned(api)
    name = 'n' * 1020                           # its version name would pass 1024 bytes
    api.put_object(objs, name, b'one')
    status, _h, body = api.request('PUT', '/%s/%s' % (objs, name), {}, b'two')
    assert status == 400 and body
    assert read(api, objs, name)[1] == b'one' and listing(api, versions) == []


def test_a_location_naming_its_own_container(api):
    objs = unique('self')
    api.put_container(objs, {'X-Versions-Location': objs})
    api.put_object(objs, 'o', b'one')
    api.put_object(objs, 'o', b'two')
    names = [i['name'] for i in listing(api, objs)]
    assert len(names) == 2 and names[0].startswith('001o/') and names[1] == 'o'
    assert api.request('DELETE', '/%s/o' % objs)[0] == 204
    assert read(api, objs, 'o')[1] == b'one' and len(listing(api, objs)) == 1
