"""`swiftlike-ring-builder BUILDER_FILE [COMMAND ...]`: the ring admin tool.

Follows the habits of swift-ring-builder (see doc/ring.md). Exit status:
0 done, 1 done with a warning (balance above 1%, nothing to rebalance),
2 error (message on stderr, builder file untouched).
"""
import argparse
import os
import re
import sys

from swiftlike.exceptions import RingError
from swiftlike.ring.builder import RingBuilder, check_weight

EXIT_OK, EXIT_WARNING, EXIT_ERROR = 0, 1, 2
BALANCE_WARNING = 1.0

USAGE = """usage: swiftlike-ring-builder BUILDER_FILE [COMMAND ...]

commands:
  (none)                          show the builder: devices, partitions, balance, dispersion
  create PART_POWER REPLICAS MIN_PART_HOURS
  add [r<region>]z<zone>-<ip>:<port>[R<repl_ip>:<repl_port>]/<device>[_<meta>] WEIGHT [...]
  add --region R --zone Z --ip IP --port PORT [--replication-ip IP] [--replication-port PORT]
      --device NAME --weight W [--meta META]
  set_weight SEARCH WEIGHT [SEARCH WEIGHT ...] [--yes]
  remove SEARCH [SEARCH ...] [--yes]
  search SEARCH
  rebalance [--seed N]           (also writes <name>.ring.gz)
  set_min_part_hours HOURS
  pretend_min_part_hours_passed
  validate
  write_ring

SEARCH: d<id>, r<region>, z<zone>, <ip>, :<port>, /<device>, _<meta> or a
combination such as r1z2-10.0.0.1:6200/sdb1.
"""

_HOST = r'(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)'
_ADD_SPEC = re.compile(
    r'^(?:r(?P<region>\d+))?z(?P<zone>\d+)-(?P<ip>' + _HOST + r'):(?P<port>\d+)'
    r'(?:R(?P<replication_ip>' + _HOST + r'):(?P<replication_port>\d+))?'
    r'/(?P<device>[^_/\s]+)(?:_(?P<meta>.*))?$')


class UsageError(RingError):
    pass


def parse_add_spec(spec):
    match = _ADD_SPEC.match(spec)
    if not match:
        raise UsageError('malformed device spec %r (want r1z1-10.0.0.1:6200/sdb1)' % spec)
    dev = {k: v for k, v in match.groupdict().items() if v is not None}
    for key in ('ip', 'replication_ip'):
        if key in dev:
            dev[key] = dev[key].strip('[]')
    for key in ('region', 'zone', 'port', 'replication_port'):
        if key in dev:
            dev[key] = int(dev[key])
    dev.setdefault('region', 1)
    return dev


def _number(text, name, kind=int):
    try:
        return kind(text)
    except (TypeError, ValueError):
        raise UsageError('%s must be a number, got %r' % (name, text))


def _ring_path(builder_path):
    base = builder_path[:-len('.builder')] if builder_path.endswith('.builder') \
        else builder_path
    return base + '.ring.gz'


def _dev_label(dev):
    return 'd%d r%d z%d %s:%d/%s' % (dev['id'], dev['region'], dev['zone'], dev['ip'],
                                     dev['port'], dev['device'])


def _flags(args, names):
    """Split args into positional values and the given --flags (value-less)."""
    present = {name: False for name in names}
    rest = []
    for arg in args:
        if arg in present:
            present[arg] = True
        else:
            rest.append(arg)
    return rest, present


