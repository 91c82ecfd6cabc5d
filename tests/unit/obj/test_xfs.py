"""The real backend on a real XFS filesystem (a loopback mount; needs root)."""
import os
import shutil
import subprocess

import pytest

from swiftlike.obj import metadata as xmeta
from tests.conftest import is_root

pytestmark = [
    pytest.mark.skipif(not is_root(), reason='mounting a loopback XFS needs root'),
    pytest.mark.skipif(shutil.which('mkfs.xfs') is None,
                       reason='mkfs.xfs not installed (apt-get install xfsprogs)'),
]


@pytest.fixture(scope='module')
def xfs_devices(tmp_path_factory):
    base = tmp_path_factory.mktemp('xfs')
    image = base / 'disk.img'
    with open(image, 'wb') as f:
        f.truncate(512 * 1024 * 1024)  # sparse; XFS wants >= 300 MiB
    subprocess.run(['mkfs.xfs', '-q', str(image)], check=True)
    devices = base / 'devices'
    mount_point = devices / 'xfs1'
    mount_point.mkdir(parents=True)
    result = subprocess.run(['mount', '-o', 'loop', str(image), str(mount_point)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip('cannot mount a loopback XFS here: %s' % result.stderr.strip())
    try:
        yield str(devices)
    finally:
        subprocess.run(['umount', str(mount_point)], check=False)


def test_max_metadata_on_xfs(xfs_devices, tmp_path):
    from swiftlike.obj.server import App, Conf
    from swiftlike.http import Request
    from swiftlike.timestamp import Timestamp
    # mount_check on: the device really is a mount point
    app = App(Conf(devices=xfs_devices, mount_check=True, fallocate_reserve='1%',
                   log_level='CRITICAL'))
    # 90 items, names + values totalling exactly 4096 bytes (the limits)
    meta = {}
    for i in range(90):
        name = 'k%02d' % i
        meta['X-Object-Meta-' + name] = 'v' * (45 - len(name) + (1 if i < 46 else 0))
    assert sum(len(k) - len('X-Object-Meta-') + len(v) for k, v in meta.items()) == 4096
    headers = {'X-Timestamp': Timestamp.now().internal, 'Content-Type': 'text/plain'}
    headers.update(meta)
    req = Request.blank('/xfs1/3/a/c/big-meta', environ={'REQUEST_METHOD': 'PUT'},
                        headers=headers, body=b'payload')
    resp = req.get_response(app)
    assert resp.status_int == 201, resp.body
    resp = Request.blank('/xfs1/3/a/c/big-meta').get_response(app)
    assert resp.status_int == 200 and resp.body == b'payload'
    for key, value in meta.items():
        assert resp.headers[key] == value
    # stored split over several xattr keys
    data = [os.path.join(root, f) for root, _d, files in os.walk(xfs_devices)
            for f in files if f.endswith('.data')]
    assert len(data) == 1
    keys = [k for k in os.listxattr(data[0]) if k.startswith(xmeta.XATTR_KEY)]
    assert len(keys) >= 3
