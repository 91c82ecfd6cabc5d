"""Shared fixtures and helpers of the client's functional tests (test_client_*.py); holds no tests.

The tests run against the session's aio `cluster` fixture. To try them against another Swift-API endpoint
(e.g. a real Swift all-in-one), set SWIFTLIKE_TEST_AUTH_URL (and optionally SWIFTLIKE_TEST_USER/_KEY).
"""
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

from swiftlike.client import Connection


class Endpoint:
    def __init__(self, auth_url, user, key, cluster=None):
        self.auth_url = auth_url
        self.user = user
        self.key = key
        self.cluster = cluster

    def connect(self, **kw):
        kw.setdefault('starting_backoff', 0.2)
        return Connection(self.auth_url, self.user, self.key, **kw)

    def cli_env(self):
        env = dict(os.environ, ST_AUTH=self.auth_url, ST_USER=self.user, ST_KEY=self.key)
        env.pop('OS_STORAGE_URL', None)
        env.pop('OS_AUTH_TOKEN', None)
        return env


@pytest.fixture(scope='session')
def endpoint(request):
    url = os.environ.get('SWIFTLIKE_TEST_AUTH_URL')
    if url:
        return Endpoint(url, os.environ.get('SWIFTLIKE_TEST_USER', 'test:tester'),
                        os.environ.get('SWIFTLIKE_TEST_KEY', 'testing'))
    cluster = request.getfixturevalue('cluster')
    return Endpoint(cluster.auth_url, 'test:tester', 'testing', cluster)


@pytest.fixture
def conn(endpoint):
    connection = endpoint.connect()
    yield connection
    connection.close()


@pytest.fixture
def container(conn):
    """A fresh container, emptied and removed afterwards."""
    name = 'client-test-' + uuid.uuid4().hex[:12]
    conn.put_container(name)
    yield name
    empty_and_delete(conn, name)


@pytest.fixture
def bulk_container(endpoint, conn):
    """Like `container`, but left in place on the throw-away aio cluster: deleting thousands of objects costs
    as much as making them."""
    name = 'client-bulk-' + uuid.uuid4().hex[:12]
    conn.put_container(name)
    yield name
    if endpoint.cluster is None:
        empty_and_delete(conn, name)


def empty_and_delete(conn, name):
    import concurrent.futures
    try:
        _, listing = conn.get_container(name, full_listing=True)
    except Exception:  # noqa: BLE001 - already gone
        return
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda o: _quiet(conn.delete_object, name, o['name']), listing))
    _quiet(conn.delete_container, name)


def _quiet(func, *args):
    try:
        func(*args)
    except Exception:  # noqa: BLE001 - best-effort cleanup
        pass


def cli(endpoint, *argv, input=None, cwd=None, timeout=300):
    """Run `python -m swiftlike.client ARGV` as a real process: (status, stdout, stderr)."""
    done = subprocess.run([sys.executable, '-m', 'swiftlike.client'] + list(argv), input=input,
                          capture_output=True, env=endpoint.cli_env(), cwd=cwd, timeout=timeout,
                          stdin=None if input is not None else subprocess.DEVNULL)
    return done.returncode, done.stdout.decode('utf-8', 'replace'), done.stderr.decode('utf-8', 'replace')


# -- finding and killing proxy workers ------------------------------------------------------------------------

def free_port():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def children(pid):
    """Direct child pids, from /proc/<pid>/task/*/children."""
    found = []
    try:
        for task in os.listdir('/proc/%d/task' % pid):
            with open('/proc/%d/task/%s/children' % (pid, task)) as f:
                found.extend(int(p) for p in f.read().split())
    except OSError:
        pass
    return found


def _tcp_sockets():
    """[(local_port, remote_port, state, inode)] of every IPv4/IPv6 TCP socket."""
    rows = []
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
                    rows.append((int(local.rsplit(':', 1)[1], 16), int(remote.rsplit(':', 1)[1], 16),
                                 state, inode))
        except OSError:
            pass
    return rows


def _socket_inodes(pid):
    inodes = set()
    try:
        for fd in os.listdir('/proc/%d/fd' % pid):
            try:
                target = os.readlink('/proc/%d/fd/%s' % (pid, fd))
            except OSError:
                continue
            match = re.match(r'socket:\[(\d+)\]', target)
            if match:
                inodes.add(int(match.group(1)))
    except OSError:
        pass
    return inodes


def listening_master(port):
    """The pid of the process that listens on `port` and forked workers sharing the socket."""
    listen = {inode for lport, _, state, inode in _tcp_sockets() if lport == port and state == '0A'}
    holders = []
    for entry in os.listdir('/proc'):
        if entry.isdigit() and _socket_inodes(int(entry)) & listen:
            holders.append(int(entry))
    for pid in holders:
        if set(children(pid)) & set(holders):
            return pid
    return holders[0] if holders else None


