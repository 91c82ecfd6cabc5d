"""swiftlike-init: a node's services found from its configs, and real start /
reload / status / stop / once of real server and daemon processes."""
import http.client
import io
import os
import socket
import subprocess
import sys
import time

import pytest

from swiftlike.aio.layout import free_ports
from swiftlike.cli import init
from swiftlike.cli.ring_builder import main as ring_builder
from swiftlike.exceptions import ConfigError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))


def _write(path, text):
    with open(path, 'w') as f:
        f.write(text)


def _node(tmp_path, port, extra=''):
    """A conf dir with one container server (and its replicator), its ring
    and a device: enough for a real server and a real daemon pass."""
    etc, devices = tmp_path / 'etc', tmp_path / 'srv'
    (devices / 'd1').mkdir(parents=True)
    etc.mkdir()
    _write(etc / 'swiftlike.conf', '[hash]\npath_suffix = init-test\n')
    _write(etc / 'container-server.conf',
           '[DEFAULT]\nbind_ip = 127.0.0.1\ndevices = %s\nmount_check = false\nswift_dir = %s\n\n'
           '[container-server]\nbind_port = %d\nworkers = 1\ngraceful_timeout = 5\n%s\n'
           '[container-replicator]\n' % (devices, etc, port, extra))
    builder = str(etc / 'container.builder')
    out = io.StringIO()
    assert ring_builder([builder, 'create', '4', '1', '0'], out=out) == 0
    assert ring_builder([builder, 'add', 'r1z1-127.0.0.1:%d/d1' % port, '1'], out=out) == 0
    assert ring_builder([builder, 'rebalance'], out=out) in (0, 1)
    return str(etc)


@pytest.fixture
def env():
    # The children find swiftlike.conf from swift_dir, not from this process's.
    return {k: v for k, v in os.environ.items() if k != 'SWIFTLIKE_CONF'}


def _workers(master):
    """Pids whose parent is `master`."""
    found = set()
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open('/proc/%s/stat' % entry, 'rb') as f:
                    fields = f.read().rsplit(b')', 1)[-1].split()
            except OSError:
                continue
            if int(fields[1]) == master and fields[0] != b'Z':
                found.add(int(entry))
    return found


def _answers(port):
    """An HTTP answer (any status) from the server, not just a TCP connect (which
    the kernel completes for a listening socket nobody accepts on)."""
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
    try:
        conn.request('GET', '/healthcheck')
        return conn.getresponse().status > 0
    finally:
        conn.close()


def test_discover_orders_servers_then_daemons_and_reads_addresses(tmp_path):
    _write(tmp_path / 'proxy-server.conf', '[proxy-server]\nbind_ip = 10.1.2.3\n')
    _write(tmp_path / 'object-server.conf',
           '[DEFAULT]\nbind_ip = 10.1.2.3\n[object-server]\nbind_port = 6300\nworkers = 0\n'
           '[object-updater]\n[object-replicator]\n')
    services = init.discover(str(tmp_path))
    assert [s.name for s in services] == ['proxy-server', 'object-server',
                                          'object-replicator', 'object-updater']
    proxy, obj = services[0], services[1]
    assert proxy.addr == ('10.1.2.3', 8080) and obj.addr == ('10.1.2.3', 6300)
    assert obj.workers == 0
    assert obj.argv('py') == ['py', '-m', 'swiftlike.cli.servers', 'object',
                              str(tmp_path / 'object-server.conf')]
    assert services[2].argv('py', once=True)[-3:] == [
        'object-replicator', str(tmp_path / 'object-server.conf'), '--once']
    assert [s.name for s in init.select(services, ['main'])] == ['proxy-server', 'object-server']
    assert [s.name for s in init.select(services, ['rest', 'object-server'])] == [
        'object-replicator', 'object-updater', 'object-server']
    with pytest.raises(ConfigError, match='not configured here'):
        init.select(services, ['account-server'])
    with pytest.raises(ConfigError, match='unknown service'):
        init.select(services, ['object-srever'])


def test_discover_refuses_an_empty_dir_and_a_file_without_its_section(tmp_path):
    with pytest.raises(ConfigError, match='no proxy-server.conf'):
        init.discover(str(tmp_path))
    _write(tmp_path / 'account-server.conf', '[container-server]\n')
    with pytest.raises(ConfigError, match=r'no \[account-server\]'):
        init.discover(str(tmp_path))


def test_start_reload_status_stop_once_of_real_processes(tmp_path, env):
    port = free_ports(1)[0]
    conf_dir = _node(tmp_path, port)
    out = io.StringIO()
    node = init.Node(conf_dir, str(tmp_path / 'run'), str(tmp_path / 'log'), out=out, env=env)
    server = init.select(node.services, ['container-server'])
    try:
        assert node.start(server)
        pid = node.pid(server[0])
        assert pid and init._answers_http(('127.0.0.1', port)) and _answers(port)
        assert open(tmp_path / 'run' / 'container-server.pid').read().strip() == str(pid)
        assert node.start(server)  # already running: nothing new
        assert node.pid(server[0]) == pid and 'already running' in out.getvalue()

        # reload: the master stays, its worker is replaced, the port never closes
        # (a connection the old worker accepts as it stops may be closed unanswered:
        # eventlet's server drops connections whose request it has not read yet).
        deadline = time.monotonic() + 30
        while not _workers(pid):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        old_workers = _workers(pid)
        assert node.reload(server)
        while _workers(pid) & old_workers or not _workers(pid):
            assert time.monotonic() < deadline, (old_workers, _workers(pid))
            socket.create_connection(('127.0.0.1', port), timeout=5).close()
            time.sleep(0.05)
        assert node.pid(server[0]) == pid and _answers(port)

        assert node.status(node.services) is False  # the replicator is not running
        assert 'container-server running (pid %d) on 127.0.0.1:%d' % (pid, port) in out.getvalue()
        assert node.once(node.services)
        assert 'container-replicator once: ok' in out.getvalue()

        assert node.stop(server)
        assert init._wait_gone(pid, 0)
        assert node.pid(server[0]) is None
        assert not os.path.exists(tmp_path / 'run' / 'container-server.pid')
        assert not init._answers_http(('127.0.0.1', port))
        assert node.status(server) is False
    finally:
        node.stop(node.services, kill_wait=5)


