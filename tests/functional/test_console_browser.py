"""The operator console in a real browser (headless Chromium via selenium)
against a cluster of its own (a fresh aio, so the figures are exactly what
this test did, and killing a server disturbs no other test):
 1. sign in through the form (user and key; the page gets the token);
 2. after a known workload (objects written, one replica corrupted and
    quarantined by an auditor pass, a replicator and an updater pass) the
    overview, ring, nodes and daemons pages show the right numbers;
 3. an object server killed with SIGKILL shows as down within 10 s, without
    a reload (the page's script polls), and as up again once restarted;
 4. non-admins and hostile requests get clean 4xx answers.
A screenshot of every page is kept under the test's tmp dir. Needs chromium,
chromium-driver and selenium, as tests/functional/test_browser.py; skipped,
saying why, without them."""
import json
import os
import time

import pytest

from swiftlike.hashing import hash_path
from swiftlike.ring import Ring
from tests.functional.browser import (WAIT, By, TimeoutException, WebDriverWait,
                                      browser_session, requires_browser, text_of)
from tests.functional.browser import shows as _shows
from tests.functional.conftest import cluster_session
from tests.functional.proxy_helpers import Api, raw

pytestmark = requires_browser

DOWN_WITHIN = 10    # seconds: what the operator is promised for a dead node
OBJECTS = 5
SIZE = 3000


@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    yield from cluster_session(tmp_path_factory.mktemp('console-aio'))


@pytest.fixture(scope='module')
def shots(tmp_path_factory):
    path = tmp_path_factory.mktemp('console-shots')
    print('console screenshots in', path)
    return path


@pytest.fixture(scope='module')
def driver():
    yield from browser_session(1280, 900)


@pytest.fixture(scope='module')
def workload(cluster):
    """Objects written, one replica corrupted and quarantined, one pass of the
    replicator and updater on the corrupted node. Returns what the pages
    should show."""
    api = Api(cluster)
    cont = api.put_container('console-load')
    for i in range(OBJECTS):
        api.put_object(cont, 'obj-%d' % i, bytes([65 + i]) * SIZE)
    account = api.account_path.rsplit('/', 1)[1]
    _part, nodes = Ring(cluster.swift_dir, 'object').get_nodes(account, cont, 'obj-0')
    victim = [s for s in cluster.object_servers if s.port == nodes[0]['port']][0]
    digest = hash_path(account, cont, 'obj-0')
    found = []
    for root, _dirs, files in os.walk(os.path.join(victim.device_path, 'objects')):
        if os.path.basename(root) == digest:
            found += [os.path.join(root, f) for f in files if f.endswith('.data')]
    assert len(found) == 1, found
    with open(found[0], 'r+b') as f:
        f.write(b'rot')                      # same size, wrong MD5
    for daemon in ('object-auditor', 'object-replicator', 'object-updater'):
        status, output = cluster.run_daemon(daemon, victim.index)
        assert status == 0, output
    return {'victim': victim}


def text(driver, selector):
    return text_of(driver, By.CSS_SELECTOR, selector)


def live(driver, key):
    return text(driver, '[data-live="%s"]' % key)


def shows(driver, key, expected, wait=WAIT):
    _shows(driver, lambda d: live(d, key), expected, wait, key)


def polled(driver):
    """Wait until the page's script has brought fresh figures at least once."""
    WebDriverWait(driver, WAIT).until(
        lambda d: int(d.execute_script('return document.body.dataset.polls || 0')) > 0)


def proxy(cluster):
    return cluster.proxy_url.rstrip('/')


def test_1_sign_in_refuses_a_non_admin_then_admits_the_reseller_admin(cluster, driver, shots):
    driver.get(proxy(cluster) + '/console/nodes')
    WebDriverWait(driver, WAIT).until(lambda d: d.current_url.endswith('/console/login'))
    driver.find_element(By.ID, 'user').send_keys('test:tester')
    driver.find_element(By.ID, 'key').send_keys('testing')
    driver.find_element(By.ID, 'signin').click()
    WebDriverWait(driver, WAIT).until(
        lambda d: 'reseller admins only' in (text(d, '#message') or ''))
    driver.save_screenshot(str(shots / 'login-refused.png'))
    driver.get(proxy(cluster) + '/console/login')
    driver.find_element(By.ID, 'user').send_keys('admin:admin')
    driver.find_element(By.ID, 'key').send_keys('admin')
    driver.find_element(By.ID, 'signin').click()
    WebDriverWait(driver, WAIT).until(lambda d: d.current_url.endswith('/console/'))
    assert driver.find_element(By.ID, 'title').text == 'Overview'
    cookie = driver.get_cookie('swiftlike_console')
    assert cookie['httpOnly'] and cookie['sameSite'] == 'Strict' and cookie['path'] == '/console'


