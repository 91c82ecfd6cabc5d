"""Metrics end to end: a cluster of its own (2 workers per server, each node's
servers in one process) sending statsd to a UDP listener of this test.

A known workload goes through the proxy; then /metrics of the proxy and of
every object server must show exactly its counts (summed over the workers and
nodes), the statsd datagrams must carry Swift's names, and a daemon's pass (an
auditor quarantining a corrupted replica, a replicator pass) must show up both
in the object server's /metrics and in statsd.
"""
import glob
import os
import select
import socket
import time

import pytest

from swiftlike.ring import Ring
from tests.functional.conftest import http, prepare_cluster

PREFIX = 'testcl'
SIZE = 1000


class Statsd:
    """A UDP socket standing in for the statsd server; keeps every line."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(('127.0.0.1', 0))
        self.port = self.sock.getsockname()[1]
        self.lines = []

    def drain(self, timeout):
        ready, _w, _x = select.select([self.sock], [], [], timeout)
        while ready:
            self.lines.extend(self.sock.recv(65536).decode('utf-8').split('\n'))
            ready, _w, _x = select.select([self.sock], [], [], 0)

    def wait_for(self, predicate, what, deadline=60.0):
        """Receive until predicate(lines) holds (a generous deadline, not a sleep)."""
        end = time.monotonic() + deadline
        while not predicate(self.lines):
            left = end - time.monotonic()
            assert left > 0, 'statsd never got %s; got %r' % (what, self.lines[-50:])
            self.drain(min(left, 1.0))

    def names(self, start):
        return [line.split(':', 1)[0] for line in self.lines if line.startswith(start)]


def add_defaults(path, values):
    """Put keys into the [DEFAULT] section of an aio-written config."""
    with open(path) as f:
        text = f.read()
    extra = ''.join('%s = %s\n' % kv for kv in values.items())
    with open(path, 'w') as f:
        f.write(text.replace('[DEFAULT]\n', '[DEFAULT]\n' + extra, 1))


@pytest.fixture(scope='module')
def metered(tmp_path_factory):
    statsd = Statsd()
    aio = prepare_cluster(tmp_path_factory.mktemp('metrics-aio'), part_power=6, workers=2,
                          processes='node')
    layout = aio.layout
    try:
        settings = {'log_statsd_host': '127.0.0.1', 'log_statsd_port': str(statsd.port),
                    'log_statsd_metric_prefix': PREFIX}
        add_defaults(layout.proxy_conf, settings)
        for node in layout.nodes:
            for kind in ('object', 'container', 'account'):
                add_defaults(layout.server_conf(kind, node.index), settings)
        aio.start(timeout=120)
        yield aio, statsd
    finally:
        aio.stop(timeout=10)
        aio.unlock()
        statsd.sock.close()


def scrape(url):
    status, _headers, body = http('GET', url + '/metrics')
    assert status == 200, body[:200]
    return body.decode('utf-8')


def scrape_until(url, predicate, deadline=60.0):
    """The first scrape for which predicate(text) holds (or the last one)."""
    end = time.monotonic() + deadline
    while True:
        text = scrape(url)
        if predicate(text) or time.monotonic() > end:
            return text
        time.sleep(0.2)


def value(text, name, **labels):
    """A sample's value in Prometheus text (0.0 when absent)."""
    want = sorted('%s="%s"' % kv for kv in labels.items())
    for line in text.splitlines():
        if line.startswith('#'):
            continue
        key, _sep, number = line.rpartition(' ')
        metric, _b, label_text = key.partition('{')
        if metric == name and sorted(label_text.rstrip('}').split(',')) == want:
            return float(number)
    return 0.0


def object_server_urls(aio):
    return ['http://%s:%d' % (aio.layout.bind_ip, node.ports['object'])
            for node in aio.layout.nodes]


