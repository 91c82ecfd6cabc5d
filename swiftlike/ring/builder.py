"""RingBuilder: the admin's state (devices, settings, current placement).

Pure: no file access except through save()/load(), which use ring.io. The
placement algorithm lives in ring.placement.
"""
import array
from collections import Counter
import math
import re
import time

from swiftlike.exceptions import RingError
from swiftlike.ring import io, placement

NONE_DEV = io.NONE_DEV
MAX_BALANCE = 999.99
_DEV_NAME = re.compile(r'^[^/\s]+$')
_HOST = re.compile(r'^[A-Za-z0-9.:_-]+$')


def _int(value, name, low, high):
    if isinstance(value, bool):
        raise RingError('%s must be an integer' % name)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise RingError('%s must be an integer, got %r' % (name, value))
    if isinstance(value, float) and number != value:
        raise RingError('%s must be an integer, got %r' % (name, value))
    if not low <= number <= high:
        raise RingError('%s must be between %d and %d, got %d' % (name, low, high, number))
    return number


def check_weight(value):
    try:
        weight = float(value)
    except (TypeError, ValueError):
        raise RingError('weight must be a number, got %r' % (value,))
    if not math.isfinite(weight) or weight < 0:
        raise RingError('weight must be a finite number >= 0, got %r' % (value,))
    return weight


def _host(value, name):
    if not isinstance(value, str) or not _HOST.match(value):
        raise RingError('%s must be an IP address or host name, got %r' % (name, value))
    return value


def normalize_dev(spec, dev_id):
    """Validate a device dict from the admin; return the stored form."""
    if not isinstance(spec, dict):
        raise RingError('a device must be a dict')
    for key in ('ip', 'port', 'device', 'weight'):
        if spec.get(key) in (None, ''):
            raise RingError('device is missing %s' % key)
    dev = {'id': dev_id,
           'region': _int(spec.get('region', 1), 'region', 0, 65535),
           'zone': _int(spec.get('zone', 1), 'zone', 0, 65535),
           'ip': _host(spec['ip'], 'ip'),
           'port': _int(spec['port'], 'port', 1, 65535)}
    dev['replication_ip'] = _host(spec.get('replication_ip') or dev['ip'], 'replication ip')
    dev['replication_port'] = _int(spec.get('replication_port') or dev['port'],
                                   'replication port', 1, 65535)
    name = spec['device']
    if not isinstance(name, str) or not _DEV_NAME.match(name) or name in ('.', '..'):
        raise RingError('bad device name %r' % (name,))
    dev['device'] = name
    dev['weight'] = check_weight(spec['weight'])
    meta = spec.get('meta', '')
    if not isinstance(meta, str):
        raise RingError('meta must be a string')
    dev['meta'] = meta
    return dev


