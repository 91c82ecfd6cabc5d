"""GET /recon/<what>: the answers' shapes (Swift's), from real files."""
import hashlib
import json
import os

import pytest

from swiftlike.daemon import dump_recon_entries
from swiftlike.http import Request
from swiftlike.recon.endpoints import ReconEndpoints
from swiftlike.recon.middleware import ReconMiddleware


@pytest.fixture
def node(tmp_path):
    devices = tmp_path / 'node'
    for name in ('d1', 'd2'):
        (devices / name).mkdir(parents=True)
    (devices / 'not-a-dir').write_text('x')
    swift_dir = tmp_path / 'etc'
    swift_dir.mkdir()
    (swift_dir / 'object.ring.gz').write_bytes(b'ring bytes')
    (swift_dir / 'container.ring.gz').write_bytes(b'other ring')
    (swift_dir / 'object.builder').write_bytes(b'not a ring')
    (swift_dir / 'swiftlike.conf').write_text('[hash]\npath_prefix = x\n')
    return devices, swift_dir


def _endpoints(node, mount_check=False, **kwargs):
    devices, swift_dir = node
    return ReconEndpoints(str(devices), str(swift_dir), mount_check=mount_check, **kwargs)


def test_devices_diskusage_and_unmounted(node):
    devices, _ = node
    plain = _endpoints(node)
    assert plain.device_list() == {str(devices): ['d1', 'd2']}
    assert plain.unmounted() == []
    usage = plain.diskusage()
    assert [u['device'] for u in usage] == ['d1', 'd2']
    st = os.statvfs(devices / 'd1')
    assert usage[0]['mounted'] is True and usage[0]['size'] == st.f_blocks * st.f_frsize
    assert 0 < usage[0]['used'] <= usage[0]['size'] and usage[0]['avail'] > 0
    # With mount_check on, plain directories are not usable: unmounted.
    checked = _endpoints(node, mount_check=True)
    assert checked.unmounted() == [{'device': 'd1', 'mounted': False},
                                   {'device': 'd2', 'mounted': False}]
    assert checked.diskusage()[1] == {'device': 'd2', 'mounted': False, 'size': '',
                                      'used': '', 'avail': ''}


def test_md5s_of_rings_and_cluster_conf(node, monkeypatch):
    _, swift_dir = node
    monkeypatch.delenv('SWIFTLIKE_CONF', raising=False)
    monkeypatch.setenv('SWIFTLIKE_CONF', str(swift_dir / 'absent.conf'))
    ep = _endpoints(node)
    assert ep.ringmd5() == {
        str(swift_dir / 'container.ring.gz'): hashlib.md5(b'other ring').hexdigest(),
        str(swift_dir / 'object.ring.gz'): hashlib.md5(b'ring bytes').hexdigest()}
    conf = str(swift_dir / 'swiftlike.conf')
    assert ep.swiftconfmd5() == {conf: hashlib.md5(open(conf, 'rb').read()).hexdigest()}
    (swift_dir / 'object.ring.gz').write_bytes(b'new ring, new size')   # noticed at once
    assert ep.ringmd5()[str(swift_dir / 'object.ring.gz')] == \
        hashlib.md5(b'new ring, new size').hexdigest()


def test_quarantined_counts_every_device(node):
    devices, _ = node
    for device, kind, names in (('d1', 'objects', ['a', 'b']), ('d2', 'objects', ['c']),
                                ('d2', 'containers', ['x-1']), ('d1', 'accounts', ['y-2'])):
        for name in names:
            os.makedirs(devices / device / 'quarantined' / kind / name)
    assert _endpoints(node).quarantined() == {
        'objects': 3, 'containers': 1, 'accounts': 1, 'policies': {'0': {'objects': 3}}}


