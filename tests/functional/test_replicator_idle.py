"""The object replicator's idle pass: a partition unchanged since its peers
last agreed is not compared again (no REPLICATE calls) until the recheck
interval passes; a changed one, or a peer that lost a file, still gets synced.
Each pass is one `run_once()` in a child process set up as the daemon's
entry point sets itself up (monkey-patched, with its metrics), against the
real servers: in the test runner's own process a daemon would leave green
threads, a metrics directory and hash secrets behind for the tests after it
(that made the suite hang at the end of a worker)."""
import glob
import json
import os
import select
import subprocess
import sys
import time

import pytest

from swiftlike.hashing import hash_path
from swiftlike.obj.suffix_hashes import invalidate_suffix
from swiftlike.ring import Ring
from tests.functional.proxy_helpers import Api, unique

PASS_DEADLINE = 120     # seconds

_CHILD = """
import json, sys
from swiftlike import concurrency
concurrency.monkey_patch()
from swiftlike import backend_http
from swiftlike.cli.daemons import build_daemon
# New connections and requests to peers, per pass.
calls = {'connections': 0, 'requests': 0}
def counted(func, key):
    def call(*args, **kwargs):
        calls[key] += 1
        return func(*args, **kwargs)
    return call
backend_http._new_connection = counted(backend_http._new_connection, 'connections')
backend_http.fetch = counted(backend_http.fetch, 'requests')
name, conf, overrides = json.loads(sys.argv[1])
daemon = build_daemon(name, conf, overrides)
# What each pass skipped: partitions (objects) or database paths.
skipped = []
method = 'replicate_db' if hasattr(daemon, 'replicate_db') else 'replicate_partition'
replicate = getattr(daemon, method)
class Seen:
    # The pass's stats as one call sees them (calls run side by side).
    def __init__(self, stats, what):
        self.stats, self.what = stats, what
    def __getitem__(self, key):
        return self.stats[key]
    def __setitem__(self, key, value):
        if key == 'unchanged':
            skipped.append(self.what)
        self.stats[key] = value
def watched(*args):
    what = args[-2] if method == 'replicate_db' else args[1]
    replicate(*args[:-1], Seen(args[-1], what))
setattr(daemon, method, watched)
for _line in sys.stdin:
    del skipped[:]
    stats = daemon.run_once()
    stats['skipped'] = skipped
    stats.update(calls)
    calls.update(connections=0, requests=0)
    print(json.dumps(stats), flush=True)
"""


