"""Helpers of the probe tests: client requests, daemon passes, replicas on disk."""
import hashlib
import json
import os
import subprocess
import time
import urllib.parse
import uuid

from swiftlike.hashing import hash_path
from swiftlike.obj.backend import resolve_files
from swiftlike.ring import Ring
from tests.functional.conftest import http

NODES = (1, 2, 3, 4)


def md5(data):
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class Probe:
    def __init__(self, cluster):
        self.cluster = cluster
        self.aio = cluster.aio
        self.url, self.token = cluster.get_auth()
        self.account = urllib.parse.urlparse(self.url).path.rsplit('/', 1)[-1]
        self.rings = {k: Ring(cluster.swift_dir, ring_name=k)
                      for k in ('object', 'container', 'account')}

    # -- client side ----------------------------------------------------------
    def request(self, method, path='', headers=None, body=None, timeout=30):
        hdrs = {'X-Auth-Token': self.token}
        hdrs.update(headers or {})
        path, sep, query = path.partition('?')
        return http(method, self.url + urllib.parse.quote(path) + sep + query, hdrs, body,
                    timeout)

    def new_container(self, prefix='probe'):
        name = '%s-%s' % (prefix, uuid.uuid4().hex[:8])
        status, _h, body = self.request('PUT', '/' + name)
        assert status in (201, 202), (status, body)
        return name

    def put(self, container, obj, data, headers=None):
        return self.request('PUT', '/%s/%s' % (container, obj), headers, data)[0]

    def get(self, container, obj):
        status, headers, body = self.request('GET', '/%s/%s' % (container, obj))
        return status, body

    def listing(self, container):
        """The whole listing, paged by marker (one page holds at most 10,000)."""
        entries = []
        while True:
            marker = urllib.parse.quote(entries[-1]['name']) if entries else ''
            status, _h, body = self.request(
                'GET', '/%s?format=json&marker=%s' % (container, marker))
            assert status == 200, (status, body)
            page = json.loads(body)
            if not page:
                return entries
            entries.extend(page)

    def settle(self):
        """Wait out the proxy's error limiting (error_suppression_interval, 5 s):
        right after a test has restarted servers the proxy still skips them and
        would write to a handoff instead of the primary a test expects."""
        time.sleep(5.5)

    # -- daemons ----------------------------------------------------------------
    def run(self, daemon, nodes=NODES, options=None, check=True, timeout=300):
        """One --once pass of `daemon` on each of `nodes`, all at the same time
        (as daemons run in production); returns their outputs in node order."""
        procs = []
        for index in nodes:
            argv = self.aio.daemon_argv(daemon, index, once=True)
            for key, value in (options or {}).items():
                argv += ['-o', '%s=%s' % (key, value)]
            procs.append(subprocess.Popen(argv, env=self.aio.supervisor.base_env,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                          text=True))
        outputs = []
        for proc in procs:
            try:
                out, _ = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
                raise AssertionError('%s --once did not finish in %ss' % (daemon, timeout))
            if check:
                assert proc.returncode == 0, out[-3000:]
            outputs.append(out)
        return outputs

    def replicate(self, kinds=('object',), rounds=2):
        for _ in range(rounds):
            for kind in kinds:
                self.run('%s-replicator' % kind)

    # -- disk side --------------------------------------------------------------
    def device_path(self, kind, device):
        for info in self.cluster.servers[kind]:
            if info.device == device:
                return info.device_path
        raise KeyError(device)

    def node_index(self, kind, device):
        for info in self.cluster.servers[kind]:
            if info.device == device:
                return info.index
        raise KeyError(device)

    def object_locations(self, container, obj, account=None):
        """(primary node indexes, {node index: [file names]} of every node holding files)."""
        account = account or self.account
        part, nodes = self.rings['object'].get_nodes(account, container, obj)
        name_hash = hash_path(account, container, obj)
        primaries = [self.node_index('object', n['device']) for n in nodes]
        holders = {}
        for info in self.cluster.object_servers:
            hash_dir = os.path.join(info.device_path, 'objects', str(part), name_hash[-3:],
                                    name_hash)
            try:
                names = os.listdir(hash_dir)
            except FileNotFoundError:
                continue
            fileset = resolve_files(names)
            winning = [n for n in (fileset.data, fileset.meta, fileset.ts) if n]
            if winning:
                holders[info.index] = sorted(winning)
        return primaries, holders

    def data_file(self, container, obj, node_index, account=None):
        account = account or self.account
        part = self.rings['object'].get_part(account, container, obj)
        name_hash = hash_path(account, container, obj)
        info = self.cluster.server('object', node_index)
        hash_dir = os.path.join(info.device_path, 'objects', str(part), name_hash[-3:],
                                name_hash)
        fileset = resolve_files(os.listdir(hash_dir))
        return os.path.join(hash_dir, fileset.data)

    def handoff_partitions(self):
        """{node index: [partitions held that are not the node's by the ring]}."""
        ring = self.rings['object']
        found = {}
        for info in self.cluster.object_servers:
            root = os.path.join(info.device_path, 'objects')
            try:
                parts = [int(p) for p in os.listdir(root) if p.isdigit()]
            except FileNotFoundError:
                continue
            for part in parts:
                devices = [n['device'] for n in ring.get_part_nodes(part)]
                has_objects = any(len(s) == 3 for s in os.listdir(os.path.join(root, str(part))))
                if info.device not in devices and has_objects:
                    found.setdefault(info.index, []).append(part)
        return found


def direct(node, method, path, headers=None, body=None, query=''):
    """A request straight to a storage server (node: a ring node dict)."""
    url = 'http://%s:%s%s' % (node['ip'], node['port'], urllib.parse.quote(path))
    if query:
        url += '?' + query
    return http(method, url, headers or {}, body)


def count_files(root):
    total = 0
    for _dirpath, _dirs, files in os.walk(root):
        total += len([f for f in files if not f.startswith('.')])
    return total
