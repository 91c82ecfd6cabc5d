import json
import os

import pytest

from swiftlike.container import server
from swiftlike.hashing import hash_path
from tests.unit.db.helpers import call, make_conf


@pytest.fixture
def app(tmp_path):
    return server.App(make_conf(server.Conf, str(tmp_path)))


def ts(n):
    return '%010d.00000' % n


def put_container(app, name='c', t=1, headers=None, account='a'):
    h = {'X-Timestamp': ts(t)}
    h.update(headers or {})
    return call(app, 'PUT', '/sda/1/%s/%s' % (account, name), h)


def put_obj(app, name, t=2, size=10, container='c', ctype='text/plain', etag='abc'):
    return call(app, 'PUT', '/sda/1/a/%s/%s' % (container, name),
                {'X-Timestamp': ts(t), 'X-Size': str(size), 'X-Content-Type': ctype,
                 'X-Etag': etag})


def test_module_convention():
    assert server.CONF_SECTION == 'container-server'
    assert issubclass(server.Conf, server.DBServerConf)


def test_put_creates_then_accepts(app, tmp_path):
    assert put_container(app)[0] == 201
    digest = hash_path('a', 'c')
    db = tmp_path / 'sda' / 'containers' / '1' / digest[-3:] / digest / (digest + '.db')
    assert db.exists()
    assert put_container(app, t=2)[0] == 202
    status, headers, _ = call(app, 'HEAD', '/sda/1/a/c')
    assert status == 204
    assert headers['X-PUT-Timestamp'] == ts(2)
    assert headers['X-Container-Object-Count'] == '0'


def test_head_get_absent_404(app):
    assert call(app, 'HEAD', '/sda/1/a/nope')[0] == 404
    assert call(app, 'GET', '/sda/1/a/nope')[0] == 404


def test_object_rows_stats_and_newest_wins(app):
    put_container(app)
    assert put_obj(app, 'o1', t=5, size=10)[0] == 201
    assert put_obj(app, 'o2', t=5, size=20)[0] == 201
    assert put_obj(app, 'o1', t=4, size=999)[0] == 201   # older: ignored
    assert put_obj(app, 'o2', t=6, size=1)[0] == 201     # newer: replaces
    status, headers, _ = call(app, 'HEAD', '/sda/1/a/c')
    assert headers['X-Container-Object-Count'] == '2'
    assert headers['X-Container-Bytes-Used'] == '11'
    assert call(app, 'DELETE', '/sda/1/a/c/o1', {'X-Timestamp': ts(3)})[0] == 204  # older
    assert call(app, 'DELETE', '/sda/1/a/c/o1', {'X-Timestamp': ts(7)})[0] == 204
    status, headers, body = call(app, 'GET', '/sda/1/a/c')
    assert status == 200 and body == b'o2\n'
    assert headers['X-Container-Object-Count'] == '1'
    assert headers['X-Container-Bytes-Used'] == '1'
    assert put_obj(app, 'o1', t=6)[0] == 201  # older than the delete
    assert call(app, 'GET', '/sda/1/a/c')[2] == b'o2\n'


def test_object_row_for_absent_container_404(app):
    assert put_obj(app, 'o', container='nope')[0] == 404
    assert call(app, 'DELETE', '/sda/1/a/nope/o', {'X-Timestamp': ts(2)})[0] == 404


def test_auto_create_account_prefix(app):
    status = call(app, 'PUT', '/sda/1/.expiring/c/o',
                  {'X-Timestamp': ts(2), 'X-Size': '0', 'X-Content-Type': 't', 'X-Etag': 'e'})[0]
    assert status == 201
    assert call(app, 'GET', '/sda/1/.expiring/c')[2] == b'o\n'


def test_listing_formats(app):
    put_container(app)
    put_obj(app, 'a/1', size=3, etag='e1', ctype='image/png')
    put_obj(app, 'b', size=4, etag='e2')
    status, headers, body = call(app, 'GET', '/sda/1/a/c', query='format=json&delimiter=/')
    assert status == 200 and headers['Content-Type'] == 'application/json; charset=utf-8'
    items = json.loads(body)
    assert items[0] == {'subdir': 'a/'}
    assert items[1]['name'] == 'b' and items[1]['bytes'] == 4 and items[1]['hash'] == 'e2'
    assert items[1]['content_type'] == 'text/plain'
    assert items[1]['last_modified'] == '1970-01-01T00:00:02.000000'
    status, headers, body = call(app, 'GET', '/sda/1/a/c', {'Accept': 'application/xml'})
    assert headers['Content-Type'] == 'application/xml; charset=utf-8'
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<container name="c">')
    assert b'<object><name>a/1</name><hash>e1</hash><bytes>3</bytes>' in body
    status, headers, body = call(app, 'GET', '/sda/1/a/c', {'Accept': 'text/plain'})
    assert body == b'a/1\nb\n' and headers['Content-Type'] == 'text/plain; charset=utf-8'
    assert call(app, 'GET', '/sda/1/a/c', query='format=json&prefix=zzz')[2] == b'[]'
    assert call(app, 'GET', '/sda/1/a/c', query='prefix=zzz')[0] == 204