class RingBuilder:
    def __init__(self, part_power, replicas, min_part_hours):
        self.part_power = _int(part_power, 'part_power', 0, io.MAX_PART_POWER)
        self.replicas = _int(replicas, 'replicas', 1, 64)
        self.min_part_hours = _int(min_part_hours, 'min_part_hours', 0, 255)
        self.devs = []
        self.tables = []  # one array('H') per replica once rebalanced
        self.part_ages = array.array('B', [255]) * self.parts
        self.moves_epoch = time.time()
        self.devs_changed = False

    @property
    def parts(self):
        return 1 << self.part_power

    # --- persistence -------------------------------------------------------

    def save(self, path):
        io.write_builder_file(path, {
            'part_power': self.part_power, 'replicas': self.replicas,
            'min_part_hours': self.min_part_hours, 'devs': self.devs,
            'moves_epoch': self.moves_epoch, 'tables': self.tables,
            'part_ages': self.part_ages, 'devs_changed': self.devs_changed})

    @classmethod
    def load(cls, path):
        state = io.read_builder_file(path)
        builder = cls(state['part_power'], state['replicas'], state['min_part_hours'])
        builder.devs = state['devs']
        builder.tables = state['tables']
        builder.part_ages = state['part_ages']
        builder.moves_epoch = state['moves_epoch']
        builder.devs_changed = state['devs_changed']
        return builder

    def write_ring(self, path):
        if not self.tables:
            raise RingError('no partitions assigned yet: rebalance first')
        if any(NONE_DEV in table for table in self.tables) or self._stale_devs():
            raise RingError('devices changed since the last rebalance: rebalance first')
        io.write_ring_file(path, self.part_power, self.devs, self.tables)

    # --- devices -----------------------------------------------------------

    def add_dev(self, spec):
        if len(self.devs) >= io.MAX_DEVS:
            raise RingError('too many devices (ids are 16-bit)')
        dev_id = spec.get('id')
        if dev_id is None:
            dev_id = len(self.devs)
        dev_id = _int(dev_id, 'id', 0, io.MAX_DEVS - 1)
        if dev_id < len(self.devs):
            raise RingError('device id %d is already taken' % dev_id)
        dev = normalize_dev(spec, dev_id)
        for other in self.devs:
            if other and (other['ip'], other['port'], other['device']) == \
                    (dev['ip'], dev['port'], dev['device']):
                raise RingError('device %s:%d/%s already exists as d%d' % (
                    dev['ip'], dev['port'], dev['device'], other['id']))
        self.devs.extend([None] * (dev_id - len(self.devs)))
        self.devs.append(dev)
        self.devs_changed = True
        return dev_id

    def _dev(self, dev_id):
        if not 0 <= dev_id < len(self.devs) or self.devs[dev_id] is None:
            raise RingError('no device with id %d' % dev_id)
        return self.devs[dev_id]

    def set_dev_weight(self, dev_id, weight):
        self._dev(dev_id)['weight'] = check_weight(weight)
        self.devs_changed = True

    def remove_dev(self, dev_id):
        self._dev(dev_id)
        self.devs[dev_id] = None
        self.devs_changed = True

    def present_devs(self):
        return [dev for dev in self.devs if dev is not None]

    def search_devs(self, search):
        """Devices matching a swift-ring-builder style search value:
        d<id>, r<region>, z<zone>, <ip>, :<port>, /<device>, _<meta>, or a
        combination such as r1z2-10.0.0.1:6200/sdb1 (leading '-' before ip)."""
        criteria = parse_search(search)
        return [dev for dev in self.present_devs()
                if all(dev[key] == value for key, value in criteria.items())]

    # --- rebalance ---------------------------------------------------------

    def _age_partitions(self, now):
        hours = int((now - self.moves_epoch) // 3600)
        if hours <= 0:
            return
        self.part_ages = array.array('B', (min(255, age + hours) for age in self.part_ages))
        self.moves_epoch += hours * 3600

    def pretend_min_part_hours_passed(self):
        self.part_ages = array.array('B', [255]) * self.parts
        self.moves_epoch = time.time()

    def _stale_devs(self):
        present = {dev['id'] for dev in self.present_devs()}
        for table in self.tables:
            if set(table) - present:
                return True
        return False

    def rebalance(self, seed=None, now=None):
        """Returns (replicas moved, balance %)."""
        self._age_partitions(time.time() if now is None else now)
        if not self.tables:
            self.tables = [array.array('H', [NONE_DEV]) * self.parts
                           for _ in range(self.replicas)]
        moved = placement.rebalance(self.tables, self.devs, self.part_ages,
                                    self.min_part_hours, seed)
        self.devs_changed = False
        return moved, self.get_balance()

    # --- reporting ---------------------------------------------------------

    def dev_parts(self):
        counts = {dev['id']: 0 for dev in self.present_devs()}
        for table in self.tables:
            for dev_id, count in _count(table).items():
                if dev_id in counts:
                    counts[dev_id] += count
        return counts

    def weight_shares(self):
        """Partition-replicas each device would hold by weight alone."""
        total = sum(dev['weight'] for dev in self.present_devs())
        slots = self.parts * self.replicas
        return {dev['id']: (slots * dev['weight'] / total if total else 0.0)
                for dev in self.present_devs()}

    def dev_balances(self):
        """{dev id: % above (+) or below (-) its weight share}."""
        parts, shares = self.dev_parts(), self.weight_shares()
        result = {}
        for dev_id, share in shares.items():
            if share:
                result[dev_id] = 100.0 * parts[dev_id] / share - 100.0
            else:
                result[dev_id] = MAX_BALANCE if parts[dev_id] else 0.0
        return result

    def get_balance(self):
        if not self.tables:
            return 0.0
        return max((abs(b) for b in self.dev_balances().values()), default=0.0)

    def targets(self):
        return placement.targets(self.devs, self.parts, self.replicas)

    def dispersion(self):
        """% of partitions not spread as widely as the devices allow."""
        if not self.tables or self._stale_devs():
            return 0.0
        tree = placement.Tree(self.devs, self.parts, self.replicas)
        bad = sum(1 for devs_of_part in zip(*self.tables)
                  if placement.dispersion_offender(tree, devs_of_part, {}) is not None)
        return 100.0 * bad / self.parts

    def validate(self):
        """Raise RingError if the placement breaks a hard rule."""
        if not self.tables:
            raise RingError('no partitions assigned yet: rebalance first')
        if len(self.tables) != self.replicas or \
                any(len(t) != self.parts for t in self.tables):
            raise RingError('partition tables have the wrong shape')
        present = {dev['id'] for dev in self.present_devs()}
        for replica, table in enumerate(self.tables):
            if NONE_DEV in table:
                raise RingError('replica %d of partition %d is unassigned'
                                % (replica, table.index(NONE_DEV)))
            unknown = set(table) - present
            if unknown:
                raise RingError('partitions assigned to removed device(s) %s: rebalance'
                                % ', '.join('d%d' % d for d in sorted(unknown)))
        for part, devs_of_part in enumerate(zip(*self.tables)):
            if len(set(devs_of_part)) != len(devs_of_part):
                raise RingError('partition %d has two replicas on one device' % part)


def _count(table):
    return Counter(table)


_SEARCH = re.compile(
    r'^(?:d(?P<id>\d+))?(?:r(?P<region>\d+))?(?:z(?P<zone>\d+))?'
    r'(?:-?(?P<ip>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*))?'
    r'(?::(?P<port>\d+))?(?:/(?P<device>[^_\s]+))?(?:_(?P<meta>.+))?$')


def parse_search(search):
    """Turn a search value into {field: value}; RingError if malformed."""
    if not isinstance(search, str) or not search:
        raise RingError('empty device search')
    match = _SEARCH.match(search)
    if not match or not any(v is not None for v in match.groupdict().values()):
        raise RingError('malformed device search %r' % search)
    criteria = {}
    for key, value in match.groupdict().items():
        if value is None:
            continue
        if key in ('id', 'region', 'zone', 'port'):
            criteria[key] = int(value)
        elif key == 'ip':
            criteria[key] = value.strip('[]')
        else:
            criteria[key] = value
    return criteria
