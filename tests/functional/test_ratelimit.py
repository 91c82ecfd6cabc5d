"""The ratelimit middleware through real proxies on the test cluster's rings
(and a real memcached, started here, for the shared counters).

Every proxy of this file is started with its own [filter:ratelimit] and
trusts 127.0.0.1 as a proxy in front, so each test plays distinct clients by
X-Forwarded-For. No test depends on timing luck: limits are counted over N
sequential requests (N >= 3x the limit) within windows far longer than the
test takes; the mark test waits for its moments with wide margins.
"""
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

import pytest

from swiftlike.config import read_ini
from tests.functional.proxy_helpers import Api, raw
from tests.functional.storage_fixtures import free_port, start_server

MARK_BODY = '<html><body><h1>Slow down</h1>You are refused for a while.</body></html>'


def _ini(sections):
    out = []
    for name, values in sections:
        out.append('[%s]' % name)
        out.extend('%s = %s' % (k, v.replace('\n', '\n    ')) for k, v in values.items())
        out.append('')
    return '\n'.join(out)


def proxy_conf_text(cluster, ratelimit):
    """The cluster's proxy config on '{port}', with these ratelimit options."""
    sections = read_ini(cluster.layout.proxy_conf)
    ordered = [('DEFAULT', sections.get('DEFAULT', {}))]
    for name, values in sections.items():
        if name == 'DEFAULT':
            continue
        values = dict(values)
        if name == 'proxy-server':
            values.update(bind_port='{port}', workers='0')
        if name == 'filter:ratelimit':
            values = {'use': 'swiftlike.middleware.ratelimit', 'trusted_proxies': '127.0.0.1'}
            values.update(ratelimit)
        ordered.append((name, values))
    return _ini(ordered)


class Proxy:
    def __init__(self, cluster, server):
        self.cluster = cluster
        self.server = server
        self.port = server.port
        self.url = 'http://127.0.0.1:%d' % server.port
        api = Api(cluster)
        self.storage_path, self.token = api.account_path, api.token

    def hit(self, client, token=None):
        """HEAD of the test account (ratelimit sits after /info and /healthcheck):
        its status."""
        status = self.get(self.storage_path, client, {'X-Auth-Token': token or self.token},
                          'HEAD')[0]
        return 200 if status == 204 else status

    def get(self, path, client=None, headers=None, method='GET'):
        hdrs = dict(headers or {})
        if client:
            hdrs['X-Forwarded-For'] = client
        return raw('127.0.0.1', self.port, method, path, hdrs)

    def admin(self, method, path='', token=None):
        token = token or self.cluster.get_auth('admin:admin')[1]
        return raw('127.0.0.1', self.port, method, '/ratelimit' + path,
                   {'X-Auth-Token': token})

    def log(self):
        return self.server.log()


@pytest.fixture(scope='module')
def start_proxy(cluster, tmp_path_factory):
    started = []

    def start(**ratelimit):
        workdir = str(tmp_path_factory.mktemp('rlproxy'))
        server = start_server('proxy', proxy_conf_text(cluster, ratelimit), workdir=workdir,
                              timeout=60)
        started.append(server)
        return Proxy(cluster, server)
    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope='module')
def proxy(start_proxy):
    """Proxy A: the rules most tests use, one distinct client address each."""
    return start_proxy(rules='\n'.join([
        'source requests 10/10m reject',
        'source bytes_out 4Mi/10m reject',
        'user requests 1000/1m reject',
    ]), source_allowlist='198.51.100.200', user_allowlist='test2:tester2')


@pytest.fixture(scope='module')
def api(cluster):
    return Api(cluster)


_used = set()


def fresh_client():
    while True:
        ip = '203.0.113.%d' % (uuid.uuid4().int % 254 + 1)
        if ip not in _used:
            _used.add(ip)
            return ip


def statuses(proxy, client, n):
    return [proxy.get(proxy.storage_path, client, {'X-Auth-Token': proxy.token}, 'HEAD')
            for _ in range(n)]


