"""Grouped flushes: writes on a device share syncfs calls, and none is
acknowledged before a flush that started after it finished; a data file's
bytes are written out (WriteOut), with the others' in flight, before its name
appears.

The flush is a controllable hook here: each call announces itself and blocks
until the test lets it go, so every ordering below is arranged, not hoped for.
"""
import os
import queue
import threading
import time

import pytest

from swiftlike.fs import write_out
from swiftlike.http import Request
from swiftlike.obj.diskfile import FsDiskFileManager
from swiftlike.obj.group_sync import GroupSync, WriteOut
from swiftlike.obj.server import App, Conf
from swiftlike.timestamp import Timestamp

DEADLINE = 30.0


class ControlledFlush:
    """A sync(path), or a write(fds), that blocks until release(); calls
    report on `entered`. As a write it fails the fds in release's dict."""

    def __init__(self, on_enter=None):
        self.entered = queue.Queue()
        self._gates = queue.Queue()
        self.on_enter = on_enter
        self.calls = 0

    def __call__(self, what):
        self.calls += 1
        if self.on_enter:
            self.on_enter()
        self.entered.put(what)
        outcome = self._gates.get(timeout=DEADLINE)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome or {}

    def wait_entered(self):
        return self.entered.get(timeout=DEADLINE)

    def release(self, outcome=None):
        self._gates.put(outcome)


def until(condition, what, sleep=time.sleep):
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, 'timed out waiting for ' + what
        sleep(0.001)


def start(func, *args):
    result = {}

    def run():
        try:
            result['value'] = func(*args)
        except Exception as err:  # handed to the test
            result['error'] = err
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def test_waiters_during_a_flush_share_the_next_one_and_wait_for_it():
    flush = ControlledFlush()
    syncer = GroupSync('/dev0', flush)
    first, first_result = start(syncer.wait)
    flush.wait_entered()
    # Three writes finish while the first flush runs: it may have started
    # before their data reached the page cache, so it cannot cover them.
    others = [start(syncer.wait) for _ in range(3)]
    until(lambda: syncer.waits == 4, 'the three waiters to register')
    flush.release()
    first.join(DEADLINE)
    assert not first.is_alive() and 'error' not in first_result
    flush.wait_entered()          # one flush for all three...
    assert all(thread.is_alive() for thread, _ in others)   # ...which they wait for
    flush.release()
    for thread, result in others:
        thread.join(DEADLINE)
        assert not thread.is_alive() and 'error' not in result
    assert (flush.calls, syncer.syncs, syncer.waits) == (2, 2, 4)


def test_a_failed_flush_fails_its_waiters_and_the_next_one_retries():
    flush = ControlledFlush()
    syncer = GroupSync('/dev0', flush)
    first, first_result = start(syncer.wait)
    flush.wait_entered()
    second, second_result = start(syncer.wait)
    until(lambda: syncer.waits == 2, 'the second waiter to register')
    flush.release(OSError(5, 'EIO'))
    first.join(DEADLINE)
    assert isinstance(first_result.get('error'), OSError)
    flush.wait_entered()          # the second leads its own flush
    flush.release()
    second.join(DEADLINE)
    assert 'error' not in second_result and syncer.syncs == 1


def _meta(ts, body):
    import hashlib
    return {'name': '/a/c/o', 'X-Timestamp': Timestamp(ts).internal,
            'Content-Type': 'text/plain', 'Content-Length': str(len(body)),
            'ETag': hashlib.md5(body).hexdigest()}


