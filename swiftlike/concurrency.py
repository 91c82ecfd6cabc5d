"""The only module that imports eventlet/greenlet.

Everything else spawns green threads, takes timeouts and runs blocking disk
calls through the names defined here, so the concurrency library stays
replaceable.

Green threads and disk threads started here run in a copy of their starter's
context (contextvars): the transaction id that swiftlike.logs keeps there
follows a request into the workers it spawns, so their log lines carry it.
(A new greenlet or OS thread would otherwise start with an empty context.)
"""
import _thread
import collections
import contextlib
import contextvars
import functools
import os
import socket
import threading
import time
import warnings

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
import eventlet.greenio.base
import eventlet.greenpool
import eventlet.hubs
import eventlet.patcher
import eventlet.queue
import eventlet.semaphore
import eventlet.timeout
import eventlet.wsgi
import greenlet

from swiftlike import accept_balance
from swiftlike.http_framing import (ChunkedReader, ClosedEarly, FramingError, body_framing,
                                    parse_request_line, read_header_block, refusal)
from swiftlike.request_headers import RequestHeaders

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


def fresh_hub():
    """In a child just forked: an event loop (epoll instance) of its own.
    The parent's is shared by every child forked from it, and a registration
    one child removes (a worker stopping) is then gone for all of them."""
    eventlet.hubs.use_hub()


def native_udp_socket(family):
    """A non-blocking UDP socket of the OS, not eventlet's green one: a send
    on it never waits, so the green wrapper (~10 us a send) buys nothing
    (the statsd client's sends)."""
    sock = eventlet.patcher.original('socket').socket(family, 2)   # SOCK_DGRAM
    sock.setblocking(False)
    return sock


def accept_balanced(sock, balance):
    """The next connection on the green listening socket `sock`, as
    sock.accept() returns it; while `balance` (an
    accept_balance.WorkerBalance) says another worker has fewer connections,
    a waiting one is left to it for up to accept_balance.DEFER seconds."""
    fd = sock.fd
    while True:
        eventlet.hubs.trampoline(fd, read=True)
        waited = 0.0
        while waited < accept_balance.DEFER and balance.busier():
            eventlet.sleep(accept_balance.STEP)
            waited += accept_balance.STEP
        res = eventlet.greenio.base.socket_accept(fd)
        if res is not None:   # else another worker took it
            client, addr = res
            eventlet.hubs.notify_opened(client.fileno())
            client.setblocking(False)
            return type(sock)(client), addr


def call_soon_in_hub(func, *args):
    """Schedule func on the hub; safe to call from a signal handler."""
    eventlet.hubs.get_hub().schedule_call_global(0, func, *args)


def kill(green_thread, *throw_args):
    green_thread.kill(*throw_args)


def current_greenlet():
    return greenlet.getcurrent()


def _real_threading():
    """The real threading module (servers monkey-patch threading). Resolved
    when first needed, not at import: asking eventlet for the original
    threading module imports a second copy of it, which a process that never
    monkey-patches (a test runner, a CLI) must not get."""
    if eventlet.patcher.is_monkey_patched('thread'):
        return eventlet.patcher.original('threading')
    return threading


# Per green thread making an inline disk call (DiskExecutor.run_inline): the
# seconds it has spent blocked since on something else (a disk thread's call,
# a GreenCondition), which is not the inline call's own time.
_BLOCKED = {}


@contextlib.contextmanager
def _blocked():
    current = greenlet.getcurrent()
    if current not in _BLOCKED:
        yield
        return
    start = time.monotonic()
    try:
        yield
    finally:
        _BLOCKED[current] += time.monotonic() - start


# The C get_ident, bound before any monkey-patching, and the OS thread that
# imported this module: the one whose event loop serves the process.
_get_ident = _thread.get_ident
_LOOP_IDENT = _get_ident()


def on_loop_thread():
    """True in the OS thread that runs the event loop, False in a disk thread
    (or any other OS thread)."""
    return _get_ident() == _LOOP_IDENT


class GreenCondition:
    """A condition variable for the green threads of one OS thread, shaped
    like threading.Condition (with, wait, notify_all, acquire, release). Its
    lock does nothing: green threads switch only where they block."""

    def __init__(self):
        self._waiters = []

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def acquire(self):
        pass

    def release(self):
        pass

    def wait(self):
        event = eventlet.event.Event()
        self._waiters.append(event)
        with _blocked():
            event.wait()

    def notify_all(self):
        waiters, self._waiters = self._waiters, []
        for event in waiters:
            event.send()


def ThreadCondition():  # noqa: N802 - a class to its callers
    """A condition variable of the real threading module: disk threads block
    on it without the event loop's help."""
    return _real_threading().Condition()