def test_a_server_that_dies_at_start_is_reported_with_its_log(tmp_path, env):
    port = free_ports(1)[0]
    conf_dir = _node(tmp_path, port, extra='no_such_key = 1\n')
    out = io.StringIO()
    node = init.Node(conf_dir, str(tmp_path / 'run'), str(tmp_path / 'log'), out=out, env=env)
    assert node.start(init.select(node.services, ['main'])) is False
    assert "unknown key 'no_such_key'" in out.getvalue()
    assert not os.path.exists(tmp_path / 'run' / 'container-server.pid')


def test_a_stale_pid_file_is_not_a_running_service(tmp_path, env):
    conf_dir = _node(tmp_path, free_ports(1)[0])
    node = init.Node(conf_dir, str(tmp_path / 'run'), str(tmp_path / 'log'), env=env)
    os.makedirs(tmp_path / 'run')
    # A live pid that is not this service (pid reuse after a crash).
    _write(tmp_path / 'run' / 'container-server.pid', '%d\n' % os.getpid())
    assert node.pid(node.services[0]) is None
    assert not os.path.exists(tmp_path / 'run' / 'container-server.pid')


def test_bin_shim_runs_from_a_checkout(tmp_path, env):
    conf_dir = _node(tmp_path, free_ports(1)[0])
    done = subprocess.run([sys.executable, os.path.join(REPO, 'bin', 'swiftlike-init'),
                           '--conf-dir', conf_dir, '--run-dir', str(tmp_path / 'run'),
                           'status'], capture_output=True, text=True, env=env, cwd='/')
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines() == ['container-server not running',
                                        'container-replicator not running']
    done = subprocess.run([sys.executable, os.path.join(REPO, 'bin', 'swiftlike-init'),
                           '--conf-dir', str(tmp_path), 'status'],
                          capture_output=True, text=True, env=env, cwd='/')
    assert done.returncode == 2 and 'swiftlike-init: ' in done.stderr


def test_daemons_run_detached_until_stopped(tmp_path, env):
    conf_dir = _node(tmp_path, free_ports(1)[0])
    out = io.StringIO()
    node = init.Node(conf_dir, str(tmp_path / 'run'), str(tmp_path / 'log'), out=out, env=env)
    rest = init.select(node.services, ['rest'])
    assert [s.name for s in rest] == ['container-replicator']
    try:
        assert node.start(rest)
        pid = node.pid(rest[0])
        assert pid and node.status(rest)
        # Its first pass shows in its log (the daemon really runs, it did not just exist).
        deadline = time.monotonic() + 60
        log = tmp_path / 'log' / 'container-replicator.log'
        while 'container-replicator pass' not in log.read_text():
            assert time.monotonic() < deadline and node.pid(rest[0]) == pid, log.read_text()
            time.sleep(0.1)
        assert node.stop(rest)
        assert init._wait_gone(pid, 0) and node.pid(rest[0]) is None
        assert 'container-replicator stopped' in out.getvalue()
    finally:
        node.stop(node.services, kill_wait=5)


def test_reload_reopens_log_files_after_rotation(tmp_path, env):
    port = free_ports(1)[0]
    log_file = tmp_path / 'container.log'
    conf_dir = _node(tmp_path, port, extra='log_file = %s\n' % log_file)
    node = init.Node(conf_dir, str(tmp_path / 'run'), str(tmp_path / 'log'), out=io.StringIO(),
                     env=env)
    server = init.select(node.services, ['main'])
    try:
        assert node.start(server) and _answers(port)
        deadline = time.monotonic() + 60
        while 'healthcheck' not in (log_file.read_text() if log_file.exists() else ''):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.rename(log_file, str(log_file) + '.1')  # logrotate's move
        pid = node.pid(server[0])
        old_workers = _workers(pid)
        assert node.reload(server)
        while _workers(pid) & old_workers or not _workers(pid):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert _answers(port)
        while 'healthcheck' not in (log_file.read_text() if log_file.exists() else ''):
            assert time.monotonic() < deadline, 'no new log file after the reload'
            time.sleep(0.05)
    finally:
        node.stop(node.services, kill_wait=5)


def test_a_pid_whose_command_line_stays_empty_is_not_ours(tmp_path):
    # kthreadd (pid 2 where the kernel's threads are visible) has an empty
    # command line for good: read again for a second, then not ours. (A
    # process just exec'd shows an empty one only for a moment.)
    try:
        with open('/proc/2/cmdline', 'rb') as f:
            if f.read():
                pytest.skip('pid 2 is not a kernel thread here')
    except OSError:
        pytest.skip('pid 2 is not visible here')
    service = init.select(init.Node(_node(tmp_path, free_ports(1)[0]), str(tmp_path / 'run'),
                                    str(tmp_path / 'log'), out=io.StringIO()).services, ['rest'])[0]
    started = time.monotonic()
    assert init._is_ours(2, service) is False
    assert time.monotonic() - started >= 1.0