def test_listing_params(app):
    put_container(app)
    for name in ('a', 'b', 'c', 'd/e', 'd/f', 'd/g/h', '\u00e9', '\U0001f600'):
        put_obj(app, name)
    get = lambda q: call(app, 'GET', '/sda/1/a/c', query=q)[2].decode('utf-8').splitlines()
    assert get('') == ['a', 'b', 'c', 'd/e', 'd/f', 'd/g/h', '\u00e9', '\U0001f600']
    assert get('limit=2') == ['a', 'b']
    assert get('marker=b&end_marker=d/f') == ['c', 'd/e']
    assert get('reverse=true&limit=3') == ['\U0001f600', '\u00e9', 'd/g/h']
    assert get('delimiter=/') == ['a', 'b', 'c', 'd/', '\u00e9', '\U0001f600']
    assert get('prefix=d/&delimiter=/') == ['d/e', 'd/f', 'd/g/']
    assert get('path=d') == ['d/e', 'd/f']
    assert get('marker=%C3%A9') == ['\U0001f600']


@pytest.mark.parametrize('query,status', [
    ('limit=10001', 412), ('format=yaml', 400), ('marker=%FF', 400),
    ('prefix=%00', 400), ('marker=' + 'x' * 1025, 412), ('delimiter=' + 'x' * 257, 412),
])
def test_bad_listing_params(app, query, status):
    put_container(app)
    got, _, body = call(app, 'GET', '/sda/1/a/c', query=query)
    assert got == status and body


def test_limit_max_allowed(app):
    put_container(app)
    assert call(app, 'GET', '/sda/1/a/c', query='limit=10000')[0] == 204


def test_unacceptable_accept(app):
    put_container(app)
    assert call(app, 'GET', '/sda/1/a/c', {'Accept': 'image/png'})[0] == 406


def test_metadata_post_newest_wins_and_removal(app):
    put_container(app, headers={'X-Container-Meta-Color': 'red',
                                'X-Container-Read': '.r:*'})
    headers = call(app, 'HEAD', '/sda/1/a/c')[1]
    assert headers['X-Container-Meta-Color'] == 'red'
    assert headers['X-Container-Read'] == '.r:*'
    assert call(app, 'POST', '/sda/1/a/c', {'X-Timestamp': ts(5),
                                            'X-Container-Meta-Color': 'blue'})[0] == 204
    assert call(app, 'POST', '/sda/1/a/c', {'X-Timestamp': ts(4),
                                            'X-Container-Meta-Color': 'green'})[0] == 204
    assert call(app, 'HEAD', '/sda/1/a/c')[1]['X-Container-Meta-Color'] == 'blue'
    call(app, 'POST', '/sda/1/a/c', {'X-Timestamp': ts(6), 'X-Container-Meta-Color': ''})
    assert 'X-Container-Meta-Color' not in call(app, 'HEAD', '/sda/1/a/c')[1]
    call(app, 'POST', '/sda/1/a/c', {'X-Timestamp': ts(5), 'X-Container-Meta-Color': 'old'})
    assert 'X-Container-Meta-Color' not in call(app, 'HEAD', '/sda/1/a/c')[1]


def test_metadata_utf8_roundtrip(app):
    value = '\u00fcber'.encode('utf-8').decode('latin-1')
    put_container(app, headers={'X-Container-Meta-Word': value})
    assert call(app, 'HEAD', '/sda/1/a/c')[1]['X-Container-Meta-Word'] == value


def test_post_absent_404(app):
    assert call(app, 'POST', '/sda/1/a/nope', {'X-Timestamp': ts(1)})[0] == 404