class Command:
    def __init__(self, builder_path, out=sys.stdout):
        self.path = builder_path
        self.out = out

    def say(self, text=''):
        self.out.write(text + '\n')

    def load(self):
        if not os.path.exists(self.path):
            raise RingError('%s: builder file not found (use create)' % self.path)
        return RingBuilder.load(self.path)

    # --- commands ----------------------------------------------------------

    def create(self, args):
        if len(args) != 3:
            raise UsageError('usage: create PART_POWER REPLICAS MIN_PART_HOURS')
        part_power, replicas, hours = (_number(a, n) for a, n in zip(
            args, ('part_power', 'replicas', 'min_part_hours')))
        builder = RingBuilder(part_power, replicas, hours)
        builder.save(self.path)
        self.say('created %s: %d partitions, %d replicas, min_part_hours %d'
                 % (self.path, builder.parts, builder.replicas, builder.min_part_hours))
        return EXIT_OK

    def _add_flag_form(self, args):
        parser = _ArgParser(prog='add', add_help=False)
        for flag in ('--region', '--zone', '--port', '--replication-port'):
            parser.add_argument(flag, type=str)
        for flag in ('--ip', '--replication-ip', '--device', '--weight', '--meta'):
            parser.add_argument(flag, type=str)
        opts = parser.parse_args(args)
        dev = {'region': opts.region or '1', 'zone': opts.zone, 'ip': opts.ip,
               'port': opts.port, 'device': opts.device, 'weight': opts.weight,
               'replication_ip': opts.replication_ip,
               'replication_port': opts.replication_port, 'meta': opts.meta or ''}
        for key in ('zone', 'ip', 'port', 'device', 'weight'):
            if dev[key] is None:
                raise UsageError('add: --%s is required' % key)
        for key in ('region', 'zone', 'port', 'replication_port'):
            if dev[key] is not None:
                dev[key] = _number(dev[key], key.replace('_', ' '))
        dev['weight'] = check_weight(dev['weight'])
        return [dev]

    def add(self, args):
        if not args:
            raise UsageError('usage: add r1z1-10.0.0.1:6200/sdb1 WEIGHT [...]')
        if args[0].startswith('--'):
            devs = self._add_flag_form(args)
        else:
            if len(args) % 2:
                raise UsageError('add takes DEVICE_SPEC WEIGHT pairs')
            devs = []
            for spec, weight in zip(args[::2], args[1::2]):
                dev = parse_add_spec(spec)
                dev['weight'] = check_weight(weight)
                devs.append(dev)
        builder = self.load()
        added = [builder.add_dev(dev) for dev in devs]  # all or nothing: saved after
        builder.save(self.path)
        for dev_id in added:
            dev = builder.devs[dev_id]
            self.say('Device %s weight %s got id %d' % (_dev_label(dev), dev['weight'], dev_id))
        return EXIT_OK

    def _matches(self, builder, search, confirmed):
        devs = builder.search_devs(search)
        if not devs:
            raise RingError('no device matches %r' % search)
        if len(devs) > 1 and not confirmed:
            raise RingError('%r matches %d devices (%s); add --yes to change them all'
                            % (search, len(devs), ', '.join('d%d' % d['id'] for d in devs)))
        return devs

    def set_weight(self, args):
        args, flags = _flags(args, ['--yes'])
        if not args or len(args) % 2:
            raise UsageError('usage: set_weight SEARCH WEIGHT [SEARCH WEIGHT ...]')
        builder = self.load()
        changed = []
        for search, weight in zip(args[::2], args[1::2]):
            weight = check_weight(weight)
            for dev in self._matches(builder, search, flags['--yes']):
                builder.set_dev_weight(dev['id'], weight)
                changed.append(dev)
        builder.save(self.path)
        for dev in changed:
            self.say('%s weight set to %s' % (_dev_label(dev), dev['weight']))
        return EXIT_OK

    def remove(self, args):
        args, flags = _flags(args, ['--yes'])
        if not args:
            raise UsageError('usage: remove SEARCH [SEARCH ...]')
        builder = self.load()
        removed = []
        for search in args:
            for dev in self._matches(builder, search, flags['--yes']):
                builder.remove_dev(dev['id'])
                removed.append(dev)
        builder.save(self.path)
        for dev in removed:
            self.say('%s marked for removal; rebalance to move its partitions' % _dev_label(dev))
        return EXIT_OK

    def search(self, args):
        if len(args) != 1:
            raise UsageError('usage: search SEARCH')
        devs = self.load().search_devs(args[0])
        if not devs:
            raise RingError('no device matches %r' % args[0])
        for dev in devs:
            self.say('%s weight %s meta %r' % (_dev_label(dev), dev['weight'], dev['meta']))
        return EXIT_OK

    def rebalance(self, args):
        parser = _ArgParser(prog='rebalance', add_help=False)
        parser.add_argument('--seed', type=str)
        opts = parser.parse_args(args)
        seed = None if opts.seed is None else _number(opts.seed, 'seed')
        builder = self.load()
        first = not builder.tables
        changed = builder.devs_changed
        ring_path = _ring_path(self.path)
        moved, balance = builder.rebalance(seed=seed)
        builder.validate()
        if not first and not changed and moved == 0 and os.path.exists(ring_path):
            builder.save(self.path)
            self.say('No partitions could be reassigned (nothing to do, or min_part_hours '
                     '%d not yet passed); balance %.2f%%' % (builder.min_part_hours, balance))
            return EXIT_WARNING
        builder.save(self.path)
        builder.write_ring(ring_path)
        if first:
            self.say('Assigned %d partition-replicas to %d devices.'
                     % (builder.parts * builder.replicas, len(builder.present_devs())))
        self.say('Reassigned %d replicas. Balance is now %.2f%%. Dispersion is now %.2f%%.'
                 % (moved, balance, builder.dispersion()))
        self.say('Wrote %s' % ring_path)
        if balance > BALANCE_WARNING:
            self.say('NOTE: balance is above %.0f%%; rebalance again after min_part_hours '
                     '(%d), or the weights cannot be met while keeping replicas dispersed'
                     % (BALANCE_WARNING, builder.min_part_hours))
            return EXIT_WARNING
        return EXIT_OK

    def set_min_part_hours(self, args):
        if len(args) != 1:
            raise UsageError('usage: set_min_part_hours HOURS')
        builder = self.load()
        hours = _number(args[0], 'min_part_hours')
        if not 0 <= hours <= 255:
            raise RingError('min_part_hours must be between 0 and 255')
        builder.min_part_hours = hours
        builder.save(self.path)
        self.say('min_part_hours set to %d' % hours)
        return EXIT_OK

    def pretend_min_part_hours_passed(self, args):
        if args:
            raise UsageError('pretend_min_part_hours_passed takes no arguments')
        builder = self.load()
        builder.pretend_min_part_hours_passed()
        builder.save(self.path)
        self.say('every partition may move again at the next rebalance')
        return EXIT_OK

    def validate(self, args):
        if args:
            raise UsageError('validate takes no arguments')
        builder = self.load()
        builder.validate()
        self.say('%s: OK (%d partitions, %d replicas, %d devices)'
                 % (self.path, builder.parts, builder.replicas, len(builder.present_devs())))
        return EXIT_OK

    def write_ring(self, args):
        if args:
            raise UsageError('write_ring takes no arguments')
        builder = self.load()
        ring_path = _ring_path(self.path)
        builder.write_ring(ring_path)
        self.say('Wrote %s' % ring_path)
        return EXIT_OK

    def summary(self, args):
        builder = self.load()
        devs = builder.present_devs()
        regions = {d['region'] for d in devs}
        zones = {(d['region'], d['zone']) for d in devs}
        balance = builder.get_balance()
        self.say('%s, %d partitions, %d replicas, %d regions, %d zones, %d devices, '
                 '%.2f balance, %.2f dispersion'
                 % (self.path, builder.parts, builder.replicas, len(regions), len(zones),
                    len(devs), balance, builder.dispersion()))
        self.say('The minimum number of hours before a partition can be reassigned is %d'
                 % builder.min_part_hours)
        if not builder.tables:
            self.say('Not rebalanced yet.')
        elif builder.devs_changed or builder._stale_devs():
            self.say('Devices changed since the last rebalance.')
        self.say('Devices:   id region zone      ip address:port  replication ip:port'
                 '  name  weight  partitions  balance  meta')
        parts = builder.dev_parts()
        balances = builder.dev_balances()
        for dev in devs:
            self.say('         %4d %6d %4d %21s %20s %5s %7.2f %11d %8.2f  %s' % (
                dev['id'], dev['region'], dev['zone'], '%s:%d' % (dev['ip'], dev['port']),
                '%s:%d' % (dev['replication_ip'], dev['replication_port']), dev['device'],
                dev['weight'], parts.get(dev['id'], 0), balances.get(dev['id'], 0.0),
                dev['meta']))
        return EXIT_OK


