"""The object server's container updates: alone when nothing is in flight to
that container replica, together in one UPDATE when they queue up behind one
that is, or when one shared flush wakes them at once.

The container servers are real ones (their WSGI apps, in process); only the
socket between is replaced by a call, which the test can hold to arrange the
moment an update is in flight.
"""
import json
import logging
import os
from urllib.parse import unquote_to_bytes

import pytest

from swiftlike import concurrency, row_batch
from swiftlike.container import server as container_server
from swiftlike.db.server import DBServer
from swiftlike.obj.updates import ASYNC_DIR, NO_BATCH_RECHECK, UpdateSender
from tests.unit.db.helpers import call, make_conf

HOST = '10.0.0.1:6201'
OLD_HOST = '10.0.0.2:6201'


class OldContainerServer(container_server.App):
    """A container server from before UPDATE."""
    verbs = DBServer.verbs


class Sender(UpdateSender):
    """The real sender, its requests handed straight to the apps in `servers`
    (host -> app); `hold` (an Event) keeps each request from going on until
    the test sends it."""

    def __init__(self, servers, **kwargs):
        super().__init__(concurrency.DiskExecutor(0), logging.getLogger('test'), **kwargs)
        self.servers = servers
        self.sent = []
        self.hold = None

    def _request(self, host, method, path, headers, body=b''):
        self.sent.append((method, path, json.loads(body) if body else None))
        if self.hold is not None:
            self.hold.wait()
        app = self.servers.get(host)
        if app is None:
            return None   # unreachable
        wsgi_path = unquote_to_bytes(path).decode('latin-1')
        return call(app, method, wsgi_path, headers, quote_path=False, body=body or None)[0]


@pytest.fixture
def cluster(tmp_path):
    servers = {}
    for host, cls in ((HOST, container_server.App), (OLD_HOST, OldContainerServer)):
        devices = tmp_path / host.replace(':', '_')
        app = cls(make_conf(container_server.Conf, str(devices)))
        for container in ('c', 'd'):
            assert call(app, 'PUT', '/sda/1/a/' + container, {'X-Timestamp': ts(1)})[0] == 201
        servers[host] = app
    (tmp_path / 'objdev').mkdir()
    return servers, str(tmp_path / 'objdev')


def ts(n):
    return '%010d.00000' % n


def start(sender, device_path, name, t=2, container='c', host=HOST, op='PUT'):
    headers = {'X-Timestamp': ts(t), 'X-Trans-Id': 'tx'}
    if op == 'PUT':
        headers.update({'X-Size': str(len(name)), 'X-Content-Type': 'text/plain',
                        'X-Etag': 'e-' + name})
    return sender.start('objdev', device_path, op, 'a', container, name, 1, [(host, 'sda')],
                        headers)


def listed(app, container='c'):
    status, _headers, body = call(app, 'GET', '/sda/1/a/' + container,
                                  {'Accept': 'application/json'})
    return {} if status == 204 else {o['name']: (o['bytes'], o['hash'])
                                     for o in json.loads(body)}


def until(condition):
    for _ in range(1000):
        if condition():
            return
        concurrency.sleep(0)
    raise AssertionError('never happened')


def hold_first(sender):
    sender.hold = concurrency.Event()
    return sender.hold


def test_a_lone_update_goes_as_a_single_request(cluster):
    servers, dev = cluster
    sender = Sender(servers)
    start(sender, dev, 'o').wait()
    assert sender.sent == [('PUT', '/sda/1/a/c/o', None)]
    assert listed(servers[HOST]) == {'o': (1, 'e-o')}


def five_behind_one_in_flight(sender, dev):
    """Updates 'q0'..'q4' queued behind 'first', held in flight; then all
    let go and answered."""
    release = hold_first(sender)
    first = start(sender, dev, 'first')
    until(lambda: sender.sent)
    queued = [start(sender, dev, 'q%d' % i) for i in range(5)]
    until(lambda: all(len(lane) == 5 for lane in sender._lanes.values()))
    assert len(sender.sent) == 1            # nothing more went while one was in flight
    sender.hold = None
    release.send()
    for thread in [first] + queued:
        thread.wait()


def test_updates_that_queue_behind_one_in_flight_go_in_one_update(cluster):
    servers, dev = cluster
    sender = Sender(servers)
    five_behind_one_in_flight(sender, dev)
    assert [(m, p) for m, p, _b in sender.sent] == [('PUT', '/sda/1/a/c/first'),
                                                   ('UPDATE', '/sda/1/a/c')]
    assert [r['name'] for r in sender.sent[1][2]] == ['q0', 'q1', 'q2', 'q3', 'q4']
    assert listed(servers[HOST]) == dict(
        [('first', (5, 'e-first'))] + [('q%d' % i, (2, 'e-q%d' % i)) for i in range(5)])
    assert not sender._lanes


