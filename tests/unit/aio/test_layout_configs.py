"""The aio's layout (ports, devices, reuse) and the config files it writes."""
import os

import pytest

from swiftlike.aio import configs
from swiftlike.aio.layout import (check_reuse, free_ports, load_layout, new_layout,
                                  save_layout)
from swiftlike.config import read_ini
from swiftlike.exceptions import ConfigError


def test_fixed_port_scheme(tmp_path):
    layout = new_layout(str(tmp_path))
    assert [n.ports['object'] for n in layout.nodes] == [6210, 6211, 6212, 6213]
    assert [n.ports['container'] for n in layout.nodes] == [6220, 6221, 6222, 6223]
    assert [n.ports['account'] for n in layout.nodes] == [6230, 6231, 6232, 6233]
    assert [n.zone for n in layout.nodes] == [1, 2, 3, 4]
    assert [n.device for n in layout.nodes] == ['d1', 'd2', 'd3', 'd4']
    # Every node has its own device root, so servers of one node never see another's.
    assert len({n.devices_root for n in layout.nodes}) == 4


def test_base_port_zero_picks_distinct_free_ports(tmp_path):
    layout = new_layout(str(tmp_path), base_port=0)
    ports = [p for n in layout.nodes for p in n.ports.values()]
    assert len(set(ports)) == 12 and all(p > 0 for p in ports)


def test_free_ports_distinct():
    ports = free_ports(5)
    assert len(set(ports)) == 5


@pytest.mark.parametrize('kwargs', [{'replicas': 0}, {'replicas': 5}, {'part_power': 0},
                                    {'part_power': 40}, {'base_port': 80},
                                    {'base_port': 65530}])
def test_bad_layout_settings_are_refused(tmp_path, kwargs):
    with pytest.raises(ConfigError):
        new_layout(str(tmp_path), **kwargs)


def test_layout_round_trip_and_move(tmp_path):
    layout = new_layout(str(tmp_path / 'a'), base_port=7000)
    save_layout(layout)
    assert load_layout(str(tmp_path / 'a')) == layout
    os.rename(tmp_path / 'a', tmp_path / 'b')
    moved = load_layout(str(tmp_path / 'b'))
    assert moved.data_dir == str(tmp_path / 'b')
    assert moved.nodes[0].devices_root == str(tmp_path / 'b' / 'nodes' / 'n1')
    assert moved.nodes[0].ports == layout.nodes[0].ports


def test_missing_and_corrupt_layout(tmp_path):
    assert load_layout(str(tmp_path)) is None
    os.makedirs(tmp_path / 'etc')
    (tmp_path / 'etc' / 'aio-layout.json').write_text('{not json')
    with pytest.raises(ConfigError, match='unreadable aio layout'):
        load_layout(str(tmp_path))


def test_reuse_checks_only_given_flags(tmp_path):
    layout = new_layout(str(tmp_path), base_port=0)
    check_reuse(layout)  # nothing given: fine
    check_reuse(layout, bind_ip='127.0.0.1', base_port=0, xfs=False)
    with pytest.raises(ConfigError, match='--base-port'):
        check_reuse(layout, base_port=6210)
    with pytest.raises(ConfigError, match='--bind-ip'):
        check_reuse(layout, bind_ip='127.0.0.2')
    with pytest.raises(ConfigError, match='--xfs'):
        check_reuse(layout, xfs=True)


def test_hash_secrets_made_once(tmp_path):
    layout = new_layout(str(tmp_path))
    first = configs.ensure_cluster_conf(layout)
    assert all(len(s) == 32 for s in first)
    assert configs.ensure_cluster_conf(layout) == first
    assert read_ini(layout.cluster_conf)['hash'] == {'path_prefix': first[0],
                                                     'path_suffix': first[1]}
    assert configs.ensure_cluster_conf(new_layout(str(tmp_path / 'other'))) != first


def test_cluster_conf_without_secrets_is_refused(tmp_path):
    layout = new_layout(str(tmp_path))
    os.makedirs(layout.etc_dir)
    with open(layout.cluster_conf, 'w') as f:
        f.write('[hash]\n')
    with pytest.raises(ConfigError, match='refusing'):
        configs.ensure_cluster_conf(layout)


def test_storage_confs(tmp_path):
    layout = new_layout(str(tmp_path), base_port=7100)
    paths = configs.write_storage_confs(layout, workers=2,
                                        daemon_sections={'object': ['object-replicator']})
    assert len(paths) == 12
    ini = read_ini(layout.server_conf('container', 3))
    assert ini['container-server'] == {'bind_port': '7112', 'workers': '2'}
    assert ini['DEFAULT']['devices'] == layout.node(3).devices_root
    assert ini['DEFAULT']['mount_check'] == 'false'
    assert ini['DEFAULT']['swift_dir'] == layout.etc_dir
    assert 'object-replicator' in read_ini(layout.server_conf('object', 1))
    assert 'object-replicator' not in read_ini(layout.server_conf('account', 1))


