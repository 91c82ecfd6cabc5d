"""Bind, fork workers, serve a WSGI app, stop gracefully on SIGTERM/SIGINT."""
import dataclasses
import errno
import os
import signal
import socket
import sys
import time

from swiftlike import concurrency

_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


@dataclasses.dataclass
class WsgiConf:
    bind_ip: str = '127.0.0.1'
    bind_port: int = 8080
    workers: int = 1            # 0: serve in this process, no fork
    max_clients: int = 1024
    client_timeout: float = 60.0
    backlog: int = 4096
    log_level: str = 'INFO'
    log_file: str = ''
    graceful_timeout: float = 10.0


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


def serve(sock, app, conf):
    """Serve until SIGTERM/SIGINT; then finish in-flight requests (bounded)."""
    pool = concurrency.GreenPool(conf.max_clients)
    server = concurrency.spawn(
        concurrency.wsgi_server, sock, app, log=_NullLog(), custom_pool=pool,
        socket_timeout=conf.client_timeout, keepalive=True, minimum_chunk_size=65536,
        log_output=False, debug=False)

    def stop(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        concurrency.call_soon_in_hub(concurrency.kill, server)
        # In-flight requests get graceful_timeout seconds, idle keep-alives none.
        signal.signal(signal.SIGALRM, lambda *a: os._exit(0))
        signal.alarm(max(1, int(conf.graceful_timeout)))

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    # After a signal handler runs, the interrupted epoll wait is resumed with
    # its old timeout (PEP 475), so the hub would not see the kill scheduled by
    # stop() until some other timer fires: keep a timer due every half second.
    ticker = concurrency.spawn(_tick)
    try:
        server.wait()
    except (concurrency.GreenletExit, SystemExit, KeyboardInterrupt):
        pass
    concurrency.kill(ticker)
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
    concurrency.monkey_patch()
    sock = bind(conf)
    if conf.workers <= 0:
        serve(sock, app_factory(), conf)
        return 0
    children = {}
    stopping = []

    def spawn_child():
        # A stop signal arriving between fork() and the child's handlers being
        # installed would be lost; keep it pending until serve() unblocks it.
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            try:
                serve(sock, app_factory(), conf)
            finally:
                os._exit(0)
        children[pid] = time.time()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)

    def stop(signum, frame):
        stopping.append(signum)
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(conf.workers):
        spawn_child()
    while children:
        try:
            pid, _status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        children.pop(pid, None)
        if not stopping:
            if logger:
                logger.warning('worker %d exited; starting another', pid)
            spawn_child()
    sock.close()
    return 0


def exit_with_error(message):
    sys.stderr.write(message.rstrip() + '\n')
    sys.exit(2)
