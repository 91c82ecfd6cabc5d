"""The console's view of the rings (pure: reads ring files, no network).

`ring_view(path)` turns one ring file into what the ring page shows: its
partition power and replica count, and every device with region, zone,
server, weight, the partitions it holds (replica assignments) and the share of
them its weight asks for (balance, as the ring builder reports it: the percent
it holds above or below that share). `servers(views)` lists the storage
servers (ip, port) the rings name, the targets of the console's probes.
"""
import collections
import glob
import os

from swiftlike.ring import io as ring_io

RING_SUFFIX = '.ring.gz'


def ring_files(swift_dir):
    """{ring name: path} of the rings in swift_dir, account/container/object first."""
    found = {}
    for path in sorted(glob.glob(os.path.join(swift_dir, '*' + RING_SUFFIX))):
        found[os.path.basename(path)[:-len(RING_SUFFIX)]] = path
    order = {'account': 0, 'container': 1, 'object': 2}
    return dict(sorted(found.items(), key=lambda kv: (order.get(kv[0], 3), kv[0])))


def ring_view(name, path):
    """A dict describing ring `name` read from `path` (RingError if unreadable)."""
    part_power, devs, tables = ring_io.read_ring_file(path)
    counts = collections.Counter()
    for table in tables:
        counts.update(table)
    live = [d for d in devs if d is not None]
    total_weight = sum(d['weight'] for d in live)
    assignments = len(tables) << part_power
    devices = []
    for dev in live:
        parts = counts.get(dev['id'], 0)
        wanted = assignments * dev['weight'] / total_weight if total_weight else 0.0
        if wanted:
            balance = 100.0 * (parts - wanted) / wanted
        else:
            balance = 0.0 if not parts else 999.99
        devices.append({
            'id': dev['id'], 'region': dev['region'], 'zone': dev['zone'],
            'ip': dev['ip'], 'port': dev['port'], 'device': dev['device'],
            'weight': dev['weight'], 'meta': dev.get('meta', ''),
            'partitions': parts, 'balance': round(balance, 2),
        })
    devices.sort(key=lambda d: (d['region'], d['zone'], d['ip'], d['port'], d['device']))
    return {
        'name': name, 'part_power': part_power, 'partitions': 1 << part_power,
        'replicas': len(tables), 'devices': devices,
        'regions': len({d['region'] for d in devices}),
        'zones': len({(d['region'], d['zone']) for d in devices}),
        'servers': len({(d['ip'], d['port']) for d in devices}),
        'weight': total_weight,
        'max_balance': max((abs(d['balance']) for d in devices if d['weight']), default=0.0),
    }


def servers(views):
    """Sorted [(ip, port, [ring names])] of every server the rings name."""
    found = {}
    for view in views:
        for dev in view['devices']:
            names = found.setdefault((dev['ip'], dev['port']), [])
            if view['name'] not in names:
                names.append(view['name'])
    return [(ip, port, names) for (ip, port), names in sorted(found.items())]


def devices_of(views, ring_name, ip, port):
    """The device names ring `ring_name` places on server ip:port."""
    for view in views:
        if view['name'] == ring_name:
            return sorted({d['device'] for d in view['devices']
                           if d['ip'] == ip and d['port'] == port})
    return []