def test_over_the_request_rate_is_429_with_retry_after_others_unaffected(proxy):
    noisy, quiet = fresh_client(), fresh_client()
    answers = statuses(proxy, noisy, 30)
    codes = [a[0] for a in answers]
    assert codes[:10] == [204] * 10
    assert codes[10:] == [429] * 20
    retry = int(answers[-1][1]['retry-after'])
    assert 1 <= retry <= 1200
    # Another client is not affected, nor is the noisy one's own count shared.
    assert [a[0] for a in statuses(proxy, quiet, 5)] == [204] * 5
    assert proxy.admin('GET', '/source/' + noisy)[0] == 200
    listing = json.loads(proxy.admin('GET')[2])
    assert listing['stats']['rejected'] >= 20
    assert any(e['key'] == noisy and e['rates']['requests/600s'] == 10
               for e in listing['entries'])


def test_bytes_out_is_cut_off_at_the_limit(proxy, api):
    container = api.put_container()
    size = 1536 * 1024     # (not a divisor of the limit: one GET is cut)
    api.put_object(container, 'big', os.urandom(size))
    token = api.token
    client = fresh_client()
    path = '%s/%s/big' % (api.account_path, container)
    served, cut, refused = 0, 0, 0
    for _ in range(8):          # 12 MiB asked, 3x the limit
        conn = http.client.HTTPConnection('127.0.0.1', proxy.port, timeout=30)
        try:
            conn.request('GET', path, headers={'X-Auth-Token': token,
                                               'X-Forwarded-For': client})
            resp = conn.getresponse()
            if resp.status == 429:
                refused += 1
                assert int(resp.getheader('Retry-After')) >= 1
                resp.read()
                continue
            assert resp.status == 200
            try:
                served += len(resp.read())
            except http.client.IncompleteRead as err:
                served += len(err.partial)
                cut += 1
        except (ConnectionError, http.client.HTTPException):
            cut += 1
        finally:
            conn.close()
    limit = 4 * 1024 * 1024
    assert 0.9 * limit <= served <= 1.1 * limit, served
    assert cut == 1 and refused == 5
    assert proxy.hit(client) == 429


def test_marked_abuser_stays_refused_then_is_let_in(start_proxy):
    mark_seconds = 10
    marker = start_proxy(rules='source requests 5/1s mark %ds' % mark_seconds,
                         mark_body=MARK_BODY, mark_status='429')
    client, other = fresh_client(), fresh_client()
    codes = [marker.hit(client) for _ in range(15)]
    marked_at = time.time()
    assert codes[:5] == [200] * 5 and 429 in codes
    # Slow down: after two windows of 1 s its rate is nothing, yet the mark holds.
    time.sleep(2.5)
    assert time.time() < marked_at + mark_seconds - 3    # (the moment we meant)
    status, headers, body = marker.get(marker.storage_path, client)
    assert status == 429 and body.decode() == MARK_BODY + '\n'
    assert headers['content-type'].startswith('text/html')
    assert 1 <= int(headers['retry-after']) <= mark_seconds
    entry = json.loads(marker.admin('GET', '/source/' + client)[2])
    assert entry['marked_for'] > 0 and entry['rates']['attempts/1s'] < 5
    assert marker.hit(other) == 200
    # Once the mark ends, it is let in.
    time.sleep(max(marked_at + mark_seconds + 0.5 - time.time(), 0))
    deadline = time.time() + 30
    while marker.hit(client) != 200:
        assert time.time() < deadline, 'still refused long after the mark ended'
        time.sleep(0.2)
    # An admin may clear a mark early.
    codes = [marker.hit(other) for _ in range(15)]
    assert codes[-1] == 429
    assert marker.admin('DELETE', '/source/' + other)[0] == 204
    assert marker.hit(other) == 200


def test_allow_lists_win(proxy, cluster):
    for _ in range(30):
        assert proxy.hit('198.51.100.200') == 200
    token = cluster.get_auth('test2:tester2')[1]
    client = fresh_client()
    for _ in range(30):
        assert proxy.hit(client, token) == 403    # (test2 in test's account: after us)


