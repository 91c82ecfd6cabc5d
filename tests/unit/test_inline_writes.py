"""Small writes made inline on the event loop.

An object server's small PUT or DELETE writes its file on the event loop
while the device is healthy, and its waits for the device's shared flush
are green: the flush runs in a disk thread, the loop serves others
meanwhile, and nothing is answered before the flush is over. A container
row's append to the pending file is inline too, unless a merge holds the
file (then it waits in a disk thread). Every wait below is arranged (a
flush that blocks until the test lets it go, a lock the test holds) and
polled for from the event loop, never timed; the one test about durations
makes them far apart (0.6-0.7 s calls against a 0.5 s threshold).
"""
import fcntl
import os
import threading
import time

import pytest

from swiftlike import concurrency
from swiftlike.concurrency import DiskExecutor, GreenCondition
from swiftlike.container import server as container_server
from swiftlike.container.backend import ContainerBroker
from swiftlike.http import Request
from swiftlike.obj.diskfile import GROUP_SYNC_MAX_BYTES, FsDiskFile, FsDiskFileManager
from swiftlike.obj.group_sync import GroupSync
from swiftlike.obj.server import App, Conf
from swiftlike.timestamp import Timestamp
from tests.unit.db.helpers import call, make_conf
from tests.unit.obj import test_group_sync as group_sync_tests

DEADLINE = group_sync_tests.DEADLINE
MAIN = threading.get_ident()


class ControlledFlush(group_sync_tests.ControlledFlush):
    """test_group_sync's controlled flush, noting the OS thread each call ran in."""

    def __init__(self):
        self.threads = []
        super().__init__(on_enter=lambda: self.threads.append(threading.get_ident()))


class WriteOutRecorder:
    """A write-out that notes the OS thread of each call, and whether the
    device's flush had started by then."""

    def __init__(self, flush):
        self.flush = flush
        self.calls = []

    def __call__(self, fds):
        self.calls.append((threading.get_ident(), self.flush.calls))
        return {}


def green_until(condition, what):
    """Poll from the event loop (other green threads run meanwhile)."""
    group_sync_tests.until(condition, what, concurrency.sleep)


def entered(flush):
    green_until(lambda: not flush.entered.empty(), 'a flush to start')
    return flush.entered.get_nowait()


def green_syncer(flush):
    return GroupSync('/dev0', lambda path: concurrency.run_in_thread(flush, path),
                     GreenCondition())


def test_green_waiters_during_a_flush_share_the_next_one_in_a_disk_thread():
    flush = ControlledFlush()
    syncer = green_syncer(flush)
    first = concurrency.spawn(syncer.wait)
    entered(flush)
    others = [concurrency.spawn(syncer.wait) for _ in range(3)]
    green_until(lambda: syncer.waits == 4, 'the three waiters to register')
    flush.release()
    first.wait()
    entered(flush)                # one flush for the three, which they wait for
    assert not any(thread.dead for thread in others)
    flush.release()
    for thread in others:
        thread.wait()
    assert (syncer.syncs, syncer.waits) == (2, 4)
    assert MAIN not in flush.threads


def test_a_failed_green_flush_fails_its_waiters_and_the_next_one_retries():
    flush = ControlledFlush()
    syncer = green_syncer(flush)
    first = concurrency.spawn(syncer.wait)
    entered(flush)
    second = concurrency.spawn(syncer.wait)
    green_until(lambda: syncer.waits == 2, 'the second waiter to register')
    flush.release(OSError(5, 'EIO'))
    with pytest.raises(OSError):
        first.wait()
    entered(flush)                # the second leads a flush of its own
    flush.release()
    second.wait()
    assert syncer.syncs == 1


def test_the_manager_keeps_a_green_syncer_for_the_loop_and_one_for_threads():
    mgr = FsDiskFileManager(group_sync=True, sync=lambda path: None)
    on_loop = mgr.group_syncer('/dev0')
    in_thread = concurrency.run_in_thread(mgr.group_syncer, '/dev0')
    assert on_loop is mgr.group_syncer('/dev0') and in_thread is not on_loop
    assert isinstance(on_loop._cond, GreenCondition)
    assert not isinstance(in_thread._cond, GreenCondition)


def test_time_an_inline_call_spends_waiting_is_not_its_own():
    disk = DiskExecutor(2, slow=0.5, penalty=3600)
    cond = GreenCondition()

    def waits_for_a_thread_then_a_green_condition():
        disk.run('sda', time.sleep, 0.7)            # the loop runs meanwhile
        concurrency.spawn_after(0.7, cond.notify_all)
        cond.wait()
        return threading.get_ident()
    assert disk.run_inline('sda', waits_for_a_thread_then_a_green_condition) == MAIN
    assert disk._healthy('sda')
    # A call that stalls the loop itself for longer than `slow` still counts.
    disk.run_inline('sda', time.sleep, 0.6)
    assert not disk._healthy('sda')
    assert disk.run_inline('sda', threading.get_ident) != MAIN


