"""The object server's REPLICATION verb, called in-process on real files."""
import hashlib
import json
import os

import pytest

from swiftlike.hashing import hash_path
from swiftlike.http import Request
from swiftlike.obj import metadata as xattr_meta
from swiftlike.obj.diskfile import FsDiskFileManager
from swiftlike.obj.replication_protocol import END_RECORD, encode_header
from swiftlike.obj.server import App, Conf

T1, T2 = '1700000001.00000', '1700000002.00000'


@pytest.fixture
def app(tmp_path):
    os.makedirs(tmp_path / 'sda')
    return App(Conf(devices=str(tmp_path), mount_check=False, fallocate_reserve='0',
                    threads_per_disk=0, log_level='ERROR'))


def _store(devices, body, ts, obj='o'):
    df = FsDiskFileManager().get_diskfile(os.path.join(devices, 'sda'), 1, 'a', 'c', obj)
    writer = df.create(len(body))
    writer.write(body)
    writer.commit({'X-Timestamp': ts, 'Content-Length': str(len(body)),
                   'ETag': hashlib.md5(body).hexdigest(), 'name': '/a/c/' + obj})
    return hash_path('a', 'c', obj)


def _hash_dir(devices, name_hash):
    return os.path.join(devices, 'sda', 'objects', '1', name_hash[-3:], name_hash)


def _call(app, op, body, path='/sda/1'):
    req = Request.blank(path, environ={'REQUEST_METHOD': 'REPLICATION'},
                        headers={'X-Replication-Op': op}, body=body)
    return req.get_response(app)


def _record(name_hash, name, data, **meta):
    metadata = {'X-Timestamp': name.rsplit('.', 1)[0], 'Content-Length': str(len(data)),
                'ETag': hashlib.md5(data).hexdigest(), 'name': '/a/c/o'}
    metadata.update(meta)
    return encode_header(name_hash, name, len(data), metadata) + data


def test_check_answers_what_is_missing_or_older(app, tmp_path):
    name_hash = _store(str(tmp_path), b'old', T1)
    other = hash_path('a', 'c', 'other')
    resp = _call(app, 'check', json.dumps({name_hash: [T2 + '.data'],
                                           other: [T1 + '.data']}).encode())
    assert resp.status_int == 200
    assert json.loads(resp.body) == {name_hash: [T2 + '.data'], other: [T1 + '.data']}
    resp = _call(app, 'check', json.dumps({name_hash: [T1 + '.data']}).encode())
    assert json.loads(resp.body) == {}


def test_push_commits_verified_files_durably(app, tmp_path):
    name_hash = hash_path('a', 'c', 'o')
    body = _record(name_hash, T2 + '.data', b'new bytes') + END_RECORD
    resp = _call(app, 'push', body)
    assert resp.status_int == 200, resp.body
    assert json.loads(resp.body) == {'committed': 1, 'rejected': []}
    path = os.path.join(_hash_dir(str(tmp_path), name_hash), T2 + '.data')
    with open(path, 'rb') as f:
        assert f.read() == b'new bytes'
        assert xattr_meta.read_metadata(f.fileno())['ETag'] == hashlib.md5(b'new bytes').hexdigest()
    # The suffix is marked dirty so the next REPLICATE sees it.
    part = os.path.join(str(tmp_path), 'sda', 'objects', '1')
    assert name_hash[-3:] in open(os.path.join(part, 'hashes.invalid')).read()


def test_push_of_a_tombstone_replaces_older_data(app, tmp_path):
    name_hash = _store(str(tmp_path), b'old', T1)
    ts = encode_header(name_hash, T2 + '.ts', 0, {'X-Timestamp': T2})
    resp = _call(app, 'push', ts + END_RECORD)
    assert json.loads(resp.body)['committed'] == 1
    assert os.listdir(_hash_dir(str(tmp_path), name_hash)) == [T2 + '.ts']


@pytest.mark.parametrize('meta,reason', [
    ({'ETag': 'd41d8cd98f00b204e9800998ecf8427e'}, 'MD5'),
    ({'Content-Length': '99'}, 'Content-Length'),
    ({'Content-Length': 'x'}, 'Content-Length'),
])
def test_push_rejects_corrupt_data_and_keeps_nothing(app, tmp_path, meta, reason):
    name_hash = hash_path('a', 'c', 'o')
    good = _record(hash_path('a', 'c', 'good'), T1 + '.data', b'fine')
    body = _record(name_hash, T2 + '.data', b'flipped', **meta) + good + END_RECORD
    resp = _call(app, 'push', body)
    result = json.loads(resp.body)
    assert result['committed'] == 1          # the stream stays in step after a reject
    assert [r['name'] for r in result['rejected']] == [T2 + '.data']
    assert reason in result['rejected'][0]['reason']
    assert not os.path.exists(_hash_dir(str(tmp_path), name_hash))
    assert os.listdir(os.path.join(str(tmp_path), 'sda', 'tmp')) == []


def test_push_never_replaces_newer_files(app, tmp_path):
    name_hash = _store(str(tmp_path), b'newer', T2)
    resp = _call(app, 'push', _record(name_hash, T1 + '.data', b'older') + END_RECORD)
    assert resp.status_int == 200
    assert os.listdir(_hash_dir(str(tmp_path), name_hash)) == [T2 + '.data']


@pytest.mark.parametrize('body,status', [
    (b'', 499),                                                  # no end record
    (encode_header('0' * 29 + 'abc', T1 + '.data', 100,
                   {'X-Timestamp': T1}) + b'short', 499),        # stream ends inside a file
    (b'garbage\n', 400),
    (b'{"hash": "zz"}\n', 400),
    (b'x' * 70000, 400),                                         # header line too long
])
def test_push_rejects_broken_streams(app, tmp_path, body, status):
    resp = _call(app, 'push', body)
    assert resp.status_int == status, resp.body
    assert not os.path.exists(os.path.join(str(tmp_path), 'sda', 'objects'))


@pytest.mark.parametrize('path,op,body,status', [
    ('/sda/1', 'bogus', b'{}', 400),
    ('/sda/1', '', b'{}', 400),
    ('/sda/notanumber', 'check', b'{}', 400),
    ('/sda', 'check', b'{}', 400),
    ('/sda/1/extra', 'check', b'{}', 400),
    ('/../1', 'check', b'{}', 400),
    ('/nodev/1', 'check', b'{}', 507),
    ('/%FF/1', 'check', b'{}', 507),  # a device name that is not UTF-8
    ('/sda/1', 'check', b'not json', 400),
    ('/sda/1', 'check', b'{"abc": []}', 400),
])
def test_hostile_requests_get_clear_4xx(app, path, op, body, status):
    resp = _call(app, op, body, path)
    assert resp.status_int == status, (resp.status_int, resp.body)
    assert resp.body and b'Traceback' not in resp.body