COMMANDS = ('create', 'add', 'set_weight', 'remove', 'search', 'rebalance',
            'set_min_part_hours', 'pretend_min_part_hours_passed', 'validate', 'write_ring')


class _ArgParser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError('%s: %s' % (self.prog, message))


def main(argv=None, out=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    out = out or sys.stdout
    if not argv or argv[0] in ('-h', '--help', 'help') or argv[1:2] in (['-h'], ['--help']):
        out.write(USAGE)
        return EXIT_OK if argv else EXIT_ERROR
    path, command, args = argv[0], (argv[1] if len(argv) > 1 else None), argv[2:]
    runner = Command(path, out)
    try:
        if command is None:
            status = runner.summary([])
        elif command in COMMANDS:
            status = getattr(runner, command)(args)
        else:
            raise UsageError('unknown command %r (try --help)' % command)
    except RingError as err:
        sys.stderr.write('error: %s\n' % err.reason)
        return EXIT_ERROR
    except BrokenPipeError:  # e.g. piped into head
        return EXIT_OK
    except OSError as err:
        sys.stderr.write('error: %s: %s\n' % (getattr(err, 'filename', None) or path,
                                              err.strerror or err))
        return EXIT_ERROR
    out.flush()
    return status


def console_main():
    sys.exit(main())


if __name__ == '__main__':
    console_main()