def test_commit_names_the_file_after_its_data_is_written_out_and_returns_after_a_flush(
        tmp_path):
    dev = str(tmp_path / 'sda')
    os.mkdir(dev)
    flush, written = ControlledFlush(), ControlledFlush()
    mgr = FsDiskFileManager(group_sync=True, sync=flush, write=written)
    df = mgr.get_diskfile(dev, 7, 'a', 'c', 'o')
    writer = df.create(3)
    writer.write(b'abc')
    target = os.path.join(df.hash_path, Timestamp(1).internal + '.data')
    fd = writer.fd
    committing, result = start(writer.commit, _meta(1, b'abc'))
    # The write-out of the file's data, by its descriptor: no name yet.
    assert written.wait_entered() == [fd]
    assert not os.path.exists(target) and committing.is_alive() and flush.calls == 0
    written.release()
    # Then one flush, for the data, the xattrs and the rename: named, but
    # the commit still waits.
    assert flush.wait_entered() == dev
    assert os.path.exists(target) and committing.is_alive()
    flush.release()
    committing.join(DEADLINE)
    assert not committing.is_alive() and 'error' not in result
    assert (written.calls, flush.calls) == (1, 1)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_a_write_out_runs_where_it_is_asked_until_they_are_slow_on_average():
    # Then the device's write-outs go to a disk thread (here: the offload
    # hook) for `penalty` seconds.
    clock, done = Clock(), []
    costs = []

    def write(fds):
        done.append(('direct', fds[0]))
        clock.now += costs.pop(0)
        return {}
    writes = WriteOut(write, offload=lambda _write, fds: done.append(('offloaded', fds[0])) or {},
                      slow=0.005, penalty=60, clock=clock)
    # Fast ones, and a lone stall of 30 ms among them: the average stays low.
    costs[:] = [0.0001] * 5 + [0.03] + [0.0001] * 5
    for fd in range(11):
        writes.wait(fd)
    assert done == [('direct', fd) for fd in range(11)]
    # A run of 10 ms ones: the average passes 5 ms on the 5th.
    del done[:]
    costs[:] = [0.01] * 5
    for fd in range(7):
        writes.wait(fd)
    assert done == [('direct', fd) for fd in range(5)] + [('offloaded', 5), ('offloaded', 6)]
    clock.now += 59
    writes.wait(8)
    clock.now += 2               # the penalty is over: directly again
    costs[:] = [0.0001]
    writes.wait(9)
    assert done[-2:] == [('offloaded', 8), ('direct', 9)]
    # A waiter in a disk thread (no offload) always writes its file itself.
    threaded = WriteOut(write, slow=0.005, clock=clock)
    costs[:] = [1.0] * 2
    threaded.wait(10)
    threaded.wait(11)
    assert done[-2:] == [('direct', 10), ('direct', 11)]


def offloading(write):
    """A WriteOut whose first write-out was slow enough to raise the average
    over the limit: the next go to `write`, in batches."""
    clock = Clock()

    def slow(fds):
        clock.now += 10
        return {}
    writes = WriteOut(slow, offload=lambda _slow, fds: write(fds), clock=clock)
    writes.wait(99)
    return writes


def test_writes_arriving_during_an_offloaded_write_out_share_the_next_one():
    written = ControlledFlush()
    writes = offloading(written)
    first, first_result = start(writes.wait, 10)
    assert written.wait_entered() == [10]
    others = [start(writes.wait, fd) for fd in (11, 12, 13)]
    until(lambda: writes.waits == 4, 'the three waiters to register')
    written.release()
    first.join(DEADLINE)
    assert not first.is_alive() and 'error' not in first_result
    assert written.wait_entered() == [11, 12, 13]
    assert all(thread.is_alive() for thread, _ in others)
    written.release()
    for thread, result in others:
        thread.join(DEADLINE)
        assert not thread.is_alive() and 'error' not in result
    assert (written.calls, writes.syncs, writes.waits) == (2, 2, 4)


def test_a_failed_write_out_fails_only_the_files_it_failed_for():
    written = ControlledFlush()
    writes = offloading(written)
    first, first_result = start(writes.wait, 10)
    written.wait_entered()
    others = {fd: start(writes.wait, fd) for fd in (11, 12)}
    until(lambda: writes.waits == 3, 'the two waiters to register')
    written.release()
    first.join(DEADLINE)
    assert written.wait_entered() == [11, 12]
    written.release({12: OSError(5, 'EIO')})
    for thread, _ in others.values():
        thread.join(DEADLINE)
    assert 'error' not in others[11][1]
    assert isinstance(others[12][1].get('error'), OSError)
    assert writes._failed == {}
    # Directly, too.
    direct = WriteOut(lambda fds: {fd: OSError(28, 'ENOSPC') for fd in fds})
    with pytest.raises(OSError):
        direct.wait(3)


