"""Bind, fork workers, serve a WSGI app, stop gracefully on SIGTERM/SIGINT.

SIGHUP to the master (the graceful reload) rolls its workers: new ones start
serving on the same listening sockets at once (apps made afresh, so log
files are reopened), the old ones get SIGTERM and finish their in-flight
requests. Code and config files are read again only by a restart.
"""
import dataclasses
import errno
import os
import signal
import socket
import sys
import time

from swiftlike import concurrency
from swiftlike.accept_balance import AcceptBalance
from swiftlike.http_server import native_server
from swiftlike.malloc_tuning import tune_malloc
from swiftlike.metrics import MetricsConf

_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
_MASTER_SIGNALS = _STOP_SIGNALS | {signal.SIGHUP}


@dataclasses.dataclass
class WsgiConf(MetricsConf):
    bind_ip: str = '127.0.0.1'
    bind_port: int = 8080
    workers: int = 1            # 0: serve in this process, no fork
    max_clients: int = 1024
    client_timeout: float = 60.0
    backlog: int = 4096
    log_level: str = 'INFO'
    log_file: str = ''
    graceful_timeout: float = 10.0
    # 'native' (swiftlike.http_server, our own loop) or 'eventlet' (eventlet's
    # WSGI server); both read requests by the same strict rules.
    http_server: str = 'native'

    def validate_wsgi(self):
        """Called by config.build: a server's settings are refused when read,
        not when it starts serving."""
        if self.http_server not in SERVER_LOOPS:
            raise ValueError('http_server must be %s, not %r'
                             % (' or '.join(sorted(SERVER_LOOPS)), self.http_server))
        for name in ('max_clients', 'backlog'):
            if getattr(self, name) < 1:
                raise ValueError('%s must be at least 1' % name)
        if not self.client_timeout > 0:
            raise ValueError('client_timeout must be more than 0')
        if not self.graceful_timeout >= 0:
            raise ValueError('graceful_timeout must be 0 or more')
        if self.workers < 0:
            raise ValueError('workers must be 0 or more')


def bind(conf, retries=30):
    """A listening socket, retrying while the address is still in use."""
    for attempt in range(retries):
        try:
            sock = concurrency.listen((conf.bind_ip, conf.bind_port), backlog=conf.backlog)
            break
        except OSError as err:
            if err.errno != errno.EADDRINUSE or attempt == retries - 1:
                raise
            time.sleep(0.2)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class _NullLog:
    def write(self, *args):
        pass


def eventlet_server(sock, app, pool, client_timeout, balance=None):
    """eventlet's WSGI server loop (with our strict framing), called as
    native_server is; its accept loop is eventlet's, which does not balance
    connections over workers (`balance` is not used)."""
    return concurrency.wsgi_server(
        sock, app, log=_NullLog(), custom_pool=pool, socket_timeout=client_timeout,
        keepalive=True, minimum_chunk_size=65536, log_output=False, debug=False)


# The server loops by their http_server names.
SERVER_LOOPS = {'native': native_server, 'eventlet': eventlet_server}


def serve_all(services, balances=None):
    """Serve each (socket, app, conf) on one hub until SIGTERM/SIGINT; then
    give in-flight requests the longest graceful_timeout among them.
    `balances`: a forked worker's accept_balance.WorkerBalance per service."""
    servers = []
    for i, (sock, app, conf) in enumerate(services):
        conf.validate_wsgi()    # (done when read; a conf made in code gets it here)
        servers.append(concurrency.spawn(SERVER_LOOPS[conf.http_server], sock, app,
                                         concurrency.GreenPool(conf.max_clients),
                                         conf.client_timeout,
                                         balances[i] if balances is not None else None))
    graceful_timeout = max(conf.graceful_timeout for _s, _a, conf in services)

    def stop(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for server in servers:
            concurrency.call_soon_in_hub(concurrency.kill, server)
        # In-flight requests get graceful_timeout seconds, idle keep-alives none.
        signal.signal(signal.SIGALRM, lambda *a: os._exit(0))
        signal.alarm(max(1, int(graceful_timeout)))

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    # After a signal handler runs, the interrupted epoll wait is resumed with
    # its old timeout (PEP 475), so the hub would not see the kill scheduled by
    # stop() until some other timer fires: keep a timer due every half second.
    ticker = concurrency.spawn(_tick)
    for server in servers:
        try:
            server.wait()
        except (concurrency.GreenletExit, SystemExit, KeyboardInterrupt):
            pass
    concurrency.kill(ticker)
    for sock, _app, _conf in services:
        try:
            sock.close()
        except OSError:
            pass


def _tick():
    while True:
        concurrency.sleep(0.5)


def run_wsgi(app_factory, conf, logger=None):
    """Bind once, then run `conf.workers` forked children (or serve inline).

    app_factory() is called in each worker so no state is shared across forks.
    """
    return run_servers([(app_factory, conf)], logger)


def run_servers(services, logger=None):
    """run_wsgi for several (app_factory, conf) pairs sharing one process:
    every socket is bound first, then each worker serves all of them. The
    number of workers is the largest any conf asks for (0: serve inline)."""
    concurrency.monkey_patch()
    tune_malloc()
    socks = [bind(conf) for _factory, conf in services]
    workers = max(conf.workers for _factory, conf in services)

    def serve_here(balances=None):
        serve_all([(sock, factory(), conf)
                   for sock, (factory, conf) in zip(socks, services)], balances)

    if workers <= 0:
        # No workers to roll: a reload signal must not kill the server.
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        serve_here()
        return 0
    children = {}    # pid: its slot in the accept balance (None: none)
    retiring = set()
    stopping = []
    # Room for a reload's new workers beside the old ones finishing.
    balance = AcceptBalance(len(socks), 2 * workers) if workers > 1 else None

    def spawn_child():
        # A stop signal arriving between fork() and the child's handlers being
        # installed would be lost; keep it pending until serve_all() unblocks it.
        slot = balance.free_slot(set(children.values())) if balance is not None else None
        if slot is not None:
            balance.claim(slot)
        signal.pthread_sigmask(signal.SIG_BLOCK, _MASTER_SIGNALS)
        pid = os.fork()
        if pid == 0:
            concurrency.fresh_hub()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})
            try:
                serve_here(None if slot is None else
                           [balance.worker(i, slot) for i in range(len(socks))])
            finally:
                try:
                    from swiftlike import metrics
                    metrics.flush()   # the counts still buffered in this worker
                finally:
                    os._exit(0)
        children[pid] = slot
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _MASTER_SIGNALS)

    def stop(signum, frame):
        stopping.append(signum)
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass

    def reload(signum, frame):
        if stopping:
            return
        old = [pid for pid in children if pid not in retiring]
        for _ in range(workers):
            spawn_child()
        for pid in old:
            retiring.add(pid)
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        if logger:
            logger.info('reload: %d new workers, %d old ones finishing', workers, len(old))

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, reload)
    for _ in range(workers):
        spawn_child()
    while children:
        try:
            pid, _status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        slot = children.pop(pid, None)
        if slot is not None:
            balance.release(slot)
        if pid in retiring:
            retiring.discard(pid)
        elif not stopping:
            if logger:
                logger.warning('worker %d exited; starting another', pid)
            spawn_child()
    for sock in socks:
        sock.close()
    return 0


def exit_with_error(message):
    sys.stderr.write(message.rstrip() + '\n')
    sys.exit(2)
