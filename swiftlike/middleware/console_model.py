"""The console's pages as numbers (pure: a snapshot in, tables out).

Each function takes the Collector's snapshot (and the proxy's own state) and
returns plain data the page renderer shows and the JSON endpoint serves: the
same figures, so the numbers a page shows at load and after each poll agree.
A figure a server does not report is None (shown as "n/a"), never 0.
"""
from swiftlike.middleware.console_data import node_groups


def _num(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _sum(values):
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def object_servers(snap):
    return {key: s for key, s in snap['servers'].items() if 'object' in s['rings']}


def by_node(snap):
    """Server keys, the servers of each node together."""
    return [key for group in node_groups(snap['servers']).values() for key in group]


def node_recon_index(snap):
    """{(ip, device): recon of the server that reports that device's usage}:
    the servers of one node share its devices, so the object server's recon
    speaks for the node's container and account servers too."""
    by_device = {}
    for key, recon in snap['recon'].items():
        usage = recon.get('diskusage')
        for entry in usage if isinstance(usage, list) else ():
            if isinstance(entry, dict) and 'device' in entry:
                by_device.setdefault((snap['servers'][key]['ip'], entry['device']), recon)
    return by_device


def server_recon(snap, key, by_device):
    """The node-wide recon figures for server `key`."""
    recon = snap['recon'].get(key, {})
    if 'diskusage' in recon:
        return recon
    server = snap['servers'][key]
    for device in server.get('devices', ()):
        found = by_device.get((server['ip'], device))
        if found is not None:
            return found
    return recon


def device_rows(snap, proxy):
    """One row per (ring, server, device) of the object ring and the other
    rings: up, mounted, fill, error limiting, I/O."""
    seen = proxy.get('nodes', {})
    by_device = node_recon_index(snap)
    rows = []
    for view in snap['rings']:
        for dev in view.get('devices', ()):
            key = '%s:%d' % (dev['ip'], dev['port'])
            server = snap['servers'].get(key, {})
            recon = snap['recon'].get(key, {})
            if 'diskusage' not in recon:
                recon = by_device.get((dev['ip'], dev['device']), recon)
            usage = _find_device(recon.get('diskusage'), dev['device'])
            unmounted = _find_device(recon.get('unmounted'), dev['device'])
            io = _device_io(recon.get('diskio'), dev['device'])
            size, used = _num(usage.get('size')), _num(usage.get('used'))
            if 'diskusage' in recon or 'unmounted' in recon:
                mounted = not unmounted and usage.get('mounted', True) is True
            else:
                mounted = None
            node = seen.get((dev['ip'], dev['port'], dev['device']), {})
            rows.append({
                'ring': view['name'], 'server': key, 'device': dev['device'],
                'region': dev['region'], 'zone': dev['zone'], 'weight': dev['weight'],
                'partitions': dev['partitions'], 'up': bool(server.get('up')),
                'mounted': mounted, 'size': size, 'used': used,
                'avail': _num(usage.get('avail')),
                'fill': round(100.0 * used / size, 1) if size and used is not None else None,
                'errors': node.get('recent_errors', 0),
                'error_limited': bool(node.get('error_limited')),
                'slow': node.get('slow') if node.get('samples') else None,
                'p50': node.get('p50') if node.get('samples') else None,
                'p99': node.get('p99') if node.get('samples') else None,
                'io': io,
            })
    return rows


def _find_device(entries, device):
    if not isinstance(entries, list):
        return {}
    for entry in entries:
        if isinstance(entry, dict) and entry.get('device') == device:
            return entry
    return {}


IO_FIELDS = ('reads_per_s', 'writes_per_s', 'read_mb_per_s', 'write_mb_per_s', 'await_ms',
             'util_pct')


def _device_io(diskio, device):
    """The per-disk I/O figures recon/diskio reports for `device` ({} if none)."""
    if not isinstance(diskio, dict):
        return {}
    devices = diskio.get('devices', diskio)
    entry = devices.get(device) if isinstance(devices, dict) else _find_device(devices, device)
    if not isinstance(entry, dict):
        return {}
    return {k: _num(entry.get(k)) for k in IO_FIELDS if _num(entry.get(k)) is not None}


def node_rows(snap, proxy):
    """One row per storage server: up, probe time, load, CPU steal."""
    rows = []
    by_device = node_recon_index(snap)
    for key in by_node(snap):
        server = snap['servers'][key]
        recon = server_recon(snap, key, by_device)
        load = recon.get('load') if isinstance(recon.get('load'), dict) else {}
        diskio = recon.get('diskio') if isinstance(recon.get('diskio'), dict) else {}
        cpu = diskio.get('cpu') if isinstance(diskio.get('cpu'), dict) else {}
        rows.append({
            'server': key, 'rings': server['rings'], 'up': server['up'],
            'probe_ms': server['probe_ms'], 'error': server['error'],
            'load1': _num(load.get('1m')),
            'steal': _num(cpu.get('steal_pct', diskio.get('steal_pct'))),
        })
    return rows


def daemon_rows(snap):
    """Per object/container/account server: replication, auditor, updater,
    async pendings and quarantines, as their recon reports them."""
    rows = []
    for key in by_node(snap):
        server = snap['servers'][key]
        recon = snap['recon'].get(key, {})
        for ring in server['rings']:
            kind = ring.split('-', 1)[0]
            repl = recon.get('replication/%s' % kind)
            repl = repl if isinstance(repl, dict) else {}
            stats = repl.get('replication_stats')
            stats = stats if isinstance(stats, dict) else {}
            row = {'server': key, 'kind': kind, 'up': server['up'],
                   'replication_last': _num(repl.get('replication_last',
                                                     repl.get('object_replication_last'))),
                   'replication_time': _num(repl.get('replication_time',
                                                     repl.get('object_replication_time'))),
                   'attempted': _num(stats.get('attempted')),
                   'success': _num(stats.get('success')),
                   'failure': _num(stats.get('failure'))}
            if kind == 'object':
                audit = recon.get('auditor/object')
                audit = audit if isinstance(audit, dict) else {}
                audit_all = audit.get('object_auditor_stats_ALL')
                audit_all = audit_all if isinstance(audit_all, dict) else {}
                asyncs = recon.get('async')
                quarantined = recon.get('quarantined')
                quarantined = quarantined if isinstance(quarantined, dict) else {}
                row.update({
                    'audit_passes': _num(audit_all.get('passes')),
                    'audit_errors': _num(audit_all.get('errors')),
                    'audit_quarantined': _num(audit_all.get('quarantined')),
                    'async_pending': _num(asyncs.get('async_pending'))
                    if isinstance(asyncs, dict) else None,
                    'quarantined_objects': _num(quarantined.get('objects')),
                    'quarantined_containers': _num(quarantined.get('containers')),
                    'quarantined_accounts': _num(quarantined.get('accounts')),
                })
            rows.append(row)
    return rows


def overview(snap, proxy):
    """Cluster totals."""
    servers = list(snap['servers'].values())
    devices = device_rows(snap, proxy)
    obj_devices = [d for d in devices if d['ring'] == 'object']
    daemons = daemon_rows(snap)
    obj_rows = [d for d in daemons if d['kind'] == 'object']
    size = _sum(d['size'] for d in obj_devices)
    used = _sum(d['used'] for d in obj_devices)
    return {
        'servers_total': len(servers),
        'servers_up': sum(1 for s in servers if s['up']),
        'servers_down': sum(1 for s in servers if not s['up']),
        'devices_total': len(obj_devices),
        'devices_unmounted': sum(1 for d in obj_devices if d['mounted'] is False),
        'error_limited': sum(1 for v in proxy.get('nodes', {}).values() if v['error_limited']),
        'slow': sum(1 for v in proxy.get('nodes', {}).values() if v['slow']),
        'size': size, 'used': used,
        'fill': round(100.0 * used / size, 1) if size and used is not None else None,
        'async_pending': _sum(d.get('async_pending') for d in obj_rows),
        'quarantined': _sum(_sum((d.get('quarantined_objects'), d.get('quarantined_containers'),
                                  d.get('quarantined_accounts'))) for d in obj_rows),
    }


def backend_rows(proxy):
    """This proxy worker's backend requests per node: count, rate, errors,
    latency percentiles (ms), slow."""
    rows = []
    for key, node in sorted(proxy.get('nodes', {}).items()):
        rows.append({'node': node['node'], 'count': node['count'], 'rate': node.get('rate'),
                     'errors': node['errors'],
                     'p50': 1000 * node['p50'] if node['samples'] else None,
                     'p99': 1000 * node['p99'] if node['samples'] else None,
                     'slow': node['slow'], 'error_limited': node['error_limited']})
    return rows