def test_known_workload_counts_exactly(metered):
    aio, statsd = metered
    status, headers, _ = http('GET', aio.auth_url, {'X-Auth-User': 'test:tester',
                                                   'X-Auth-Key': 'testing'})
    assert status == 200
    url, token = headers['X-Storage-Url'], {'X-Auth-Token': headers['X-Auth-Token']}
    assert http('PUT', url + '/metered', token)[0] == 201
    for i in range(3):
        assert http('PUT', url + '/metered/o%d' % i, token, b'x' * SIZE)[0] == 201
    for _ in range(4):
        assert http('GET', url + '/metered/o0', token)[0] == 200
    assert http('HEAD', url + '/metered/missing', token)[0] == 404
    assert http('DELETE', url + '/metered/o2', token)[0] == 204
    assert http('GET', url + '/metered', token)[0] == 200

    # statsd: the proxy's datagram for a request is sent when its body is
    # closed, which may be just after the client got it: wait for them all.
    base = PREFIX + '.proxy-server.'
    expected = {'object.PUT.201.timing': 3, 'object.policy.0.PUT.201.timing': 3,
                'object.PUT.201.xfer': 3, 'object.GET.200.timing': 4,
                'object.GET.200.first-byte.timing': 4, 'object.HEAD.404.timing': 1,
                'object.policy.0.HEAD.404.timing': 1, 'object.DELETE.204.timing': 1,
                'container.PUT.201.timing': 1, 'container.GET.200.timing': 1}

    def counts(lines):
        names = [line.split(':', 1)[0] for line in lines]
        return {name: names.count(base + name) for name in expected}
    statsd.wait_for(lambda lines: all(n >= expected[k] for k, n in counts(lines).items()),
                    'every proxy request')
    assert counts(statsd.lines) == expected
    assert PREFIX + '.proxy-server.object.GET.200.xfer:%d|c' % SIZE in statsd.lines
    assert not [line for line in statsd.lines if '|@' in line]   # rates are 1: no suffix

    # Prometheus on the proxy: the counts of both workers, exactly.
    count = 'swiftlike_proxy_request_seconds_count'
    names = ['%s:%d/%s' % (aio.layout.bind_ip, node.ports['object'], node.device)
             for node in aio.layout.nodes]
    # Each worker adds its own counts at its own flush (and publishes its
    # per-node latency view then): wait until every figure is in, then
    # check that none went past.
    obj, cont = dict(type='object', policy='default'), dict(type='container', policy='')
    expected = [
        (count, dict(obj, verb='PUT', status='201'), 3),
        (count, dict(obj, verb='GET', status='200'), 4),
        (count, dict(obj, verb='HEAD', status='404'), 1),
        (count, dict(obj, verb='DELETE', status='204'), 1),
        (count, dict(cont, verb='PUT', status='201'), 1),
        (count, dict(cont, verb='GET', status='200'), 1),
        ('swiftlike_proxy_first_byte_seconds_count', dict(obj, verb='GET', status='200'), 4),
        ('swiftlike_proxy_received_bytes_total', dict(obj, verb='PUT'), 3 * SIZE),
        ('swiftlike_proxy_sent_bytes_total', dict(obj, verb='GET'), 4 * SIZE),
    ]
    text = scrape_until(aio.proxy_url, lambda t: all(
        value(t, name, **labels) >= want for name, labels, want in expected) and all(
        'swiftlike_proxy_node_latency_seconds{node="%s",quantile="0.99"}' % name in t
        for name in names))
    assert [(name, labels, value(text, name, **labels)) for name, labels, _ in expected] == \
        [(name, labels, want) for name, labels, want in expected]
    # The slow-node detector's view: every object node was asked something.
    for name in names:
        assert value(text, 'swiftlike_proxy_backend_seconds_count', node=name) >= 1
        assert 'swiftlike_proxy_node_latency_seconds{node="%s",quantile="0.99"}' % name in text

    # Prometheus on the object servers: 3 replicas of each PUT and DELETE.
    # Each figure reaches the shared files at its own flush (a request's
    # count and its bytes may be a flush apart): wait until every one is in.
    def totals(texts):
        return (sum(value(t, 'swiftlike_server_request_seconds_count', server='object-server',
                          verb='PUT', status='201') for t in texts),
                sum(value(t, 'swiftlike_server_request_seconds_count', server='object-server',
                          verb='DELETE', status='204') for t in texts),
                sum(value(t, 'swiftlike_server_received_bytes_total', server='object-server',
                          verb='PUT') for t in texts))
    deadline = time.monotonic() + 60
    while True:
        texts = [scrape(u) for u in object_server_urls(aio)]
        puts, deletes, received = totals(texts)
        if (puts >= 9 and deletes >= 3 and received >= 9 * SIZE) or \
                time.monotonic() > deadline:
            break
        time.sleep(0.2)
    total = sum(value(t, 'swiftlike_server_request_seconds_count', server='object-server',
                      verb='PUT', status='201') for t in texts)
    assert total == 3 * 3
    assert sum(value(t, 'swiftlike_server_request_seconds_count', server='object-server',
                     verb='DELETE', status='204') for t in texts) == 3
    assert sum(value(t, 'swiftlike_server_received_bytes_total', server='object-server',
                     verb='PUT') for t in texts) == 3 * 3 * SIZE
    # Each node's servers share a process and a directory: an object server
    # shows only object-* samples, and its devices' fill.
    for t, node in zip(texts, aio.layout.nodes):
        assert 'container-server' not in t and 'account-server' not in t
        assert value(t, 'swiftlike_device_size_bytes', device=node.device) > 0
    statsd.wait_for(lambda lines: len([n for n in lines if n.startswith(
        PREFIX + '.object-server.PUT.timing:')]) >= 9, 'the object servers\' PUT timings')


