"""swiftlike-dispersion-populate / -report against the aio, whole and with an
object server stopped."""
import json
import os
import subprocess
import sys

import pytest

from swiftlike.ring import Ring

STOPPED = 2     # the object server stopped in the second test


def _run(which, conf, *args):
    env = dict(os.environ)
    env.pop('SWIFTLIKE_CONF', None)      # the tool finds it in swift_dir
    return subprocess.run([sys.executable, '-m', 'swiftlike.cli.dispersion', which, conf]
                          + list(args), capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope='module')
def populated(cluster, tmp_path_factory):
    conf = tmp_path_factory.mktemp('dispersion') / 'dispersion.conf'
    conf.write_text('[dispersion]\nauth_url = %s\nauth_user = test:tester\nauth_key = testing\n'
                    'swift_dir = %s\nretries = 2\nconcurrency = 8\n'
                    % (cluster.auth_url, cluster.swift_dir))
    done = _run('populate', str(conf))
    assert done.returncode == 0, done.stderr
    return str(conf), done.stdout


def _sample(cluster, ring_name, container=None):
    from swiftlike.client import Connection
    conn = Connection(authurl=cluster.auth_url, user='test:tester', key='testing')
    url, _token = conn.get_auth()
    account = url.rsplit('/', 1)[1]
    if container:
        names = [o['name'] for o in conn.get_container(container, full_listing=True)[1]]
    else:
        names = [c['name'] for c in conn.get_account(prefix='dispersion_',
                                                     full_listing=True)[1]
                 if c['name'] != 'dispersion_objects']
    ring = Ring(cluster.swift_dir, ring_name=ring_name)
    return [ring.get_nodes(*((account, container, n) if container else (account, n)))
            for n in names]


def test_populate_spreads_names_over_distinct_partitions(cluster, populated):
    _conf, out = populated
    # 1% of 1024 partitions, rounded down, as Swift's populate does.
    assert 'Created 10 containers for dispersion reporting' in out
    assert 'Created 10 objects for dispersion reporting' in out
    for ring_name, container in (('container', None), ('object', 'dispersion_objects')):
        placed = _sample(cluster, ring_name, container)
        assert len(placed) == 10 and len({part for part, _nodes in placed}) == 10


def test_report_finds_every_copy(cluster, populated):
    conf, _out = populated
    done = _run('report', conf, '--dump-json')
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    for kind in ('container', 'object'):
        assert report[kind]['copies_expected'] == report[kind]['copies_found'] == 30
        assert report[kind]['pct_found'] == 100.0
        assert (report[kind]['missing_one'], report[kind]['missing_two'],
                report[kind]['missing_all'], report[kind]['overlapping']) == (0, 0, 0, 0)
    text = _run('report', conf).stdout
    assert '100.00% of object copies found (30 of 30)' in text
    assert 'Sample represents 0.98% of the container partition space' in text


def test_report_with_an_object_server_stopped(cluster, populated):
    conf, _out = populated
    stopped = cluster.server('object', STOPPED)
    missing = sum(1 for _part, nodes in _sample(cluster, 'object', 'dispersion_objects')
                  if any(n['port'] == stopped.port for n in nodes))
    assert 0 < missing < 10
    cluster.stop_server('object', STOPPED)
    try:
        done = _run('report', conf, '-j')
        text_run = _run('report', conf, '--object-only', '--debug')
    finally:
        cluster.start_server('object', STOPPED)
    report = json.loads(done.stdout)
    assert report['container']['copies_found'] == 30
    obj = report['object']
    assert (obj['copies_found'], obj['missing_one'], obj['missing_two']) == (30 - missing,
                                                                             missing, 0)
    assert obj['retries:'] == missing          # one retry (retries = 2) per refused HEAD
    assert obj['pct_found'] == round(100.0 * (30 - missing) / 30, 2)
    text = text_run.stdout
    assert 'Queried 10 objects for dispersion reporting' in text
    assert ('There was 1 partition missing one copy.' if missing == 1 else
            'There were %d partitions missing one copy.' % missing) in text
    assert '%.2f%% of object copies found (%d of 30)' % (100.0 * (30 - missing) / 30,
                                                          30 - missing) in text
    assert text.count('ERROR: 127.0.0.1:%d/' % stopped.port) == missing
    assert 'container copies' not in text


def test_bad_config_is_a_clear_error(tmp_path):
    done = _run('report', str(tmp_path / 'absent.conf'))
    assert done.returncode == 2 and 'config file not found' in done.stderr
    bad = tmp_path / 'bad.conf'
    bad.write_text('[dispersion]\ndispersion_coverage = 0\n')
    done = _run('populate', str(bad))
    assert done.returncode == 2 and 'dispersion_coverage' in done.stderr
