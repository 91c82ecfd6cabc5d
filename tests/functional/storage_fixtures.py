"""Start real server processes on free ports for functional tests.

    from tests.functional.storage_fixtures import server_factory  # the fixture
    srv = server_factory('object', storage_conf_text('object', devices))
    srv.request('GET', '/sda/1/a/c/o')

start_server(kind, conf_text, workdir) runs `python -m swiftlike.cli.servers
<kind> <conf>` in its own process group with $SWIFTLIKE_CONF pointing at a
swiftlike.conf holding the test hash secrets, and waits until the port
accepts connections. In conf_text, '{port}' and '{workdir}' are replaced.
Every process is killed (its whole group) at teardown.
"""
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from tests.conftest import TEST_HASH_PREFIX, TEST_HASH_SUFFIX

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port(host='127.0.0.1'):
    """A port nothing listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def write_cluster_conf(workdir):
    path = os.path.join(workdir, 'swiftlike.conf')
    if not os.path.exists(path):
        with open(path, 'w') as f:
            f.write('[hash]\npath_prefix = %s\npath_suffix = %s\n'
                    % (TEST_HASH_PREFIX, TEST_HASH_SUFFIX))
    return path


def storage_conf_text(kind, devices, workers=1, **extra):
    """A minimal [<kind>-server] config on '{port}' with mount_check off."""
    lines = ['[DEFAULT]', '', '[%s-server]' % kind, 'bind_ip = 127.0.0.1',
             'bind_port = {port}', 'devices = %s' % devices, 'mount_check = false',
             'fallocate_reserve = 0', 'workers = %d' % workers, 'swift_dir = {workdir}',
             'log_level = WARNING']
    lines += ['%s = %s' % item for item in extra.items()]
    return '\n'.join(lines) + '\n'


class RunningServer:
    def __init__(self, kind, proc, port, conf_path, log_path):
        self.kind = kind
        self.proc = proc
        self.port = port
        self.ip = '127.0.0.1'
        self.conf_path = conf_path
        self.log_path = log_path

    @property
    def host(self):
        return '%s:%d' % (self.ip, self.port)

    def request(self, method, path, headers=None, body=None, timeout=10):
        """(status, {lower-case header: value}, body bytes)."""
        conn = http.client.HTTPConnection(self.ip, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def log(self):
        try:
            with open(self.log_path, errors='replace') as f:
                return f.read()
        except OSError:
            return ''

    def _wake(self):
        # A connection wakes the hub so it notices the stop signal at once.
        try:
            socket.create_connection((self.ip, self.port), timeout=0.2).close()
        except OSError:
            pass

    def stop(self, sig=signal.SIGTERM, timeout=3):
        # An idle eventlet hub may sleep through SIGTERM until its graceful
        # alarm (graceful_timeout); tests don't wait that long: SIGKILL after `timeout`.
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            self._wake()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left of the group (forked workers) goes too.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc.poll() is None:
            self.proc.wait(5)


def _wait_listening(proc, port, log_path, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            with open(log_path, errors='replace') as f:
                raise RuntimeError('server exited with %s:\n%s' % (proc.returncode, f.read()))
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError('server did not listen on %d within %ss' % (port, timeout))


def start_server(kind, conf_text, workdir=None, env=None, timeout=20, port=None):
    """Start a `kind` server (object/container/account/proxy) from conf_text."""
    workdir = workdir or tempfile.mkdtemp(prefix='swiftlike-func-')
    os.makedirs(workdir, exist_ok=True)
    port = port or free_port()
    cluster_conf = write_cluster_conf(workdir)
    text = conf_text.replace('{port}', str(port)).replace('{workdir}', workdir)
    conf_path = os.path.join(workdir, '%s-server-%d.conf' % (kind, port))
    with open(conf_path, 'w') as f:
        f.write(text)
    log_path = conf_path[:-5] + '.log'
    full_env = dict(os.environ, SWIFTLIKE_CONF=cluster_conf,
                    PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    full_env.update(env or {})
    with open(log_path, 'wb') as log:
        proc = subprocess.Popen([sys.executable, '-m', 'swiftlike.cli.servers', kind, conf_path],
                                stdout=log, stderr=subprocess.STDOUT, env=full_env,
                                start_new_session=True, cwd=workdir)
    server = RunningServer(kind, proc, port, conf_path, log_path)
    try:
        _wait_listening(proc, port, log_path, timeout)
    except BaseException:
        server.stop(signal.SIGKILL)
        raise
    return server


@pytest.fixture
def server_factory(tmp_path):
    """start(kind, conf_text, **kw) -> RunningServer; all stopped at teardown."""
    started = []

    def start(kind, conf_text, **kwargs):
        kwargs.setdefault('workdir', str(tmp_path))
        server = start_server(kind, conf_text, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
