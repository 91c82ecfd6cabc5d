"""The only module that imports eventlet/greenlet.

Everything else spawns green threads, takes timeouts and runs blocking disk
calls through the names defined here, so the concurrency library stays
replaceable.
"""
import os
import warnings

with warnings.catch_warnings():
    # Eventlet warns on import that it is in maintenance mode; we keep it
    # behind this module so it can be swapped out.
    warnings.simplefilter('ignore')
    import eventlet
import eventlet.event
import eventlet.greenpool
import eventlet.hubs
import eventlet.queue
import eventlet.semaphore
import eventlet.timeout
import eventlet.tpool
import eventlet.wsgi
import greenlet

spawn = eventlet.spawn
spawn_n = eventlet.spawn_n
spawn_after = eventlet.spawn_after
sleep = eventlet.sleep
GreenPool = eventlet.greenpool.GreenPool
GreenPile = eventlet.greenpool.GreenPile
Timeout = eventlet.timeout.Timeout
Event = eventlet.event.Event
Semaphore = eventlet.semaphore.Semaphore
Queue = eventlet.queue.Queue
LightQueue = eventlet.queue.LightQueue
Empty = eventlet.queue.Empty
GreenletExit = greenlet.GreenletExit
listen = eventlet.listen
wsgi_server = eventlet.wsgi.server


def monkey_patch():
    """Make sockets, select, time and threads cooperative (servers and daemons)."""
    eventlet.monkey_patch(all=False, socket=True, select=True, time=True, thread=True)


def call_soon_in_hub(func, *args):
    """Schedule func on the hub; safe to call from a signal handler."""
    eventlet.hubs.get_hub().schedule_call_global(0, func, *args)


def kill(green_thread, *throw_args):
    green_thread.kill(*throw_args)


def current_greenlet():
    return greenlet.getcurrent()


# Disk calls go to real OS threads so a slow disk never stalls the event loop.
# Each device gets at most `threads_per_disk` of them: a hung disk ties up only
# its own share and its own requests wait, every other device keeps going.
_POOL_SIZE = int(os.environ.get('EVENTLET_THREADPOOL_SIZE', '0') or 0)
if not _POOL_SIZE:
    os.environ['EVENTLET_THREADPOOL_SIZE'] = '64'


class DiskExecutor:
    """Runs blocking filesystem calls in OS threads, bounded per device."""

    def __init__(self, threads_per_disk=4):
        self.threads_per_disk = threads_per_disk
        self._limits = {}

    def _limit(self, device):
        sem = self._limits.get(device)
        if sem is None:
            sem = self._limits[device] = Semaphore(self.threads_per_disk)
        return sem

    def run(self, device, func, *args, **kwargs):
        if self.threads_per_disk <= 0:
            return func(*args, **kwargs)
        with self._limit(device):
            return eventlet.tpool.execute(func, *args, **kwargs)
