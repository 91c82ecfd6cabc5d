"""The real-file backend: layout, newest-wins cleanup, xattr metadata, suffix hashes."""
import json
import errno
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swiftlike.hashing import hash_path
from swiftlike.obj import metadata as xmeta
from swiftlike.obj.backend import (DiskFileDeleted, DiskFileNotExist, DiskFileQuarantined,
                                   resolve_files)
from swiftlike.obj.diskfile import FsDiskFileManager
from swiftlike.timestamp import Timestamp


@pytest.fixture
def dev(tmp_path):
    path = tmp_path / 'sda'
    path.mkdir()
    return str(path)


def put(mgr, dev, ts, body=b'abc', name='o', extra=None):
    import hashlib
    df = mgr.get_diskfile(dev, 7, 'a', 'c', name)
    writer = df.create(len(body))
    writer.write(body)
    meta = {'name': '/a/c/' + name, 'X-Timestamp': Timestamp(ts).internal,
            'Content-Type': 'text/plain', 'Content-Length': str(len(body)),
            'ETag': hashlib.md5(body).hexdigest()}
    meta.update(extra or {})
    writer.commit(meta)
    return df


def obj_dir(dev, name='o'):
    name_hash = hash_path('a', 'c', name)
    return os.path.join(dev, 'objects', '7', name_hash[-3:], name_hash)


def test_layout_and_tmp(dev):
    mgr = FsDiskFileManager()
    put(mgr, dev, 1700000000.5)
    assert os.listdir(obj_dir(dev)) == ['1700000000.50000.data']
    assert os.listdir(os.path.join(dev, 'tmp')) == []
    df = mgr.get_diskfile(dev, 7, 'a', 'c', 'o').open()
    assert df.read(0, 10) == b'abc'
    assert df.metadata['name'] == '/a/c/o'
    df.close()
    with open(os.path.join(obj_dir(dev), '1700000000.50000.data'), 'rb') as f:
        assert json.loads(b''.join(_xattrs(f.fileno())))['X-Timestamp'] == '1700000000.50000'


def _xattrs(fd):
    out, i = [], 0
    while True:
        key = xmeta.XATTR_KEY + (str(i) if i else '')
        try:
            out.append(os.getxattr(fd, key))
        except OSError:
            return out
        i += 1


def test_newest_wins_and_cleanup(dev):
    mgr = FsDiskFileManager()
    put(mgr, dev, 1)
    put(mgr, dev, 2, b'two')
    assert os.listdir(obj_dir(dev)) == ['0000000002.00000.data']
    df = mgr.get_diskfile(dev, 7, 'a', 'c', 'o')
    df.write_metadata({'X-Timestamp': Timestamp(3).internal, 'X-Object-Meta-M': 'x'})
    df.write_metadata({'X-Timestamp': Timestamp(4).internal, 'X-Object-Meta-N': 'y'})
    assert sorted(os.listdir(obj_dir(dev))) == ['0000000002.00000.data',
                                               '0000000004.00000.meta']
    df.open()
    assert df.metadata['X-Object-Meta-N'] == 'y' and 'X-Object-Meta-M' not in df.metadata
    assert df.data_timestamp == Timestamp(2) and df.timestamp == Timestamp(4)
    df.close()
    df.delete(Timestamp(5))
    assert os.listdir(obj_dir(dev)) == ['0000000005.00000.ts']
    with pytest.raises(DiskFileDeleted) as info:
        mgr.get_diskfile(dev, 7, 'a', 'c', 'o').open()
    assert info.value.timestamp == Timestamp(5)


@pytest.mark.parametrize('names,data,meta,ts,obsolete', [
    (['1.data'], '1.data', None, None, []),
    (['1.data', '2.meta'], '1.data', '2.meta', None, []),
    (['2.data', '1.meta'], '2.data', None, None, ['1.meta']),
    (['1.data', '2.ts'], None, None, '2.ts', ['1.data']),
    (['2.data', '1.ts'], '2.data', None, None, ['1.ts']),
    (['1.ts', '2.meta'], None, None, '1.ts', ['2.meta']),
    (['1.data', '1.ts'], None, None, '1.ts', ['1.data']),
    (['1.data', '3.meta', '2.meta'], '1.data', '3.meta', None, ['2.meta']),
    (['junk', '1.data', 'x.data'], '1.data', None, None, []),
    ([], None, None, None, []),
])
def test_resolve_files(names, data, meta, ts, obsolete):
    fileset = resolve_files(names)
    assert (fileset.data, fileset.meta, fileset.ts) == (data, meta, ts)
    assert sorted(fileset.obsolete) == sorted(obsolete)


