"""Logs of a real cluster carry the request's transaction id: the storage
servers' access lines (one per request, with the X-Trans-Id the proxy sent),
the proxy's warnings about a backend that failed, and an object server's
warning about a container update that failed.

Lines are looked up by the txn id the client got back. A storage server may
write its line just after the proxy has answered (the third replica of a
PUT, a GET's line once its body is sent), so lookups wait for the line, up to
a deadline far beyond what it takes.
"""
import time
from urllib.parse import quote

import pytest

from swiftlike.ring import Ring
from tests.functional.proxy_helpers import Api, unique

DEADLINE = 30.0


@pytest.fixture(scope='module')
def api(cluster):
    return Api(cluster)


@pytest.fixture
def restore(cluster):
    yield
    cluster.ensure_running()
    # Let the proxy's error limiting forget the restarted nodes.
    time.sleep(0.5)


def _read(path, offset=0):
    with open(path, 'rb') as f:
        f.seek(offset)
        return f.read().decode('utf-8', 'replace')


def _log_size(server):
    with open(server.log_path, 'rb') as f:
        return len(f.read())


def access_lines(servers, txn_id):
    """{server: [fields, ...]} of the access lines with `txn_id`; fields are
    ip method path status bytes_in bytes_out duration txn_id user_agent."""
    found = {}
    for server in servers:
        for line in _read(server.log_path).splitlines():
            # '<date> <time> swiftlike.<kind>-server INFO <txn>: <access line>'
            head, sep, message = line.partition(': ')
            if not sep or not head.endswith(' INFO %s' % txn_id):
                continue
            start, _q, agent = message.partition(' "')
            fields = start.split(' ')
            if len(fields) == 8 and fields[7] == txn_id:
                found.setdefault(server, []).append(fields + [agent.rstrip('"')])
    return found


def wait_for(find, done, what):
    deadline = time.time() + DEADLINE
    while True:
        result = find()
        if done(result):
            return result
        assert time.time() < deadline, 'no %s: %r' % (what, result)
        time.sleep(0.05)


def matching(lines, method, path_suffix):
    return [(server, f) for server, fs in lines.items() for f in fs
            if f[1] == method and f[2].endswith(path_suffix)]


def test_object_requests_have_access_lines_with_their_txn_id(cluster, api):
    account = api.account_path.rsplit('/', 1)[-1]
    c = api.put_container()
    obj = unique('o bj-\u00e9')
    data = b'x' * 1000
    status, headers, _ = api.request('PUT', '/%s/%s' % (c, obj), body=data)
    assert status == 201
    txn = headers['x-trans-id']
    part = Ring(cluster.swift_dir, 'object').get_part(account, c, obj)
    suffix = quote('/%d/%s/%s/%s' % (part, account, c, obj), safe='/:@')
    assert '%20' in suffix and '%C3%A9' in suffix

    # Three replicas written: three object servers' PUT lines (primaries, or
    # handoffs for a primary the proxy is still holding out).
    puts = wait_for(lambda: matching(access_lines(cluster.object_servers, txn), 'PUT', suffix),
                    lambda found: len(found) >= 3, 'object PUT lines')
    assert len(puts) == 3
    for server, (ip, _m, path, status, bytes_in, bytes_out, duration, _t, agent) in puts:
        assert ip == cluster.proxy.ip
        assert path.startswith('/') and path.split('/')[1]
        assert (status, bytes_in, bytes_out) == ('201', '1000', '0')
        assert float(duration) >= 0 and agent == '-'
    # Each object server told a container server, with the same txn id.
    rows = wait_for(lambda: matching(access_lines(cluster.container_servers, txn), 'PUT',
                                     quote('/%s/%s/%s' % (account, c, obj), safe='/:@')),
                    lambda found: found, 'container update lines')
    assert all(f[3] == '201' for _s, f in rows)

    status, headers, body = api.request('GET', '/%s/%s' % (c, obj))
    assert status == 200 and body == data
    gets = wait_for(lambda: matching(access_lines(cluster.object_servers,
                                                  headers['x-trans-id']), 'GET', suffix),
                    lambda found: found, 'object GET line')
    assert [f[3:6] for _s, f in gets] == [['200', '0', '1000']]

    status, headers, _ = api.request('HEAD', '/%s/%s' % (c, obj))
    assert status == 200
    heads = wait_for(lambda: matching(access_lines(cluster.object_servers,
                                                   headers['x-trans-id']), 'HEAD', suffix),
                     lambda found: found, 'object HEAD line')
    assert all(f[3:6] == ['200', '0', '0'] for _s, f in heads)


