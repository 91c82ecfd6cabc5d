"""DiskExecutor.run_quick: inline while the device is healthy, threaded once
it is slow (a long inline call, or a threaded call running too long)."""
import threading
import time

from swiftlike import concurrency
from swiftlike.concurrency import DiskExecutor

MAIN = threading.get_ident()


def where():
    return 'inline' if threading.get_ident() == MAIN else 'thread'


def test_quick_calls_run_inline_on_a_healthy_device_and_threaded_when_off():
    assert DiskExecutor(2, inline_quick=True).run_quick('sda', where) == 'inline'
    assert DiskExecutor(2, inline_quick=False).run_quick('sda', where) == 'thread'
    assert DiskExecutor(2, inline_quick=True).run('sda', where) == 'thread'


def test_a_slow_inline_call_sends_the_device_to_threads_for_the_penalty():
    disk = DiskExecutor(2, inline_quick=True, slow=0.001, penalty=3600)
    assert disk.run_quick('sda', lambda: (time.sleep(0.01), where())[1]) == 'inline'
    assert disk.run_quick('sda', where) == 'thread'
    assert disk.run_quick('sdb', where) == 'inline'    # other devices are not affected
    quick = DiskExecutor(2, inline_quick=True, slow=0.001, penalty=0)
    quick.run_quick('sda', time.sleep, 0.01)
    assert quick.run_quick('sda', where) == 'inline'   # penalty over


def test_a_long_threaded_call_sends_quick_calls_of_its_device_to_threads():
    disk = DiskExecutor(2, inline_quick=True, slow=0.001)
    gate = threading.Event()
    started = threading.Event()

    def blocked():
        started.set()
        gate.wait(30)
    worker = concurrency.spawn(disk.run, 'sda', blocked)
    while not started.is_set():           # the threaded call is under way...
        concurrency.sleep(0.001)
    time.sleep(0.002)                     # ...and older than `slow` now
    try:
        assert disk.run_quick('sda', where) == 'thread'
        assert disk.run_quick('sdb', where) == 'inline'
    finally:
        gate.set()
        worker.wait()
    assert disk.run_quick('sda', where) == 'inline'    # nothing running: healthy again
