"""Metrics: the statsd client on a real UDP socket, the Prometheus registry
(in memory and, in real forked processes, multiprocess), the device collector,
the proxy middleware and the daemons' per-pass report."""
import io
import os
import select
import socket
import subprocess
import sys
import textwrap

import pytest

from swiftlike import metrics
from swiftlike.config import build
from swiftlike.daemon import Daemon, DaemonConf, statsd_name
from swiftlike.exceptions import ConfigError
from swiftlike.metrics_http import swift_timing_name
from swiftlike.middleware import metrics as metrics_mw
from swiftlike.statsd import StatsdClient, StatsdConf, format_line


@pytest.fixture(autouse=True)
def fresh_metrics():
    metrics.reset_for_tests()
    yield
    metrics.reset_for_tests()


@pytest.fixture
def listener():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(('127.0.0.1', 0))
    yield sock
    sock.close()


def receive(sock, count, timeout=10.0):
    """`count` datagrams (decoded), waiting at most `timeout` for each."""
    out = []
    for _ in range(count):
        ready, _w, _x = select.select([sock], [], [], timeout)
        assert ready, 'no datagram within %ss (got %r)' % (timeout, out)
        out.append(sock.recv(65536).decode('utf-8'))
    return out


def nothing_more(sock):
    """True when no datagram is queued (sends are synchronous: a datagram
    sent before this call is already in the socket's buffer on loopback)."""
    ready, _w, _x = select.select([sock], [], [], 0)
    return not ready


