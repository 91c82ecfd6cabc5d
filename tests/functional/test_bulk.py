"""Bulk delete and extract archive through a real cluster."""
import gzip
import io
import json
import tarfile
from urllib.parse import quote
from xml.dom import minidom

import pytest

from tests.functional.proxy_helpers import Api, unique


@pytest.fixture(scope='module')
def api(cluster):
    return Api(cluster)


@pytest.fixture(scope='module')
def other(cluster):
    """A user of the same account who owns nothing (container ACLs only)."""
    return Api(cluster, 'test:tester3')


def bulk_delete(api, lines, accept='application/json', method='POST', path=''):
    body = ''.join(quote(line) + '\n' for line in lines).encode('utf-8')
    status, headers, data = api.request(method, path, {'Accept': accept,
                                                       'Content-Type': 'text/plain'},
                                        body, query='bulk-delete')
    assert status == 200, (status, data)
    return json.loads(data) if accept == 'application/json' else data


def listing(api, container):
    status, _h, body = api.request('GET', '/' + container, query='format=json')
    return status, [o['name'] for o in json.loads(body)] if status == 200 else None


def test_bulk_delete_objects_then_their_containers(api):
    c1, c2 = api.put_container(), api.put_container()
    names = ['a', 'd/e/f', 'ünï cödé', 'with space']
    for name in names:
        api.put_object(c1, name, b'x')
    api.put_object(c2, 'o', b'y')
    full = api.put_container()
    api.put_object(full, 'stays', b'z')
    # containers listed first: still deleted after their objects
    lines = ['/' + c1, c2] + ['/%s/%s' % (c1, n) for n in names] + \
        ['%s/o' % c2, '%s/missing' % c1, full]
    result = bulk_delete(api, lines)
    assert result['Number Deleted'] == len(names) + 3
    assert result['Number Not Found'] == 1
    assert result['Errors'] == [['/' + full, '409 Conflict']]
    assert result['Response Status'] == '400 Bad Request'
    assert api.request('HEAD', '/' + c1)[0] == 404
    assert api.request('HEAD', '/' + c2)[0] == 404
    assert listing(api, full) == (200, ['stays'])


def test_bulk_delete_respects_acls(api, other):
    open_c = api.put_container(headers={'X-Container-Write': 'test:tester3'})
    closed = api.put_container()
    api.put_object(open_c, 'o', b'1')
    api.put_object(closed, 'o', b'2')
    result = bulk_delete(other, ['%s/o' % open_c, '%s/o' % closed, closed])
    assert result['Number Deleted'] == 1
    assert result['Errors'] == [['/%s/o' % closed, '403 Forbidden'],
                                ['/' + closed, '403 Forbidden']]
    assert listing(api, closed) == (200, ['o'])
    assert listing(api, open_c) == (200, [])
    # no token at all: 401, and nothing goes
    status, _h, data = api.request('POST', '', {'Accept': 'application/json'},
                                   ('%s/o\n' % closed).encode(), token=False,
                                   query='bulk-delete')
    assert status == 200 and json.loads(data)['Response Status'] == '401 Unauthorized'
    assert listing(api, closed) == (200, ['o'])


def test_bulk_delete_on_an_object_path_as_swifts_test_does(api):
    c = api.put_container()
    api.put_object(c, 'obj', b'1')
    data = bulk_delete(api, ['%s/obj' % c], accept='application/xml', method='DELETE',
                       path='/%s/obj' % c)
    tree = minidom.parseString(data)
    assert tree.documentElement.tagName == 'delete'
    assert tree.getElementsByTagName('response_status')[0].firstChild.data == '200 OK'
    assert tree.getElementsByTagName('number_deleted')[0].firstChild.data == '1'
    assert listing(api, c) == (200, [])


