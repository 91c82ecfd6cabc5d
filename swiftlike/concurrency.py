"""The only module that imports eventlet/greenlet.

Everything else spawns green threads, takes timeouts and runs blocking disk
calls through the names defined here, so the concurrency library stays
replaceable.

Green threads and disk threads started here run in a copy of their starter's
context (contextvars): the transaction id that swiftlike.logs keeps there
follows a request into the workers it spawns, so their log lines carry it.
(A new greenlet or OS thread would otherwise start with an empty context.)
"""
import contextvars
import http.client
import os
import warnings
from http import HTTPStatus

# eventlet's green resolver (dnspython) adds ~8 MB to every process and costs
# more per connect than libc for the numeric addresses a cluster uses; name
# lookups then block briefly instead.
os.environ.setdefault('EVENTLET_NO_GREENDNS', 'yes')

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

from swiftlike.request_headers import read_headers

_copy_context = contextvars.copy_context


def spawn(func, *args, **kwargs):
    return eventlet.spawn(_copy_context().run, func, *args, **kwargs)


def spawn_n(func, *args, **kwargs):
    return eventlet.spawn_n(_copy_context().run, func, *args, **kwargs)


def spawn_after(seconds, func, *args, **kwargs):
    return eventlet.spawn_after(seconds, _copy_context().run, func, *args, **kwargs)


class GreenPool(eventlet.greenpool.GreenPool):
    """eventlet's pool; what it runs sees the spawner's context."""

    def spawn(self, function, *args, **kwargs):
        return super().spawn(_copy_context().run, function, *args, **kwargs)

    def spawn_n(self, function, *args, **kwargs):
        return super().spawn_n(_copy_context().run, function, *args, **kwargs)


class GreenPile(eventlet.greenpool.GreenPile):
    """eventlet's pile over a GreenPool of ours (so the context follows)."""

    def __init__(self, size_or_pool=1000):
        if not isinstance(size_or_pool, eventlet.greenpool.GreenPool):
            size_or_pool = GreenPool(size_or_pool)
        super().__init__(size_or_pool)


sleep = eventlet.sleep
Timeout = eventlet.timeout.Timeout
Event = eventlet.event.Event
Semaphore = eventlet.semaphore.Semaphore
Queue = eventlet.queue.Queue
LightQueue = eventlet.queue.LightQueue
Empty = eventlet.queue.Empty
GreenletExit = greenlet.GreenletExit
listen = eventlet.listen


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
            return eventlet.tpool.execute(_copy_context().run, func, *args, **kwargs)


class _HttpProtocol(eventlet.wsgi.HttpProtocol):
    """eventlet's request handler, with request headers read by
    swiftlike.request_headers instead of the email package."""

    def parse_request(self):
        self.command = None
        # Errors are answered with a status line even before the version is
        # read (http.server writes a bare body for 'HTTP/0.9').
        self.request_version = 'HTTP/1.0'
        self.close_connection = True
        self.requestline = requestline = str(self.raw_requestline, 'iso-8859-1').rstrip('\r\n')
        # Words are separated by SP alone: str.split() would also split on
        # the latin-1 view of UTF-8 bytes such as 0x85 or 0xA0 in a raw path.
        words = [w for w in requestline.split(' ') if w]
        if not words:
            return False
        if len(words) < 3:
            # No HTTP/0.9: a request line without a version is refused.
            self.send_error(HTTPStatus.BAD_REQUEST, 'Bad request syntax (%r)' % requestline[:256])
            return False
        version = words[-1]
        numbers = version[5:].split('.') if version.startswith('HTTP/') else ()
        if (len(numbers) != 2 or not all(n.isdigit() and len(n) <= 10 for n in numbers)):
            self.send_error(HTTPStatus.BAD_REQUEST, 'Bad request version (%r)' % version[:64])
            return False
        number = (int(numbers[0]), int(numbers[1]))
        if number >= (2, 0) or number < (1, 0):
            self.send_error(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED,
                            'Invalid HTTP version (%s)' % version[5:64])
            return False
        if number >= (1, 1) and self.protocol_version >= 'HTTP/1.1':
            self.close_connection = False
        self.request_version = version
        command = words[0]
        # A path with spaces in it (as Swift reads it): the words between the
        # method and the version.
        path = ' '.join(words[1:-1])
        self.command, self.path = command, path
        try:
            self.headers = read_headers(self.rfile)
        except http.client.LineTooLong as err:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, 'Line too long',
                            str(err))
            return False
        except http.client.HTTPException as err:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, 'Too many headers',
                            str(err))
            return False
        conntype = self.headers.get('Connection', '').lower()
        if conntype == 'close':
            self.close_connection = True
        elif conntype == 'keep-alive' and self.protocol_version >= 'HTTP/1.1':
            self.close_connection = False
        if (self.headers.get('Expect', '').lower() == '100-continue'
                and self.protocol_version >= 'HTTP/1.1'
                and self.request_version >= 'HTTP/1.1'):
            if not self.handle_expect_100():
                return False
        return True


def send_chunks_at_once(environ):
    """Write every chunk of this request's response body as soon as the app
    yields it (the server otherwise gathers small chunks up to its
    minimum_chunk_size first): for bodies that keep a client waiting with
    occasional whitespace while work goes on."""
    environ['eventlet.minimum_write_chunk_size'] = 0


# eventlet's own handler, for tests comparing answers with ours.
StockHttpProtocol = eventlet.wsgi.HttpProtocol


def wsgi_server(sock, site, **kwargs):
    kwargs.setdefault('protocol', _HttpProtocol)
    return eventlet.wsgi.server(sock, site, **kwargs)
