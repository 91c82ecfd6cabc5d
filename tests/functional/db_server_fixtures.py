"""Real container/account server processes on free ports (functional tests).

`db_servers` starts `python -m swiftlike.cli.servers <kind> <conf>` in its own
process group with $SWIFTLIKE_CONF holding the test hash secrets, waits for
the port, and kills every process group at teardown.
"""
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from urllib.parse import quote

import pytest

from tests.conftest import TEST_HASH_PREFIX, TEST_HASH_SUFFIX

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class DBServerProcess:
    def __init__(self, kind, workdir, devices, workers=1, port=None):
        self.kind = kind
        self.port = port or free_port()
        self.devices = devices
        cluster_conf = os.path.join(workdir, 'swiftlike.conf')
        with open(cluster_conf, 'w') as f:
            f.write('[hash]\npath_prefix = %s\npath_suffix = %s\n'
                    % (TEST_HASH_PREFIX, TEST_HASH_SUFFIX))
        self.conf_path = os.path.join(workdir, '%s-%d.conf' % (kind, self.port))
        with open(self.conf_path, 'w') as f:
            f.write('[%s-server]\nbind_ip = 127.0.0.1\nbind_port = %d\ndevices = %s\n'
                    'mount_check = false\nfallocate_reserve = 0\nworkers = %d\n'
                    'swift_dir = %s\nlog_level = WARNING\nconn_timeout = 0.5\n'
                    'node_timeout = 3\n' % (kind, self.port, devices, workers, workdir))
        self.log_path = self.conf_path + '.log'
        env = dict(os.environ, SWIFTLIKE_CONF=cluster_conf,
                   PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
        with open(self.log_path, 'wb') as log:
            self.proc = subprocess.Popen(
                [sys.executable, '-m', 'swiftlike.cli.servers', kind, self.conf_path],
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self._wait()

    def _wait(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('%s server exited: %s' % (self.kind, self.log()))
            try:
                with socket.create_connection(('127.0.0.1', self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError('%s server did not listen on %d' % (self.kind, self.port))

    @property
    def host(self):
        return '127.0.0.1:%d' % self.port

    def log(self):
        with open(self.log_path, errors='replace') as f:
            return f.read()

    def request(self, method, path, headers=None, query='', body=None, timeout=30):
        """(status, {lower-case header: value}, body); path is real text, quoted here."""
        url = quote(path) + ('?' + query if query else '')
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=timeout)
        try:
            conn.request(method, url, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def stop(self):
        # SIGKILL: every write is a committed SQLite transaction or an
        # appended pending line, so nothing here needs a graceful stop.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait(10)


@pytest.fixture
def db_servers(tmp_path):
    """start(kind, devices=None, workers=1) -> DBServerProcess; all killed at teardown."""
    started = []

    def start(kind, devices=None, workers=1, port=None):
        devices = devices or str(tmp_path / ('%s-devices' % kind))
        os.makedirs(os.path.join(devices, 'sda'), exist_ok=True)
        server = DBServerProcess(kind, str(tmp_path), devices, workers, port)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