def test_metadata_limits(app):
    status, _, body = put_container(app, headers={'X-Container-Meta-' + 'k' * 129: 'v'})
    assert status == 400 and b'too long' in body
    put_container(app)
    status, _, body = call(app, 'POST', '/sda/1/a/c', {'X-Timestamp': ts(2),
                                                       'X-Container-Meta-K': 'v' * 257})
    assert status == 400
    many = {'X-Container-Meta-K%d' % i: 'v' for i in range(91)}
    many['X-Timestamp'] = ts(2)
    assert call(app, 'POST', '/sda/1/a/c', many)[0] == 400


def test_delete_container(app):
    assert call(app, 'DELETE', '/sda/1/a/c', {'X-Timestamp': ts(2)})[0] == 404
    put_container(app)
    put_obj(app, 'o', t=2)
    status, _, body = call(app, 'DELETE', '/sda/1/a/c', {'X-Timestamp': ts(3)})
    assert status == 409 and b'not empty' in body
    call(app, 'DELETE', '/sda/1/a/c/o', {'X-Timestamp': ts(3)})
    assert call(app, 'DELETE', '/sda/1/a/c', {'X-Timestamp': ts(4)})[0] == 204
    status, headers, _ = call(app, 'HEAD', '/sda/1/a/c')
    assert status == 404 and headers['X-Backend-Delete-Timestamp'] == ts(4)
    assert call(app, 'DELETE', '/sda/1/a/c', {'X-Timestamp': ts(5)})[0] == 404
    assert put_container(app, t=3)[0] == 409       # older than the delete
    assert put_container(app, t=6)[0] == 201       # recreated
    assert call(app, 'HEAD', '/sda/1/a/c')[0] == 204


@pytest.mark.parametrize('method,path,headers,status', [
    ('PUT', '/sda/1/a/c', {}, 400),
    ('PUT', '/sda/1/a/c', {'X-Timestamp': 'yesterday'}, 400),
    ('PUT', '/sda/x/a/c', {'X-Timestamp': '1'}, 400),
    ('PUT', '/sda/-1/a/c', {'X-Timestamp': '1'}, 400),
    ('PUT', '/../1/a/c', {'X-Timestamp': '1'}, 400),
    ('PUT', '/nodev/1/a/c', {'X-Timestamp': '1'}, 507),
    ('PUT', '/sda/1/a', {'X-Timestamp': '1'}, 400),
    ('PUT', '/sda/1/a/' + 'c' * 257, {'X-Timestamp': '1'}, 400),
    ('PUT', '/sda/1/' + 'a' * 257 + '/c', {'X-Timestamp': '1'}, 400),
    ('PUT', '/sda/1/a/c', {'X-Timestamp': '1', 'X-Account-Host': '1.2.3.4:6202'}, 400),
    ('PUT', '/sda/1/a/c', {'X-Timestamp': '1', 'X-Account-Host': 'nohost',
                           'X-Account-Device': 'sdb', 'X-Account-Partition': '1'}, 400),
    ('PUT', '/sda/1/a/c', {'X-Timestamp': '1', 'X-Account-Host': '1.2.3.4:6202',
                           'X-Account-Device': 'sdb', 'X-Account-Partition': 'x'}, 400),
    ('DELETE', '/sda/1/a/c', {}, 400),
    ('POST', '/sda/1/a/c', {}, 400),
    ('POST', '/sda/1/a/c/o', {'X-Timestamp': '1'}, 400),
    ('HEAD', '/sda/1/a/c/o', {}, 400),
    ('COPY', '/sda/1/a/c', {}, 405),
])
def test_hostile_requests(app, method, path, headers, status):
    got, _, body = call(app, method, path, headers)
    assert got == status
    if method != 'HEAD':
        assert body


@pytest.mark.parametrize('path', [b'/sda/1/a/c/\xff', b'/sda/1/a\xfe/c'])
def test_bad_utf8_names(app, path):
    put_container(app)
    got = call(app, 'PUT', path.decode('latin-1'),
               {'X-Timestamp': ts(2), 'X-Size': '1', 'X-Content-Type': 't', 'X-Etag': 'e'},
               quote_path=False)
    assert got[0] == 400


def test_reserved_names_are_kept_and_listed(app):
    # Names holding a NUL are reserved names (object versioning's versions);
    # only the proxy's middlewares make them, the proxy refuses clients' NULs.
    put_container(app)
    got = call(app, 'PUT', '/sda/1/a/c/x\x00y',
               {'X-Timestamp': ts(2), 'X-Size': '1', 'X-Content-Type': 't', 'X-Etag': 'e'},
               quote_path=False)
    assert got[0] == 201
    status, _, body = call(app, 'GET', '/sda/1/a/c', query='format=json')
    assert status == 200 and json.loads(body)[0]['name'] == 'x\x00y'


