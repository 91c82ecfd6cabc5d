"""Stopping a headless Chromium and its chromedriver without waiting on them.

selenium's quit() asks chromedriver to shut down over HTTP and then waits for
the answer with no timeout; a chromedriver that accepted that request and
never answered hung a whole test run at a module's teardown. A test's browser
holds nothing worth a graceful exit: kill chromedriver and every process
below it (Chromium's), then reap chromedriver with a bounded wait.
"""
import os
import signal
import time


def _children(pid):
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry, 'rb') as f:
                ppid = int(f.read().rsplit(b')', 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.append(int(entry))
    return found


def descendants(pid):
    """Every process below `pid` (children first found, then theirs)."""
    out, queue = [], [pid]
    while queue:
        for child in _children(queue.pop()):
            out.append(child)
            queue.append(child)
    return out


def stop_browser(service):
    """Kill chromedriver (the service's process) and all below it."""
    proc = getattr(service, 'process', None)
    if proc is None or proc.poll() is not None:
        return
    for pid in descendants(proc.pid) + [proc.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    deadline = time.monotonic() + 10
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