def sample_value(text, name, **labels):
    """The value of one sample in Prometheus text, None when absent."""
    want = ','.join('%s="%s"' % kv for kv in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith('#'):
            continue
        key, _sep, value = line.rpartition(' ')
        metric, _brace, label_text = key.partition('{')
        if metric == name and ','.join(sorted(label_text.rstrip('}').split(','))) == want:
            return float(value)
    return None


# -- statsd ------------------------------------------------------------------

def test_format_line():
    assert format_line('a.b', 1, 'c') == 'a.b:1|c'
    assert format_line('a.b', 12.5, 'ms') == 'a.b:12.5|ms'
    assert format_line('a.b', 3.0, 'ms') == 'a.b:3|ms'
    assert format_line('a.b', 2, 'c', 0.25) == 'a.b:2|c|@0.25'
    assert format_line('g', 7, 'g') == 'g:7|g'


def test_client_names_kinds_and_rates(listener):
    port = listener.getsockname()[1]
    draws = iter([0.3, 0.7, 0.1])
    client = StatsdClient('127.0.0.1', port, prefix='node1', base='object-server',
                          default_sample_rate=0.5, rand=lambda: next(draws))
    client.increment('async_pendings')          # 0.3 < 0.5: sent, with its rate
    client.timing('PUT.timing', 12.0)           # 0.7 >= 0.5: dropped
    client.gauge('depth', 4, rate=1.0)          # an explicit rate of 1: always sent
    client.update_stats('quarantines', 3)       # 0.1: sent
    assert receive(listener, 3) == ['node1.object-server.async_pendings:1|c|@0.5',
                                     'node1.object-server.depth:4|g',
                                     'node1.object-server.quarantines:3|c|@0.5']
    assert nothing_more(listener)
    client.close()


def test_sample_rate_factor_multiplies(listener):
    client = StatsdClient('127.0.0.1', listener.getsockname()[1], base='proxy-server',
                          sample_rate_factor=0.5, rand=lambda: 0.4)
    client.timing('object.GET.200.timing', 1.5)
    assert receive(listener, 1) == ['proxy-server.object.GET.200.timing:1.5|ms|@0.5']


def test_many_is_one_datagram_and_splits_when_large(listener):
    client = StatsdClient('127.0.0.1', listener.getsockname()[1], base='proxy-server')
    client.many([('a.timing', 2.0, 'ms', None), ('a.xfer', 10, 'c', None)])
    assert receive(listener, 1) == ['proxy-server.a.timing:2|ms\nproxy-server.a.xfer:10|c']
    client.max_datagram = 80   # two 37-byte lines fit, three do not
    client.many([('x' * 20, 1, 'c', None)] * 3)
    first, second = receive(listener, 2)
    assert first.count('\n') == 1 and second.count('\n') == 0
    assert nothing_more(listener)


def test_client_off_without_host_and_unresolvable_host_is_silent():
    assert StatsdClient.from_conf(StatsdConf(), 'object-server') is None
    client = StatsdClient('no-such-host.invalid', 8125)
    client.increment('x')   # no socket: nothing happens, nothing raises


def test_statsd_settings_are_validated():
    with pytest.raises(ConfigError, match='log_statsd_default_sample_rate'):
        build(StatsdConf, {'log_statsd_default_sample_rate': '2'})
    with pytest.raises(ConfigError, match='log_statsd_port'):
        build(DaemonConf, {'log_statsd_port': '0'})
    assert build(DaemonConf, {'log_statsd_host': 'stats'}).log_statsd_host == 'stats'


def test_swift_storage_timing_names():
    assert swift_timing_name('PUT', 201) == 'PUT.timing'
    assert swift_timing_name('GET', 404) == 'GET.timing'
    assert swift_timing_name('PUT', 409) == 'PUT.errors.timing'
    assert swift_timing_name('GET', 507) == 'GET.errors.timing'


# -- Prometheus --------------------------------------------------------------

def test_in_memory_registry_and_server_filter():
    metrics.child('server_request_seconds', 'object-server', 'PUT', '201').observe(0.01)
    metrics.child('server_request_seconds', 'object-server', 'PUT', '201').observe(0.02)
    metrics.child('server_request_seconds', 'container-server', 'PUT', '201').observe(0.01)
    metrics.event('object-server', 'async_pendings')
    _ctype, body = metrics.exposition(('object-',))
    text = body.decode()
    assert sample_value(text, 'swiftlike_server_request_seconds_count', server='object-server',
                        verb='PUT', status='201') == 2.0
    assert 'container-server' not in text
    assert sample_value(text, 'swiftlike_events_total', server='object-server',
                        event='async_pendings') == 1.0
    _ctype, body = metrics.exposition()
    assert sample_value(body.decode(), 'swiftlike_server_request_seconds_count',
                        server='container-server', verb='PUT', status='201') == 1.0


def test_multiprocess_counts_are_exact_across_forked_workers(tmp_path):
    """Two forked workers count; a scrape from the parent sees both, and the
    files of an exited worker still count."""
    script = textwrap.dedent('''
        import os, sys
        from swiftlike import metrics
        metrics.setup(sys.argv[1])
        pids = []
        for worker in range(2):
            pid = os.fork()
            if pid == 0:
                for _ in range(250 * (worker + 1)):
                    metrics.child('events', 'object-server', 'quarantines').inc()
                os._exit(0)
            pids.append(pid)
        for pid in pids:
            os.waitpid(pid, 0)
        sys.stdout.write(metrics.exposition(('object-',))[1].decode())
    ''')
    out = subprocess.run([sys.executable, '-c', script, str(tmp_path)], capture_output=True,
                         text=True, check=True, timeout=120).stdout
    assert sample_value(out, 'swiftlike_events_total', server='object-server',
                        event='quarantines') == 750.0
    # A new process removes the files of dead ones (a restart resets counters).
    files = [f for f in os.listdir(tmp_path) if f.endswith('.db')]
    assert len(files) == 2
    metrics.remove_dead_files(str(tmp_path))
    assert [f for f in os.listdir(tmp_path) if f.endswith('.db')] == []


def test_device_collector_reports_fill_and_async_pendings(tmp_path):
    (tmp_path / 'sda' / 'async_pending' / 'abc').mkdir(parents=True)
    (tmp_path / 'sda' / 'async_pending' / 'abc' / 'h-1').write_text('{}')
    (tmp_path / 'sda' / 'async_pending' / 'def').mkdir()
    (tmp_path / 'sda' / 'async_pending' / 'def' / 'h-2').write_text('{}')
    (tmp_path / 'sdb').mkdir()
    (tmp_path / '.recon').mkdir()
    _ctype, body = metrics.exposition(collectors=[metrics.DeviceCollector(str(tmp_path))])
    text = body.decode()
    assert sample_value(text, 'swiftlike_async_pending_files', device='sda') == 2.0
    assert sample_value(text, 'swiftlike_async_pending_files', device='sdb') == 0.0
    assert sample_value(text, 'swiftlike_device_size_bytes', device='sda') > 0
    assert 0.0 <= sample_value(text, 'swiftlike_device_used_ratio', device='sdb') <= 1.0
    assert '.recon' not in text


def test_device_collector_io_counters_and_cpu(tmp_path):
    # A /proc and /sys of our own: the device directory's st_dev names the
    # block device 'vdz', whose /proc/diskstats line the counters come from.
    devices = tmp_path / 'devices'
    (devices / 'sda').mkdir(parents=True)
    st_dev = os.stat(devices / 'sda').st_dev
    major, minor = os.major(st_dev), os.minor(st_dev)
    proc, sys_root = tmp_path / 'proc', tmp_path / 'sys'
    proc.mkdir()
    (proc / 'diskstats').write_text(
        '   1       0 ram0 0 0 0 0 0 0 0 0 0 0 0\n'
        '%4d %7d vdz 1000 5 80000 2500 300 7 4096 1500 0 3000 4000\n' % (major, minor))
    (proc / 'stat').write_text('cpu  100 0 50 1000 20 0 5 35 0 0\ncpu0 100 0 50 1000 20 0 5 35 0 0\n')
    (sys_root / 'devices' / 'vdz').mkdir(parents=True)
    (sys_root / 'dev' / 'block').mkdir(parents=True)
    os.symlink(sys_root / 'devices' / 'vdz', sys_root / 'dev' / 'block' / ('%d:%d' % (major, minor)))
    collector = metrics.DeviceCollector(str(devices), proc_root=str(proc), sys_root=str(sys_root))
    text = metrics.exposition(collectors=[collector])[1].decode()
    labels = dict(device='sda', block_device='vdz')
    assert sample_value(text, 'swiftlike_device_reads_completed_total', **labels) == 1000
    assert sample_value(text, 'swiftlike_device_writes_completed_total', **labels) == 300
    assert sample_value(text, 'swiftlike_device_read_bytes_total', **labels) == 80000 * 512
    assert sample_value(text, 'swiftlike_device_written_bytes_total', **labels) == 4096 * 512
    assert sample_value(text, 'swiftlike_device_read_time_seconds_total', **labels) == 2.5
    assert sample_value(text, 'swiftlike_device_write_time_seconds_total', **labels) == 1.5
    assert sample_value(text, 'swiftlike_device_io_time_seconds_total', **labels) == 3.0
    hz = os.sysconf('SC_CLK_TCK')
    assert sample_value(text, 'swiftlike_node_cpu_seconds_total', mode='steal') == 35 / hz
    assert sample_value(text, 'swiftlike_node_cpu_seconds_total', mode='idle') == 1000 / hz
    # A device with no block device under it (no /sys entry) has no I/O series.
    os.unlink(sys_root / 'dev' / 'block' / ('%d:%d' % (major, minor)))
    text = metrics.exposition(collectors=[collector])[1].decode()
    assert 'swiftlike_device_reads_completed_total{' not in text
    assert sample_value(text, 'swiftlike_device_size_bytes', device='sda') > 0


# -- the proxy middleware ----------------------------------------------------

def test_request_type():
    assert metrics_mw.request_type('/v1/AUTH_a') == 'account'
    assert metrics_mw.request_type('/v1/AUTH_a/') == 'account'
    assert metrics_mw.request_type('/v1/AUTH_a/c') == 'container'
    assert metrics_mw.request_type('/v1/AUTH_a/c/') == 'container'
    assert metrics_mw.request_type('/v1/AUTH_a/c/o/p') == 'object'
    assert metrics_mw.request_type('/auth/v1.0') is None
    assert metrics_mw.request_type('/info') is None
    assert metrics_mw.request_type('/v1/') is None


def _app(environ, start_response):
    body = environ['wsgi.input'].read()
    start_response('201 Created' if environ['REQUEST_METHOD'] == 'PUT' else '200 OK',
                   [('Content-Length', '5')])
    return [b'hello'] if environ['REQUEST_METHOD'] == 'GET' else [body[:0]]


def call(app, method, path, body=b'', remote='127.0.0.1'):
    env = {'REQUEST_METHOD': method, 'PATH_INFO': path, 'wsgi.input': io.BytesIO(body),
           'CONTENT_LENGTH': str(len(body)), 'REMOTE_ADDR': remote}
    status = []
    out = app(env, lambda s, h, e=None: status.append(s))
    data = b''.join(out)
    getattr(out, 'close', lambda: None)()
    return status[0], data


def test_middleware_counts_requests_and_sends_swift_names(listener):
    port = listener.getsockname()[1]
    conf = build(metrics_mw.Conf, {'log_statsd_host': '127.0.0.1',
                                   'log_statsd_port': str(port)})
    app = metrics_mw.Metrics(_app, conf)
    assert call(app, 'PUT', '/v1/AUTH_a/c/o', b'x' * 100)[0].startswith('201')
    assert call(app, 'GET', '/v1/AUTH_a/c/o')[0].startswith('200')
    assert call(app, 'GET', '/v1/AUTH_a/c/o')[0].startswith('200')
    assert call(app, 'BREW', '/v1/AUTH_a/c')[0].startswith('200')
    call(app, 'GET', '/info')   # not counted
    put, get1, _get2, brew = receive(listener, 4)
    names = [line.split(':')[0] for line in put.split('\n')]
    assert names == ['proxy-server.object.PUT.201.timing', 'proxy-server.object.PUT.201.xfer',
                     'proxy-server.object.policy.0.PUT.201.timing',
                     'proxy-server.object.policy.0.PUT.201.xfer']
    assert 'proxy-server.object.PUT.201.xfer:100|c' in put.split('\n')
    assert [line.split(':')[0] for line in get1.split('\n')][:3] == [
        'proxy-server.object.GET.200.timing', 'proxy-server.object.GET.200.first-byte.timing',
        'proxy-server.object.GET.200.xfer']
    assert brew.split(':')[0] == 'proxy-server.container.BAD_METHOD.200.timing'
    assert nothing_more(listener)
    status, body = call(app, 'GET', '/metrics')
    assert status.startswith('200')
    text = body.decode()
    assert sample_value(text, 'swiftlike_proxy_request_seconds_count', type='object',
                        verb='GET', status='200', policy='default') == 2.0
    assert sample_value(text, 'swiftlike_proxy_first_byte_seconds_count', type='object',
                        verb='GET', status='200', policy='default') == 2.0
    assert sample_value(text, 'swiftlike_proxy_received_bytes_total', type='object',
                        verb='PUT', policy='default') == 100.0
    assert sample_value(text, 'swiftlike_proxy_sent_bytes_total', type='object',
                        verb='GET', policy='default') == 10.0


def test_metrics_allow_list():
    app = metrics_mw.Metrics(_app, build(metrics_mw.Conf, {'metrics_allow': '10.1.0.0/16'}))
    assert call(app, 'GET', '/metrics', remote='10.1.2.3')[0].startswith('200')
    status, body = call(app, 'GET', '/metrics', remote='10.2.0.1')
    assert status.startswith('403') and b'metrics_allow' in body
    assert call(app, 'GET', '/metrics', remote='127.0.0.1')[0].startswith('403')
    assert call(app, 'PUT', '/metrics', remote='10.1.2.3')[0].startswith('405')
    anyone = metrics_mw.Metrics(_app, build(metrics_mw.Conf, {'metrics_allow': '*'}))
    assert call(anyone, 'GET', '/metrics', remote='192.0.2.7')[0].startswith('200')
    with pytest.raises(ConfigError, match='metrics_allow'):
        build(metrics_mw.Conf, {'metrics_allow': '10.0.0.0/33'})


# -- daemons -------------------------------------------------------------------

def test_statsd_names_of_daemon_counters():
    assert statsd_name('object-replicator', 'partitions', 'sda') == 'partition.update.count.sda'
    assert statsd_name('object-replicator', 'partitions', '') == 'partition.update.count'
    assert statsd_name('object-auditor', 'quarantined', 'sda') == 'quarantines'
    assert statsd_name('object-updater', 'successes', 'sda') == 'successes'
    assert statsd_name('container-updater', 'report_failures') == 'failures'


class _Counting(Daemon):
    name = 'object-auditor'

    def sweep(self):
        counters = self.counters(('files_checked', 'quarantined'))
        counters.of('sda')['files_checked'] += 3
        counters.of('sda')['quarantined'] += 1
        counters.of('sdb')['files_checked'] += 2
        return counters.totals()


def test_daemon_pass_reaches_prometheus_and_statsd(tmp_path, listener):
    conf = DaemonConf(devices=str(tmp_path), recon_cache_path=str(tmp_path / 'recon'),
                      log_statsd_host='127.0.0.1', log_statsd_port=listener.getsockname()[1])
    daemon = _Counting(conf)
    daemon.run_once()
    [datagram] = receive(listener, 1)
    lines = datagram.split('\n')
    assert lines[:3] == ['object-auditor.files_checked:3|c', 'object-auditor.quarantines:1|c',
                         'object-auditor.files_checked:2|c']
    assert lines[3].startswith('object-auditor.pass.timing:') and lines[3].endswith('|ms')
    text = metrics.exposition(('object-',))[1].decode()
    assert sample_value(text, 'swiftlike_daemon_items_total', server='object-auditor',
                        counter='quarantined', device='sda') == 1.0
    assert sample_value(text, 'swiftlike_daemon_items_total', server='object-auditor',
                        counter='files_checked', device='sdb') == 2.0
    assert sample_value(text, 'swiftlike_daemon_passes_total', server='object-auditor',
                        result='ok') == 1.0
    assert sample_value(text, 'swiftlike_daemon_last_pass_timestamp_seconds',
                        server='object-auditor') > 0


def test_buffered_counts_land_in_the_right_buckets_when_flushed():
    for seconds in (0.001, 0.0011, 0.5, 99.0):
        metrics.observe('proxy_backend_seconds', ('10.0.0.1:6200/sda',), seconds)
    metrics.count('proxy_backend_errors', ('10.0.0.1:6200/sda', 'timeout'), 2)
    hist = metrics.child('proxy_backend_seconds', '10.0.0.1:6200/sda')
    assert hist._sum.get() == 0.0     # buffered: not written yet
    metrics.flush()
    text = metrics.exposition()[1].decode()

    def bucket(le):
        return sample_value(text, 'swiftlike_proxy_backend_seconds_bucket',
                            node='10.0.0.1:6200/sda', le=le)
    assert bucket('0.001') == 1.0       # a value on a bound is in that bucket
    assert bucket('0.0025') == 2.0
    assert bucket('0.5') == 3.0
    assert bucket('30.0') == 3.0 and bucket('+Inf') == 4.0
    assert sample_value(text, 'swiftlike_proxy_backend_seconds_sum',
                        node='10.0.0.1:6200/sda') == pytest.approx(99.5021)
    assert sample_value(text, 'swiftlike_proxy_backend_errors_total',
                        node='10.0.0.1:6200/sda', kind='timeout') == 2.0
