"""concurrency.ThreadPool: blocking calls in OS threads, results and errors
back to the green thread that asked, however many ask at once."""
import os
import threading
import time

import pytest

from swiftlike import concurrency
from swiftlike.concurrency import ThreadPool

MAIN = threading.get_ident()


def test_result_runs_in_another_thread():
    pool = ThreadPool(2)
    assert pool.execute(lambda a, b=0: (a + b, threading.get_ident() != MAIN), 1, b=2) == (3, True)


def test_an_error_is_raised_to_the_caller_with_its_traceback():
    pool = ThreadPool(2)

    def fails():
        raise OSError(28, 'No space left on device')
    with pytest.raises(OSError) as caught:
        pool.execute(fails)
    assert caught.value.errno == 28
    assert any(entry.name == 'fails' for entry in caught.traceback)
    assert pool.execute(lambda: 'still works') == 'still works'


def test_many_green_callers_at_once_each_get_their_own_answer():
    pool = ThreadPool(4)
    pile = concurrency.GreenPile(64)
    for i in range(500):
        pile.spawn(pool.execute, lambda i=i: (time.sleep(0.0005 * (i % 3)), i)[1])
    assert list(pile) == list(range(500))
    assert pool._threads <= 4


def test_threads_start_only_as_calls_need_them():
    pool = ThreadPool(8)
    for _ in range(20):
        pool.execute(lambda: None)
    assert pool._threads == 1     # one call at a time needs one thread


def test_calls_beyond_size_wait_for_a_thread():
    pool = ThreadPool(2)
    gate = threading.Event()
    running = []

    def blocked(i):
        running.append(i)
        gate.wait(30)
        return i
    workers = [concurrency.spawn(pool.execute, blocked, i) for i in range(3)]
    while len(running) < 2:
        concurrency.sleep(0.001)
    concurrency.sleep(0.05)
    assert len(running) == 2     # the third waits for one of the two threads
    gate.set()
    assert sorted(w.wait() for w in workers) == [0, 1, 2]


def test_a_caller_that_gives_up_leaves_the_pool_working():
    pool = ThreadPool(1)
    gate = threading.Event()
    with pytest.raises(concurrency.Timeout):
        with concurrency.Timeout(0.01):
            pool.execute(gate.wait, 30)
    gate.set()                    # its answer comes later, to nobody
    assert pool.execute(lambda: 'next') == 'next'


def test_a_call_from_a_pool_thread_runs_there():
    pool = ThreadPool(1)         # one thread: waiting on the pool would hang
    outer = pool.execute(lambda: (threading.get_ident(),
                                  pool.execute(threading.get_ident)))
    assert outer[0] == outer[1] != MAIN


def test_a_forked_child_starts_its_own_threads():
    pool = ThreadPool(2)
    assert pool.execute(os.getpid) == os.getpid()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:                 # the child: the parent's threads are not here
        try:
            concurrency.fresh_hub()     # as a server's forked worker does
            ok = pool.execute(os.getpid) == os.getpid() and pool._threads == 1
            os.write(write, b'ok' if ok else b'no')
        finally:
            os._exit(0)
    os.close(write)
    try:
        assert os.read(read, 2) == b'ok'
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    assert pool.execute(os.getpid) == os.getpid()