def test_daemon_metrics_arrive(metered):
    aio, statsd = metered
    status, headers, _ = http('GET', aio.auth_url, {'X-Auth-User': 'test:tester',
                                                   'X-Auth-Key': 'testing'})
    url, token = headers['X-Storage-Url'], {'X-Auth-Token': headers['X-Auth-Token']}
    assert http('PUT', url + '/audited', token)[0] == 201
    assert http('PUT', url + '/audited/victim', token, b'y' * SIZE)[0] == 201
    account = url.rsplit('/', 1)[1]
    _part, nodes = Ring(aio.layout.etc_dir, ring_name='object').get_nodes(
        account, 'audited', 'victim')
    target = [n for n in aio.layout.nodes if n.device == nodes[0]['device']][0]
    [data_file] = [p for p in glob.glob(os.path.join(
        target.devices_root, target.device, 'objects', '*', '*', '*', '*.data'))
        if os.path.getsize(p) == SIZE and open(p, 'rb').read(1) == b'y']
    with open(data_file, 'r+b') as f:
        f.write(b'z')   # same size, wrong ETag: the auditor must quarantine it

    code, output = aio.run_daemon_once('object-auditor', target.index)
    assert code == 0, output
    print(output)
    code, output = aio.run_daemon_once('object-replicator', target.index)
    assert code == 0, output

    server = 'http://%s:%d' % (aio.layout.bind_ip, target.ports['object'])
    text = scrape(server)   # a --once daemon flushed its counts before it exited
    assert value(text, 'swiftlike_daemon_items_total', server='object-auditor',
                 counter='quarantined', device=target.device) == 1
    assert value(text, 'swiftlike_daemon_passes_total', server='object-auditor',
                 result='ok') == 1
    assert value(text, 'swiftlike_daemon_passes_total', server='object-replicator',
                 result='ok') == 1
    assert value(text, 'swiftlike_daemon_items_total', server='object-replicator',
                 counter='partitions', device=target.device) >= 1
    statsd.wait_for(lambda lines: PREFIX + '.object-auditor.quarantines:1|c' in lines,
                    'the auditor\'s quarantine')
    statsd.wait_for(lambda lines: any(line.startswith(
        PREFIX + '.object-replicator.partition.update.count.%s:' % target.device)
        for line in lines), 'the replicator\'s partition count')