def test_2_overview(cluster, driver, workload, shots):
    driver.get(proxy(cluster) + '/console/')
    polled(driver)
    shows(driver, 'ov.servers', '12 / 12')
    shows(driver, 'ov.down', '0')
    shows(driver, 'ov.devices', '4')
    shows(driver, 'ov.unmounted', '0')
    shows(driver, 'ov.quarantined', '1')
    shows(driver, 'ov.async', '0')      # the updater's count (it ran on one node)
    # The metrics middleware's counts of the workload's client requests.
    shows(driver, 'rq.container.PUT.count', '1')
    shows(driver, 'rq.object.PUT.count', str(OBJECTS))
    shows(driver, 'rq.object.PUT.errors', '0')
    assert live(driver, 'rq.object.PUT.p50') not in (None, 'n/a')
    # This proxy worker sent each object's PUT to its 3 primaries, once.
    for server in cluster.object_servers:
        held = _held(cluster, server)
        shows(driver, 'be.127.0.0.1:%d/%s.count' % (server.port, server.device),
              str(held) if held else None)
    driver.save_screenshot(str(shots / 'overview.png'))


def test_3_ring(cluster, driver, workload, shots):
    driver.get(proxy(cluster) + '/console/ring')
    polled(driver)
    ring = Ring(cluster.swift_dir, 'object')
    shows(driver, 'ring.object.partitions', str(ring.partition_count))
    shows(driver, 'ring.object.replicas', '3')
    held = {}
    for part in range(ring.partition_count):
        for node in ring.get_part_nodes(part):
            held[node['port']] = held.get(node['port'], 0) + 1
    assert sum(held.values()) == ring.partition_count * 3
    wanted = ring.partition_count * 3 / 4      # 4 devices of equal weight
    for server in cluster.object_servers:
        key = 'dev.object.127.0.0.1:%d.%s.' % (server.port, server.device)
        shows(driver, key + 'parts', str(held[server.port]))
        balance = round(100.0 * (held[server.port] - wanted) / wanted, 2)
        shows(driver, key + 'balance', '%.2f%%' % balance)
    driver.save_screenshot(str(shots / 'ring.png'))


def test_4_nodes_and_devices(cluster, driver, workload, shots):
    driver.get(proxy(cluster) + '/console/nodes')
    polled(driver)
    for kind in ('object', 'container', 'account'):
        for server in cluster.servers[kind]:
            shows(driver, 'node.127.0.0.1:%d.state' % server.port, 'up')
    for server in cluster.object_servers:
        key = 'dev.object.127.0.0.1:%d.%s.' % (server.port, server.device)
        shows(driver, key + 'mounted', 'yes')
        shows(driver, key + 'limited', 'no')
        st = os.statvfs(server.device_path)
        expected = 100.0 * (st.f_blocks - st.f_bfree) / st.f_blocks
        shown = live(driver, key + 'fill')
        # The disk is shared with the rest of the machine: it moves a little.
        assert shown.endswith('%') and abs(float(shown[:-1]) - expected) < 1.0, shown
        # Per-disk I/O where the node's recon finds the device's block device.
        status, _h, body = raw(server.ip, server.port, 'GET', '/recon/diskio?interval=0.1')
        assert status == 200
        entry = [d for d in json.loads(body)['devices'] if d['device'] == server.device][0]
        for figure in ('r_s', 'w_s', 'util'):
            if 'reads_per_s' in entry:
                assert live(driver, key + figure) not in (None, 'n/a'), figure
            else:
                assert live(driver, key + figure) == 'n/a', figure
    driver.save_screenshot(str(shots / 'nodes.png'))