class _Daemon:
    """A daemon in a child process (its memory of past passes lives there);
    each run_once() asks it for one pass and returns the pass's stats."""

    def __init__(self, name, conf_path, overrides):
        self.proc = subprocess.Popen(
            [sys.executable, '-c', _CHILD, json.dumps([name, conf_path, overrides])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def run_once(self):
        self.proc.stdin.write('pass\n')
        self.proc.stdin.flush()
        # A bounded wait: a pass over the test cluster takes seconds.
        ready, _, _ = select.select([self.proc.stdout], [], [], PASS_DEADLINE)
        assert ready, 'no pass finished within %d s' % PASS_DEADLINE
        line = self.proc.stdout.readline()
        assert line, 'the daemon process exited (%s)' % self.proc.wait(timeout=10)
        return json.loads(line)

    def stop(self):
        self.proc.kill()
        self.proc.wait(timeout=30)
        self.proc.stdin.close()
        self.proc.stdout.close()


_started = []


@pytest.fixture(autouse=True)
def _stop_daemons():
    yield
    while _started:
        _started.pop().stop()


def build_daemon(name, conf_path, overrides):
    daemon = _Daemon(name, conf_path, overrides)
    _started.append(daemon)
    return daemon


def _replicator(server, recheck):
    return build_daemon('object-replicator', server.conf_path,
                        {'unchanged_recheck_interval': str(recheck)})


def _object_on(cluster, api, server):
    """Put an object one of whose primaries is `server`; (its partition, the
    glob of its .data file on another primary)."""
    account = api.account_path.rsplit('/', 1)[-1]
    container = api.put_container()
    ring = Ring(cluster.swift_dir, 'object')
    while True:
        name = unique('o')
        part, nodes = ring.get_nodes(account, container, name)
        if any(n['port'] == server.port and n['device'] == server.device for n in nodes):
            break
    api.put_object(container, name, b'x' * 100)
    peer = next(s for s in cluster.object_servers for n in nodes
                if (n['port'], n['device']) == (s.port, s.device) and s is not server)
    pattern = os.path.join(peer.device_path, 'objects', str(part),
                           hash_path(account, container, name)[-3:],
                           hash_path(account, container, name), '*.data')
    return part, pattern


def test_unchanged_partitions_are_skipped_until_something_changes(cluster):
    api = Api(cluster)
    server = cluster.object_servers[0]
    part, _ = _object_on(cluster, api, server)
    replicator = _replicator(server, 3600)
    first = replicator.run_once()
    assert first['partitions'] > 0 and first['unchanged'] == 0
    second = replicator.run_once()
    # Everything that was in sync after the first pass is skipped now.
    assert second['unchanged'] == first['in_sync'] > 0
    assert part in second['skipped']
    # A new write makes its partition compared again; the others stay skipped.
    while True:
        new_part, _ = _object_on(cluster, api, server)
        if new_part != part:
            break
    third = replicator.run_once()
    assert new_part not in third['skipped'] and part in third['skipped']


def test_a_pass_keeps_its_connections_to_the_peers(cluster):
    api = Api(cluster)
    server = cluster.object_servers[0]
    container = api.put_container()
    for i in range(16):     # ~12 of them on this server, in as many partitions
        api.put_object(container, 'o%d' % i, b'x')
    first = _replicator(server, 0).run_once()
    # Every partition compared asks each of its 2 peers (of the 3 other
    # servers) for its hashes: many calls, over a few kept connections (at
    # most one per peer for each of the pass's 2 green threads).
    assert first['requests'] >= 2 * first['partitions'] >= 20
    assert first['connections'] <= 3 * 2


def test_a_peer_we_compared_with_does_not_compare_again(cluster):
    api = Api(cluster)
    server = cluster.object_servers[0]
    part, pattern = _object_on(cluster, api, server)
    peer = next(s for s in cluster.object_servers if pattern.startswith(s.device_path + os.sep))
    first = _replicator(server, 3600).run_once()
    assert part not in first['skipped'] and first['failures'] == 0
    # Our REPLICATE told the peer our hashes' fingerprint; its are the same,
    # so its replicator leaves the partition to us.
    assert part in _replicator(peer, 3600).run_once()['skipped']
    # Once its copy differs, it compares the partition itself.
    lost = glob.glob(pattern)
    os.unlink(lost[0])
    suffix_dir = os.path.dirname(os.path.dirname(lost[0]))
    invalidate_suffix(os.path.dirname(suffix_dir), os.path.basename(suffix_dir))
    assert part not in _replicator(peer, 3600).run_once()['skipped']


def test_a_peer_that_lost_a_file_is_repaired_by_the_recheck(cluster):
    api = Api(cluster)
    server = cluster.object_servers[0]
    _part, pattern = _object_on(cluster, api, server)
    skipping = _replicator(server, 3600)
    skipping.run_once()
    lost = glob.glob(pattern)
    assert len(lost) == 1
    # Lost as a quarantine loses it: the file goes, its suffix is marked dirty.
    os.unlink(lost[0])
    suffix_dir = os.path.dirname(os.path.dirname(lost[0]))
    invalidate_suffix(os.path.dirname(suffix_dir), os.path.basename(suffix_dir))
    # The peer's loss does not change our partition: we skip it...
    assert skipping.run_once()['files_pushed'] == 0
    assert glob.glob(pattern) == []
    # ...until the recheck, which compares and pushes the file back.
    rechecking = _replicator(server, 0)
    assert rechecking.run_once()['unchanged'] == 0
    assert len(glob.glob(pattern)) == 1


def _container_db_on(cluster, api, server):
    """A new container one of whose primaries is container server `server`; its DB path."""
    account = api.account_path.rsplit('/', 1)[-1]
    ring = Ring(cluster.swift_dir, 'container')
    while True:
        name = unique('c')
        part, nodes = ring.get_nodes(account, name)
        if any(n['port'] == server.port and n['device'] == server.device for n in nodes):
            break
    api.put_container(name)
    db_hash = hash_path(account, name)
    path = os.path.join(server.device_path, 'containers', str(part), db_hash[-3:], db_hash,
                        db_hash + '.db')
    assert os.path.exists(path)
    # Written "long ago": the replicator trusts only files quiet for a second.
    old = time.time() - 10
    for name_ in (path, path + '-wal', path + '.pending'):
        if os.path.exists(name_):
            os.utime(name_, (old, old))
    return name, path


def test_unchanged_databases_are_skipped_until_a_row_arrives(cluster):
    api = Api(cluster)
    server = cluster.container_servers[0]
    container, path = _container_db_on(cluster, api, server)
    replicator = build_daemon('container-replicator', server.conf_path,
                              {'unchanged_recheck_interval': '3600'})
    first = replicator.run_once()
    assert first['dbs'] > 0 and first['unchanged'] == 0 and first['failures'] == 0
    second = replicator.run_once()
    assert path in second['skipped'] and second['failures'] == 0
    api.put_object(container, 'o', b'x')     # a row in that container's DB
    third = replicator.run_once()
    assert path not in third['skipped'] and third['failures'] == 0
    rechecking = build_daemon('container-replicator', server.conf_path,
                              {'unchanged_recheck_interval': '0'})
    rechecking.run_once()
    assert rechecking.run_once()['unchanged'] == 0
