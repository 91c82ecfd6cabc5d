"""swiftlike.accept_balance: the shared table, and real forked workers of
run_wsgi taking turns at new connections."""
import http.client
import os
import subprocess
import sys
import textwrap
import time

import pytest

from swiftlike.accept_balance import FREE, AcceptBalance
from swiftlike.aio.layout import free_ports


def test_table_rows_are_per_socket_and_slots_per_worker():
    table = AcceptBalance(sockets=2, slots=4)
    assert list(table.counts) == [FREE] * 8
    table.claim(0)
    table.claim(1)
    a, b = table.worker(0, 0), table.worker(0, 1)
    a_other_socket = table.worker(1, 0)
    assert not a.busier() and not b.busier()
    a.opened()
    assert a.busier() and not b.busier()
    # The other socket's row is not touched.
    assert not a_other_socket.busier() and list(table.counts[4:6]) == [0, 0]
    b.opened()
    assert not a.busier() and not b.busier()
    a.opened()
    a.closed()
    assert not a.busier()
    # A worker that stopped accepting, or a free slot, is no peer.
    a.opened()
    b.leave()
    assert not a.busier()
    table.release(0)
    assert table.counts[0] == FREE and table.counts[4] == FREE


def test_free_slot():
    table = AcceptBalance(1, 3)
    assert table.free_slot(set()) == 0
    assert table.free_slot({0, 2}) == 1
    assert table.free_slot({0, 1, 2}) is None
    assert table.free_slot({None, 0}) == 1


SERVER = textwrap.dedent('''
    import os, sys
    from swiftlike import accept_balance
    from swiftlike.wsgi import WsgiConf, run_wsgi
    # Long enough that the worker with fewer connections always takes the
    # next one, however slowly the machine schedules it.
    accept_balance.DEFER = 30.0

    def app(environ, start_response):
        body = str(os.getpid()).encode()
        start_response('200 OK', [('Content-Length', str(len(body)))])
        return [body]

    run_wsgi(lambda: app, WsgiConf(bind_port=int(sys.argv[1]), workers=int(sys.argv[2])))
''')


def _sockets(pid):
    """The sockets `pid` has open (an fd that closes while they are counted
    is not one of them)."""
    fd_dir = '/proc/%d/fd' % pid
    count = 0
    for fd in os.listdir(fd_dir):
        try:
            count += os.readlink(os.path.join(fd_dir, fd)).startswith('socket:')
        except FileNotFoundError:
            pass
    return count


def _pid_of(conn):
    conn.request('GET', '/')
    resp = conn.getresponse()
    return int(resp.read())


@pytest.mark.parametrize('workers', [2, 3])
def test_workers_take_turns_at_new_connections(workers):
    # Without the balance, each connection goes to whichever worker wakes
    # first (16 clients were split 5/11 as often as 8/8).
    port = free_ports(1)[0]
    master = subprocess.Popen([sys.executable, '-c', SERVER, str(port), str(workers)])
    conns = []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
                _pid_of(conn)
                conn.close()
                break
            except OSError:
                assert master.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
        # Kept open, one after another: each goes to a worker with the fewest.
        counts = {}
        for _ in range(4 * workers):
            conn = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
            conns.append(conn)
            pid = _pid_of(conn)
            counts[pid] = counts.get(pid, 0) + 1
        assert sorted(counts.values()) == [4] * workers
        # Closed ones count no more: the next connections fill the gap (once
        # the worker has seen them close: its open sockets say when).
        first = _pid_of(conns[0])
        before = _sockets(first)
        for conn in conns:
            if _pid_of(conn) == first:
                conn.close()
        deadline = time.monotonic() + 30
        while _sockets(first) > before - 4:
            assert time.monotonic() < deadline, 'the worker never closed its side'
            time.sleep(0.02)
        refill = [http.client.HTTPConnection('127.0.0.1', port, timeout=60) for _ in range(4)]
        conns.extend(refill)
        assert {_pid_of(conn) for conn in refill} == {first}
    finally:
        for conn in conns:
            conn.close()
        master.terminate()
        master.wait(timeout=30)