def test_a_write_out_that_raises_fails_its_leader_and_the_others_go_again():
    written = ControlledFlush()
    writes = offloading(written)
    first, first_result = start(writes.wait, 10)
    written.wait_entered()
    second, second_result = start(writes.wait, 11)
    until(lambda: writes.waits == 2, 'the second waiter to register')
    written.release()
    first.join(DEADLINE)
    assert written.wait_entered() == [11]
    third, third_result = start(writes.wait, 12)
    until(lambda: writes.waits == 3, 'the third waiter to register')
    written.release(RuntimeError('the disk thread went away'))
    second.join(DEADLINE)
    assert isinstance(second_result.get('error'), RuntimeError)
    # The third, not yet written out, goes again alone: never the leader's
    # descriptor, which its caller is closing.
    assert written.wait_entered() == [12]
    written.release()
    third.join(DEADLINE)
    assert 'error' not in third_result and 'error' not in first_result


def test_write_out_writes_real_files_and_reports_a_bad_descriptor(tmp_path):
    path = tmp_path / 'f'
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        os.write(fd, b'abc' * 1000)
        assert write_out([fd]) == {}
        bad = os.open(os.devnull, os.O_RDONLY)
        os.close(bad)
        failed = write_out([fd, bad])
        assert list(failed) == [bad] and isinstance(failed[bad], OSError)
    finally:
        os.close(fd)
    assert path.read_bytes() == b'abc' * 1000


@pytest.mark.parametrize('write,ext', [
    (lambda df: df.delete(Timestamp(2).internal), '.ts'),
    (lambda df: df.write_metadata({'X-Timestamp': Timestamp(2).internal, 'X-Object-Meta-A': 'b'}),
     '.meta'),
])
def test_a_file_without_data_takes_one_flush_after_its_rename(tmp_path, write, ext):
    # Its create, xattrs and rename are all metadata, which the filesystem's
    # journal commits in order: the one flush after the rename covers them.
    dev = str(tmp_path / 'sda')
    os.mkdir(dev)
    flush = ControlledFlush()
    df = FsDiskFileManager(group_sync=True, sync=flush).get_diskfile(dev, 7, 'a', 'c', 'o')
    target = os.path.join(df.hash_path, Timestamp(2).internal + ext)
    writing, result = start(write, df)
    assert flush.wait_entered() == dev
    assert os.path.exists(target) and writing.is_alive()
    flush.release()
    writing.join(DEADLINE)
    assert not writing.is_alive() and 'error' not in result
    assert flush.calls == 1


def test_big_files_make_themselves_durable_alone(tmp_path, monkeypatch):
    # A shared flush would write out (and wait for) every other big upload in
    # flight on the device: a big file fsyncs its data, its new directories
    # and the rename itself, and leaves the page cache.
    from swiftlike.obj import diskfile
    dev = str(tmp_path / 'sda')
    os.mkdir(dev)
    fsynced = []
    real = os.fsync
    monkeypatch.setattr(os, 'fsync', lambda fd: (fsynced.append(os.readlink(
        '/proc/self/fd/%d' % fd)), real(fd)))
    dropped = []
    real_fadvise = os.posix_fadvise
    monkeypatch.setattr(os, 'posix_fadvise', lambda fd, *a: (dropped.append(a), real_fadvise(fd, *a)))
    flushes = []
    mgr = FsDiskFileManager(group_sync=True, sync=flushes.append)
    body = b'x' * (diskfile.GROUP_SYNC_MAX_BYTES + 1)
    df = mgr.get_diskfile(dev, 7, 'a', 'c', 'o')
    writer = df.create(len(body))
    writer.write(body)
    writer.commit(_meta(1, body))
    assert flushes == []
    # The data (under its temp name), the new directories down to the
    # partition, and the hash dir after the rename.
    assert fsynced[0].endswith('.tmp') or '/tmp/' in fsynced[0]
    assert fsynced[-1] == df.hash_path and os.path.dirname(df.hash_path) in fsynced
    assert dropped == [(0, 0, os.POSIX_FADV_DONTNEED)]


