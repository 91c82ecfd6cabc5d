"""The console: ring figures, page escaping, and who may see it (tempauth in
front of it for real; storage servers at ports nobody listens on, so they
are down). The browser test (tests/functional/test_console_browser.py) runs
it against a real cluster."""
import io
import json
import re
import socket
import time
from urllib.parse import urlencode

import pytest

from swiftlike.middleware import console, console_pages, console_ring
from swiftlike.middleware import tempauth
from swiftlike.middleware.console_data import Collector
from swiftlike.middleware.tempauth import sign_token
from swiftlike.ring import RingBuilder

SECRET = 'console test secret'


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def write_ring(path, weights, part_power=6, replicas=3, ports=None):
    builder = RingBuilder(part_power, replicas, 0)
    for i, weight in enumerate(weights):
        port = ports[i] if ports else 6200 + i
        builder.add_dev({'region': 1, 'zone': i + 1, 'ip': '127.0.0.1', 'port': port,
                         'device': 'd%d' % (i + 1), 'weight': weight})
    builder.rebalance(seed=1)
    builder.write_ring(str(path))


def test_ring_view_counts_partitions_and_balance(tmp_path):
    write_ring(tmp_path / 'object.ring.gz', [100, 100, 100, 300])
    view = console_ring.ring_view('object', str(tmp_path / 'object.ring.gz'))
    assert (view['part_power'], view['partitions'], view['replicas']) == (6, 64, 3)
    assert (view['regions'], view['zones'], view['servers']) == (1, 4, 4)
    parts = {d['device']: d['partitions'] for d in view['devices']}
    assert sum(parts.values()) == 64 * 3
    # d4 asks for half of the assignments but one replica per partition may
    # go to a device (zones): it holds every partition, 64, not 96.
    assert parts['d4'] == 64
    d4 = [d for d in view['devices'] if d['device'] == 'd4'][0]
    assert d4['balance'] == round(100.0 * (64 - 96) / 96, 2)
    assert view['weight'] == 600


def test_ring_files_order(tmp_path):
    for name in ('object', 'account', 'container', 'object-1'):
        write_ring(tmp_path / ('%s.ring.gz' % name), [1, 1, 1])
    assert list(console_ring.ring_files(str(tmp_path))) == ['account', 'container', 'object',
                                                            'object-1']


def hostile_snapshot():
    name = '<script>alert(1)</script>&"'
    dev = {'id': 0, 'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': 1, 'device': name,
           'weight': 1.0, 'meta': '', 'partitions': 8, 'balance': 0.0}
    view = {'name': 'object', 'part_power': 3, 'partitions': 8, 'replicas': 1,
            'devices': [dev], 'regions': 1, 'zones': 1, 'servers': 1, 'weight': 1.0,
            'max_balance': 0.0}
    server = {'up': True, 'probe_ms': 1.0, 'error': '', 'ip': '127.0.0.1', 'port': 1,
              'rings': ['object'], 'devices': [name]}
    recon = {'diskusage': [{'device': name, 'mounted': True, 'size': 1000, 'used': 250,
                            'avail': 750}],
             'load': {'1m': '<img src=x onerror=alert(2)>'},
             'quarantined': {'objects': '<b>', 'containers': 1, 'accounts': 0}}
    return {'time': time.time(), 'rings': [view], 'servers': {'127.0.0.1:1': server},
            'recon': {'127.0.0.1:1': recon}}


@pytest.mark.parametrize('page', list(console_pages.BUILDERS))
def test_pages_escape_everything(page):
    tables = console_pages.BUILDERS[page](hostile_snapshot(), {'nodes': {}})
    text = console_pages.page_html(page, tables)
    assert '<script>alert' not in text and '<img' not in text and '<b>' not in text
    assert text.count('<script') == 1      # only our own script tag
    if page in ('ring', 'nodes'):
        assert '&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;' in text
    # The live values are the same cells as text (the script sets textContent).
    live = console_pages.live_values(tables)
    assert all(isinstance(v[0], str) for v in live.values())


def test_figures_a_server_does_not_report_are_na_not_zero():
    snap = hostile_snapshot()
    tables = console_pages.BUILDERS['nodes'](snap, {'nodes': {}})
    live = console_pages.live_values(tables)
    node = 'node.127.0.0.1:1.'
    assert live[node + 'load'][0] == 'n/a'          # a string where a number belongs
    assert live[node + 'steal'][0] == 'n/a'         # no diskio at all
    dev = 'dev.object.127.0.0.1:1.%s.' % snap['rings'][0]['devices'][0]['device']
    assert live[dev + 'fill'][0] == '25.0%'
    overview = console_pages.live_values(console_pages.BUILDERS['overview'](snap, {}))
    assert overview['ov.quarantined'][0] == '1'     # '<b>' is not counted