def alive(pid):
    """True for a running process; False once it is gone or a zombie (killed, not yet reaped by its parent)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            state = f.read().rsplit(')', 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ('Z', 'X')


def established_connections(master_pid, port):
    """{worker pid: number of established client connections on `port` it holds} for the workers holding any."""
    established = {inode for lport, _, state, inode in _tcp_sockets() if lport == port and state == '01'}
    held = {}
    for pid in children(master_pid):
        count = len(_socket_inodes(pid) & established)
        if count and alive(pid):
            held[pid] = count
    return held


class WorkerProxy:
    """A proxy with forked workers: an extra one on the aio cluster, or the endpoint's own (env override)."""

    def __init__(self, auth_url, port, master_pid, proc=None):
        self.auth_url = auth_url
        self.port = port
        self.master_pid = master_pid
        self.proc = proc

    def workers(self):
        """The live worker pids (a killed worker the master has not reaped yet is not one)."""
        return [pid for pid in children(self.master_pid) if alive(pid)]

    def wait_workers(self, count=2, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if len(self.workers()) >= count:
                return self.workers()
            time.sleep(0.1)
        raise AssertionError('proxy %d has workers %r' % (self.master_pid, self.workers()))

    def kill_busy_worker(self, timeout=30):
        """SIGKILL the worker holding the most client connections (waiting for one to hold any).

        Returns (pid, connections it held). Which requests those connections carry is the caller's to arrange:
        a connection held open mid-request is broken by the kill; an idle kept-alive one merely closed.
        """
        deadline = time.time() + timeout
        while time.time() < deadline:
            held = established_connections(self.master_pid, self.port)
            if held:
                pid = max(held, key=held.get)
                os.kill(pid, signal.SIGKILL)
                return pid, held[pid]
            time.sleep(0.01)
        raise AssertionError('no proxy worker had a client connection')

    def wait_gone(self, pid, timeout=30):
        """Wait until the master has reaped the killed worker `pid` (it reaps and replaces it at once)."""
        deadline = time.time() + timeout
        while pid in children(self.master_pid):
            if time.time() > deadline:
                raise AssertionError('killed worker %d is still there' % pid)
            time.sleep(0.05)


def start_worker_proxy(cluster, tmp_dir, workers=2):
    """Another proxy for the aio cluster (same rings, same token secret) with forked workers."""
    with open(cluster.proxy.conf_path) as f:
        conf = f.read()
    port = free_port()
    conf = re.sub(r'(?m)^bind_port\s*=.*$', 'bind_port = %d' % port, conf)
    if re.search(r'(?m)^workers\s*=', conf):
        conf = re.sub(r'(?m)^workers\s*=.*$', 'workers = %d' % workers, conf)
    else:
        conf = conf.replace('[proxy-server]\n', '[proxy-server]\nworkers = %d\n' % workers, 1)
    conf_path = os.path.join(tmp_dir, 'proxy-workers.conf')
    with open(conf_path, 'w') as f:
        f.write(conf)
    log = open(os.path.join(tmp_dir, 'proxy-workers.log'), 'wb')
    env = dict(os.environ, SWIFTLIKE_CONF=cluster.cluster_conf)
    proc = subprocess.Popen([sys.executable, '-c', 'import sys; from swiftlike.cli.servers import proxy_server;'
                             ' sys.exit(proxy_server())', conf_path], stdout=log, stderr=subprocess.STDOUT,
                            env=env, start_new_session=True)
    log.close()
    deadline = time.time() + 60
    while True:
        try:
            with urllib.request.urlopen('http://127.0.0.1:%d/healthcheck' % port, timeout=5) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            stop_worker_proxy(proc)
            with open(os.path.join(tmp_dir, 'proxy-workers.log')) as f:
                raise AssertionError('extra proxy did not start:\n' + f.read()[-3000:])
        time.sleep(0.1)
    return WorkerProxy('http://127.0.0.1:%d/auth/v1.0' % port, port, proc.pid, proc)


def stop_worker_proxy(proc):
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except OSError:
        pass
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)
    try:
        os.killpg(proc.pid, signal.SIGKILL)   # any worker left behind
    except OSError:
        pass


@pytest.fixture(scope='module')
def worker_proxy(endpoint, tmp_path_factory):
    if endpoint.cluster is None:
        port = int(re.search(r':(\d+)/', endpoint.auth_url).group(1))
        master = listening_master(port)
        if master is None:
            pytest.skip('cannot find the pid listening on %d' % port)
        yield WorkerProxy(endpoint.auth_url, port, master)
        return
    proxy = start_worker_proxy(endpoint.cluster, str(tmp_path_factory.mktemp('proxy-workers')))
    try:
        yield proxy
    finally:
        stop_worker_proxy(proxy.proc)