def test_missing_metadata_quarantines(dev):
    mgr = FsDiskFileManager()
    put(mgr, dev, 1)
    path = os.path.join(obj_dir(dev), '0000000001.00000.data')
    os.removexattr(path, xmeta.XATTR_KEY)
    with pytest.raises(DiskFileQuarantined):
        mgr.get_diskfile(dev, 7, 'a', 'c', 'o').open()
    assert not os.path.exists(obj_dir(dev))
    assert os.listdir(os.path.join(dev, 'quarantined', 'objects')) == [hash_path('a', 'c', 'o')]


def test_size_mismatch_quarantines(dev):
    mgr = FsDiskFileManager()
    put(mgr, dev, 1, b'abcdef')
    with open(os.path.join(obj_dir(dev), '0000000001.00000.data'), 'r+b') as f:
        f.truncate(2)
    with pytest.raises(DiskFileQuarantined):
        mgr.get_diskfile(dev, 7, 'a', 'c', 'o').open()


def test_corrupt_json_metadata(dev, tmp_path):
    path = str(tmp_path / 'f')
    open(path, 'w').close()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.setxattr(fd, xmeta.XATTR_KEY, b'{"a": 1')
        with pytest.raises(xmeta.MetadataError):
            xmeta.read_metadata(fd)
        os.setxattr(fd, xmeta.XATTR_KEY, b'["list"]')
        with pytest.raises(xmeta.MetadataError):
            xmeta.read_metadata(fd)
    finally:
        os.close(fd)


def test_metadata_split_over_keys(tmp_path):
    path = str(tmp_path / 'f')
    open(path, 'w').close()
    # ~2.4 KiB: more than one key, yet within what ext4 can hold per inode
    meta = {'X-Object-Meta-%d' % i: 'v' * 15 for i in range(60)}
    meta['unicode'] = '\u00e9\u4e2d'
    fd = os.open(path, os.O_RDONLY)
    try:
        xmeta.write_metadata(fd, meta)
        assert len(_xattrs(fd)) >= 2
        assert xmeta.read_metadata(fd) == meta
    finally:
        os.close(fd)


def test_metadata_written_in_other_pieces(tmp_path):
    """Metadata split finer than ours (a first key that does not parse alone)
    or coarser (a key longer than our buffer) reads whole."""
    path = str(tmp_path / 'f')
    open(path, 'w').close()
    meta = {'X-Object-Meta-%d' % i: 'v' * 15 for i in range(60)}
    raw = xmeta.encode(meta)
    assert len(raw) > xmeta.CHUNK
    fd = os.open(path, os.O_RDONLY)
    try:
        for piece in (254, xmeta.CHUNK * 2):
            for name in os.listxattr(fd):
                os.removexattr(fd, name)
            for index, start in enumerate(range(0, len(raw), piece)):
                os.setxattr(fd, xmeta.XATTR_KEY + (str(index) if index else ''),
                            raw[start:start + piece])
            assert xmeta.read_metadata(fd) == meta, piece
    finally:
        os.close(fd)


def test_small_metadata_is_one_call(tmp_path, monkeypatch):
    """A document in one key is read by one getxattr: no call for a second
    key that cannot exist, and no retry with a bigger buffer."""
    from swiftlike import fs
    path = str(tmp_path / 'f')
    open(path, 'w').close()
    calls = []
    real = fs.get_xattr

    def counted(fd, name, size):
        calls.append(name)
        return real(fd, name, size)
    monkeypatch.setattr(fs, 'get_xattr', counted)
    meta = {'Content-Length': '4096', 'ETag': 'e' * 32, 'name': '/a/c/' + 'o' * 300}
    fd = os.open(path, os.O_RDONLY)
    try:
        xmeta.write_metadata(fd, meta)
        assert xmeta.read_metadata(fd) == meta
        assert calls == [xmeta.XATTR_KEY.encode()]
        assert fs.get_xattr(fd, b'user.swiftlike.none', 16) is None
        with pytest.raises(OSError) as err:
            fs.get_xattr(fd, xmeta.XATTR_KEY.encode(), 16)
        assert err.value.errno == errno.ERANGE
    finally:
        os.close(fd)


