"""The storage servers' access log (swiftlike/server_base.py): one INFO line
per request with client, method, quoted path, status, bytes in and out,
duration, txn id and user agent; replication verbs at DEBUG; off with
log_requests = false."""
import io
import logging

import pytest

from swiftlike.account import server as account_server
from swiftlike.container import server as container_server
from swiftlike.http import Request
from swiftlike.obj.mem_diskfile import MemDiskFileManager
from swiftlike.obj.server import App, Conf
from tests.unit.db.helpers import call, make_conf


class Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append((record.levelno, record.getMessage()))

    def at(self, level):
        return [msg for lvl, msg in self.records if lvl == level]


_count = [0]


def capture_logger(level=logging.INFO):
    _count[0] += 1
    logger = logging.getLogger('swiftlike.test-access-log-%d' % _count[0])
    logger.propagate = False
    logger.setLevel(level)
    lines = Lines()
    logger.addHandler(lines)
    return logger, lines


def object_app(tmp_path, level=logging.INFO, **conf_kw):
    (tmp_path / 'sda').mkdir(exist_ok=True)
    logger, lines = capture_logger(level)
    conf = Conf(devices=str(tmp_path), mount_check=False, fallocate_reserve='0',
                threads_per_disk=0, **conf_kw)
    return App(conf, logger=logger, backend=MemDiskFileManager()), lines


def fields(line):
    """The access line split into its fields (the user agent is the quoted tail)."""
    head, _sep, agent = line.partition(' "')
    parts = head.split(' ')
    assert len(parts) == 8 and agent.endswith('"'), line
    return parts + [agent[:-1]]


def put(app, path='/sda/1/a/c/o', body=b'hello', headers=None):
    h = {'X-Timestamp': '0000000001.00000', 'Content-Type': 'text/plain',
         'X-Trans-Id': 'txput-1', 'User-Agent': 'proxy-server 123'}
    h.update(headers or {})
    req = Request.blank(path, method='PUT', headers=h, body=body)
    req.remote_addr = '10.0.0.7'
    return req.get_response(app)


def test_object_requests_are_logged_at_info(tmp_path):
    app, lines = object_app(tmp_path)
    assert put(app).status_int == 201
    assert call(app, 'GET', '/sda/1/a/c/o', {'X-Trans-Id': 'txget-2'})[2] == b'hello'
    assert call(app, 'HEAD', '/sda/1/a/c/o', {'X-Trans-Id': 'txhead-3'})[0] == 200
    assert call(app, 'GET', '/sda/1/a/c/missing')[0] == 404
    info = lines.at(logging.INFO)
    assert len(info) == 4, lines.records
    ip, method, path, status, bytes_in, bytes_out, duration, txn, agent = fields(info[0])
    assert (ip, method, path, status, bytes_in, bytes_out, txn, agent) == (
        '10.0.0.7', 'PUT', '/sda/1/a/c/o', '201', '5', '0', 'txput-1', 'proxy-server 123')
    assert 0 <= float(duration) < 60 and len(duration.split('.')[1]) == 4
    assert fields(info[1])[1:6] == ['GET', '/sda/1/a/c/o', '200', '0', '5']
    assert fields(info[1])[7:] == ['txget-2', '-']
    # A HEAD sends no body, whatever its Content-Length says.
    assert fields(info[2])[1:6] == ['HEAD', '/sda/1/a/c/o', '200', '0', '0']
    assert fields(info[2])[7] == 'txhead-3'
    assert fields(info[3])[1:4] == ['GET', '/sda/1/a/c/missing', '404']
    assert fields(info[3])[7] == '-'


def test_streamed_get_is_logged_when_closed_with_the_bytes_sent(tmp_path):
    app, lines = object_app(tmp_path, network_chunk_size=4, disk_chunk_size=4,
                            disk_read_size=4)
    assert put(app, body=b'0123456789abcdef').status_int == 201
    del lines.records[:]
    env = Request.blank('/sda/1/a/c/o', headers={'X-Trans-Id': 'txcut'}).environ
    body = app(env, lambda status, headers, exc_info=None: None)
    chunks = iter(body)
    assert next(chunks) == b'0123'
    assert lines.records == []  # not until the server is done with the body
    body.close()
    [line] = lines.at(logging.INFO)
    assert fields(line)[1:6] == ['GET', '/sda/1/a/c/o', '200', '0', '4']
    assert fields(line)[7] == 'txcut'
    body.close()
    assert len(lines.records) == 1


def test_chunked_put_bytes_in_unknown(tmp_path):
    app, lines = object_app(tmp_path)
    req = Request.blank('/sda/1/a/c/o', method='PUT', headers={
        'X-Timestamp': '0000000001.00000', 'Content-Type': 'text/plain',
        'Transfer-Encoding': 'chunked'})
    req.environ['wsgi.input'] = io.BytesIO(b'abc')
    req.environ.pop('CONTENT_LENGTH', None)
    req.get_response(app)
    assert fields(lines.at(logging.INFO)[0])[4] == '-'


def test_replication_verbs_at_debug(tmp_path):
    app, lines = object_app(tmp_path, level=logging.DEBUG)
    call(app, 'REPLICATE', '/sda/1')
    assert lines.at(logging.INFO) == []
    [line] = lines.at(logging.DEBUG)
    assert fields(line)[1:3] == ['REPLICATE', '/sda/1']


def test_odd_paths_agents_and_methods_stay_one_line_of_fixed_fields(tmp_path):
    app, lines = object_app(tmp_path)
    put(app, '/sda/1/a/c/%22sp%20ace%22%C3%A9', headers={
        'User-Agent': 'evil "agent"\t%', 'X-Trans-Id': 'tx with space'})
    call(app, 'BREW"X', '/sda/1/a/c/o')
    call(app, 'GET', '/sda/1/a/c/' + 'x' * 5000)
    put_line, brew, long_get = lines.at(logging.INFO)
    f = fields(put_line)
    assert f[2] == '/sda/1/a/c/%22sp%20ace%22%C3%A9'
    assert f[7] == 'tx%20with%20space'
    assert f[8] == 'evil %22agent%22%09%25'
    assert fields(brew)[1:4] == ['BREW%22X', '/sda/1/a/c/o', '405']
    assert len(fields(long_get)[2]) == 2048


def test_log_requests_false_logs_nothing(tmp_path):
    app, lines = object_app(tmp_path, log_requests=False)
    put(app)
    assert call(app, 'GET', '/sda/1/a/c/o')[2] == b'hello'
    assert lines.records == []


def test_body_not_wrapped_when_info_and_metrics_are_off(tmp_path):
    app, lines = object_app(tmp_path, level=logging.WARNING, prometheus_enabled=False)
    put(app)
    env = Request.blank('/sda/1/a/c/o').environ
    body = app(env, lambda status, headers, exc_info=None: None)
    assert body == [b'hello']   # a small object's checked body, as the object server made it
    assert lines.records == []


@pytest.mark.parametrize('module,path', [(container_server, '/sda/1/a/c'),
                                         (account_server, '/sda/1/a')])
def test_db_servers_log_too(tmp_path, module, path):
    logger, lines = capture_logger()
    app = module.App(make_conf(module.Conf, str(tmp_path)), logger=logger)
    assert call(app, 'PUT', path, {'X-Timestamp': '0000000001.00000',
                                   'X-Trans-Id': 'txdb'})[0] == 201
    [line] = lines.at(logging.INFO)
    assert fields(line)[1:4] == ['PUT', path, '201']
    assert fields(line)[7] == 'txdb'
