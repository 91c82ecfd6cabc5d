"""The daemon base: rate limiting, recon cache, config loading, passes."""
import dataclasses
import json
import os
import subprocess
import sys
import threading

import pytest

from swiftlike import daemon as daemon_mod
from swiftlike.daemon import (Daemon, DaemonConf, RateLimiter, dump_recon, load_daemon_conf,
                              read_recon)
from swiftlike.exceptions import ConfigError


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.slept = 0.0

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.slept += seconds
        self.now += seconds


@pytest.mark.parametrize('rate,units,count', [(10, 1, 100), (1000, 64, 500), (2.5, 1, 20)])
def test_rate_limiter_keeps_long_run_average(rate, units, count):
    fake = FakeClock()
    limiter = RateLimiter(rate, clock=fake.clock, sleep=fake.sleep)
    for _ in range(count):
        limiter.consume(units)
    expected = units * count / rate
    # At most one second of burst allowance ahead of the exact schedule.
    assert expected - 1.0 - 1e-9 <= fake.slept <= expected


def test_rate_limiter_unlimited_never_sleeps():
    fake = FakeClock()
    limiter = RateLimiter(0, clock=fake.clock, sleep=fake.sleep)
    for _ in range(1000):
        limiter.consume(10 ** 9)
    assert fake.slept == 0


def test_rate_limiter_idle_time_is_not_banked_beyond_a_second():
    fake = FakeClock()
    limiter = RateLimiter(10, clock=fake.clock, sleep=fake.sleep)
    limiter.consume(1)
    fake.now += 3600          # an hour idle
    for _ in range(50):
        limiter.consume(1)
    assert fake.slept >= 50 / 10 - 1.0 - 1e-9


def test_dump_recon_merges_keys_and_is_valid_json(tmp_path):
    path = str(tmp_path / 'recon' / 'object.recon')
    dump_recon(path, 'object_auditor', {'passes': 1})
    dump_recon(path, 'object_replicator', {'pass_time': 2.5})
    dump_recon(path, 'object_auditor', {'passes': 2})
    data = json.load(open(path))
    assert data == {'object_auditor': {'passes': 2}, 'object_replicator': {'pass_time': 2.5}}
    assert not [n for n in os.listdir(tmp_path / 'recon') if n.startswith('.recon-')]


