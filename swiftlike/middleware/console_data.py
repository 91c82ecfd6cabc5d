"""What the console knows of the cluster, gathered on demand and cached briefly.

`Collector.snapshot()` returns one consistent picture, at most `cache_seconds`
old (one refresh serves every page and poll within that time):
- `rings`: console_ring.ring_view of every ring file in swift_dir (re-read
  when a file's mtime changes);
- `servers`: every storage server the rings name, probed concurrently with a
  short timeout (`GET /recon/version`; any HTTP answer means up, a refused or
  timed-out connection means down);
- `recon`: per server, Swift's recon JSON (swiftlike/recon): the figures of
  its node (disk usage, unmounted devices, per-disk I/O, load: asked once per
  node, of one of its servers that is up) and of its own kind (async
  pendings, replication, auditor and updater progress, quarantines: asked of
  each server that is up); a figure nobody reports is missing, never guessed.
  A figure lost to a timeout or a 5xx of a server that is up keeps its last
  value (a busy server does not make the page blink to n/a).
The proxy's own state (error-limited nodes, request figures) is not gathered
here: it is read in-process by console.py at each request.
"""
import json
import os
import time

from swiftlike import concurrency
from swiftlike.backend_http import ConnectionPool, fetch
from swiftlike.exceptions import RingError, SwiftlikeError
from swiftlike.middleware import console_ring

# Figures of a whole node (its devices, its host), asked of one of its servers.
NODE_WIDE = ('diskusage', 'unmounted', 'diskio', 'load')
# What each kind of server is asked besides (recon paths under /recon/).
RECON = {
    'object': ('async', 'replication/object', 'auditor/object', 'updater/object',
               'quarantined'),
    'container': ('replication/container', 'updater/container'),
    'account': ('replication/account',),
}
PROBE = 'version'
# Extra query and seconds for endpoints that measure over an interval (diskio
# samples /proc twice, unless its previous sample, from our last poll, is recent).
MEASURED = {'diskio': ('interval=0.5', 0.5)}
MAX_RECON_BODY = 1 << 20
# A server that answered the probe gets this much longer for its figures.
FIGURE_EXTRA_TIME = 1.0


class Collector:
    def __init__(self, swift_dir, probe_timeout=1.0, cache_seconds=2.0, clock=time.monotonic):
        self.swift_dir = swift_dir
        self.probe_timeout = probe_timeout
        self.cache_seconds = cache_seconds
        self.clock = clock
        self._rings = {}        # name -> (mtime_ns, view)
        self._snapshot = None
        self._taken = None
        self._refreshing = None     # Event while a refresh runs
        self.pool = ConnectionPool(2)   # keep-alive: a poll costs no new connections

    # -- rings -------------------------------------------------------------------------

    def ring_views(self):
        """[view] of the rings in swift_dir; a ring that cannot be read is
        reported as {'name', 'error'} instead."""
        views = []
        for name, path in console_ring.ring_files(self.swift_dir).items():
            try:
                mtime = os.stat(path).st_mtime_ns
                cached = self._rings.get(name)
                if cached is None or cached[0] != mtime:
                    cached = self._rings[name] = (mtime, console_ring.ring_view(name, path))
                views.append(cached[1])
            except (OSError, RingError) as err:
                views.append({'name': name, 'error': str(err), 'devices': []})
        return views

    # -- the snapshot -----------------------------------------------------------------

    def snapshot(self):
        now = self.clock()
        if self._snapshot is not None and now - self._taken < self.cache_seconds:
            return self._snapshot
        if self._refreshing is not None:
            # Another request refreshes right now: share its result.
            if self._snapshot is not None:
                return self._snapshot
            return self._refreshing.wait()
        event = self._refreshing = concurrency.Event()
        try:
            snap = self._take()
            self._snapshot, self._taken = snap, self.clock()
        finally:
            self._refreshing = None
            event.send(self._snapshot)
        return snap

    def _take(self):
        views = self.ring_views()
        targets = console_ring.servers([v for v in views if 'error' not in v])
        servers = {}
        for ip, port, rings in targets:
            devices = sorted({d for ring in rings
                              for d in console_ring.devices_of(views, ring, ip, port)})
            servers['%s:%d' % (ip, port)] = {'ip': ip, 'port': port, 'rings': rings,
                                             'devices': devices}
        # 1. Who answers at all.
        pile = concurrency.GreenPile(max(1, min(64, len(servers))))
        for key in servers:
            pile.spawn(self._probe, servers[key])
        recon = {}
        for key, (state, version) in zip(list(servers), pile):
            servers[key].update(state)
            recon[key] = {PROBE: version} if version is not None else {}
        # 2. What each answers: the node-wide figures once per node (from one
        # of its servers that is up), its own kind's from every server.
        jobs = []
        for group in node_groups(servers).values():
            up = [key for key in group if servers[key]['up']]
            if up:
                jobs.extend((up[0], what, group) for what in NODE_WIDE)
        for key, server in servers.items():
            if server['up']:
                wanted = []
                for ring in server['rings']:
                    kind = ring.split('-', 1)[0]
                    wanted.extend(w for w in RECON.get(kind, ()) if w not in wanted)
                jobs.extend((key, what, [key]) for what in wanted)
        pile = concurrency.GreenPile(max(1, min(64, len(jobs))))
        for key, what, _to in jobs:
            pile.spawn(self._get, servers[key], what, FIGURE_EXTRA_TIME)
        before = self._snapshot['recon'] if self._snapshot is not None else {}
        for (key, what, to), (status, body, _error) in zip(jobs, pile):
            if status is None or status >= 500:
                # Up, but this answer was lost (a busy server, a timeout):
                # keep the last figure it gave rather than blink to n/a.
                body = before.get(key, {}).get(what)
            if body is not None:
                for other in to:
                    recon[other][what] = body
        return {'time': time.time(), 'rings': views, 'servers': servers, 'recon': recon}

    def _probe(self, server):
        start = time.monotonic()
        status, body, error = self._get(server, PROBE)
        return ({'up': status is not None, 'error': error or '',
                 'probe_ms': round(1000 * (time.monotonic() - start), 1)},
                body if status == 200 else None)

    def _get(self, server, what, more_time=0.0):
        """(status or None when unreachable, decoded JSON or None, error text)."""
        query, extra = MEASURED.get(what, (None, 0.0))
        extra += more_time
        try:
            node = {'ip': server['ip'], 'port': server['port']}
            status, _headers, data = fetch(node, 'GET', '/recon/' + what, query_string=query,
                                           conn_timeout=self.probe_timeout,
                                           timeout=self.probe_timeout + extra,
                                           pool=self.pool)
        except (SwiftlikeError, OSError) as err:
            return None, None, str(err)[:200]
        if status != 200 or len(data) > MAX_RECON_BODY:
            return status, None, ''
        try:
            return status, json.loads(data), ''
        except ValueError:
            return status, None, 'not JSON'


def node_groups(servers):
    """{node: [server keys]}: the servers of one node share its devices (one
    host in a real cluster; in the aio, 127.0.0.1 with its own devices)."""
    groups = {}
    for key, server in sorted(servers.items(), key=lambda kv: _order(kv[1])):
        groups.setdefault((server['ip'], tuple(server['devices'])), []).append(key)
    return groups


def _order(server):
    """Object servers first (they answer for the node when up), then by port."""
    return ('object' not in server['rings'], server['port'])
