"""The aio supervisor, with real child processes (small python programs)."""
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from swiftlike.aio.layout import free_ports
from swiftlike.aio.supervisor import (ChildFailed, ProcSpec, Supervisor, group_members,
                                      holds_listener)

# A server that forks a worker (like run_wsgi), then listens on argv[1].
SERVER = textwrap.dedent('''
    import os, socket, sys, time
    port = int(sys.argv[1])
    if os.fork() == 0:
        time.sleep(3600)
        os._exit(0)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('127.0.0.1', port))
    s.listen(5)
    print('listening', flush=True)
    while True:
        c, _ = s.accept()
        c.close()
''')


def alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def wait_gone(pids, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


@pytest.fixture
def sup(tmp_path):
    supervisor = Supervisor()
    yield supervisor
    supervisor.stop_all(timeout=5)


def server_spec(tmp_path, name='srv'):
    port = free_ports(1)[0]
    return ProcSpec(name, [sys.executable, '-c', SERVER, str(port)],
                    str(tmp_path / 'log' / (name + '.log')), ready_addr=('127.0.0.1', port))


def test_start_ready_stop_whole_group(sup, tmp_path):
    sup.add(server_spec(tmp_path))
    pid = sup.start('srv')
    sup.wait_ready(['srv'], timeout=20)
    members = group_members(pid)
    assert pid in members and len(members) == 2  # the server and its worker
    assert 'listening' in (tmp_path / 'log' / 'srv.log').read_text()
    sup.stop('srv', timeout=5)
    assert wait_gone(members) == []
    assert sup.pid('srv') is None


def test_kill_takes_workers_too_and_restart(sup, tmp_path):
    sup.add(server_spec(tmp_path))
    pid = sup.start('srv')
    sup.wait_ready(['srv'], timeout=20)
    members = group_members(pid)
    sup.kill('srv')
    assert wait_gone(members) == []
    assert sup.exited() == [('srv', -signal.SIGKILL)]
    new_pid = sup.start('srv')
    assert new_pid != pid
    sup.wait_ready(['srv'], timeout=20)


def test_child_dying_during_startup_is_reported(sup, tmp_path):
    sup.add(ProcSpec('bad', [sys.executable, '-c', 'import sys; print("boom"); sys.exit(3)'],
                     str(tmp_path / 'bad.log'), ready_addr=('127.0.0.1', free_ports(1)[0])))
    sup.start('bad')
    with pytest.raises(ChildFailed, match='(?s)bad exited with status 3.*boom'):
        sup.wait_ready(['bad'], timeout=20)


def test_a_port_answered_by_another_process_is_not_ready(sup, tmp_path):
    # The child was given a port another process has bound since: what
    # answers there is not the child, so the child is not ready.
    other = socket.socket()
    other.bind(('127.0.0.1', 0))
    other.listen(5)
    try:
        port = other.getsockname()[1]
        sup.add(ProcSpec('late', [sys.executable, '-c', 'import time; time.sleep(60)'],
                         str(tmp_path / 'late.log'), ready_addr=('127.0.0.1', port)))
        sup.start('late')
        with pytest.raises(ChildFailed, match='not ready'):
            sup.wait_ready(['late'], timeout=1)
        assert holds_listener(os.getpid(), port)
        assert not holds_listener(sup.procs['late'].pid, port)
    finally:
        other.close()


def test_not_ready_in_time(sup, tmp_path):
    sup.add(ProcSpec('slow', [sys.executable, '-c', 'import time; time.sleep(60)'],
                     str(tmp_path / 'slow.log'), ready_addr=('127.0.0.1', free_ports(1)[0])))
    sup.start('slow')
    with pytest.raises(ChildFailed, match='not ready'):
        sup.wait_ready(['slow'], timeout=0.5)


def test_term_ignoring_child_is_killed_after_timeout(sup, tmp_path):
    code = 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)'
    sup.add(ProcSpec('stubborn', [sys.executable, '-c', code], str(tmp_path / 's.log')))
    pid = sup.start('stubborn')
    time.sleep(0.3)
    sup.stop('stubborn', timeout=0.5)
    assert wait_gone([pid]) == []


def test_children_die_with_a_kill_9ed_supervisor(tmp_path):
    """PR_SET_PDEATHSIG: no orphans even when the supervisor cannot clean up."""
    port = free_ports(1)[0]
    program = textwrap.dedent('''
        import sys, time
        from swiftlike.aio.supervisor import ProcSpec, Supervisor
        sup = Supervisor()
        sup.add(ProcSpec('srv', [sys.executable, '-c', %r, '%d'], %r,
                         ready_addr=('127.0.0.1', %d)))
        sup.start('srv')
        sup.wait_ready(['srv'], timeout=20)
        print(sup.pid('srv'), flush=True)
        time.sleep(3600)
    ''') % (SERVER, port, str(tmp_path / 'srv.log'), port)
    parent = subprocess.Popen([sys.executable, '-c', program], stdout=subprocess.PIPE, text=True)
    child = None
    try:
        child = int(parent.stdout.readline())
        members = group_members(child)
        assert len(members) == 2
        parent.kill()
        parent.wait()
        # The server gets SIGTERM from the kernel; its worker, in a real server, is
        # stopped by it. Our toy worker ignores its master, so only check the master.
        assert wait_gone([child]) == []
    finally:
        parent.kill()
        parent.wait()
        if child:
            for pid in group_members(child):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize('answer, status', [
    (b'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 200),
    (b'HTTP/1.0 503 Service Unavailable\r\n\r\n', 503),
    (b'SSH-2.0-OpenSSH\r\n', 0),
    (b'', 0),
    (b'HTTP/1.1 abc\r\n\r\n', 0),
])
def test_http_status_of_a_real_listener(answer, status):
    import socket
    import threading

    from swiftlike.aio.supervisor import http_status
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)
    got = []

    def serve():
        conn, _ = listener.accept()
        with conn:
            got.append(conn.recv(1024))
            conn.sendall(answer)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        port = listener.getsockname()[1]
        assert http_status('http://127.0.0.1:%d/healthcheck' % port, 5) == status
    finally:
        thread.join(5)
        listener.close()
    assert got[0].startswith(b'GET /healthcheck HTTP/1.0\r\n')


def test_http_status_refuses_other_schemes():
    from swiftlike.aio.supervisor import http_status
    with pytest.raises(ValueError):
        http_status('https://127.0.0.1:1/', 1)