@pytest.fixture
def object_app(tmp_path):
    devices = tmp_path / 'devices'
    (devices / 'sda').mkdir(parents=True)
    flush, written = ControlledFlush(), None
    written = WriteOutRecorder(flush)

    def make(**conf):
        conf = Conf(devices=str(devices), mount_check=False, fallocate_reserve='0',
                    log_level='CRITICAL', **conf)
        return App(conf, backend=FsDiskFileManager(group_sync=True, sync=flush, write=written,
                                                   defer_cleanup=True)), flush, written
    return make


@pytest.mark.parametrize('method', ['PUT', 'DELETE'])
@pytest.mark.parametrize('inline', [True, False])
def test_the_object_server_answers_a_write_only_after_its_flushes(object_app, method, inline):
    app, flush, written = object_app(inline_small_writes=inline)
    headers = {'X-Timestamp': Timestamp(time.time()).internal, 'Content-Type': 'text/plain'}
    req = Request.blank('/sda/1/a/c/o', environ={'REQUEST_METHOD': method}, headers=headers)
    if method == 'PUT':
        req.body = b'data'
    answering = concurrency.spawn(req.get_response, app)
    # A PUT: its data's write-out, then the flush after the rename; a
    # tombstone: the flush.
    entered(flush)
    assert not answering.dead
    flush.release()
    assert answering.wait().status_int == (201 if method == 'PUT' else 404)
    # Inline, the writes' waits were green, the flush a disk thread's and
    # the short write-out the loop's; else they were all a disk thread's.
    syncers = {key[1]: syncer for key, syncer in app.backend._group_syncs.items() if syncer}
    assert list(syncers) == [inline] and syncers[inline].syncs == 1
    assert MAIN not in flush.threads
    if method == 'PUT':
        [(thread, flushes_before)] = written.calls
        assert flushes_before == 0 and (thread == MAIN) == inline
    else:
        assert written.calls == []


def test_an_inline_write_waits_for_a_held_partition_lock_in_a_disk_thread(object_app):
    # A rehash holds the partition's lock (here the test does): the write
    # marks its suffix dirty from a disk thread, and the loop keeps serving.
    app, flush, written = object_app()
    part_path = app.backend.get_diskfile(app.device_path('sda'), 1, 'a', 'c', 'o').part_path
    os.makedirs(part_path)
    held = open(os.path.join(part_path, '.lock'), 'w')
    fcntl.flock(held, fcntl.LOCK_EX)
    released = threading.Event()
    stalled = []

    def watchdog():   # a loop blocked on the lock would never let the test go on
        if not released.wait(DEADLINE):
            stalled.append(True)
            held.close()
    threading.Thread(target=watchdog, daemon=True).start()
    req = Request.blank('/sda/1/a/c/o', environ={'REQUEST_METHOD': 'PUT'}, body=b'data',
                        headers={'X-Timestamp': Timestamp(time.time()).internal,
                                 'Content-Type': 'text/plain'})
    answering = concurrency.spawn(req.get_response, app)
    entered(flush)
    flush.release()
    concurrency.sleep(0.01)
    assert not answering.dead and not stalled
    assert not os.path.exists(os.path.join(part_path, 'hashes.invalid'))
    released.set()
    held.close()
    assert answering.wait().status_int == 201 and not stalled
    with open(os.path.join(part_path, 'hashes.invalid')) as f:
        assert f.read().split() == [app.backend.get_diskfile(
            app.device_path('sda'), 1, 'a', 'c', 'o').suffix]


@pytest.mark.parametrize('method', ['PUT', 'DELETE'])
@pytest.mark.parametrize('old_size, on_loop', [(100, True), (GROUP_SYNC_MAX_BYTES + 1, False)])
def test_superseded_files_go_where_the_write_went_unless_big(object_app, monkeypatch, method,
                                                             old_size, on_loop):
    # A small file's unlink is inline like the write that superseded it; a
    # big one's, which frees many extents, is a disk thread's.
    app, flush, _written = object_app()
    dev_path = app.device_path('sda')
    body = b'x' * old_size
    old = FsDiskFileManager().get_diskfile(dev_path, 1, 'a', 'c', 'o')
    writer = old.create(len(body))
    writer.write(body)
    writer.commit(group_sync_tests._meta(1, body))
    cleaned = []
    real = FsDiskFile.cleanup
    monkeypatch.setattr(FsDiskFile, 'cleanup',
                        lambda df: (cleaned.append(threading.get_ident()), real(df)))
    req = Request.blank('/sda/1/a/c/o', environ={'REQUEST_METHOD': method},
                        headers={'X-Timestamp': Timestamp(2).internal,
                                 'Content-Type': 'text/plain'})
    if method == 'PUT':
        req.body = b'new'
    answering = concurrency.spawn(req.get_response, app)
    entered(flush)
    flush.release()
    assert answering.wait().status_int == (201 if method == 'PUT' else 204)
    green_until(lambda: cleaned, 'the superseded file to go')
    assert (cleaned[0] == MAIN) == on_loop
    left = os.listdir(old.hash_path)
    assert left == [Timestamp(2).internal + ('.data' if method == 'PUT' else '.ts')]