# -- the middleware behind a real tempauth --------------------------------------------

class Terminal:
    def __call__(self, env, start_response):
        start_response('200 OK', [('Content-Length', '4')])
        return [b'next']


@pytest.fixture
def stack(tmp_path):
    ports = [free_port() for _ in range(3)]   # nobody listens: the servers are down
    write_ring(tmp_path / 'object.ring.gz', [100, 100, 100], ports=ports)
    make_console = console.filter_factory({'swift_dir': str(tmp_path), 'probe_timeout': '0.5',
                                           'cache_seconds': '0'})
    make_auth = tempauth.filter_factory({'token_secret': SECRET,
                                         'user_admin_admin': 'admin .admin .reseller_admin',
                                         'user_test_tester': 'testing .admin'})
    return make_auth(make_console(Terminal()))


def token(account, user):
    # (the groups a token grants are the user's in the current config)
    return sign_token(SECRET.encode(), 'AUTH', account, user, [], time.time() + 600)


ADMIN = token('admin', 'admin')
TESTER = token('test', 'tester')


def call(app, method, path, headers=None, body=b''):
    env = {'REQUEST_METHOD': method, 'PATH_INFO': path, 'SERVER_NAME': 'x', 'SERVER_PORT': '80',
           'wsgi.input': io.BytesIO(body), 'wsgi.url_scheme': 'http', 'QUERY_STRING': ''}
    if body:
        env['CONTENT_LENGTH'] = str(len(body))
    for name, value in (headers or {}).items():
        key = name.upper().replace('-', '_')
        env[key if key in ('CONTENT_TYPE', 'CONTENT_LENGTH') else 'HTTP_' + key] = value
    out = {}

    def start_response(status, headers, exc_info=None):
        out['status'] = int(status.split()[0])
        out['headers'] = headers
    data = b''.join(app(env, start_response))
    return out['status'], out['headers'], data


def header(headers, name):
    return [v for k, v in headers if k.lower() == name.lower()]


def test_admin_sees_pages_and_json(stack):
    for path in ('/console/', '/console/ring', '/console/nodes', '/console/daemons'):
        status, headers, body = call(stack, 'GET', path, {'X-Auth-Token': ADMIN})
        assert status == 200, path
        assert header(headers, 'Content-Type') == ['text/html; charset=utf-8']
        assert "default-src 'none'" in header(headers, 'Content-Security-Policy')[0]
        assert header(headers, 'Cache-Control') == ['no-store']
    status, _, body = call(stack, 'GET', '/console/api/nodes', {'X-Auth-Token': ADMIN})
    live = json.loads(body)
    states = {k: v for k, v in live.items() if k.startswith('node.') and k.endswith('.state')}
    assert len(states) == 3 and all(v == ['down', 'bad'] for v in states.values())
    status, _, body = call(stack, 'GET', '/console/api/overview', {'X-Auth-Token': ADMIN})
    assert json.loads(body)['ov.servers'] == ['0 / 3', 'bad']


def test_other_paths_pass_through(stack):
    assert call(stack, 'GET', '/consoles')[2] == b'next'
    assert call(stack, 'GET', '/info')[2] == b'next'


@pytest.mark.parametrize('headers,status', [
    ({}, 401),
    ({'X-Auth-Token': TESTER}, 403),
    ({'X-Auth-Token': 'AUTH_tkbogus.0000'}, 401),
    ({'X-Auth-Token': 'x' * 5000}, 400),
    ({'Cookie': 'swiftlike_console=AUTH_tk%00garbage'}, 401),
    ({'Cookie': 'swiftlike_console=%s' % TESTER}, 403),
    ({'Cookie': ';;;==; swiftlike_console'}, 401),
])
def test_non_admins_are_refused(stack, headers, status):
    got, resp_headers, body = call(stack, 'GET', '/console/api/overview', headers)
    assert got == status and b'Traceback' not in body and body.endswith(b'\n')
    # The HTML page: without any token, to the sign-in form; else the same refusal.
    got, resp_headers, body = call(stack, 'GET', '/console/nodes', headers)
    if 'X-Auth-Token' not in headers and 'swiftlike_console=' not in headers.get('Cookie', ''):
        assert (got, header(resp_headers, 'Location')) == (303, ['/console/login'])
    else:
        assert got == status and b'<table' not in body


def test_bad_cookie_is_cleared(stack):
    status, headers, _ = call(stack, 'GET', '/console/', {'Cookie': 'swiftlike_console=junk'})
    assert status == 401
    assert any('Max-Age=0' in v for v in header(headers, 'Set-Cookie'))