def test_storage_conf_mount_check_with_xfs(tmp_path):
    layout = new_layout(str(tmp_path), xfs=True)
    configs.write_storage_confs(layout)
    assert read_ini(layout.server_conf('object', 1))['DEFAULT']['mount_check'] == 'true'


def test_default_users_are_the_saio_ones():
    lines = {u.conf_line() for u in configs.DEFAULT_USERS}
    assert 'user_test_tester = testing .admin' in lines
    assert 'user_test2_tester2 = testing2 .admin' in lines
    assert 'user_test_tester3 = testing3' in lines
    assert 'user_admin_admin = admin .admin .reseller_admin' in lines
    assert any(line.startswith('user_test5_tester5 = testing5') for line in lines)


def test_parse_user():
    user = configs.parse_user('acme:bob:s3cret:.admin,ops')
    assert (user.account, user.user, user.key, user.groups) == ('acme', 'bob', 's3cret',
                                                                 ('.admin', 'ops'))
    assert user.storage_account == 'AUTH_acme' and user.is_admin
    assert configs.parse_user('a:b:c').groups == ()


@pytest.mark.parametrize('spec', ['', 'a:b', 'a:b:c:d:e', ':b:c', 'a::c', 'a:b:', 'a b:c:d',
                                  'a:b:c d', 'a_x:b:c', 'a:b\n:c', 'a:b:c:g h', 'a=b:c:d',
                                  'a:b[x]:c'])
def test_parse_user_rejects_bad_specs(spec):
    with pytest.raises(ValueError):
        configs.parse_user(spec)


def test_merge_users_replaces_same_name():
    bob = configs.parse_user('test:tester:other')
    merged = configs.merge_users(configs.DEFAULT_USERS, [bob, configs.parse_user('x:y:z')])
    names = [u.name for u in merged]
    assert len(names) == len(set(names)) == len(configs.DEFAULT_USERS) + 1
    assert [u.key for u in merged if u.name == 'test:tester'] == ['other']


def test_proxy_conf_pipeline_and_users(tmp_path):
    layout = new_layout(str(tmp_path))
    from swiftlike.proxy import pipeline
    assert [n for n, _ in configs.pipeline()] == list(pipeline.DEFAULT)
    configs.write_proxy_conf(layout, 8123, configs.DEFAULT_USERS, workers=3)
    ini = read_ini(layout.proxy_conf)
    names = ini['pipeline:main']['pipeline'].split()
    assert names[0] == 'catch_errors' and names[-1] == 'proxy-server' and 'tempauth' in names
    assert ini['proxy-server']['bind_port'] == '8123'
    assert ini['proxy-server']['workers'] == '3'
    assert ini['filter:tempauth']['user_test_tester'] == 'testing .admin'
    for name in names[:-1]:
        assert ini['filter:%s' % name]['use'].startswith('swiftlike.middleware.')


def test_proxy_conf_has_service_prefix_like_swifts_saio(tmp_path):
    from swiftlike.proxy.server import load
    layout = new_layout(str(tmp_path))
    os.makedirs(layout.etc_dir, exist_ok=True)
    for _ in range(2):   # a rewrite keeps one copy of each key
        configs.write_proxy_conf(layout, 8123, configs.DEFAULT_USERS)
    ini = read_ini(layout.proxy_conf)['filter:tempauth']
    assert ini['reseller_prefix'] == 'AUTH, SERVICE'
    assert ini['service_require_group'] == 'service'
    assert ini['user_test5_tester5'] == 'testing5 service'
    with open(layout.proxy_conf) as f:
        assert f.read().lower().count('service_require_group') == 1
    _conf, _factory = load(layout.proxy_conf)   # it loads


def test_dotted_groups_limited():
    with pytest.raises(ValueError, match='dotted'):
        configs.parse_user('a:b:c:.wheel')


def test_rewrite_keeps_what_a_person_added(tmp_path):
    layout = new_layout(str(tmp_path))
    configs.write_proxy_conf(layout, 8080, configs.DEFAULT_USERS, workers=1)
    with open(layout.proxy_conf, 'a') as f:
        f.write('[proxy-server]\nnode_timeout = 3\n[filter:mine]\nuse = my.module\n')
    configs.write_proxy_conf(layout, 9090, configs.DEFAULT_USERS, workers=2)
    ini = read_ini(layout.proxy_conf)
    assert ini['proxy-server']['bind_port'] == '9090'   # the aio's keys follow its flags
    assert ini['proxy-server']['workers'] == '2'
    assert ini['proxy-server']['node_timeout'] == '3'   # the person's are kept
    assert ini['filter:mine'] == {'use': 'my.module'}


def test_unreadable_conf_is_replaced(tmp_path):
    layout = new_layout(str(tmp_path))
    configs.write_storage_confs(layout)
    path = layout.server_conf('object', 2)
    with open(path, 'w') as f:
        f.write('no section header\n')
    configs.write_storage_confs(layout)
    assert read_ini(path)['object-server']['bind_port'] == '6211'