def test_5_daemons(cluster, driver, workload, shots):
    driver.get(proxy(cluster) + '/console/daemons')
    polled(driver)
    victim = workload['victim']
    for server in cluster.object_servers:
        key = 'dmn.object.127.0.0.1:%d.' % server.port
        if server is victim:
            shows(driver, key + 'q_objects', '1')
            shows(driver, key + 'audit_quarantined', '1')
            # every replica it holds passed the audit but the corrupted one
            shows(driver, key + 'audit_passes', str(_held(cluster, server) - 1))
            shows(driver, key + 'async', '0')
            shows(driver, key + 'failure', '0')
            assert live(driver, key + 'last').endswith(' ago')
        else:
            # No daemon ran there: nothing reported, nothing invented.
            shows(driver, key + 'q_objects', '0')
            shows(driver, key + 'audit_passes', 'n/a')
            shows(driver, key + 'last', 'n/a')
    driver.save_screenshot(str(shots / 'daemons.png'))


def _held(cluster, server):
    """How many of the workload's objects `server` holds a replica of."""
    ring = Ring(cluster.swift_dir, 'object')
    return sum(any(n['port'] == server.port
                   for n in ring.get_nodes('AUTH_test', 'console-load', 'obj-%d' % i)[1])
               for i in range(OBJECTS))


def test_6_a_killed_node_shows_down_within_10_seconds(cluster, driver, workload, shots):
    driver.get(proxy(cluster) + '/console/nodes')
    polled(driver)
    server = cluster.object_servers[1]
    key = 'node.127.0.0.1:%d.state' % server.port
    shows(driver, key, 'up')
    killed_at = time.monotonic()
    cluster.kill_server('object', server.index)
    try:
        WebDriverWait(driver, DOWN_WITHIN, poll_frequency=0.1).until(
            lambda d: live(d, key) == 'down')
    except TimeoutException:
        pass
    took = time.monotonic() - killed_at
    assert live(driver, key) == 'down', 'still %r after %.1f s' % (live(driver, key), took)
    assert took <= DOWN_WITHIN
    print('killed object server shown down after %.1f s' % took)
    assert driver.execute_script('return document.querySelector(arguments[0]).className',
                                 '[data-live="%s"]' % key) == 'st-bad'
    driver.save_screenshot(str(shots / 'nodes-one-down.png'))
    driver.get(proxy(cluster) + '/console/')
    shows(driver, 'ov.down', '1')
    shows(driver, 'ov.servers', '11 / 12')
    driver.save_screenshot(str(shots / 'overview-one-down.png'))
    cluster.start_server('object', server.index)
    shows(driver, 'ov.down', '0')


def test_7_refusals_are_clean_4xx(cluster):
    host, port = cluster.proxy.ip, cluster.proxy.port
    _url, tester = cluster.get_auth('test:tester')
    _url, admin = cluster.get_auth('admin:admin')
    cases = [
        ('/console/api/overview', {}, 401),
        ('/console/api/overview', {'X-Auth-Token': tester}, 403),
        ('/console/nodes', {'Cookie': 'swiftlike_console=%s' % tester}, 403),
        ('/console/nodes', {'Cookie': 'swiftlike_console=AUTH_tk<script>'}, 401),
        ('/console/nodes', {'Cookie': 'swiftlike_console=' + 'A' * 5000}, 400),
        ('/console/api/overview', {'X-Auth-Token': admin + 'x'}, 401),
        ('/console/no-such-page', {'X-Auth-Token': admin}, 404),
        ('/console/static/../../etc/passwd', {'X-Auth-Token': admin}, 404),
        ('/console/static/%2e%2e/api/nodes', {'X-Auth-Token': admin}, 404),
        ('/console/api/..%2fnodes', {'X-Auth-Token': admin}, 404),
    ]
    for path, headers, expected in cases:
        status, _h, body = raw(host, port, 'GET', path, headers)
        assert status == expected, (path, status, body[:200])
        assert b'Traceback' not in body
    status, _h, body = raw(host, port, 'GET', '/console/api/overview', {'X-Auth-Token': admin})
    assert status == 200