def test_the_object_server_writes_in_threads_where_flushes_are_not_shared(tmp_path):
    devices = tmp_path / 'devices'
    (devices / 'sda').mkdir(parents=True)
    app = App(Conf(devices=str(devices), mount_check=False, fallocate_reserve='0'),
              backend=FsDiskFileManager(group_sync=False))
    assert app._write_call(str(devices / 'sda')) == app.disk.run
    app.backend = FsDiskFileManager(group_sync=True)
    assert app._write_call(str(devices / 'sda')) == app.disk.run_inline


# -- container rows ----------------------------------------------------------------


@pytest.fixture
def cbroker(tmp_path):
    broker = ContainerBroker(str(tmp_path / 'c' / 'c.db'))
    broker.initialize('0000000001.00000', account='a', container='c')
    return broker


def test_an_append_that_would_wait_queues_nothing_and_says_so(cbroker):
    cbroker.pending_merge_bytes = 1 << 20
    assert cbroker.put_object('o1', '0000000002.00000', 1, 't', 'e', block=False) is False
    size = cbroker.pending_size()
    with open(cbroker.pending_file, 'rb') as held:
        fcntl.flock(held, fcntl.LOCK_EX)          # a merge holds the file
        assert cbroker.put_object('o2', '0000000003.00000', 1, 't', 'e', block=False) is None
    assert cbroker.pending_size() == size
    cbroker.pending_merge_bytes = 1
    assert cbroker.delete_object('o1', '0000000004.00000', block=False) is True
    assert cbroker.pending_size() > size          # due, but not merged: the caller's call
    cbroker.pending_fsync = True
    assert cbroker.put_object('o3', '0000000005.00000', 1, 't', 'e', block=False) is None
    with open(cbroker.pending_file, 'rb') as f:
        queued = f.read()
    assert queued.count(b'"o1"') == 2 and b'"o2"' not in queued and b'"o3"' not in queued


@pytest.fixture
def container_app(tmp_path):
    conf = make_conf(container_server.Conf, str(tmp_path))
    conf.threads_per_disk = 2
    app = container_server.App(conf)
    assert call(app, 'PUT', '/sda/1/a/c', {'X-Timestamp': '0000000001.00000'})[0] == 201
    return app


def row_put(app, name, t):
    return call(app, 'PUT', '/sda/1/a/c/' + name, {
        'X-Timestamp': '%010d.00000' % t, 'X-Size': '1', 'X-Content-Type': 't',
        'X-Etag': 'e'})[0]


def listed(app):
    status, _headers, body = call(app, 'GET', '/sda/1/a/c', query='format=json')
    assert status == 200
    import json
    return [row['name'] for row in json.loads(body)]


def test_a_row_update_that_meets_a_merge_waits_for_it_in_a_disk_thread(container_app):
    assert row_put(container_app, 'o1', 2) == 201
    broker = container_app.broker(container_app.device_path('sda'), 1, 'a', 'c')
    size = broker.pending_size()
    held = open(broker.pending_file, 'rb')
    fcntl.flock(held, fcntl.LOCK_EX)
    try:
        putting = concurrency.spawn(row_put, container_app, 'o2', 3)
        green_until(lambda: container_app.disk._running.get('sda'), 'the threaded append')
        assert not putting.dead and broker.pending_size() == size
    finally:
        held.close()
    assert putting.wait() == 201
    assert listed(container_app) == ['o1', 'o2']


def test_a_row_update_that_makes_a_merge_due_merges(tmp_path):
    app = container_server.App(make_conf(container_server.Conf, str(tmp_path),
                                         pending_merge_bytes=1))
    call(app, 'PUT', '/sda/1/a/c', {'X-Timestamp': '0000000001.00000'})
    assert row_put(app, 'o1', 2) == 201
    broker = app.broker(app.device_path('sda'), 1, 'a', 'c')
    assert broker.pending_size() == 0
    assert listed(app) == ['o1']


@pytest.mark.parametrize('inline', [True, False])
def test_row_updates_land_either_way(tmp_path, inline):
    app = container_server.App(make_conf(container_server.Conf, str(tmp_path),
                                         inline_row_updates=inline))
    call(app, 'PUT', '/sda/1/a/c', {'X-Timestamp': '0000000001.00000'})
    assert row_put(app, 'o1', 2) == 201
    assert call(app, 'DELETE', '/sda/1/a/c/o1', {'X-Timestamp': '0000000003.00000'})[0] == 204
    assert row_put(app, 'o2', 4) == 201
    assert listed(app) == ['o2']