def test_container_put_has_container_and_account_lines(cluster, api):
    account = api.account_path.rsplit('/', 1)[-1]
    c = unique()
    status, headers, _ = api.request('PUT', '/' + c)
    assert status == 201
    txn = headers['x-trans-id']
    cpath = quote('/%s/%s' % (account, c), safe='/:@')
    containers = wait_for(lambda: matching(access_lines(cluster.container_servers, txn),
                                           'PUT', cpath),
                          lambda found: len(found) >= 2, 'container PUT lines')
    assert all(f[3] == '201' for _s, f in containers)
    # The container servers' reports to the account servers carry it too.
    reports = wait_for(lambda: matching(access_lines(cluster.account_servers, txn), 'PUT',
                                        cpath),
                       lambda found: found, 'account update lines')
    assert all(f[3] in ('201', '202') for _s, f in reports)


def _object_server_for(cluster, node):
    return next(s for s in cluster.object_servers
                if s.port == node['port'] and s.device == node['device'])


def _names_with_first_primary(ring, account, c, server, count):
    names, i = [], 0
    while len(names) < count:
        name = 'warn-%d' % i
        i += 1
        _part, nodes = ring.get_nodes(account, c, name)
        if nodes[0]['port'] == server.port and nodes[0]['device'] == server.device:
            names.append(name)
    return names


def _warnings(server, offset, txn_id, needle):
    return [line for line in _read(server.log_path, offset).splitlines()
            if ' WARNING %s: ' % txn_id in line and needle in line]


def test_proxy_warning_about_a_stopped_backend_carries_the_txn_id(cluster, api, restore):
    account = api.account_path.rsplit('/', 1)[-1]
    c = api.put_container()
    victim = cluster.object_servers[1]
    names = _names_with_first_primary(Ring(cluster.swift_dir, 'object'), account, c, victim, 40)
    offset = _log_size(cluster.proxy)
    cluster.stop_server('object', victim.index)
    address = '%s:%s' % (victim.ip, victim.port)
    # The first PUT tries the stopped primary, unless an earlier test left it
    # error-limited (for at most 5 s): then a later one does.
    deadline = time.time() + DEADLINE
    for name in names:
        status, headers, body = api.request('PUT', '/%s/%s' % (c, name), body=b'data')
        assert status == 201, body
        put_warnings = _warnings(cluster.proxy, offset, headers['x-trans-id'], address)
        if put_warnings or time.time() > deadline:
            break
        time.sleep(0.2)
    assert put_warnings, _read(cluster.proxy.log_path, offset)[-3000:]
    assert ': ERROR ' in put_warnings[0]
    # A read asks the first primary first: the GET's warning has the GET's id.
    status, headers, body = api.request('GET', '/%s/%s' % (c, name))
    assert status == 200 and body == b'data'
    get_warnings = _warnings(cluster.proxy, offset, headers['x-trans-id'], address)
    assert get_warnings and ': ERROR ' in get_warnings[0]
    # No backend warning without a txn id.
    assert not [line for line in _read(cluster.proxy.log_path, offset).splitlines()
                if ' WARNING -: ' in line], _read(cluster.proxy.log_path, offset)[-3000:]


def test_object_server_warning_about_a_container_update_carries_the_txn_id(cluster, api,
                                                                          restore):
    account = api.account_path.rsplit('/', 1)[-1]
    c = api.put_container()
    _cpart, cnodes = Ring(cluster.swift_dir, 'container').get_nodes(account, c)
    victim = next(s for s in cluster.container_servers
                  if s.port == cnodes[0]['port'] and s.device == cnodes[0]['device'])
    offsets = {s: _log_size(s) for s in cluster.object_servers}
    cluster.stop_server('container', victim.index)
    status, headers, body = api.request('PUT', '/%s/o' % c, body=b'data')
    assert status == 201, body
    txn = headers['x-trans-id']
    needle = 'container update PUT'
    found = wait_for(lambda: [line for s in cluster.object_servers
                              for line in _warnings(s, offsets[s], txn, needle)],
                     lambda lines: lines, 'container update warning')
    assert '%s:%s' % (victim.ip, victim.port) in found[0]