def test_updates_woken_together_share_one_request(cluster):
    servers, dev = cluster
    sender = Sender(servers)
    threads = [start(sender, dev, 'o%d' % i) for i in range(3)]
    threads.append(start(sender, dev, 'o0', t=3, op='DELETE'))
    for thread in threads:
        thread.wait()
    assert [(m, p) for m, p, _b in sender.sent] == [('UPDATE', '/sda/1/a/c')]
    assert [(r['name'], r['deleted']) for r in sender.sent[0][2]] == [
        ('o0', 0), ('o1', 0), ('o2', 0), ('o0', 1)]
    assert listed(servers[HOST]) == {'o1': (2, 'e-o1'), 'o2': (2, 'e-o2')}


def test_other_containers_do_not_wait_behind_one_in_flight(cluster):
    servers, dev = cluster
    sender = Sender(servers)
    release = hold_first(sender)
    first = start(sender, dev, 'o', container='c')
    until(lambda: sender.sent)
    sender.hold = None
    other = start(sender, dev, 'o', container='d')
    other.wait()                            # answered while 'c' is still held
    assert not first.dead
    assert listed(servers[HOST], 'd') == {'o': (1, 'e-o')}
    release.send()
    first.wait()
    assert [p for _m, p, _b in sender.sent] == ['/sda/1/a/c/o', '/sda/1/a/d/o']


def test_batches_hold_at_most_max_rows(cluster, monkeypatch):
    monkeypatch.setattr(row_batch, 'MAX_ROWS', 2)
    servers, dev = cluster
    sender = Sender(servers)
    five_behind_one_in_flight(sender, dev)
    assert [(m, len(b) if b else 1) for m, _p, b in sender.sent] == [
        ('PUT', 1), ('UPDATE', 2), ('UPDATE', 2), ('PUT', 1)]
    assert len(listed(servers[HOST])) == 6


def test_a_server_without_update_gets_single_rows_for_a_while(cluster):
    servers, dev = cluster
    sender = Sender(servers)
    threads = [start(sender, dev, 'o%d' % i, host=OLD_HOST) for i in range(3)]
    for thread in threads:
        thread.wait()
    assert [m for m, _p, _b in sender.sent] == ['UPDATE', 'PUT', 'PUT', 'PUT']
    assert OLD_HOST in sender._no_batch
    threads = [start(sender, dev, 'p%d' % i, host=OLD_HOST) for i in range(2)]
    for thread in threads:
        thread.wait()
    assert [m for m, _p, _b in sender.sent[4:]] == ['PUT', 'PUT']
    assert len(listed(servers[OLD_HOST])) == 5
    # Some minutes later (the server may have been upgraded) a batch is tried again.
    sender._no_batch[OLD_HOST] -= NO_BATCH_RECHECK
    threads = [start(sender, dev, 'r%d' % i, host=OLD_HOST) for i in range(2)]
    for thread in threads:
        thread.wait()
    assert [m for m, _p, _b in sender.sent[6:]] == ['UPDATE', 'PUT', 'PUT']
    assert len(listed(servers[OLD_HOST])) == 7
    assert not os.path.exists(os.path.join(dev, ASYNC_DIR))


def test_a_failed_batch_leaves_an_async_pending_per_row(cluster):
    servers, dev = cluster
    sender = Sender({})     # nothing answers
    threads = [start(sender, dev, 'o%d' % i) for i in range(3)]
    for thread in threads:
        thread.wait()
    assert [m for m, _p, _b in sender.sent] == ['UPDATE']
    records = []
    for root, _dirs, files in os.walk(os.path.join(dev, ASYNC_DIR)):
        for name in files:
            with open(os.path.join(root, name)) as f:
                records.append(json.load(f))
    assert sorted((r['obj'], r['op'], r['container_nodes']) for r in records) == [
        ('o%d' % i, 'PUT', [[HOST, 'sda']]) for i in range(3)]


def test_a_refused_batch_fails_every_row(cluster):
    servers, dev = cluster
    sender = Sender(servers)
    threads = [start(sender, dev, 'o%d' % i, container='missing') for i in range(2)]
    for thread in threads:
        thread.wait()
    assert [m for m, _p, _b in sender.sent] == ['UPDATE']
    assert sum(len(files) for _r, _d, files in os.walk(os.path.join(dev, ASYNC_DIR))) == 2


def test_without_batching_every_update_goes_alone(cluster):
    servers, dev = cluster
    sender = Sender(servers, batch_updates=False)
    threads = [start(sender, dev, 'o%d' % i) for i in range(3)]
    for thread in threads:
        thread.wait()
    assert [m for m, _p, _b in sender.sent] == ['PUT', 'PUT', 'PUT']
    assert len(listed(servers[HOST])) == 3


def test_a_type_that_is_not_utf8_goes_alone_for_the_server_to_judge(cluster):
    servers, dev = cluster
    sender = Sender(servers)
    bad = sender.start('objdev', dev, 'PUT', 'a', 'c', 'bad', 1, [(HOST, 'sda')], {
        'X-Timestamp': ts(2), 'X-Size': '1', 'X-Content-Type': 'text/\xff', 'X-Etag': 'e'})
    good = start(sender, dev, 'good')
    bad.wait()
    good.wait()
    assert sorted((m, p) for m, p, _b in sender.sent) == [('PUT', '/sda/1/a/c/bad'),
                                                         ('PUT', '/sda/1/a/c/good')]
    assert listed(servers[HOST]) == {'good': (4, 'e-good')}