def test_suffix_hash_cache(dev):
    mgr = FsDiskFileManager()
    put(mgr, dev, 1)
    part = os.path.join(dev, 'objects', '7')
    first = mgr.get_suffix_hashes(dev, 7)
    suffix = hash_path('a', 'c', 'o')[-3:]
    assert list(first) == [suffix]
    with open(os.path.join(part, 'hashes.json')) as f:
        assert json.load(f) == first
    assert not os.path.exists(os.path.join(part, 'hashes.invalid'))
    # a write marks the suffix dirty; the next call recomputes it
    put(mgr, dev, 2)
    assert os.path.exists(os.path.join(part, 'hashes.invalid'))
    second = mgr.get_suffix_hashes(dev, 7)
    assert second[suffix] != first[suffix]
    # a change behind the cache's back shows only when the suffix is asked for
    name_hash = hash_path('a', 'c', 'o')
    os.rename(os.path.join(obj_dir(dev), '0000000002.00000.data'),
              os.path.join(obj_dir(dev), '0000000003.00000.data'))
    assert mgr.get_suffix_hashes(dev, 7) == second
    third = mgr.get_suffix_hashes(dev, 7, [suffix])
    assert third[suffix] != second[suffix]
    assert name_hash
    # a corrupt cache is rebuilt
    with open(os.path.join(part, 'hashes.json'), 'w') as f:
        f.write('{not json')
    assert mgr.get_suffix_hashes(dev, 7) == third
    # an emptied suffix disappears
    import shutil
    shutil.rmtree(obj_dir(dev))
    assert mgr.get_suffix_hashes(dev, 7, [suffix]) == {}
    assert mgr.get_suffix_hashes(dev, 8) == {}


def test_writer_abort_leaves_nothing(dev):
    mgr = FsDiskFileManager()
    df = mgr.get_diskfile(dev, 7, 'a', 'c', 'o')
    writer = df.create(100)
    writer.write(b'partial')
    writer.abort()
    assert os.listdir(os.path.join(dev, 'tmp')) == []
    with pytest.raises(DiskFileNotExist):
        df.open()


@pytest.mark.parametrize('declared,body', [(100, b'short'), (5, b'exact'), (3, b'longer'),
                                           (None, b'unknown')])
def test_a_committed_file_is_as_long_as_what_was_written(dev, declared, body):
    # The space preallocated for a declared size that the body fell short of
    # is given back; a file of the size declared needs no truncation.
    mgr = FsDiskFileManager(fallocate=True)
    df = mgr.get_diskfile(dev, 7, 'a', 'c', 'o')
    writer = df.create(declared)
    writer.write(body)
    writer.commit({'name': '/a/c/o', 'X-Timestamp': Timestamp(1700000000).internal,
                   'Content-Length': str(len(body))})
    [name] = os.listdir(obj_dir(dev))
    assert os.path.getsize(os.path.join(obj_dir(dev), name)) == len(body)
    df = mgr.get_diskfile(dev, 7, 'a', 'c', 'o').open()
    assert df.read(0, 100) == body
    df.close()


def test_disk_errors_map_to_507_and_503(tmp_path):
    from tests.unit.obj.conftest import make_app
    harness = make_app(tmp_path, 'fs')
    dev = os.path.join(harness.devices, 'sda')
    # tmp is a file: creating the temp file fails (ENOTDIR) -> 503, no traceback
    with open(os.path.join(dev, 'tmp'), 'w'):
        pass
    resp = harness.put('/sda/1/a/c/o', b'x')
    assert resp.status_int == 503 and b'Disk error' in resp.body
    os.unlink(os.path.join(dev, 'tmp'))
    assert harness.put('/sda/1/a/c/o', b'x').status_int == 201


_names = st.lists(st.tuples(st.integers(1, 20), st.sampled_from(['.data', '.ts', '.meta'])),
                  max_size=12, unique=True)


@given(_names)
def test_resolve_files_properties(items):
    names = ['%010d.00000%s' % (t, ext) for t, ext in items]
    fileset = resolve_files(names)
    kept = [n for n in (fileset.data, fileset.meta, fileset.ts) if n]
    assert sorted(kept + fileset.obsolete) == sorted(names)
    assert not (fileset.data and fileset.ts)
    durable = [t for t, ext in items if ext in ('.data', '.ts')]
    if durable:
        assert fileset.newest_durable == Timestamp(max(durable))
    else:
        assert kept == []
    if fileset.meta:
        assert fileset.meta_timestamp > fileset.data_timestamp
    assert resolve_files(kept).obsolete == []  # resolving is idempotent