class ThreadPool:
    """OS threads that run blocking calls for green threads.

    A call goes to the threads through a C queue (`_queue.SimpleQueue`: one
    lock, no Python-level condition variable) and its result comes back
    through a list the threads append to and an eventfd they signal; one
    green thread per process reads the eventfd and wakes every caller whose
    call is done, so a busy pool pays one wake-up of the event loop for many
    results. eventlet's tpool, which this replaces, cost 1.5-3x the CPU per
    call (a condition variable per hand-off, a socket write per result):
    tools/bench_thread_pool.py. Threads start as calls need them, up to
    `size`; a forked child starts its own. A call made from a pool thread
    runs there and then.
    """

    def __init__(self, size):
        self.size = max(1, size)
        self._started = False
        self._idents = set()
        if hasattr(os, 'register_at_fork'):
            os.register_at_fork(after_in_child=self._forget)

    def _forget(self):
        self._started = False
        self._idents = set()

    def _start(self):
        from _queue import SimpleQueue
        self._started = True
        self._jobs = SimpleQueue()
        self._done = collections.deque()
        if hasattr(os, 'eventfd'):
            self._rfd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
            self._signal = functools.partial(os.eventfd_write, self._rfd, 1)
        else:
            self._rfd, wfd = os.pipe()
            os.set_blocking(self._rfd, False)
            self._signal = functools.partial(os.write, wfd, b'.')
        self._threads = 0
        self._pending = 0
        eventlet.spawn_n(self._deliver)

    def _work(self):
        jobs, done, signal = self._jobs, self._done, self._signal
        self._idents.add(_get_ident())
        while True:
            event, func, args, kwargs = jobs.get()
            try:
                result = (True, func(*args, **kwargs))
            except BaseException as err:  # handed to the caller, raised there
                result = (False, err)
            done.append((event, result))
            del event, func, args, kwargs, result
            signal()

    def _deliver(self):
        done = self._done
        while True:
            eventlet.hubs.trampoline(self._rfd, read=True)
            try:
                os.read(self._rfd, 65536)
            except BlockingIOError:
                pass
            while done:
                event, result = done.popleft()
                self._pending -= 1
                event.send(result)

    def execute(self, func, *args, **kwargs):
        if not self._started:
            self._start()
        elif self._idents and _get_ident() in self._idents:
            return func(*args, **kwargs)  # already in a pool thread: it would wait on itself
        if self._pending >= self._threads and self._threads < self.size:
            _real_threading().Thread(target=self._work, daemon=True,
                                     name='swiftlike-disk').start()
            self._threads += 1
        event = eventlet.event.Event()
        self._jobs.put((event, func, args, kwargs))
        self._pending += 1
        ok, result = event.wait()
        if ok:
            return result
        try:
            raise result
        finally:
            del result


# Disk calls go to real OS threads so a slow disk never stalls the event loop.
# Each device gets at most `threads_per_disk` of them: a hung disk ties up only
# its own share and its own requests wait, every other device keeps going.
_POOL = ThreadPool(64)


def run_in_thread(func, *args, **kwargs):
    """func(*args, **kwargs) in a disk thread, the calling green thread waiting."""
    with _blocked():
        return _POOL.execute(_copy_context().run, func, *args, **kwargs)


class DiskExecutor:
    """Runs blocking filesystem calls in OS threads, bounded per device.

    run_quick() is for short metadata calls (an object's open: a listdir, an
    open, an xattr read): while the device looks healthy it runs them inline
    on the event loop, saving the thread-pool round trip that costs a bodiless
    request a third of its CPU. Healthy means: none of the device's threaded
    calls has been running (or waiting for a thread) longer than `slow`
    seconds, and no inline call of the last `penalty` seconds took longer
    than that. Otherwise it goes through the threads like run(), so a slow or
    hung disk stalls at most the one inline call that found it out.
    """

    def __init__(self, threads_per_disk=4, inline_quick=False, slow=0.05, penalty=60.0):
        self.threads_per_disk = threads_per_disk
        self.inline_quick = inline_quick
        self.slow = slow
        self.penalty = penalty
        self._limits = {}
        self._running = {}      # device -> {token: start time} of threaded calls
        self._slow_until = {}   # device -> when inline calls may resume

    def _limit(self, device):
        sem = self._limits.get(device)
        if sem is None:
            sem = self._limits[device] = Semaphore(self.threads_per_disk)
        return sem

    def run(self, device, func, *args, **kwargs):
        if self.threads_per_disk <= 0:
            return func(*args, **kwargs)
        running = self._running.get(device)
        if running is None:
            running = self._running[device] = {}
        token = object()
        running[token] = time.monotonic()
        try:
            with _blocked(), self._limit(device):
                return _POOL.execute(_copy_context().run, func, *args, **kwargs)
        finally:
            del running[token]

    def run_quick(self, device, func, *args, **kwargs):
        if not self.inline_quick:
            return self.run(device, func, *args, **kwargs)
        return self.run_inline(device, func, *args, **kwargs)

    def run_inline(self, device, func, *args, **kwargs):
        """run_quick whatever inline_quick says: the caller has its own
        setting (small writes whose flushes are shared, row updates)."""
        if self.threads_per_disk <= 0:
            return func(*args, **kwargs)
        if not self._healthy(device):
            return self.run(device, func, *args, **kwargs)
        current = greenlet.getcurrent()
        outer = _BLOCKED.get(current)
        _BLOCKED[current] = 0.0
        start = time.monotonic()
        try:
            return func(*args, **kwargs)
        finally:
            blocked = _BLOCKED.pop(current)
            if outer is not None:   # an inline call inside another
                _BLOCKED[current] = outer + blocked
            # The time it stalled the event loop: not the time it waited, the
            # loop running meanwhile, for a disk thread or another's flush.
            if time.monotonic() - start - blocked > self.slow:
                self._slow_until[device] = time.monotonic() + self.penalty

    def _healthy(self, device):
        now = time.monotonic()
        if now < self._slow_until.get(device, 0.0):
            return False
        running = self._running.get(device)
        return not running or now - min(running.values()) <= self.slow


