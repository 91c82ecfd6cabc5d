"""swiftlike-node-configs: the files it writes are valid configs for every
server and daemon, doc/deploy.md shows exactly them, and the guide's ring
lines build (and drain, and shrink) rings as the guide says."""
import io
import os
import shlex

import pytest

from swiftlike.cli import node_configs
from swiftlike.cli.ring_builder import main as ring_builder
from swiftlike.config import load_section
from swiftlike.daemon import DAEMON_CLASSES, load_daemon_conf
from swiftlike.ring import Ring

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))
GUIDE = os.path.join(REPO, 'doc', 'deploy.md')
STORAGE_MODULES = {'object': 'swiftlike.obj.server', 'container': 'swiftlike.container.server',
                   'account': 'swiftlike.account.server'}


def _guide():
    with open(GUIDE, encoding='utf-8') as f:
        return f.read()


def test_the_guide_shows_what_the_code_writes():
    text = _guide()
    rendered, keys = node_configs.render_doc(text)
    assert rendered == text, ('doc/deploy.md is out of date: run '
                              'swiftlike-node-configs --update-doc doc/deploy.md')
    # Every file of host1, one of host2, and each ring step are shown.
    assert set(keys) >= {'host1/%s' % name for name in node_configs.node_files(
        node_configs.EXAMPLE_HOSTS[0])} | {'host2/object-server.conf', 'ring-commands',
                                           'drain-host4', 'remove-host4',
                                           'node-configs-commands'}


def test_a_stale_guide_is_caught_and_can_be_rewritten(tmp_path):
    stale = _guide().replace('bind_ip = 10.0.0.11', 'bind_ip = 10.0.0.99', 1)
    path = tmp_path / 'deploy.md'
    path.write_text(stale)
    out = io.StringIO()
    assert node_configs.main(['--check-doc', str(path)], out=out) == 1
    assert 'OUT OF DATE' in out.getvalue()
    assert node_configs.main(['--update-doc', str(path)], out=out) == 0
    assert path.read_text() == _guide()


@pytest.mark.parametrize('host', node_configs.EXAMPLE_HOSTS, ids=lambda h: h.name)
def test_the_guide_commands_write_the_example_files(tmp_path, host):
    line = [c for c in node_configs.node_configs_commands() if c.startswith(host.name + '$')][0]
    argv = shlex.split(line.split('$', 1)[1])
    assert argv[0] == 'swiftlike-node-configs'
    argv[argv.index('--out') + 1] = str(tmp_path)
    assert node_configs.main(argv[1:], out=io.StringIO()) == 0
    expected = node_configs.node_files(host)
    assert sorted(os.listdir(tmp_path)) == sorted(expected)
    for name, text in expected.items():
        assert (tmp_path / name).read_text() == text


@pytest.mark.parametrize('host', node_configs.EXAMPLE_HOSTS, ids=lambda h: h.name)
def test_every_file_loads_as_the_servers_and_daemons_read_it(tmp_path, host):
    files = node_configs.node_files(host)
    node_configs.write_node(str(tmp_path), files)
    for kind, module_name in STORAGE_MODULES.items():
        path = str(tmp_path / ('%s-server.conf' % kind))
        module = __import__(module_name, fromlist=['Conf'])
        conf = load_section(path, module.CONF_SECTION, module.Conf)
        assert (conf.bind_ip, conf.bind_port) == (host.ip, node_configs.PORTS[kind])
        assert conf.mount_check is True and conf.devices == '/srv/node'
        daemons = [name for name, (_m, _c, section) in DAEMON_CLASSES.items()
                   if section == module.CONF_SECTION and '[%s]' % name in files[
                       '%s-server.conf' % kind]]
        if kind == 'object':
            assert ('object-expirer' in daemons) == host.expirer
        for name in daemons:
            module_path, class_name, section = DAEMON_CLASSES[name]
            cls = getattr(__import__(module_path, fromlist=[class_name]), class_name)
            daemon_conf = load_daemon_conf(path, name, cls.conf_class, section)
            assert daemon_conf.bind_ip == host.ip and daemon_conf.mount_check is True
    from swiftlike.proxy.server import load
    conf, app_factory = load(str(tmp_path / 'proxy-server.conf'))
    assert (conf.bind_ip, conf.bind_port) == (host.ip, node_configs.PROXY_PORT)
    assert callable(app_factory)


def _run(admin, lines):
    for line in lines:
        argv = shlex.split(line)
        out = io.StringIO()
        status = ring_builder([os.path.join(admin, argv[1])] + argv[2:], out=out)
        assert status == 0, (line, out.getvalue())


def test_the_guide_ring_lines_build_drain_and_remove(tmp_path):
    admin = str(tmp_path)
    _run(admin, node_configs.ring_commands())
    host4 = node_configs.EXAMPLE_HOSTS[3]
    for kind, port in node_configs.PORTS.items():
        ring = Ring(admin, ring_name=kind)
        assert ring.partition_count == 2 ** node_configs.EXAMPLE_PART_POWER
        assert {(d['ip'], d['port'], d['device']) for d in ring.devs if d} == {
            (h.ip, port, 'sdb') for h in node_configs.EXAMPLE_HOSTS}
        for part in range(ring.partition_count):
            zones = [d['zone'] for d in ring.get_part_nodes(part)]
            assert len(set(zones)) == 3, (kind, part, zones)
    _run(admin, node_configs.drain_commands(host4))
    for kind in node_configs.PORTS:
        ring = Ring(admin, ring_name=kind)
        assert all(d['ip'] != host4.ip for part in range(ring.partition_count)
                   for d in ring.get_part_nodes(part))
        assert host4.ip in {d['ip'] for d in ring.devs if d}  # still there, weight 0
    _run(admin, node_configs.remove_commands(host4))
    for kind in node_configs.PORTS:
        ring = Ring(admin, ring_name=kind)
        assert host4.ip not in {d['ip'] for d in ring.devs if d}
        for part in range(ring.partition_count):
            assert len({d['ip'] for d in ring.get_part_nodes(part)}) == 3


def test_usage_errors():
    with pytest.raises(SystemExit) as exc:
        node_configs.main(['--ip', '10.0.0.1'], out=io.StringIO())
    assert exc.value.code == 2
    out = io.StringIO()
    assert node_configs.main(['--ip', '10.9.9.9', '--hash-suffix', 's', '--no-proxy',
                              '--workers', '0'], out=out) == 0
    assert 'proxy-server.conf' not in out.getvalue()
    assert 'bind_ip = 10.9.9.9' in out.getvalue() and 'workers = 0' in out.getvalue()
