"""Object-server fixtures: the app over both backends (in-memory and real files)."""
import os

import pytest

from swiftlike.http import Request
from swiftlike.obj.mem_diskfile import MemDiskFileManager
from swiftlike.obj.server import App, Conf
from swiftlike.timestamp import Timestamp


class Harness:
    def __init__(self, app, devices, kind):
        self.app = app
        self.devices = devices
        self.kind = kind
        self._ts = Timestamp.now().raw

    def ts(self):
        """A fresh, strictly increasing timestamp."""
        self._ts += 100
        return Timestamp(self._ts / 100000.0).internal

    def req(self, method, path, headers=None, body=None, environ=None):
        env = {'REQUEST_METHOD': method}
        env.update(environ or {})
        req = Request.blank(path, environ=env, headers=headers or {})
        if body is not None:
            req.body = body
        return req.get_response(self.app)

    def put(self, path, body=b'data', headers=None, ts=None):
        hdrs = {'X-Timestamp': ts or self.ts(), 'Content-Type': 'text/plain'}
        hdrs.update(headers or {})
        return self.req('PUT', path, hdrs, body)


def make_app(tmp_path, kind, **conf_kw):
    devices = tmp_path / 'devices'
    (devices / 'sda').mkdir(parents=True)
    conf = Conf(devices=str(devices), mount_check=False, fallocate_reserve='0',
                threads_per_disk=0 if kind == 'mem' else 2, log_level='CRITICAL',
                container_update_timeout=2.0, **conf_kw)
    backend = MemDiskFileManager() if kind == 'mem' else None
    return Harness(App(conf, backend=backend), str(devices), kind)


@pytest.fixture(params=['mem', 'fs'])
def obj(request, tmp_path):
    return make_app(tmp_path, request.param)


@pytest.fixture
def fsobj(tmp_path):
    return make_app(tmp_path, 'fs')


def data_files(devices, device='sda'):
    found = []
    for root, _dirs, files in os.walk(os.path.join(devices, device, 'objects')):
        found.extend(os.path.join(root, f) for f in files
                     if f.endswith(('.data', '.ts', '.meta')))
    return sorted(found)
