"""Conditional object PUTs (If-Match / If-None-Match) on both backends: the
compare-and-swap the append middleware's arbiter commit relies on, and the
per-object lock that makes it atomic across threads and processes."""
import hashlib
import multiprocessing
import os
import threading

import pytest

from swiftlike.obj import conditional_put
from swiftlike.obj.diskfile import LOCK_FILE, FsDiskFileManager
from swiftlike.obj.mem_diskfile import MemDiskFileManager

PATH = '/sda/0/a/c/o'


def md5(data):
    return hashlib.md5(data).hexdigest()


@pytest.mark.parametrize('headers,exists,status', [
    ({'If-Match': md5(b'one')}, True, 201),
    ({'If-Match': '"%s"' % md5(b'one')}, True, 201),
    ({'If-Match': md5(b'other')}, True, 412),
    ({'If-Match': '*'}, True, 201),
    ({'If-Match': md5(b'one')}, False, 412),
    ({'If-Match': '*'}, False, 412),
    ({'If-None-Match': '*'}, True, 412),
    ({'If-None-Match': '*'}, False, 201),
])
def test_conditions(obj, headers, exists, status):
    if exists:
        assert obj.put(PATH, b'one').status_int == 201
    resp = obj.put(PATH, b'two', headers)
    assert resp.status_int == status, resp.body
    got = obj.req('GET', PATH)
    if status == 201:
        assert got.body == b'two'
    elif exists:
        assert got.body == b'one'
        assert resp.headers['X-Backend-Etag'] == md5(b'one')
        assert resp.headers['X-Backend-Timestamp']
    else:
        assert got.status_int == 404
        assert 'X-Backend-Etag' not in resp.headers


def test_big_conditional_put_checked_again_at_commit(obj):
    """A streamed body: the conditions hold before the body and at commit."""
    big = b'x' * (3 * 65536 + 7)
    assert obj.put(PATH, b'one').status_int == 201
    assert obj.put(PATH, big, {'If-Match': md5(b'one')}).status_int == 201
    assert obj.put(PATH, big, {'If-Match': md5(b'one')}).status_int == 412
    assert obj.req('GET', PATH).body == big


def test_older_timestamp_still_loses(obj):
    new = obj.ts()
    old = obj.ts()
    assert obj.put(PATH, b'one', ts=old).status_int == 201
    resp = obj.put(PATH, b'two', {'If-Match': md5(b'one')}, ts=new)
    assert resp.status_int == 409


def test_commit_sees_a_change_made_after_the_first_check(obj):
    """Between the early check and the commit another write lands: the
    commit's check (under the lock) refuses."""
    assert obj.put(PATH, b'one').status_int == 201
    original = conditional_put.locked_commit
    calls = []

    def racing(df, headers, timestamp, commit, *args):
        if not calls:
            calls.append(1)
            assert obj.put(PATH, b'sneaky').status_int == 201
        return original(df, headers, timestamp, commit, *args)
    conditional_put.locked_commit = racing
    try:
        resp = obj.put(PATH, b'two', {'If-Match': md5(b'one')})
    finally:
        conditional_put.locked_commit = original
    assert resp.status_int == 412
    assert obj.req('GET', PATH).body == b'sneaky'


def _diskfile(kind, tmp_path):
    manager = MemDiskFileManager() if kind == 'mem' else FsDiskFileManager()
    os.makedirs(tmp_path / 'sda', exist_ok=True)
    return manager, lambda: manager.get_diskfile(str(tmp_path / 'sda'), 0, 'a', 'c', 'o')


@pytest.mark.parametrize('kind', ['mem', 'fs'])
def test_lock_excludes_threads(kind, tmp_path):
    _manager, get = _diskfile(kind, tmp_path)
    inside = []
    overlaps = []

    def worker():
        for _ in range(50):
            with get().lock():
                inside.append(1)
                if len(inside) > 1:
                    overlaps.append(1)
                inside.pop()
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not overlaps


def _count_under_lock(path, counter, rounds):
    manager = FsDiskFileManager()
    for _ in range(rounds):
        with manager.get_diskfile(path, 0, 'a', 'c', 'o').lock():
            with open(counter) as f:
                value = int(f.read() or '0')
            with open(counter, 'w') as f:
                f.write(str(value + 1))


def test_fs_lock_excludes_processes_and_leaves_nothing(tmp_path):
    device = str(tmp_path / 'sda')
    os.makedirs(device)
    counter = str(tmp_path / 'counter')
    open(counter, 'w').close()
    ctx = multiprocessing.get_context('fork')
    procs = [ctx.Process(target=_count_under_lock, args=(device, counter, 40))
             for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert open(counter).read() == '120'
    leftovers = [f for _r, _d, files in os.walk(device) for f in files if f == LOCK_FILE]
    assert leftovers == []