@pytest.mark.parametrize('headers,status', [
    ({}, 400),
    ({'X-Size': 'big', 'X-Content-Type': 't', 'X-Etag': 'e'}, 400),
    ({'X-Size': '-1', 'X-Content-Type': 't', 'X-Etag': 'e'}, 400),
    ({'X-Size': '1', 'X-Etag': 'e'}, 400),
    ({'X-Size': '1', 'X-Content-Type': 't' * 1025, 'X-Etag': 'e'}, 400),
    ({'X-Size': '1', 'X-Content-Type': '\xff', 'X-Etag': 'e'}, 400),
    ({'X-Size': '1', 'X-Content-Type': 't', 'X-Etag': 'e'}, 201),
])
def test_object_row_headers(app, headers, status):
    put_container(app)
    headers = dict(headers, **{'X-Timestamp': ts(2)})
    assert call(app, 'PUT', '/sda/1/a/c/o', headers)[0] == status


def test_object_name_limits(app):
    put_container(app)
    hdrs = {'X-Timestamp': ts(2), 'X-Size': '1', 'X-Content-Type': 't', 'X-Etag': 'e'}
    assert call(app, 'PUT', '/sda/1/a/c/' + 'o' * 1024, hdrs)[0] == 201
    assert call(app, 'PUT', '/sda/1/a/c/' + 'o' * 1025, hdrs)[0] == 400
    assert call(app, 'PUT', '/sda/1/a/c/with/slashes//and\nnewline', hdrs)[0] == 201
    body = call(app, 'GET', '/sda/1/a/c', query='format=json')[2]
    assert 'with/slashes//and\nnewline' in [i['name'] for i in json.loads(body)]


def test_account_update_failure_writes_async_record(app, tmp_path):
    status = put_container(app, headers={'X-Account-Host': '127.0.0.1:1',
                                         'X-Account-Device': 'sdb',
                                         'X-Account-Partition': '7'})[0]
    assert status == 201
    digest = hash_path('a', 'c')
    found = list((tmp_path / 'sda' / 'async_pending_containers' / digest[-3:]).iterdir())
    assert [p.name for p in found] == ['%s-%s' % (digest, ts(1))]
    record = json.loads(found[0].read_text())
    assert record['account'] == 'a' and record['container'] == 'c'
    assert record['account_partition'] == 7 and record['partition'] == 1
    assert record['account_nodes'] == [['127.0.0.1:1', 'sdb']]
    assert record['headers']['X-Put-Timestamp'] == ts(1)
    assert record['headers']['X-Object-Count'] == '0'


def test_unmounted_device_507(tmp_path):
    conf = make_conf(server.Conf, str(tmp_path))
    conf.mount_check = True
    app = server.App(conf)
    assert call(app, 'PUT', '/sda/1/a/c', {'X-Timestamp': ts(1)})[0] == 507
    assert not os.path.exists(tmp_path / 'sda' / 'containers')


def test_replicate_is_routed_to_the_db_receiver(app):
    assert call(app, 'REPLICATE', '/sda/1/' + 'a' * 32, {'X-Replication-Op': 'bogus'})[0] == 400
    got = call(app, 'REPLICATE', '/sda/1/' + '0' * 32, {'X-Replication-Op': 'sync'},
               body=b'{"id": "x", "max_row": 0, "info": {}}')[0]
    assert got == 404


def test_corrupt_db_is_quarantined_not_500(app, tmp_path):
    put_container(app)
    digest = hash_path('a', 'c')
    db = tmp_path / 'sda' / 'containers' / '1' / digest[-3:] / digest / (digest + '.db')
    db.write_bytes(b'this is not an sqlite database at all' * 200)
    for f in (str(db) + '-wal', str(db) + '-shm'):
        if os.path.exists(f):
            os.unlink(f)
    status, _, body = call(app, 'HEAD', '/sda/1/a/c')
    assert status == 404
    assert not db.exists()
    quarantined = list((tmp_path / 'sda' / 'quarantined' / 'containers').iterdir())
    assert len(quarantined) == 1 and quarantined[0].name.startswith(digest + '-')
    assert put_container(app, t=2)[0] == 201    # a fresh one can be created


def test_full_disk_is_507(app, monkeypatch):
    import errno as errno_mod
    put_container(app)
    from swiftlike.container import backend

    def full(*args, **kwargs):
        raise OSError(errno_mod.ENOSPC, 'No space left on device')
    monkeypatch.setattr(backend.ContainerBroker, 'append_pending', full)
    assert put_obj(app, 'o')[0] == 507