def test_metadata_the_filesystem_cannot_hold_is_507_not_500(tmp_path):
    """ext4 keeps all of a file's xattrs in one 4 KiB block, so the largest
    legal metadata may not fit; that is a full device (507), never a 500,
    and leaves no temp file behind. (On XFS it fits: see test_xfs.py.)"""
    from tests.unit.obj.conftest import make_app
    harness = make_app(tmp_path, 'fs')
    meta = {'X-Object-Meta-k%02d' % i: 'v' * 42 for i in range(90)}
    resp = harness.put('/sda/1/a/c/o', b'x', meta)
    assert resp.status_int in (201, 507), resp.body
    if resp.status_int == 507:
        assert b'Device full' in resp.body
        assert os.listdir(os.path.join(harness.devices, 'sda', 'tmp')) == []
        assert harness.req('GET', '/sda/1/a/c/o').status_int == 404
    else:
        assert harness.req('GET', '/sda/1/a/c/o').headers['X-Object-Meta-K00'] == 'v' * 42


@pytest.mark.parametrize('bytes_per_sync', [0, 1, 5, 1 << 20])
def test_incremental_sync_keeps_the_whole_body(dev, bytes_per_sync, monkeypatch):
    """Data flushed as it is written (every bytes_per_sync) reads back whole."""
    synced = []
    real = os.fdatasync
    monkeypatch.setattr(os, 'fdatasync', lambda fd: (synced.append(fd), real(fd)))
    mgr = FsDiskFileManager(bytes_per_sync=bytes_per_sync)
    chunks = [b'abc', b'defgh', b'', b'ij' * 3]
    df = mgr.get_diskfile(dev, 7, 'a', 'c', 'o')
    writer = df.create()
    for chunk in chunks:
        writer.write(chunk)
    writer.commit({'name': '/a/c/o', 'X-Timestamp': Timestamp(1).internal,
                   'Content-Length': str(len(b''.join(chunks)))})
    df = mgr.get_diskfile(dev, 7, 'a', 'c', 'o')
    df.open()
    try:
        assert df.read(0, 100) == b''.join(chunks)
    finally:
        df.close()
    expected = {0: 0, 1: 3, 5: 2, 1 << 20: 0}[bytes_per_sync]
    assert len(synced) == expected


def _direct_fds_of(path):
    """This process's descriptors of `path` that bypass the page cache."""
    found = []
    for name in os.listdir('/proc/self/fd'):
        try:
            if os.readlink('/proc/self/fd/' + name) != path:
                continue
            with open('/proc/self/fdinfo/' + name) as f:
                flags = next(line for line in f if line.startswith('flags:')).split()[1]
        except OSError:
            continue
        if int(flags, 8) & os.O_DIRECT:
            found.append(int(name))
    return found


@pytest.mark.parametrize('size,direct_reads,direct', [
    ((1 << 20) + 4321, True, True),      # a big object: read past the page cache
    ((1 << 20) + 4321, False, False),    # ... unless the server says not to
    (1 << 20, True, False),              # an object that stays cached once written
])
def test_big_bodies_are_read_past_the_page_cache(dev, size, direct_reads, direct):
    body = os.urandom(size)
    mgr = FsDiskFileManager(direct_reads=direct_reads)
    put(mgr, dev, 1700000000.5, body=body)
    data_path = os.path.join(obj_dir(dev), '1700000000.50000.data')
    df = mgr.get_diskfile(dev, 7, 'a', 'c', 'o').open()
    got = [df.read(offset, length) for offset, length in
           ((0, 65536), (65536, 1 << 20), (1000, 3), (size - 10, 100), (size + 5, 10))]
    assert got == [body[:65536], body[65536:65536 + (1 << 20)], body[1000:1003],
                   body[-10:], b'']
    assert bool(_direct_fds_of(data_path)) is direct
    df.close()
    assert _direct_fds_of(data_path) == []


def test_a_big_body_replaced_while_open_is_still_read_whole(dev):
    body = os.urandom(3 << 20)
    mgr = FsDiskFileManager(direct_reads=True)
    put(mgr, dev, 1700000000.5, body=body)
    df = mgr.get_diskfile(dev, 7, 'a', 'c', 'o').open()
    put(mgr, dev, 1700000001.5, body=b'newer')   # removes the older .data
    assert os.listdir(obj_dir(dev)) == ['1700000001.50000.data']
    assert b''.join(df.read(off, 1 << 20) for off in range(0, 3 << 20, 1 << 20)) == body
    df.close()