def test_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(start_proxy):
    untrusting = start_proxy(rules='source requests 10/10m reject', trusted_proxies='10.9.9.9')
    codes = [untrusting.hit(fresh_client()) for _ in range(30)]
    assert codes.count(200) == 10 and codes.count(429) == 20
    listing = json.loads(untrusting.admin('GET')[2])
    assert [e['key'] for e in listing['entries'] if e['kind'] == 'source'] == ['127.0.0.1']


def test_admin_view_is_for_reseller_admins(proxy, cluster):
    assert proxy.admin('GET', token='AUTH_tkbogus.0')[0] == 401
    assert raw('127.0.0.1', proxy.port, 'GET', '/ratelimit')[0] == 401
    assert proxy.admin('GET', token=cluster.get_auth('test:tester')[1])[0] == 403
    assert proxy.admin('GET', '/nosuchkind/x')[0] == 400
    assert proxy.admin('GET', '/source/192.0.2.254')[0] == 404
    assert proxy.admin('GET', '?limit=0')[0] == 400


def test_cli_lists_shows_and_clears(proxy):
    client = fresh_client()
    statuses(proxy, client, 12)
    base = [sys.executable, '-m', 'swiftlike.cli.ratelimit', '-A',
            proxy.url + '/auth/v1.0', '-U', 'admin:admin', '-K', 'admin']
    out = subprocess.run(base + ['list', '--kind', 'source'], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and client in out.stdout and 'rejected=' in out.stdout
    out = subprocess.run(base + ['show', 'source', client], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and json.loads(out.stdout)['key'] == client
    out = subprocess.run(base + ['clear', 'source', client], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0
    assert proxy.hit(client) == 200
    bad = subprocess.run(base[:-4] + ['-U', 'test:tester', '-K', 'testing', 'list'],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and '403' in bad.stderr


# -- memcached ------------------------------------------------------------------------

@pytest.fixture
def memcached():
    binary = shutil.which('memcached')
    if not binary:
        pytest.skip('memcached is not installed (make apt installs it)')
    port = free_port()
    args = [binary, '-l', '127.0.0.1', '-p', str(port), '-U', '0', '-m', '16']
    if os.geteuid() == 0:
        args += ['-u', 'root']
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 20
    import socket
    while True:
        try:
            socket.create_connection(('127.0.0.1', port), timeout=0.5).close()
            break
        except OSError:
            assert proc.poll() is None and time.time() < deadline, 'memcached did not start'
            time.sleep(0.05)
    yield proc, port
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def test_with_memcached_limits_hold_across_proxies_and_survive_its_death(start_proxy,
                                                                         memcached):
    proc, port = memcached
    options = dict(rules='source requests 10/10m reject\nsource requests 40/10m mark 2m',
                   memcache_servers='127.0.0.1:%d' % port, memcache_timeout='0.5',
                   memcache_sync_interval='0',
                   memcache_retry_interval='600')
    one, two = start_proxy(**options), start_proxy(**options)
    client = fresh_client()
    codes = [(one if i % 2 else two).hit(client) for i in range(30)]
    assert codes.count(200) == 10 and codes.count(429) == 20     # one shared count
    # A mark set by one proxy is seen by the other.
    abuser = fresh_client()
    for _ in range(45):
        one.hit(abuser)
    status, _h, body = two.get(two.storage_path, abuser)
    assert status == 429 and b'abusive' in body
    assert json.loads(two.admin('GET')[2])['shared'] is True
    # memcached dies: requests keep working, counted in each proxy.
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    after = fresh_client()
    codes = [one.hit(after) for _ in range(15)]
    assert codes[:10] == [200] * 10 and codes[10:] == [429] * 5
    assert two.hit(fresh_client()) == 200
    assert 'memcached' in one.log() and 'counting in this process' in one.log()
    assert json.loads(one.admin('GET')[2])['stats']['memcache_errors'] >= 1