def test_cache_backed_endpoints_read_swifts_keys(node):
    devices, _ = node
    cache = devices / '.recon'
    dump_recon_entries(str(cache / 'object.recon'), {
        'async_pending': 7, 'async_pending_last': 1700000000.5,
        'replication_time': 0.5, 'replication_last': 1700000001.0,
        'replication_stats': {'attempted': 4}, 'object_replication_time': 0.5,
        'object_replication_last': 1700000001.0,
        'object_auditor_stats_ALL': {'passes': 3, 'quarantined': 1},
        'object_updater_sweep': 0.25, 'object_expiration_pass': 0.1, 'expired_last_pass': 2,
        'object_auditor': {'files_checked': 3, 'ok': True}})
    dump_recon_entries(str(cache / 'container.recon'), {'container_updater_sweep': 1.5})
    ep = _endpoints(node)
    assert ep.answer('async') == {'async_pending': 7, 'async_pending_last': 1700000000.5}
    assert ep.answer('replication') == ep.answer('replication', 'object') == {
        'replication_time': 0.5, 'replication_last': 1700000001.0,
        'replication_stats': {'attempted': 4}, 'object_replication_time': 0.5,
        'object_replication_last': 1700000001.0}
    assert ep.answer('replication', 'account') == {
        'replication_time': None, 'replication_stats': None, 'replication_last': None}
    assert ep.answer('auditor', 'object') == {
        'object_auditor_stats_ALL': {'passes': 3, 'quarantined': 1},
        'object_auditor_stats_ZBF': None}
    assert ep.answer('auditor', 'container')['container_audits_passed'] is None
    assert ep.answer('updater', 'object') == {'object_updater_sweep': 0.25}
    assert ep.answer('updater', 'container') == {'container_updater_sweep': 1.5}
    assert ep.answer('expirer', 'object') == {'object_expiration_pass': 0.1,
                                              'expired_last_pass': 2}
    assert ep.answer('driveaudit') == {'drive_audit_errors': None}
    assert ep.answer('daemons') == {'object': {'object_auditor': {'files_checked': 3,
                                                                  'ok': True}},
                                    'container': {}, 'account': {}}


@pytest.mark.parametrize('what,rtype,reason', [
    ('nope', None, "Unknown recon endpoint 'nope'"),
    ('auditor', None, '/recon/auditor needs a type'),
    ('updater', 'account', '/recon/updater needs a type'),
    ('expirer', 'container', '/recon/expirer needs a type'),
    ('load', 'extra', '/recon/load takes no type'),
])
def test_unknown_paths_are_404_with_a_reason(node, what, rtype, reason):
    from swiftlike.exceptions import NotFound
    with pytest.raises(NotFound) as err:
        _endpoints(node).answer(what, rtype)
    assert reason in err.value.reason


def _call(app, path, method='GET'):
    req = Request.blank(path, method=method)
    resp = req.get_response(app)
    return resp.status_int, resp.headers, resp.body


class _Server:
    """Stands where a storage server is: answers every non-recon request 204."""
    logger = None

    def __call__(self, environ, start_response):
        start_response('204 No Content', [])
        return [b'']


class _Conf:
    def __init__(self, devices, swift_dir):
        self.devices = devices
        self.swift_dir = swift_dir
        self.recon_cache_path = ''
        self.mount_check = False


def test_middleware_routes_only_recon(node):
    devices, swift_dir = node
    app = ReconMiddleware(_Server(), _Conf(str(devices), str(swift_dir)))
    status, headers, body = _call(app, '/recon/load')
    assert status == 200 and headers['Content-Type'].startswith('application/json')
    assert set(json.loads(body)) == {'1m', '5m', '15m', 'tasks', 'processes'}
    assert isinstance(json.loads(_call(app, '/recon/time')[2]), float)
    assert _call(app, '/d1/0/a/c/o')[0] == 204
    assert _call(app, '/reconx/load')[0] == 204
    for path in ('/recon', '/recon/', '/recon/a/b/c', '/recon/nope'):
        status, _h, body = _call(app, path)
        assert status == 404 and body, path
    status, headers, body = _call(app, '/recon/load', 'PUT')
    assert status == 405 and headers['Allow'] == 'GET, HEAD' and b'GET and HEAD' in body
    assert _call(app, '/recon/load', 'HEAD')[0] == 200
    for query in ('interval=x', 'interval=0', 'interval=11'):
        status, _h, body = _call(app, '/recon/diskio?' + query)
        assert status == 400 and b'interval' in body


def test_diskio_reports_each_device(node):
    devices, swift_dir = node
    ep = _endpoints(node)
    report = ep.answer('diskio', query={'interval': '0.1'})
    assert [d['device'] for d in report['devices']] == ['d1', 'd2']
    assert 0.1 <= report['interval'] < 5
    assert 'steal_pct' in report['cpu']
    for entry in report['devices']:
        assert entry['mounted'] is True
        assert entry['block_device'] or entry['reason']
