"""tools/ring-builder as an admin (or the all-in-one launcher) runs it: real
subprocesses, real files."""
import os
import subprocess
import sys

import pytest

from swiftlike.ring import Ring, RingBuilder

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, 'tools', 'ring-builder')
CONSOLE_SCRIPT = os.path.join(os.path.dirname(sys.executable), 'swiftlike-ring-builder')


def run(builder, *args, tool=None):
    cmd = [tool] if tool else [sys.executable, TOOL]
    proc = subprocess.run(cmd + [builder] + [str(a) for a in args], capture_output=True,
                          text=True, timeout=120, cwd=os.path.dirname(builder))
    return proc.returncode, proc.stdout, proc.stderr


def ok(builder, *args):
    code, out, err = run(builder, *args)
    assert code == 0, (args, out, err)
    return out


@pytest.fixture
def builder(tmp_path):
    return str(tmp_path / 'object.builder')


def test_round_trip_create_add_rebalance_validate_summary(builder, tmp_path):
    ok(builder, 'create', 10, 3, 1)
    ok(builder, 'add', 'r1z1-10.0.0.1:6200/sdb1', 100)
    ok(builder, 'add', 'r1z2-10.0.0.2:6200R10.0.1.2:6300/sdb1_ssd', 100)
    ok(builder, 'add', 'z3-[fe80::3]:6200/sdb1', 100)  # region defaults to 1
    ok(builder, 'add', '--region', 1, '--zone', 4, '--ip', '10.0.0.4', '--port', 6200,
       '--device', 'sdb1', '--weight', 100, '--meta', 'rack 4')
    out = ok(builder, 'rebalance', '--seed', 1)
    assert 'Balance is now 0.00%' in out
    ring_path = str(tmp_path / 'object.ring.gz')
    assert os.path.exists(ring_path)
    assert 'OK' in ok(builder, 'validate')
    summary = ok(builder)
    assert '1024 partitions, 3 replicas, 1 regions, 4 zones, 4 devices, 0.00 balance, ' \
           '0.00 dispersion' in summary
    assert summary.count(' 768 ') == 4 and 'rack 4' in summary
    ring = Ring.load(ring_path)
    assert ring.replica_count == 3 and ring.partition_count == 1024
    devs = {d['id']: d for d in ring.devs}
    assert devs[1]['replication_ip'] == '10.0.1.2' and devs[1]['replication_port'] == 6300
    assert devs[1]['meta'] == 'ssd' and devs[2]['ip'] == 'fe80::3'
    # nothing changed and min_part_hours not passed: a warning, ring untouched
    mtime = os.stat(ring_path).st_mtime_ns
    code, out, _ = run(builder, 'rebalance')
    assert code == 1 and 'No partitions' in out
    assert os.stat(ring_path).st_mtime_ns == mtime


def test_launcher_style_via_console_script(builder):
    if not os.path.exists(CONSOLE_SCRIPT):
        pytest.skip('console script not installed')
    assert run(builder, 'create', 10, 3, 0, tool=CONSOLE_SCRIPT)[0] == 0
    for index in range(1, 5):
        spec = 'r1z%d-127.0.0.1:62%d0/d%d' % (index, index, index)
        assert run(builder, 'add', spec, 1, tool=CONSOLE_SCRIPT)[0] == 0
    code, out, err = run(builder, 'rebalance', tool=CONSOLE_SCRIPT)
    assert code == 0, err
    assert Ring(os.path.dirname(builder), 'object').replica_count == 3


def test_set_weight_drain_remove_and_write_ring(builder, tmp_path):
    ok(builder, 'create', 8, 2, 0)
    for zone in (1, 2, 3):
        ok(builder, 'add', 'r1z%d-10.0.0.%d:6200/sdb' % (zone, zone), 100,
           'r1z%d-10.0.0.%d:6200/sdc' % (zone, zone), 100)
    ok(builder, 'rebalance', '--seed', 3)
    assert 'weight set to 0.0' in ok(builder, 'set_weight', 'd0', 0)
    ok(builder, 'rebalance', '--seed', 3)
    assert RingBuilder.load(builder).dev_parts()[0] == 0
    assert 'marked for removal' in ok(builder, 'remove', '10.0.0.1:6200/sdb')
    ok(builder, 'rebalance', '--seed', 3)
    ok(builder, 'validate')
    assert Ring.load(str(tmp_path / 'object.ring.gz')).devs[0] is None
    ok(builder, 'set_weight', 'z2', 50, '--yes')  # several devices, confirmed
    assert [d['weight'] for d in RingBuilder.load(builder).devs if d and d['zone'] == 2] == \
        [50.0, 50.0]
    ok(builder, 'pretend_min_part_hours_passed')
    ok(builder, 'set_min_part_hours', 2)
    assert 'd3' in ok(builder, 'search', 'z2')
    os.unlink(str(tmp_path / 'object.ring.gz'))
    ok(builder, 'rebalance', '--seed', 3)
    ok(builder, 'write_ring')
    assert os.path.exists(str(tmp_path / 'object.ring.gz'))


