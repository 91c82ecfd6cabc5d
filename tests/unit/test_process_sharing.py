"""Several servers, or several daemons, in one process: `swiftlike-storage-server
CONF...` and `swiftlike-daemons CONF...` (the aio's per-node processes)."""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from swiftlike.aio.layout import free_ports
from swiftlike.cli.daemons import daemons_for
from swiftlike.exceptions import ConfigError
from tests.conftest import TEST_HASH_PREFIX, TEST_HASH_SUFFIX

BIN = os.path.dirname(sys.executable)


def _node(tmp_path, daemons=None):
    """Confs of one node's three servers on free ports; returns {kind: path}."""
    devices = tmp_path / 'node'
    (devices / 'd1').mkdir(parents=True)
    (tmp_path / 'swiftlike.conf').write_text(
        '[hash]\npath_prefix = %s\npath_suffix = %s\n' % (TEST_HASH_PREFIX, TEST_HASH_SUFFIX))
    ports = free_ports(3)
    paths = {}
    for kind, port in zip(('object', 'container', 'account'), ports):
        text = ('[DEFAULT]\ndevices = %s\nmount_check = false\nswift_dir = %s\n'
                'log_level = INFO\n\n[%s-server]\nbind_port = %d\nworkers = 0\n'
                % (devices, tmp_path, kind, port))
        for daemon in (daemons or {}).get(kind, ()):
            text += '\n[%s]\n' % daemon
        paths[kind] = tmp_path / ('%s.conf' % kind)
        paths[kind].write_text(text)
    return paths, dict(zip(('object', 'container', 'account'), ports))


def _run(args, timeout=60):
    env = {k: v for k, v in os.environ.items() if k != 'SWIFTLIKE_CONF'}
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)


def _status(port, path):
    try:
        with urllib.request.urlopen('http://127.0.0.1:%d%s' % (port, path), timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def test_one_process_serves_a_nodes_three_servers_and_stops_on_sigterm(tmp_path):
    paths, ports = _node(tmp_path)
    proc = subprocess.Popen([os.path.join(BIN, 'swiftlike-storage-server')]
                            + [str(p) for p in paths.values()])
    try:
        deadline = time.time() + 30
        while True:
            try:
                statuses = {kind: _status(port, '/d1/0/a/c/o') for kind, port in ports.items()}
                break
            except OSError:
                assert proc.poll() is None and time.time() < deadline
                time.sleep(0.1)
        # Each port answers as its own server: a HEAD-less GET of an object
        # path is a 404 on the object server, a 400 (too deep) on the others.
        assert statuses['object'] == 404
        assert statuses['container'] == 400 and statuses['account'] == 400
        assert _status(ports['account'], '/d1/0/a') == 404
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize('make_args, message', [
    (lambda p: [], 'usage'),
    (lambda p: ['--help'], 'usage'),
    (lambda p: [str(p['object']), '/nonexistent.conf'], 'config file not found'),
    (lambda p: [str(p['object']), str(p['object'])], 'already served'),
    (lambda p: [str(p['proxy'])], 'needs exactly one of'),
    (lambda p: [str(p['both'])], 'needs exactly one of'),
    (lambda p: [str(p['garbage'])], 'cannot read config'),
])
def test_storage_server_rejects_bad_configs(tmp_path, make_args, message):
    paths, _ports = _node(tmp_path)
    paths['proxy'] = tmp_path / 'proxy.conf'
    paths['proxy'].write_text('[proxy-server]\nbind_port = 1\n')
    paths['both'] = tmp_path / 'both.conf'
    paths['both'].write_text(paths['object'].read_text() + '\n[container-server]\n')
    paths['garbage'] = tmp_path / 'garbage.conf'
    paths['garbage'].write_bytes(b'\xff\xfe[not ini\x00')
    done = _run([os.path.join(BIN, 'swiftlike-storage-server')] + make_args(paths))
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and 'Traceback' not in done.stderr


def test_daemons_for_picks_configured_or_named_daemons(tmp_path):
    paths, _ports = _node(tmp_path, {'object': ['object-auditor', 'object-updater'],
                                     'account': ['account-reaper']})
    confs = [str(p) for p in paths.values()]
    assert daemons_for(confs) == [('object-auditor', confs[0]), ('object-updater', confs[0]),
                                  ('account-reaper', confs[2])]
    assert daemons_for(confs, ['container-updater']) == [('container-updater', confs[1])]
    with pytest.raises(ConfigError, match='unknown daemon'):
        daemons_for(confs, ['object-auditor', 'rm -rf'])
    with pytest.raises(ConfigError, match='no config file given is for account-reaper'):
        daemons_for(confs[:1], ['account-reaper'])


def test_daemons_once_runs_each_daemon_one_pass_in_one_process(tmp_path):
    paths, _ports = _node(tmp_path, {'object': ['object-auditor', 'object-updater']})
    done = _run([os.path.join(BIN, 'swiftlike-daemons'), str(paths['object']), '--once'])
    assert done.returncode == 0, done.stderr
    for name in ('object-auditor', 'object-updater'):
        assert '%s pass done' % name in done.stderr
    with open(tmp_path / 'node' / '.recon' / 'object.recon') as f:
        recon = json.load(f)
    assert recon['object_auditor']['ok'] and recon['object_updater']['ok']


@pytest.mark.parametrize('args, message', [
    ([], 'the following arguments are required'),
    (['/nonexistent.conf'], 'config file not found'),
    (['{object}', '--only', 'object-auditor,bogus'], 'unknown daemon'),
    (['{object}', '--only', 'account-reaper'], 'no config file given is for'),
    (['{bare}'], 'no daemon is configured'),
])
def test_daemons_rejects_bad_input(tmp_path, args, message):
    paths, _ports = _node(tmp_path, {'object': ['object-auditor']})
    bare = tmp_path / 'bare.conf'
    bare.write_text(paths['container'].read_text())
    args = [a.format(object=paths['object'], bare=bare) for a in args]
    done = _run([os.path.join(BIN, 'swiftlike-daemons')] + args)
    assert done.returncode == 2
    assert message in done.stderr and 'Traceback' not in done.stderr