@pytest.mark.parametrize('method,path,status', [
    ('GET', '/console/nope', 404),
    ('GET', '/console/api/nope', 404),
    ('GET', '/console/static/../api/nodes', 404),
    ('GET', '/console/static/console.js/../../etc/passwd', 404),
    ('GET', '/console//ring', 404),
    ('POST', '/console/ring', 405),
    ('DELETE', '/console/api/nodes', 405),
    ('PUT', '/console/static/console.js', 405),
    ('GET', '/console/logout', 405),
    ('PUT', '/console/login', 405),
])
def test_hostile_paths_and_verbs(stack, method, path, status):
    got, headers, body = call(stack, method, path, {'X-Auth-Token': ADMIN})
    assert got == status and b'Traceback' not in body


def test_console_redirects_to_its_slash(stack):
    status, headers, _ = call(stack, 'GET', '/console')
    assert (status, header(headers, 'Location')) == (301, ['/console/'])


def test_static_files_need_no_sign_in(stack):
    status, headers, body = call(stack, 'GET', '/console/static/console.js')
    assert status == 200 and b'textContent' in body and b'innerHTML' not in body
    assert call(stack, 'GET', '/console/static/console.css')[0] == 200


def form(**fields):
    return urlencode(fields).encode()


FORM = {'Content-Type': 'application/x-www-form-urlencoded'}


def test_sign_in_sets_a_strict_http_only_cookie(stack):
    status, headers, _ = call(stack, 'POST', '/console/login', FORM, form(token=ADMIN))
    assert (status, header(headers, 'Location')) == (303, ['/console/'])
    cookie = header(headers, 'Set-Cookie')[0]
    assert cookie.startswith('swiftlike_console=%s;' % ADMIN)
    for attr in ('HttpOnly', 'SameSite=Strict', 'Path=/console', 'Max-Age=28800'):
        assert attr in cookie.split('; ')
    assert 'Secure' not in cookie       # plain http here
    status, _, body = call(stack, 'GET', '/console/ring', {'Cookie': 'a=b; swiftlike_console=%s'
                                                           % ADMIN})
    assert status == 200 and b'Ring object' in body
    status, headers, _ = call(stack, 'POST', '/console/logout')
    assert status == 303 and 'Max-Age=0' in header(headers, 'Set-Cookie')[0]


@pytest.mark.parametrize('headers,body,status,message', [
    (FORM, form(token=TESTER), 403, 'reseller admins only'),
    (FORM, form(token='AUTH_tknope.00'), 401, 'Invalid or expired token'),
    (FORM, form(user='admin:admin', key='admin'), 400, 'needs JavaScript'),
    (FORM, form(other='x'), 400, 'No token given'),
    ({'Content-Type': 'text/plain'}, b'token=x', 400, 'a form'),
    (FORM, b'token=' + b'A' * 20000, 413, 'Form too large'),
    (FORM, b'token=\xff\xfe', 400, 'Malformed form'),
])
def test_sign_in_refusals(stack, headers, body, status, message):
    got, resp_headers, page = call(stack, 'POST', '/console/login', headers, body)
    assert got == status and message in page.decode()
    assert not header(resp_headers, 'Set-Cookie')


def test_sign_in_form_page(stack):
    status, _, body = call(stack, 'GET', '/console/login')
    assert status == 200
    assert re.search(rb'<form id="login" method="post" action="/console/login" '
                     rb'data-auth="/auth/v1.0">', body)


def test_without_auth_middleware_nobody_gets_in(tmp_path):
    write_ring(tmp_path / 'object.ring.gz', [1, 1, 1])
    app = console.filter_factory({'swift_dir': str(tmp_path)})(Terminal())
    status, _, body = call(app, 'GET', '/console/api/ring', {'X-Auth-Token': ADMIN})
    assert status == 403 and b'auth middleware' in body


def test_collector_caches_and_reloads_rings(tmp_path):
    ports = [free_port() for _ in range(3)]
    write_ring(tmp_path / 'object.ring.gz', [1, 1, 1], ports=ports)
    now = [100.0]
    collector = Collector(str(tmp_path), probe_timeout=0.5, cache_seconds=2.0,
                          clock=lambda: now[0])
    first = collector.snapshot()
    assert collector.snapshot() is first
    now[0] += 2.5
    second = collector.snapshot()
    assert second is not first and len(second['servers']) == 3
    assert not any(s['up'] for s in second['servers'].values())


def test_conf_validation():
    from swiftlike.exceptions import ConfigError
    for bad in ({'probe_timeout': '0'}, {'session_seconds': '0'},
                {'auth_url': 'http://elsewhere/auth'}, {'colour': 'red'}):
        with pytest.raises(ConfigError):
            console.filter_factory(bad)