class _StrictInput(eventlet.wsgi.Input):
    """eventlet's request body, with a chunked body read by
    http_framing.ChunkedReader (strict, never past the body's end)."""

    def __init__(self, rfile, content_length, sock, wfile=None, wfile_line=None,
                 chunked_input=False, on_error=None):
        super().__init__(rfile, content_length, sock, wfile=wfile, wfile_line=wfile_line,
                         chunked_input=chunked_input)
        self.on_error = on_error
        self.chunks = ChunkedReader(rfile, on_error) if chunked_input else None

    def _chunked_read(self, rfile, length=None, use_readline=False):
        if self.should_send_hundred_continue:
            self.send_hundred_continue_response()
            self.is_hundred_continue_response_sent = True
        if length == 0:
            return b''
        if use_readline:
            return self.chunks.readline(length)
        return self.chunks.read(length)

    def discard(self, buffer_size=16 << 10):
        try:
            while self.read(buffer_size):
                pass
        except FramingError as err:
            if self.on_error is not None:
                self.on_error(err)
            raise OSError(str(err))


class _HttpProtocol(eventlet.wsgi.HttpProtocol):
    """eventlet's request handler, reading the request line, the headers and
    the body's framing strictly (swiftlike.http_framing): what it cannot
    trust is answered with its status and `Connection: close`."""

    def parse_request(self):
        self.command = None
        # Errors are answered with a status line even before the version is
        # read (http.server writes a bare body for 'HTTP/0.9').
        self.request_version = 'HTTP/1.0'
        self.close_connection = True
        raw = self.raw_requestline
        self.requestline = str(raw, 'iso-8859-1').rstrip('\r\n')
        if raw in (b'\r\n', b'\n'):
            return False
        try:
            command, path, version = parse_request_line(raw)
            # A newer 1.x is served as 1.1 (RFC 9110 §2.5).
            self.request_version = 'HTTP/1.1' if version >= (1, 1) else 'HTTP/1.0'
            self.command, self.path = command, path
            pairs = read_header_block(self.rfile.readline)
            self.framing = body_framing(pairs, version)
        except FramingError as err:
            self.refuse(err.http_status, err.reason)
            return False
        except (eventlet.wsgi.HeaderLineTooLong, eventlet.wsgi.HeadersTooLarge):
            # 400, as Swift answers a header line past 8 KiB (RFC 6585's 431
            # would do too); too many headers are a 431.
            self.refuse(400, 'Header line too long')
            return False
        except ClosedEarly:
            return False
        self.headers = RequestHeaders(pairs)
        self.close_connection = version < (1, 1)
        conntype = self.headers.get('Connection', '').lower()
        if conntype == 'close':
            self.close_connection = True
        elif conntype == 'keep-alive':
            self.close_connection = False
        return True

    def get_environ(self):
        env = super().get_environ()
        kind, length = self.framing
        if self.request_version == 'HTTP/1.1' and \
                env.get('HTTP_EXPECT', '').lower() == '100-continue':
            wfile, wfile_line = self.wfile, b'HTTP/1.1 100 Continue\r\n'
        else:
            wfile = wfile_line = None
        env['wsgi.input'] = env['eventlet.input'] = _StrictInput(
            self.rfile, length, self.connection, wfile=wfile, wfile_line=wfile_line,
            chunked_input=(kind == 'chunked'), on_error=self._framing_failed)
        return env

    def refuse(self, status, reason):
        """Answer a request we could not read, and close."""
        self.close_connection = True
        self.linger = True
        self.wfile.write(refusal(status, reason))
        self.wfile.flush()

    def _framing_failed(self, err):
        self.close_connection = 1
        self.linger = True

    linger = False
    LINGER_SECONDS = 2.0
    LINGER_BYTES = 1 << 20

    def finish(self):
        """Close; after a refused request, half-close first and read what the
        client still sends for a moment (closing a socket with unread input
        resets it, and the reset can destroy our answer before the client
        reads it)."""
        if self.linger:
            try:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_WR)
                self.connection.settimeout(self.LINGER_SECONDS)
                deadline = time.monotonic() + self.LINGER_SECONDS
                got = 0
                while got < self.LINGER_BYTES and time.monotonic() < deadline:
                    data = self.connection.recv(65536)
                    if not data:
                        break
                    got += len(data)
            except OSError:
                pass
        super().finish()


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