def test_balance_warning_when_dispersion_beats_weight(builder):
    ok(builder, 'create', 8, 3, 0)
    ok(builder, 'add', 'r1z1-10.0.0.1:6200/a', 100, 'r1z2-10.0.0.2:6200/a', 100,
       'r1z3-10.0.0.3:6200/a', 1)
    code, out, _ = run(builder, 'rebalance')
    assert code == 1 and 'NOTE: balance' in out
    ok(builder, 'validate')


def _prepared(path, devices=3):
    # set up in-process (the CLI itself is tested above) to keep this fast
    builder = RingBuilder(6, 3, 0)
    for ip, name in [('10.0.0.1', 'a'), ('10.0.0.2', 'a'), ('10.0.0.1', 'b')][:devices]:
        builder.add_dev({'region': 1, 'zone': int(ip[-1]), 'ip': ip, 'port': 6200,
                         'device': name, 'weight': 100})
    builder.save(path)


# (setup, args): setup None = no builder file, 'corrupt' = garbage, 'ready' =
# created with three devices, 'two' = three replicas but two devices.
HOSTILE = [
    (None, ['add', 'r1z1-10.0.0.1:6200/a', '1']),
    (None, []),
    (None, ['rebalance']),
    ('corrupt', []),
    ('corrupt', ['add', 'r1z1-10.0.0.1:6200/x', '1']),
    ('corrupt', ['rebalance']),
    ('ready', ['create', 'x', '3', '0']),
    ('ready', ['create', '99', '3', '0']),
    ('ready', ['create', '8', '-3', '0']),
    ('ready', ['create', '8', '3']),
    ('ready', ['add']),
    ('ready', ['add', 'r1z1-10.0.0.1/sdb', '1']),
    ('ready', ['add', 'r1z1-10.0.0.1:6200/sdb']),
    ('ready', ['add', 'r1z1-10.0.0.1:6200/sdb', '-1']),
    ('ready', ['add', 'r1z1-10.0.0.1:6200/sdb', 'heavy']),
    ('ready', ['add', 'r1z1-10.0.0.1:6200/sdb', 'nan']),
    ('ready', ['add', 'r1z1-10.0.0.1:99999/sdb', '1']),
    ('ready', ['add', 'rXz1-10.0.0.1:6200/sdb', '1']),
    ('ready', ['add', 'r1z1-10.0.0.1:6200/a', '1']),  # duplicate
    ('ready', ['add', 'r1z1-10.0.0.9:6200/ok', '1', 'garbage', '1']),  # all or nothing
    ('ready', ['add', '--zone', '1', '--port', '6200', '--device', 'x', '--weight', '1']),
    ('ready', ['add', '--zone', '1', '--ip', '1.2.3.4', '--port', 'p', '--device', 'x',
               '--weight', '1']),
    ('ready', ['add', '--bogus', '1']),
    ('ready', ['set_weight', 'd99', '1']),
    ('ready', ['set_weight', 'd0', '-1']),
    ('ready', ['set_weight', 'd0']),
    ('ready', ['set_weight', '10.0.0.1', '5']),  # two devices, no --yes
    ('ready', ['set_weight', '!!', '5']),
    ('ready', ['remove', 'd42']),
    ('ready', ['remove']),
    ('ready', ['rebalance', '--seed', 'abc']),
    ('ready', ['rebalance', '--bogus']),
    ('ready', ['validate']),
    ('ready', ['write_ring']),
    ('ready', ['set_min_part_hours', '1000']),
    ('ready', ['frobnicate']),
    ('two', ['rebalance']),
]


@pytest.mark.parametrize('setup,args', HOSTILE, ids=[' '.join([str(s)] + a) for s, a in HOSTILE])
def test_bad_input_is_one_line_exit_2_and_leaves_builder_alone(tmp_path, setup, args):
    path = str(tmp_path / 'object.builder')
    if setup == 'corrupt':
        with open(path, 'wb') as fp:
            fp.write(b'\x1f\x8b this is not a builder')
    elif setup == 'ready':
        _prepared(path)
    elif setup == 'two':
        _prepared(path, devices=2)
    before = open(path, 'rb').read() if os.path.exists(path) else None
    code, out, err = run(path, *args)
    assert code == 2, (out, err)
    assert 'Traceback' not in err + out
    assert len(err.strip().splitlines()) == 1 and err.startswith('error: ')
    after = open(path, 'rb').read() if os.path.exists(path) else None
    assert after == before
    assert sorted(os.listdir(str(tmp_path))) == (['object.builder'] if before else [])


def test_usage(tmp_path):
    code, out, _ = run(str(tmp_path / 'x.builder'), '--help')
    assert code == 0
    proc = subprocess.run([sys.executable, TOOL], capture_output=True, text=True)
    assert proc.returncode == 2 and 'usage' in proc.stdout
