"""swiftlike-recon's summaries, by tables; and the CLI against real sockets."""
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from swiftlike.cli import recon as recon_cli
from swiftlike.recon import client
from swiftlike.ring.builder import RingBuilder


@pytest.mark.parametrize('values,expected', [
    ({'a': 1, 'b': 3, 'c': None},
     {'reported': 2, 'number_none': 1, 'perc_none': 100 / 3, 'low': 1, 'high': 3,
      'total': 4, 'average': 2.0}),
    ({'a': 0.5, 'b': 1.5}, {'reported': 2, 'number_none': 0, 'perc_none': 0.0, 'low': 0.5,
                            'high': 1.5, 'total': 2.0, 'average': 1.0}),
    ({'a': None, 'b': 'text', 'c': True},
     {'reported': 0, 'number_none': 3, 'perc_none': 100.0}),
    ({}, {'reported': 0, 'number_none': 0, 'perc_none': 0.0}),
])
def test_summarize(values, expected):
    assert client.summarize(values) == expected


@pytest.mark.parametrize('name,values,line', [
    ('async_pending', {'a': 0, 'b': 6, 'c': None, 'd': 2},
     '[async_pending] low: 0, high: 6, avg: 2.7, total: 8, Failed: 25.0%, no_result: 1, '
     'reported: 3'),
    ('1m_load_avg', {'a': 0.25, 'b': 0.75},
     '[1m_load_avg] low: 0.250, high: 0.750, avg: 0.5, total: 1, Failed: 0.0%, no_result: 0, '
     'reported: 2'),
    ('x', {'a': None}, '[x] - No hosts returned valid data.'),
])
def test_stats_line(name, values, line):
    assert client.stats_line(name, client.summarize(values)) == line


def _answer(host, data=None, error=None, started=100.0, finished=100.2):
    return client.Answer(host, 'http://%s:%d/recon/x' % host, data, error, started, finished)


def test_disk_usage_and_distribution():
    answers = [
        _answer(('10.0.0.1', 6200), [
            {'device': 'sda', 'mounted': True, 'size': 1000, 'used': 250, 'avail': 750},
            {'device': 'sdb', 'mounted': False, 'size': '', 'used': '', 'avail': ''}]),
        _answer(('10.0.0.2', 6200), [
            {'device': 'sda', 'mounted': True, 'size': 1000, 'used': 500, 'avail': 500}]),
        _answer(('10.0.0.3', 6200), error='refused'),
    ]
    usage = client.disk_usage(answers)
    assert (usage['used'], usage['size'], usage['avail']) == (750, 2000, 1250)
    assert usage['percents'] == [(25.0, ('10.0.0.1', 6200), 'sda'),
                                 (50.0, ('10.0.0.2', 6200), 'sda')]
    assert usage['unmounted'] == [(('10.0.0.1', 6200), 'sdb')]
    assert client.distribution(usage['percents'], width=10) == [(25, 1, '*' * 10),
                                                                (50, 1, '*' * 10)]


def test_md5_and_time_checks():
    local = {'object.ring.gz': 'aa', 'container.ring.gz': 'bb'}
    answers = [
        _answer(('h1', 1), {'/etc/x/object.ring.gz': 'aa', '/etc/x/container.ring.gz': 'bb'}),
        _answer(('h2', 1), {'/other/object.ring.gz': 'aa', '/other/container.ring.gz': 'zz'}),
        _answer(('h3', 1), {'/etc/x/object.ring.gz': 'aa'}),
        _answer(('h4', 1), error='timed out'),
    ]
    matched, errors, problems = client.md5_check(answers, local)
    assert (matched, errors) == (1, 1)
    assert [(p[1], p[2]) for p in problems] == [
        ('container.ring.gz', "doesn't match on disk md5sum"), ('container.ring.gz', 'missing')]
    clocks = [_answer(('h1', 1), 100.1), _answer(('h2', 1), 99.5),
              _answer(('h3', 1), 130.0), _answer(('h4', 1), 'soon')]
    matched, errors, problems = client.time_check(clocks, jitter=1.0)
    assert (matched, errors) == (2, 1) and [p[2] for p in problems] == [130.0]


class _Recon(BaseHTTPRequestHandler):
    answers = {}

    def do_GET(self):
        body = self.answers.get(self.path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            self.wfile.write(b'nope')
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_cli_asks_every_ring_host(tmp_path):
    servers = [ThreadingHTTPServer(('127.0.0.1', 0), _Recon) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        builder = RingBuilder(4, 2, 0)
        for zone, server in enumerate(servers, 1):
            builder.add_dev({'region': 1, 'zone': zone, 'ip': '127.0.0.1',
                             'port': server.server_address[1], 'device': 'sda',
                             'weight': 100})
        builder.rebalance()
        builder.write_ring(str(tmp_path / 'object.ring.gz'))
        _Recon.answers = {'/recon/async': {'async_pending': 3, 'async_pending_last': 1.0},
                          '/recon/unmounted': [{'device': 'sdc', 'mounted': False}]}
        out = io.StringIO()
        assert recon_cli.main(['-a', '-u', '-q', '--swiftdir', str(tmp_path)], out) == 0
        text = out.getvalue()
        assert '--> Starting reconnaissance on 2 hosts (object)' in text
        assert ('[async_pending] low: 3, high: 3, avg: 3.0, total: 6, Failed: 0.0%, '
                'no_result: 0, reported: 2') in text
        for server in servers:
            port = server.server_address[1]
            assert 'Not mounted: sdc on 127.0.0.1:%d' % port in text
            assert '-> http://127.0.0.1:%d/recon/quarantined: HTTP 404: nope' % port in text
        assert '[quarantined_objects] - No hosts returned valid data.' in text
        out = io.StringIO()
        recon_cli.main(['-q', '--suppress', '--swiftdir', str(tmp_path)], out)
        assert 'HTTP 404' not in out.getvalue()
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def test_cli_without_a_ring_says_so(tmp_path, capsys):
    assert recon_cli.main(['-a', '--swiftdir', str(tmp_path)]) == 2
    assert 'cannot read the object ring' in capsys.readouterr().err
