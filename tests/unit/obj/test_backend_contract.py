"""The DiskFile contract, checked the same way on both backends."""
import hashlib
import time

import pytest

from swiftlike.obj.backend import (DiskFileDeleted, DiskFileError, DiskFileExpired,
                                   DiskFileNotExist)
from swiftlike.obj.diskfile import FsDiskFileManager
from swiftlike.obj.mem_diskfile import MemDiskFileManager
from swiftlike.timestamp import Timestamp


@pytest.fixture(params=['mem', 'fs'])
def mgr_dev(request, tmp_path):
    dev = tmp_path / 'sda'
    dev.mkdir()
    mgr = MemDiskFileManager() if request.param == 'mem' else FsDiskFileManager()
    return mgr, str(dev)


def write(df, ts, body, **extra):
    meta = {'name': '/a/c/o', 'X-Timestamp': Timestamp(ts).internal,
            'Content-Type': 'text/plain', 'Content-Length': str(len(body)),
            'ETag': hashlib.md5(body).hexdigest()}
    meta.update(extra)
    writer = df.create(len(body))
    for i in range(0, len(body), 7):
        writer.write(body[i:i + 7])
    writer.commit(meta)
    df.cleanup()


def test_contract(mgr_dev):
    mgr, dev = mgr_dev
    df = mgr.get_diskfile(dev, 3, 'a', 'c', 'o')
    with pytest.raises(DiskFileNotExist) as info:
        df.open()
    assert not isinstance(info.value, DiskFileDeleted) and info.value.timestamp is None
    write(df, 10, b'hello world', **{'X-Object-Meta-A': '1', 'X-Object-Sysmeta-S': 's'})
    df = mgr.get_diskfile(dev, 3, 'a', 'c', 'o').open(read_ahead=4)
    assert df.prefetched == b'hell'
    assert df.read(6, 100) == b'world' and df.content_length == 11
    assert df.data_timestamp == df.timestamp == Timestamp(10)
    df.close()
    df.close()  # idempotent
    with pytest.raises(DiskFileError):
        df.read(0, 1)
    df.write_metadata({'X-Timestamp': Timestamp(11).internal, 'X-Object-Meta-B': '2'})
    df.cleanup()
    df = mgr.get_diskfile(dev, 3, 'a', 'c', 'o').open(with_data=False)
    assert df.metadata.get('X-Object-Meta-B') == '2' and 'X-Object-Meta-A' not in df.metadata
    assert df.metadata['X-Object-Sysmeta-S'] == 's'
    assert (df.data_timestamp, df.timestamp) == (Timestamp(10), Timestamp(11))
    df.delete(Timestamp(12))
    df.cleanup()
    with pytest.raises(DiskFileDeleted) as info:
        mgr.get_diskfile(dev, 3, 'a', 'c', 'o').open()
    assert info.value.timestamp == Timestamp(12)


def test_abort_and_expiry(mgr_dev):
    mgr, dev = mgr_dev
    df = mgr.get_diskfile(dev, 3, 'a', 'c', 'o')
    writer = df.create(5)
    writer.write(b'abc')
    writer.abort()
    writer.abort()
    with pytest.raises(DiskFileNotExist):
        df.open()
    at = int(time.time()) + 100
    write(df, 20, b'x', **{'X-Delete-At': str(at)})
    assert df.open(now=at - 1).metadata['X-Delete-At'] == str(at)
    df.close()
    with pytest.raises(DiskFileExpired) as info:
        df.open(now=at)
    assert info.value.metadata['X-Delete-At'] == str(at)
    assert info.value.timestamp == Timestamp(20)
    assert df.open(check_expiry=False, now=at + 5).content_length == 1
    df.close()


def test_quarantine(mgr_dev):
    mgr, dev = mgr_dev
    df = mgr.get_diskfile(dev, 3, 'a', 'c', 'o')
    write(df, 30, b'data')
    suffix_before = mgr.get_suffix_hashes(dev, 3)
    df.open()
    df.close()
    df.quarantine('test')
    with pytest.raises(DiskFileNotExist):
        mgr.get_diskfile(dev, 3, 'a', 'c', 'o').open()
    assert suffix_before and mgr.get_suffix_hashes(dev, 3) == {}


@pytest.mark.parametrize('sizes', [[3, 0, 65536, 5], [1] * 3000])
def test_write_chunks_keeps_order_even_with_thousands_of_tiny_chunks(mgr_dev, sizes):
    mgr, dev = mgr_dev
    chunks = [bytes([i % 251]) * size for i, size in enumerate(sizes)]
    body = b''.join(chunks)
    df = mgr.get_diskfile(dev, 1, 'a', 'c', 'many')
    writer = df.create(len(body))
    writer.write_chunks(chunks[:len(chunks) // 2])
    writer.write_chunks(chunks[len(chunks) // 2:])
    writer.commit({'name': '/a/c/many', 'X-Timestamp': Timestamp(1).internal,
                   'Content-Type': 'x/y', 'Content-Length': str(len(body)),
                   'ETag': hashlib.md5(body).hexdigest()})
    df = mgr.get_diskfile(dev, 1, 'a', 'c', 'many').open()
    assert df.read(0, len(body) + 1) == body
    df.close()
