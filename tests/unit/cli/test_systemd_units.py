"""The systemd units of etc/systemd/ run real entry points on real config
files: each ExecStart names a console script of setup.cfg (also a bin/ tool
when one exists) and a config file a node has (one swiftlike-node-configs
writes); reloads send the signal the servers roll their workers on."""
import configparser
import glob
import os
import shlex
import shutil
import subprocess
import sys

import pytest

from swiftlike.cli import node_configs
from swiftlike.cli.init import SERVERS

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))
UNIT_DIR = os.path.join(REPO, 'etc', 'systemd')
BIN_DIR = '/opt/swiftlike/bin/'
# Instances a template unit is meant for (doc/deploy.md enables these).
INSTANCES = {'swiftlike-daemons@.service': ('object', 'container', 'account')}


def _units():
    return sorted(glob.glob(os.path.join(UNIT_DIR, '*')))


def _parse(path):
    parser = configparser.RawConfigParser(strict=True, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    with open(path) as f:
        parser.read_file(f)
    return parser


def _console_scripts():
    setup = configparser.RawConfigParser()
    setup.read(os.path.join(REPO, 'setup.cfg'))
    lines = setup['options.entry_points']['console_scripts'].strip().splitlines()
    return {line.split('=')[0].strip(): line.split('=')[1].strip() for line in lines}


def _expand(value, unit_name):
    names = INSTANCES.get(unit_name)
    return [value.replace('%i', name) for name in names] if names else [value]


def _node_conf_names():
    host = node_configs.EXAMPLE_HOSTS[0]
    return set(node_configs.node_files(host))


def test_there_are_units_for_every_server_the_daemons_and_a_target():
    names = {os.path.basename(p) for p in _units()}
    assert names == {'swiftlike-%s.service' % s for s in SERVERS} | {
        'swiftlike-daemons@.service', 'swiftlike.target'}


@pytest.mark.parametrize('path', [p for p in _units() if p.endswith('.service')],
                         ids=os.path.basename)
def test_service_runs_a_real_entry_point_on_a_real_config(path):
    unit = _parse(path)
    name = os.path.basename(path)
    service = unit['Service']
    scripts = _console_scripts()
    for exec_start in _expand(service['ExecStart'], name):
        argv = shlex.split(exec_start)
        assert argv[0].startswith(BIN_DIR), argv
        script = argv[0][len(BIN_DIR):]
        assert script in scripts, '%s: %s is no console script' % (name, script)
        module, func = scripts[script].split(':')
        assert callable(getattr(__import__(module, fromlist=[func]), func))
        confs = argv[1:]
        assert confs, 'no config file given'
        for conf in confs:
            assert os.path.dirname(conf) == '/etc/swiftlike'
            assert os.path.basename(conf) in _node_conf_names(), conf
            if name.startswith('swiftlike-daemons'):
                continue
            # A server's unit reads its own server's file.
            assert os.path.basename(conf) == name[len('swiftlike-'):-len('.service')] + '.conf'
    # Hardening and supervision every service gets.
    assert service['User'] == service['Group'] == 'swiftlike'
    assert int(service['LimitNOFILE']) >= 65536
    assert service['Restart'] == 'on-failure'
    assert service['KillMode'] == 'mixed'  # SIGTERM to the master; it stops its workers
    assert service['NoNewPrivileges'] == 'yes' and service['ProtectSystem'] == 'strict'
    if 'proxy' not in name:
        assert service['ReadWritePaths'] == '/srv/node'
    assert unit['Unit']['PartOf'] == 'swiftlike.target'
    assert unit['Install']['WantedBy'] == 'swiftlike.target'


@pytest.mark.parametrize('server', SERVERS)
def test_server_reload_is_the_worker_roll_signal(server):
    service = _parse(os.path.join(UNIT_DIR, 'swiftlike-%s.service' % server))['Service']
    assert service['ExecReload'] == '/bin/kill -HUP $MAINPID'
    # Longer than the default graceful_timeout (10 s), so a stop is graceful.
    assert int(service['TimeoutStopSec']) > 10
    with open(os.path.join(REPO, 'swiftlike', 'wsgi.py')) as f:
        assert 'signal.signal(signal.SIGHUP, reload)' in f.read()


def test_the_daemons_template_covers_each_storage_kind():
    for kind in INSTANCES['swiftlike-daemons@.service']:
        assert '%s-server.conf' % kind in _node_conf_names()
    target = _parse(os.path.join(UNIT_DIR, 'swiftlike.target'))
    assert target['Install']['WantedBy'] == 'multi-user.target'


@pytest.mark.skipif(shutil.which('systemd-analyze') is None, reason='systemd-analyze not installed')
def test_systemd_itself_accepts_every_unit(tmp_path):
    """systemd-analyze verify: no unknown key, bad value or missing command,
    with /opt/swiftlike/bin pointed at this checkout's installed scripts."""
    bin_dir = os.path.dirname(sys.executable) + '/'
    names = []
    for path in _units():
        name = os.path.basename(path)
        with open(path) as f:
            text = f.read().replace(BIN_DIR, bin_dir)
        for instance in INSTANCES.get(name, ()):
            names.append(name.replace('@.', '@%s.' % instance))
            (tmp_path / names[-1]).write_text(text)
        if name not in INSTANCES:
            names.append(name)
            (tmp_path / name).write_text(text)
    for name in names:
        assert (tmp_path / name).exists()
    done = subprocess.run(['systemd-analyze', 'verify'] + [str(tmp_path / n) for n in names],
                          capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout + done.stderr) == (0, '')