def test_dump_recon_concurrent_writers_lose_nothing(tmp_path):
    path = str(tmp_path / 'object.recon')

    def writer(i):
        for j in range(20):
            dump_recon(path, 'k%d' % i, j)
    threads = [threading.Thread(target=writer, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert read_recon(path) == {'k%d' % i: 19 for i in range(5)}


def test_read_recon_tolerates_garbage(tmp_path):
    path = tmp_path / 'x.recon'
    assert read_recon(str(path)) == {}
    path.write_text('{not json')
    assert read_recon(str(path)) == {}
    path.write_text('[1, 2]')
    assert read_recon(str(path)) == {}
    dump_recon(str(path), 'a', 1)     # a corrupt cache is replaced, not fatal
    assert read_recon(str(path)) == {'a': 1}


@dataclasses.dataclass
class _Conf(DaemonConf):
    reclaim_age: float = 604800.0


def test_load_daemon_conf_inherits_server_keys(tmp_path):
    conf_file = tmp_path / 'object-server.conf'
    conf_file.write_text('[DEFAULT]\nswift_dir = /tmp/sd\n\n'
                         '[object-server]\ndevices = /data/node1\nbind_port = 6210\n'
                         'workers = 4\n\n'
                         '[object-replicator]\ninterval = 5\nreclaim_age = 60\n')
    conf = load_daemon_conf(str(conf_file), 'object-replicator', _Conf, 'object-server')
    assert conf.devices == '/data/node1'
    assert conf.bind_port == 6210
    assert conf.swift_dir == '/tmp/sd'
    assert conf.interval == 5.0
    assert conf.reclaim_age == 60.0


def test_load_daemon_conf_own_section_wins(tmp_path):
    conf_file = tmp_path / 'c.conf'
    conf_file.write_text('[object-server]\ndevices = /a\n[object-auditor]\ndevices = /b\n')
    conf = load_daemon_conf(str(conf_file), 'object-auditor', _Conf, 'object-server')
    assert conf.devices == '/b'


@pytest.mark.parametrize('text,fragment', [
    ('[object-replicator]\nbogus = 1\n', "unknown key 'bogus'"),
    ('[object-replicator]\ninterval = soon\n', 'invalid value'),
    ('[object-replicator]\nconcurrency = 0\n', 'concurrency'),
    ('[object-replicator]\nfiles_per_second = -1\n', 'rate limits'),
    ('[something-else]\n', 'neither'),
    ('not an ini file', 'cannot read'),
])
def test_load_daemon_conf_rejects_bad_config(tmp_path, text, fragment):
    conf_file = tmp_path / 'bad.conf'
    conf_file.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_daemon_conf(str(conf_file), 'object-replicator', _Conf, 'object-server')
    assert fragment in err.value.reason


class CountingDaemon(Daemon):
    name = 'object-counter'
    recon_kind = 'object'
    conf_class = DaemonConf

    def __init__(self, conf, fail=False):
        super().__init__(conf)
        self.passes = 0
        self.fail = fail

    def sweep(self):
        self.passes += 1
        if self.fail:
            raise RuntimeError('boom')
        return {'seen': self.passes * 10, 'devices': len(self.local_devices())}


def _conf(tmp_path, **kw):
    devices = tmp_path / 'node'
    for name in ('sdb1', 'sdc1', '.hidden'):
        (devices / name).mkdir(parents=True, exist_ok=True)
    (devices / 'afile').write_text('x')
    return DaemonConf(devices=str(devices), mount_check=False, **kw)


def test_run_once_writes_recon_and_logs_summary(tmp_path, caplog):
    d = CountingDaemon(_conf(tmp_path))
    d.logger.propagate = True
    with caplog.at_level('INFO'):
        stats = d.run_once()
    assert stats == {'seen': 10, 'devices': 2}
    entry = read_recon(str(tmp_path / 'node' / '.recon' / 'object.recon'))['object_counter']
    assert entry['seen'] == 10 and entry['ok'] is True and entry['pass_time'] >= 0
    lines = [r.getMessage() for r in caplog.records if 'object-counter pass' in r.getMessage()]
    assert len(lines) == 1 and 'seen=10' in lines[0]


def test_run_once_survives_a_failing_sweep(tmp_path):
    d = CountingDaemon(_conf(tmp_path, recon_cache_path=str(tmp_path / 'rc')), fail=True)
    d.run_once()
    assert d.last_pass_ok is False
    assert read_recon(str(tmp_path / 'rc' / 'object.recon'))['object_counter']['ok'] is False


def test_only_devices_and_mount_check(tmp_path):
    d = CountingDaemon(_conf(tmp_path))
    assert d.local_devices() == ['sdb1', 'sdc1']
    d.only_devices = {'sdc1'}
    assert d.local_devices() == ['sdc1']
    d2 = CountingDaemon(dataclasses.replace(_conf(tmp_path), mount_check=True))
    assert d2.local_devices() == []     # tmp dirs are not mount points


def test_run_forever_honours_interval_and_max_passes(tmp_path):
    d = CountingDaemon(_conf(tmp_path, interval=0))
    assert d.run_forever(max_passes=3) == 3
    assert d.passes == 3


def test_is_local_matches_port_ip_and_device(tmp_path):
    d = CountingDaemon(_conf(tmp_path, bind_ip='127.0.0.1', bind_port=6200))
    node = {'ip': '127.0.0.1', 'port': 6200, 'replication_ip': '127.0.0.1',
            'replication_port': 6200, 'device': 'sdb1'}
    assert d.is_local(node)
    assert not d.is_local(dict(node, port=6300, replication_port=6300))
    assert not d.is_local(dict(node, ip='127.0.0.2', replication_ip='127.0.0.2'))
    assert not d.is_local(dict(node, device='sdz9'))
    assert not d.is_local(None)


def test_cli_rejects_missing_and_bad_config(tmp_path):
    env = dict(os.environ)
    missing = subprocess.run([sys.executable, '-m', 'swiftlike.cli.daemons', 'object-auditor',
                              str(tmp_path / 'nope.conf'), '--once'],
                             capture_output=True, text=True, env=env, timeout=60)
    assert missing.returncode == 2 and 'not found' in missing.stderr
    res = subprocess.run([sys.executable, '-m', 'swiftlike.cli.daemons', 'no-such-daemon'],
                         capture_output=True, text=True, env=env, timeout=60)
    assert res.returncode == 2 and 'usage' in res.stderr


def test_module_has_no_eventlet_import():
    src = open(daemon_mod.__file__).read()
    assert 'import eventlet' not in src and 'import webob' not in src


class PerDeviceDaemon(CountingDaemon):
    def sweep(self):
        counters = self.counters(('files', 'errors'))
        for number, device in enumerate(self.local_devices(), 1):
            counters.of(device)['files'] += number
        counters.of('sdc1')['errors'] += 1
        return counters.totals()


def test_per_device_counters_reach_the_recon_cache_beside_the_totals(tmp_path):
    d = PerDeviceDaemon(_conf(tmp_path))
    assert d.run_once() == {'files': 3, 'errors': 1}
    entry = read_recon(d.recon_file)['object_counter']
    assert (entry['files'], entry['errors']) == (3, 1)
    assert entry['per_device'] == {'sdb1': {'files': 1, 'errors': 0},
                                   'sdc1': {'files': 2, 'errors': 1}}
    # A daemon that keeps no per-device counters writes none.
    plain = CountingDaemon(_conf(tmp_path))
    plain.run_once()
    assert 'per_device' not in read_recon(plain.recon_file)['object_counter']
