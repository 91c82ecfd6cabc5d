"""The real `swiftlike-aio` command, as a subprocess on free ports."""
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from swiftlike.aio import layout as layout_mod
from swiftlike.aio.cluster import available_daemons
from swiftlike.aio.devices import release_devices, xfs_unavailable_reason
from swiftlike.aio.supervisor import group_members
from tests.functional.conftest import Cluster, http, read_state, start_cluster

_SCRIPT = os.path.join(os.path.dirname(sys.executable), 'swiftlike-aio')
AIO = [_SCRIPT] if os.path.exists(_SCRIPT) else [sys.executable, '-m', 'swiftlike.cli.aio']


def alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def wait_gone(pids, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


class AioProcess:
    """One run of the command; its output goes to a file we can read any time."""

    def __init__(self, data_dir, *args):
        self.data_dir = str(data_dir)
        self.out_path = os.path.join(os.path.dirname(self.data_dir),
                                     'aio-%d.out' % time.monotonic_ns())
        self.out = open(self.out_path, 'w')
        self.proc = subprocess.Popen(
            AIO + ['--data-dir', self.data_dir, '--port', '0'] + list(args),
            stdout=self.out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def output(self):
        with open(self.out_path) as f:
            return f.read()

    def wait_up(self, timeout=180):
        deadline = time.time() + timeout
        while time.time() < deadline:
            assert self.proc.poll() is None, 'aio exited:\n' + self.output()
            if 'cluster is up' in self.output():
                state = read_state(self.data_dir)
                status, _h, _b = http('GET', state['proxy_url'] + '/healthcheck')
                assert status == 200
                return state
            time.sleep(0.2)
        raise AssertionError('aio not up in %ds:\n%s' % (timeout, self.output()))

    def all_pids(self, state):
        pids = set()
        for pid in state['children'].values():
            if pid:
                pids.update(group_members(pid) or [pid])
        return sorted(pids)

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.out.close()


@pytest.fixture
def aio_runs():
    runs = []
    yield runs
    for run in runs:
        run.cleanup()


def auth(state, user='test:tester', key='testing'):
    req = urllib.request.Request(state['auth_url'], headers={'X-Auth-User': user,
                                                              'X-Auth-Key': key})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.headers['X-Storage-Url'], resp.headers['X-Auth-Token']


def test_help_documents_the_flags():
    done = subprocess.run(AIO + ['--help'], stdout=subprocess.PIPE, text=True, timeout=60)
    assert done.returncode == 0
    for flag in ('--data-dir', '--bind-ip', '--port', '--base-port', '--xfs', '--workers',
                 '--no-daemons', '--user', '--setup-only', '--part-power', '--replicas',
                 '--processes'):
        assert flag in done.stdout
    for user in ('test:tester', 'test2:tester2', 'test:tester3', 'test5:tester5',
                 'admin:admin'):
        assert user in done.stdout


@pytest.mark.parametrize('args, message', [
    (['--port', '70000'], 'not a port'),
    (['--port', 'eighty'], 'invalid port value'),
    (['--workers', '-1'], 'must be 0 or more'),
    (['--user', 'nocolons'], 'ACCOUNT:USER:KEY'),
    (['--user', 'a:b:c:.root'], 'dotted groups'),
    (['--replicas', '7'], 'replicas must be between'),
    (['--part-power', '0'], 'part power'),
    (['--base-port', '80'], 'base port'),
    (['--bogus'], 'unrecognized arguments'),
    (['--bind-ip', 'not-an-ip'], 'not an IP address'),
    (['--bind-ip', '127.0.0.1; rm -rf /'], 'not an IP address'),
    (['--xfs-size', '10'], 'at least 300'),
    (['--processes', 'thread'], 'invalid choice'),
])
def test_bad_flags_exit_2_with_reason(tmp_path, args, message):
    done = subprocess.run(AIO + ['--data-dir', str(tmp_path / 'd')] + args,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    assert done.returncode == 2
    assert message in done.stderr
    assert 'Traceback' not in done.stderr


def test_data_dir_that_is_a_file_or_corrupt(tmp_path):
    (tmp_path / 'file').write_text('not a dir')
    done = subprocess.run(AIO + ['--data-dir', str(tmp_path / 'file'), '--setup-only'],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    assert done.returncode == 2 and 'Traceback' not in done.stderr
    assert str(tmp_path / 'file') in done.stderr
    (tmp_path / 'd' / 'etc').mkdir(parents=True)
    (tmp_path / 'd' / 'etc' / 'aio-layout.json').write_text('{"nodes": [{"bad": 1}]}')
    done = subprocess.run(AIO + ['--data-dir', str(tmp_path / 'd'), '--setup-only'],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    assert done.returncode == 2 and 'unreadable aio layout' in done.stderr
    assert 'Traceback' not in done.stderr


def test_setup_only_then_conflicting_reuse(tmp_path):
    data_dir = tmp_path / 'd'
    done = subprocess.run(AIO + ['--data-dir', str(data_dir), '--base-port', '0',
                                 '--part-power', '6', '--setup-only'],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    assert done.returncode == 0, done.stdout
    etc = data_dir / 'etc'
    for name in ('swiftlike.conf', 'proxy-server.conf', 'object.ring.gz', 'container.ring.gz',
                 'account.ring.gz', 'object-server/4.conf', 'account-server/1.conf'):
        assert (etc / name).is_file(), name
    assert sorted(os.listdir(data_dir / 'nodes')) == ['n1', 'n2', 'n3', 'n4']
    assert (data_dir / 'nodes' / 'n2' / 'd2').is_dir()
    secrets = (etc / 'swiftlike.conf').read_text()
    ring = (etc / 'object.ring.gz').read_bytes()
    # Reuse keeps secrets and rings; contradicting the saved layout is refused.
    done = subprocess.run(AIO + ['--data-dir', str(data_dir), '--setup-only'],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    assert done.returncode == 0, done.stdout
    assert (etc / 'swiftlike.conf').read_text() == secrets
    assert (etc / 'object.ring.gz').read_bytes() == ring
    done = subprocess.run(AIO + ['--data-dir', str(data_dir), '--base-port', '7000'],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    assert done.returncode == 2 and '--base-port 7000' in done.stderr


def test_busy_port_is_reported(tmp_path):
    with socket.socket() as busy:
        busy.bind(('127.0.0.1', 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        done = subprocess.run(AIO + ['--data-dir', str(tmp_path / 'd'), '--base-port', '0',
                                     '--part-power', '6', '--port', str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=120)
    assert done.returncode == 2
    assert '%d (proxy-server)' % port in done.stderr


def test_second_aio_on_same_data_dir_is_refused(tmp_path):
    # Hold the data dir's lock as a running aio does.
    run_dir = tmp_path / 'd' / 'run'
    run_dir.mkdir(parents=True)
    (run_dir / 'aio.json').write_text('{"the running aio": "keeps this"}')
    with open(run_dir / 'aio.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        done = subprocess.run(AIO + ['--data-dir', str(tmp_path / 'd'), '--port', '0',
                                     '--base-port', '0'],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=60)
    assert done.returncode == 2 and 'in use by another swiftlike-aio' in done.stderr
    assert (run_dir / 'aio.json').exists()


def test_round_trip_restart_reuse_and_clean_stops(tmp_path, aio_runs):
    data_dir = tmp_path / 'd'
    args = ('--base-port', '0', '--part-power', '8', '--workers', '1')
    first = AioProcess(data_dir, *args)
    aio_runs.append(first)
    state = first.wait_up()
    out = first.output()
    assert state['auth_url'] in out and 'test:tester' in out
    assert state['auth_url'] == state['proxy_url'] + '/auth/v1.0'
    # Each node's servers share a process, and its daemons another: every
    # daemon that exists runs beside its servers (the expirer on one node).
    for n in (1, 2, 3, 4):
        assert alive(state['children']['storage-server-%d' % n])
        with open('/proc/%d/cmdline' % state['children']['daemons-%d' % n], 'rb') as f:
            argv = f.read().decode().split('\0')
        only = set(argv[argv.index('--only') + 1].split(','))
        expected = set(available_daemons()) - ({'object-expirer'} if n > 1 else set())
        assert only == expected, (n, only)

    storage_url, token = auth(state)
    assert storage_url == state['proxy_url'] + '/v1/AUTH_test'
    headers = {'X-Auth-Token': token}
    assert http('PUT', storage_url + '/aio', headers, b'')[0] in (201, 202)
    assert http('PUT', storage_url + '/aio/obj', headers, b'kept across restarts')[0] == 201
    assert http('GET', storage_url + '/aio/obj', headers)[2] == b'kept across restarts'
    # Each object replica went to a different node's own device.
    datas = [root for root, _d, files in os.walk(data_dir / 'nodes')
             if any(f.endswith('.data') for f in files)]
    assert len({p.split(os.sep + 'nodes' + os.sep)[1].split(os.sep)[0] for p in datas}) == 3

    # SIGTERM: every child and every worker is gone, the aio exits 0.
    pids = first.all_pids(state)
    assert len(pids) >= 2 * 5 + 4  # 5 server processes with a forked worker each, 4 daemons
    first.proc.send_signal(signal.SIGTERM)
    assert first.proc.wait(60) == 0, first.output()
    assert wait_gone(pids) == []
    assert not os.path.exists(data_dir / 'run' / 'aio.json')
    secrets = (data_dir / 'etc' / 'swiftlike.conf').read_text()

    # A second start reuses the data: same secrets, same object.
    second = AioProcess(data_dir, *args)
    aio_runs.append(second)
    state = second.wait_up()
    assert 'preparing' in second.output()
    assert (data_dir / 'etc' / 'swiftlike.conf').read_text() == secrets
    storage_url, token = auth(state)
    status, _h, body = http('GET', storage_url + '/aio/obj', {'X-Auth-Token': token})
    assert (status, body) == (200, b'kept across restarts')

    # kill -9 of the aio itself: the kernel stops its children (PDEATHSIG).
    pids = second.all_pids(state)
    second.proc.kill()
    second.proc.wait()
    assert wait_gone(pids) == []


@pytest.mark.parametrize('processes, victim_name', [('node', 'storage-server-2'),
                                                     ('server', 'object-server-2')])
def test_dead_server_is_restarted(tmp_path, aio_runs, processes, victim_name):
    run = AioProcess(tmp_path / 'd', '--base-port', '0', '--part-power', '6', '--workers', '0',
                     '--no-daemons', '--processes', processes)
    aio_runs.append(run)
    state = run.wait_up()
    victim = state['children'][victim_name]
    os.kill(victim, signal.SIGKILL)
    deadline = time.time() + 30
    while time.time() < deadline:
        pid = read_state(run.data_dir)['children'].get(victim_name)
        if pid and pid != victim and alive(pid):
            break
        time.sleep(0.2)
    else:
        raise AssertionError('%s not restarted:\n%s' % (victim_name, run.output()))
    assert '%s exited' % victim_name in run.output()
    with open(os.path.join(run.data_dir, 'run', 'aio.json')) as f:
        state = json.load(f)
    assert state['children'][victim_name] == pid
    # The restarted process serves again: a write needs every node's servers.
    storage_url, token = auth(state)
    headers = {'X-Auth-Token': token}
    assert http('PUT', storage_url + '/back', headers, b'')[0] in (201, 202)
    assert http('PUT', storage_url + '/back/o', headers, b'again')[0] == 201
    # Ctrl-C (SIGINT) stops it all as SIGTERM does.
    pids = run.all_pids(state)
    run.proc.send_signal(signal.SIGINT)
    assert run.proc.wait(60) == 0
    assert wait_gone(pids) == []
    assert 'stopped' in run.output()



@pytest.mark.skipif(bool(xfs_unavailable_reason()), reason=xfs_unavailable_reason() or 'ok')
def test_xfs_loopback_devices(tmp_path, aio_runs):
    data_dir = tmp_path / 'd'
    run = AioProcess(data_dir, '--xfs', '--base-port', '0', '--part-power', '6',
                     '--workers', '0', '--no-daemons')
    aio_runs.append(run)
    try:
        state = run.wait_up()
        devices = [str(data_dir / 'nodes' / ('n%d' % n) / ('d%d' % n)) for n in range(1, 5)]
        with open('/proc/mounts') as f:
            mounts = {line.split()[1]: line.split()[2] for line in f}
        assert [mounts.get(d) for d in devices] == ['xfs'] * 4
        conf = (data_dir / 'etc' / 'object-server' / '1.conf').read_text()
        assert 'mount_check = true' in conf
        storage_url, token = auth(state)
        headers = {'X-Auth-Token': token}
        assert http('PUT', storage_url + '/x', headers, b'')[0] in (201, 202)
        assert http('PUT', storage_url + '/x/o', headers, b'on xfs')[0] == 201
        assert http('GET', storage_url + '/x/o', headers)[2] == b'on xfs'
        run.proc.send_signal(signal.SIGTERM)
        assert run.proc.wait(60) == 0
        with open('/proc/mounts') as f:
            assert not any(str(data_dir) in line for line in f)
    finally:
        run.cleanup()  # before unmounting: a still-running aio keeps them busy
        for n in range(1, 5):
            subprocess.run(['umount', str(data_dir / 'nodes' / ('n%d' % n) / ('d%d' % n))],
                           stderr=subprocess.DEVNULL)


# -- the `cluster` fixture itself (other tests rely on these helpers) ----------------

def test_fixture_describes_the_cluster(cluster):
    assert cluster.auth_url == cluster.proxy_url + '/auth/v1.0'
    assert cluster.users['test:tester'].key == 'testing'
    assert cluster.users['test2:tester2'].storage_account == 'AUTH_test2'
    assert not cluster.users['test:tester3'].is_admin
    assert len(cluster.object_servers) == len(cluster.container_servers) == 4
    ports = {s.port for kind in ('object', 'container', 'account')
             for s in cluster.servers[kind]} | {cluster.proxy.port}
    assert len(ports) == 13
    for info in cluster.object_servers:
        assert os.path.isdir(info.device_path) and info.pid
        assert info.device_path.startswith(cluster.data_dir)
        assert os.path.isfile(info.conf_path)
    assert cluster.server('container', 2) is cluster.container_servers[1]
    assert os.path.isfile(os.path.join(cluster.swift_dir, 'object.ring.gz'))
    assert set(cluster.all_pids()) >= {cluster.proxy.pid}


def test_fixture_kill_and_restart_a_server(cluster):
    storage_url, token = cluster.get_auth()
    headers = {'X-Auth-Token': token}
    assert http('PUT', storage_url + '/fixture-kill', headers, b'')[0] in (201, 202)
    victim = cluster.object_servers[0]
    old_pid = victim.pid
    try:
        cluster.kill_server('object', 1)
        assert victim.pid is None and not alive(old_pid)
        with pytest.raises(OSError):
            socket.create_connection((victim.ip, victim.port), timeout=2).close()
        # 3 replicas, one node down: writes and reads still work.
        assert http('PUT', storage_url + '/fixture-kill/o', headers, b'x')[0] == 201
        assert http('GET', storage_url + '/fixture-kill/o', headers)[2] == b'x'
        cluster.stop_server('container', 3)
        assert cluster.container_servers[2].pid is None
    finally:
        cluster.ensure_running()
    assert victim.pid and victim.pid != old_pid
    assert cluster.container_servers[2].pid
    socket.create_connection((victim.ip, victim.port), timeout=5).close()
    assert http('GET', storage_url + '/fixture-kill/o', headers)[2] == b'x'


def test_fixture_runs_a_daemon_pass(cluster):
    status, output = cluster.run_daemon('object-auditor', 2)
    assert status == 0, output


def test_fixture_proxy_pipeline_answers_info_and_healthcheck(cluster):
    status, _h, body = http('GET', cluster.proxy_url + '/healthcheck')
    assert (status, body) == (200, b'OK')
    status, _h, body = http('GET', cluster.proxy_url + '/info')
    assert status == 200 and 'swift' in json.loads(body)


def test_cluster_start_takes_fresh_ports_when_one_was_taken(tmp_path, monkeypatch):
    # The suite's fixtures pick free ports and bind them seconds later; here
    # another socket holds one of them by then. The start must not take that
    # socket's answers for the server's, and is tried again on fresh ports.
    taken = socket.socket()
    taken.bind(('127.0.0.1', 0))
    taken.listen(5)
    real_free_ports = layout_mod.free_ports
    handed = []

    def free_ports(count, ip='127.0.0.1'):
        ports = real_free_ports(count, ip)
        if not handed:   # the first layout gets the taken port
            ports[0] = taken.getsockname()[1]
        handed.append(ports)
        return ports
    monkeypatch.setattr(layout_mod, 'free_ports', free_ports)
    try:
        aio = start_cluster(tmp_path / 'aio')
    finally:
        taken.close()
    try:
        assert len(handed) >= 2 and aio.layout.data_dir.endswith('aio-again')
        cluster = Cluster(aio)
        url, token = cluster.get_auth()
        assert url and token
    finally:
        aio.stop(timeout=10)
        release_devices(aio.layout)
        aio.unlock()
