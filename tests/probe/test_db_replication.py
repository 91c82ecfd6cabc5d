"""Probe: container and account database replicas converge by replication
alone (rows shipped as diffs, whole databases shipped to a replica that has
none, handoff databases reverted)."""
import glob
import json
import os

from swiftlike.hashing import hash_path
from tests.probe.helpers import direct


def _replica_state(probe, account, container):
    part, nodes = probe.rings['container'].get_nodes(account, container)
    state = {}
    for node in nodes:
        status, headers, body = direct(node, 'GET', '/%s/%s/%s/%s' % (
            node['device'], part, account, container), query='format=json')
        state[node['device']] = (status, sorted(i['name'] for i in json.loads(body))
                                 if status == 200 else None)
    return state


def _db_holders(probe, kind, *names):
    digest = hash_path(*names)
    found = []
    for info in probe.cluster.servers[kind]:
        if glob.glob(os.path.join(info.device_path, kind + 's', '*', digest[-3:], digest,
                                  digest + '.db')):
            found.append(info.device)
    return sorted(found)


def test_container_replicas_converge_by_replication(probe):
    # Rows missed by a dead replica arrive as diffs.
    container = probe.new_container('dbrepl')
    part, nodes = probe.rings['container'].get_nodes(probe.account, container)
    victim = probe.node_index('container', nodes[0]['device'])
    probe.cluster.kill_server('container', victim)
    names = ['r%03d' % i for i in range(40)]
    for name in names:
        assert probe.put(container, name, b'z') == 201
    probe.cluster.start_server('container', victim)
    state = _replica_state(probe, probe.account, container)
    assert state[nodes[0]['device']][1] == [], state

    probe.run('container-replicator')

    state = _replica_state(probe, probe.account, container)
    assert all(v == (200, names) for v in state.values()), state


def test_container_created_while_a_primary_was_down_reaches_it(probe):
    name = 'created-while-down'
    part, nodes = probe.rings['container'].get_nodes(probe.account, name)
    victim = probe.node_index('container', nodes[0]['device'])
    probe.cluster.kill_server('container', victim)
    try:
        status, _h, body = probe.request('PUT', '/' + name)
        assert status in (201, 202), body
        assert probe.put(name, 'obj', b'data') == 201
    finally:
        probe.cluster.start_server('container', victim)
    primaries = sorted(n['device'] for n in nodes)
    assert nodes[0]['device'] not in _db_holders(probe, 'container', probe.account, name)

    probe.run('container-replicator')
    probe.run('container-replicator')      # a handoff reverts once the primaries have it

    assert _db_holders(probe, 'container', probe.account, name) == primaries
    state = _replica_state(probe, probe.account, name)
    assert all(v == (200, ['obj']) for v in state.values()), state


def test_account_replicas_converge_by_replication(probe):
    apart, anodes = probe.rings['account'].get_nodes(probe.account)
    victim = probe.node_index('account', anodes[0]['device'])
    probe.cluster.kill_server('account', victim)
    try:
        container = probe.new_container('acctrepl')
    finally:
        probe.cluster.start_server('account', victim)
    node = anodes[0]

    def listed(n):
        status, _h, body = direct(n, 'GET', '/%s/%s/%s' % (n['device'], apart, probe.account),
                                  query='format=json')
        assert status == 200, (status, body)
        return {c['name'] for c in json.loads(body)}
    assert container not in listed(node)

    probe.run('account-replicator')

    assert all(container in listed(n) for n in anodes)


def test_deleted_container_databases_are_reclaimed(probe):
    container = probe.new_container('reclaimed')
    assert probe.request('DELETE', '/' + container)[0] == 204
    assert len(_db_holders(probe, 'container', probe.account, container)) == 3

    # The replicators of all nodes run at once: one may ship the database to a
    # peer that has just reclaimed it, so reclaiming converges over passes (at
    # most a few), as everything replication does.
    for _ in range(3):
        probe.run('container-replicator', options={'reclaim_age': 0})
        if not _db_holders(probe, 'container', probe.account, container):
            break
    assert _db_holders(probe, 'container', probe.account, container) == []
    # A further pass does not bring them back from anywhere.
    probe.run('container-replicator', options={'reclaim_age': 0})
    assert _db_holders(probe, 'container', probe.account, container) == []