@pytest.mark.parametrize('method', ['PUT', 'DELETE'])
def test_the_object_server_answers_only_after_the_flush(tmp_path, method):
    devices = tmp_path / 'devices'
    (devices / 'sda').mkdir(parents=True)
    flush = ControlledFlush()
    conf = Conf(devices=str(devices), mount_check=False, fallocate_reserve='0',
                threads_per_disk=0, log_level='CRITICAL')
    written = ControlledFlush()
    app = App(conf, backend=FsDiskFileManager(group_sync=True, sync=flush, write=written))
    headers = {'X-Timestamp': Timestamp(time.time()).internal, 'Content-Type': 'text/plain'}
    req = Request.blank('/sda/1/a/c/o', environ={'REQUEST_METHOD': method}, headers=headers)
    if method == 'PUT':
        req.body = b'data'
    answering, result = start(req.get_response, app)
    # A PUT: its data's write-out, then the flush after the rename; a
    # tombstone: the flush.
    steps = [written, flush] if method == 'PUT' else [flush]
    for step in steps:
        step.wait_entered()
        assert answering.is_alive() and 'value' not in result
        step.release()
    answering.join(DEADLINE)
    assert result['value'].status_int == (201 if method == 'PUT' else 404)
    assert (written.calls, flush.calls) == (len(steps) - 1, 1)


def test_auto_shares_flushes_only_on_devices_that_are_mount_points(tmp_path):
    mgr = FsDiskFileManager(group_sync='auto', sync=lambda path: None)
    assert mgr.group_syncer(str(tmp_path)) is None     # a directory of the test's filesystem
    assert isinstance(mgr.group_syncer('/'), GroupSync)
    assert FsDiskFileManager(group_sync=True).group_syncer(str(tmp_path)) is not None
    assert FsDiskFileManager(group_sync=False).group_syncer('/') is None


@pytest.mark.parametrize('text, ok', [('auto', True), ('TRUE', True), ('false', True),
                                      ('yes', False), ('', False)])
def test_group_sync_setting(tmp_path, text, ok):
    conf = Conf(devices=str(tmp_path), group_sync=text)
    if ok:
        conf.validate()
    else:
        with pytest.raises(ValueError):
            conf.validate()


def test_a_big_file_starts_its_write_out_as_it_is_written(tmp_path, monkeypatch):
    # So a shared flush by the small writes beside it finds little of it dirty.
    from swiftlike.obj import diskfile
    dev = str(tmp_path / 'sda')
    os.mkdir(dev)
    started = []
    monkeypatch.setattr(diskfile, 'start_writeback',
                        lambda fd, offset, nbytes: started.append((offset, nbytes)))
    mgr = FsDiskFileManager(group_sync=True, sync=lambda path: None)
    df = mgr.get_diskfile(dev, 7, 'a', 'c', 'o')
    mib = b'x' * (1 << 20)
    writer = df.create(10 << 20)
    for _ in range(10):
        writer.write_chunks([mib[:1 << 19], mib[1 << 19:]])
    writer.commit(_meta(1, mib * 10))
    step = diskfile.WRITEBACK_BYTES
    assert started == [(0, step), (step, step)]
    assert os.path.getsize(os.path.join(df.hash_path, Timestamp(1).internal + '.data')) == 10 << 20


def test_start_writeback_leaves_the_file_as_it_was(tmp_path):
    from swiftlike.fs import start_writeback
    path = tmp_path / 'f'
    path.write_bytes(b'abc' * 100000)
    fd = os.open(path, os.O_RDWR)
    try:
        start_writeback(fd, 0, 300000)
        start_writeback(fd, 1 << 40, 10)     # past the end: nothing to do
    finally:
        os.close(fd)
    assert path.read_bytes() == b'abc' * 100000