def test_bulk_delete_hostile_list(api):
    c = api.put_container()
    api.put_object(c, 'keep', b'1')
    body = b'\n'.join([b'/' + c.encode() + b'/%FF', b'%00', b'x' * 100000,
                       b'/' + c.encode() + b'/' + b'o' * 1100, b'c' * 300])
    status, _h, data = api.request('POST', '', {'Accept': 'application/json'}, body,
                                   query='bulk-delete')
    result = json.loads(data)
    assert status == 200
    assert [e[1] for e in result['Errors']] == ['412 Precondition Failed',
                                               '412 Precondition Failed'] + \
        ['400 Bad Request'] * 3
    assert listing(api, c) == (200, ['keep'])
    status, _h, data = api.request('POST', '', {'Accept': 'application/json'},
                                   b'a\n' * 10001, query='bulk-delete')
    assert json.loads(data)['Response Status'] == '413 Request Entity Too Large'


def tar_bytes(files, mode='w'):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def extract(api, path, body, kind, headers=None):
    hdrs = {'Accept': 'application/json'}
    hdrs.update(headers or {})
    status, _h, data = api.request('PUT', path, hdrs, body, query='extract-archive=' + kind)
    assert status == 200, (status, data)
    return json.loads(data)


def test_extract_tar_at_account_level_creates_containers(api):
    c1, c2 = unique(), unique()
    files = [(c1, None), (c1 + '/a.txt', b'alpha'), (c1 + '/sub/dir/b.bin', b'\0\1' * 40000),
             ('./%s/c' % c2, b''), ('top-level-file', b'ignored')]
    result = extract(api, '', tar_bytes(files), 'tar',
                     headers={'X-Object-Meta-Origin': 'archive'})
    assert result == {'Number Files Created': 3, 'Response Status': '201 Created',
                      'Response Body': '', 'Errors': []}
    assert listing(api, c1) == (200, ['a.txt', 'sub/dir/b.bin'])
    assert listing(api, c2) == (200, ['c'])
    status, headers, body = api.request('GET', '/%s/sub/dir/b.bin' % c1)
    assert (status, body) == (200, b'\0\1' * 40000)
    assert headers['x-object-meta-origin'] == 'archive'
    assert api.request('GET', '/%s/a.txt' % c1)[1]['content-type'] == 'text/plain'


def test_extract_tar_gz_into_a_container_prefix(api):
    c = api.put_container()
    files = [('x/y/z.json', b'{}'), ('../escape', b'stays inside'), ('/abs', b'a')]
    body = gzip.compress(tar_bytes(files))
    result = extract(api, '/%s/pre' % c, body, 'tar.gz',
                     headers={'Content-Type': 'application/x-custom'})
    assert result['Number Files Created'] == 3 and result['Errors'] == []
    assert listing(api, c) == (200, ['pre/../escape', 'pre/abs', 'pre/x/y/z.json'])
    status, headers, data = api.request('GET', '/%s/pre/x/y/z.json' % c)
    assert (status, data) == (200, b'{}')
    assert headers['content-type'] == 'application/x-custom'


def test_extract_bad_archives_and_acls(api, other):
    c = api.put_container()
    good = tar_bytes([('a', b'1'), ('b', b'2' * 100000)])
    result = extract(api, '/' + c, good[:20000], 'tar')
    assert result['Response Status'] == '400 Bad Request'
    assert result['Response Body'].startswith('Invalid Tar File')
    assert listing(api, c) == (200, ['a'])
    result = extract(api, '/' + c, b'definitely not a tarball' * 100, 'tar.bz2')
    assert result['Response Status'] == '400 Bad Request'
    # a user with no rights on the container: 403 per file
    result = extract(other, '/' + c, tar_bytes([('n1', b'1'), ('n2', b'2')]), 'tar')
    assert result['Errors'] == [['/%s/n1' % c, '403 Forbidden'],
                                ['/%s/n2' % c, '403 Forbidden']]
    assert listing(api, c) == (200, ['a'])


def test_info_advertises_bulk(api):
    from tests.functional.proxy_helpers import raw
    status, _h, body = raw(api.host, api.port, 'GET', '/info')
    caps = json.loads(body)
    assert caps['bulk_delete']['max_deletes_per_request'] == 10000
    assert caps['bulk_upload']['max_containers_per_extraction'] == 10000
