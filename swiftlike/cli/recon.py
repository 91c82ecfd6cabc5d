"""`swiftlike-recon [object|container|account] [checks]`: ask every node of a
ring for its recon figures and print them as swift-recon does.

The hosts are the (ip, port) pairs of the server type's ring in --swiftdir;
each check asks all of them at once (`GET /recon/...`) and prints a summary:
"[figure] low, high, avg, total, Failed %, no_result, reported" lines, the
oldest and newest completions, "x/y hosts matched" comparisons. Checks:
-a async pendings, -r replication, --auditor, --updater, --expirer,
-u unmounted devices, -d disk usage (with --top/--lowest N devices), -l load,
-q quarantined, --validate-servers, --md5 (rings and swiftlike.conf against the local copies),
--sockstat, -T time sync, --driveaudit, --diskio (iostat -x per device and
CPU steal; with --top N the N busiest devices); --all does every one.
-v prints each host's raw answer. Exit status 0, or 2 for bad arguments or
a ring that cannot be read.
"""
import argparse
import os
import sys
import time

from swiftlike.exceptions import RingError
from swiftlike.hashing import conf_path as cluster_conf_path
from swiftlike.recon import client

RULE = '=' * 79
EXIT_OK, EXIT_ERROR = 0, 2


def _now():
    return time.strftime('%Y-%m-%d %H:%M:%S', time.localtime())


class Recon:
    def __init__(self, args, hosts, out=sys.stdout):
        self.args = args
        self.hosts = hosts
        self.server_type = args.server_type
        self.out = out

    def say(self, text=''):
        self.out.write(text + '\n')

    def heading(self, text):
        self.say('[%s] %s' % (_now(), text))

    def ask(self, path):
        answers = client.fetch_all(self.hosts, path, self.args.timeout)
        for answer in answers:
            if not answer.ok and not self.args.suppress:
                self.say('-> %s: %s' % (answer.url, answer.error))
            elif answer.ok and self.args.verbose:
                self.say('-> %s: %s' % (answer.url, answer.data))
        return answers

    def figures(self, answers, name, pick):
        """The stats line of pick(data) over the hosts that answered."""
        values = {}
        for answer in answers:
            if answer.ok:
                try:
                    values[answer.host] = pick(answer.data)
                except (KeyError, TypeError, AttributeError):
                    values[answer.host] = None
        self.say(client.stats_line(name, client.summarize(values)))

    def completions(self, answers, key):
        done = [(a.data[key], a.host) for a in answers
                if a.ok and isinstance(a.data, dict) and client.is_number(a.data.get(key))]
        if not done:
            self.say('[%s] - No hosts returned valid data.' % key)
            return
        now = time.time()
        for label, (when, host) in (('Oldest', min(done)), ('Most recent', max(done))):
            self.say('%s completion was %s (%s ago) by %s.' % (
                label, time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(when)),
                _ago(now - when), client.host_label(host)))

    # -- the checks -------------------------------------------------------------------
    def async_check(self):
        self.heading('Checking async pendings')
        self.figures(self.ask('async'), 'async_pending', lambda d: d['async_pending'])

    def replication_check(self):
        self.heading('Checking on replication')
        answers = self.ask('replication/%s' % self.server_type)
        for key in ('failure', 'success', 'attempted'):
            self.figures(answers, 'replication_%s' % key,
                         lambda d, k=key: d['replication_stats'][k])
        self.figures(answers, 'replication_time', lambda d: d['replication_time'])
        self.completions(answers, 'replication_last')
        failed = {}
        for answer in answers:
            stats = answer.data.get('replication_stats') if answer.ok and isinstance(
                answer.data, dict) else None
            for ip, devices in ((stats or {}).get('failure_nodes') or {}).items():
                for device, count in devices.items():
                    failed[(ip, device)] = failed.get((ip, device), 0) + count
        for (ip, device), count in sorted(failed.items(), key=lambda i: (-i[1], i[0])):
            self.say('%d replication failures with %s/%s' % (count, ip, device))

    def auditor_check(self):
        self.heading('Checking auditor stats')
        answers = self.ask('auditor/%s' % self.server_type)
        if self.server_type == 'object':
            for key in ('audit_time', 'bytes_processed', 'passes', 'errors', 'quarantined'):
                self.figures(answers, 'ALL_%s_last_path' % key,
                             lambda d, k=key: d['object_auditor_stats_ALL'][k])
            return
        for suffix in ('audits_passed', 'audits_failed', 'auditor_pass_completed'):
            key = '%s_%s' % (self.server_type, suffix)
            self.figures(answers, key, lambda d, k=key: d[k])

    def updater_check(self):
        if self.server_type == 'account':
            self.say('(no updater for account servers)')
            return
        self.heading('Checking updater times')
        key = '%s_updater_sweep' % self.server_type
        self.figures(self.ask('updater/%s' % self.server_type), 'updater_last_sweep',
                     lambda d: d[key])

    def expirer_check(self):
        if self.server_type != 'object':
            self.say('(the expirer runs beside object servers only)')
            return
        self.heading('Checking on expirers')
        answers = self.ask('expirer/object')
        self.figures(answers, 'object_expiration_pass', lambda d: d['object_expiration_pass'])
        self.figures(answers, 'expired_last_pass', lambda d: d['expired_last_pass'])

    def unmounted_check(self):
        self.heading('Getting unmounted drives from %d hosts...' % len(self.hosts))
        count = 0
        for answer in self.ask('unmounted'):
            if answer.ok and isinstance(answer.data, list):
                for entry in answer.data:
                    count += 1
                    self.say('Not mounted: %s on %s' % (entry.get('device'),
                                                        client.host_label(answer.host)))
        if not count:
            self.say('All drives mounted on %d hosts.' % len(self.hosts))

    def diskusage_check(self):
        self.heading('Checking disk usage now')
        usage = client.disk_usage(self.ask('diskusage'))
        if not usage['percents']:
            self.say('[disk_usage] - No hosts returned valid data.')
            return
        self.say('Distribution Graph:')
        for bucket, count, bar in client.distribution(usage['percents']):
            self.say('%3d%% %4d %s' % (bucket, count, bar))
        fmt = _human if self.args.human_readable else str
        self.say('Disk usage: space used: %s of %s' % (fmt(usage['used']), fmt(usage['size'])))
        self.say('Disk usage: space free: %s of %s' % (fmt(usage['avail']), fmt(usage['size'])))
        pcts = [p for p, _h, _d in usage['percents']]
        self.say('Disk usage: lowest: %.2f%%, highest: %.2f%%, avg: %.2f%%'
                 % (min(pcts), max(pcts), sum(pcts) / len(pcts)))
        for label, count, rows in (('TOP', self.args.top, usage['percents'][::-1]),
                                   ('LOWEST', self.args.lowest, usage['percents'])):
            if count:
                self.say('%s %d' % (label, count))
                for pct, host, device in rows[:count]:
                    self.say('%6.2f%%  %-21s %s' % (pct, client.host_label(host), device))

    def load_check(self):
        self.heading('Checking load averages')
        answers = self.ask('load')
        for key in ('5m', '15m', '1m'):
            self.figures(answers, '%s_load_avg' % key, lambda d, k=key: d[k])

    def quarantine_check(self):
        self.heading('Checking quarantine')
        answers = self.ask('quarantined')
        for key in ('objects', 'accounts', 'containers'):
            self.figures(answers, 'quarantined_%s' % key, lambda d, k=key: d[k])

    def md5_check(self):
        self.heading('Checking ring md5sums')
        local = {}
        try:
            names = sorted(n for n in os.listdir(self.args.swiftdir) if n.endswith('.ring.gz'))
        except OSError:
            names = []
        for name in names:
            local[name] = client.file_md5(os.path.join(self.args.swiftdir, name))
        self._report_match(*client.md5_check(self.ask('ringmd5'), local))
        self.say(RULE)
        self.heading('Checking swiftlike.conf md5sum')
        conf = os.path.join(self.args.swiftdir, 'swiftlike.conf')
        if not os.path.exists(conf):
            conf = cluster_conf_path()
        local = {}
        if os.path.exists(conf):
            local[os.path.basename(conf)] = client.file_md5(conf)
        answers = self.ask('swiftconfmd5')
        # The remote file may be named differently (SWIFTLIKE_CONF): compare contents.
        for answer in answers:
            if answer.ok and isinstance(answer.data, dict):
                answer.data = {os.path.basename(conf): md5 for md5 in answer.data.values()}
        self._report_match(*client.md5_check(answers, local))

    def _report_match(self, matched, errors, problems):
        for url, name, why in problems:
            self.say('!! %s (%s) %s' % (url, name, why))
        self.say('%d/%d hosts matched, %d error[s] while checking hosts.'
                 % (matched, len(self.hosts), errors))

    def sockstat_check(self):
        self.heading('Checking socket usage')
        answers = self.ask('sockstat')
        for key in ('tcp_in_use', 'tcp6_in_use', 'time_wait', 'orphan',
                    'tcp_mem_allocated_bytes'):
            self.figures(answers, key, lambda d, k=key: d.get(k))

    def time_check(self):
        self.heading('Checking time-sync')
        matched, errors, problems = client.time_check(self.ask('time'))
        for url, ours, theirs in problems:
            self.say('!! %s current time is %s but remote is %s, differs by %.2f sec' % (
                url, _stamp(ours), _stamp(theirs), abs(ours - theirs)))
        self.say('%d/%d hosts matched, %d error[s] while checking hosts.'
                 % (matched, len(self.hosts), errors))

    def driveaudit_check(self):
        self.heading('Checking drive-audit errors')
        self.figures(self.ask('driveaudit'), 'drive_audit_errors',
                     lambda d: d['drive_audit_errors'])

    def validate_servers(self):
        self.heading("Validating server type '%s' on %d hosts..." % (self.server_type,
                                                                    len(self.hosts)))
        wanted = '%s-server' % self.server_type
        ok = errors = 0
        for answer in self.ask('server_type_check'):
            if not answer.ok:
                errors += 1
            elif answer.data == wanted:
                ok += 1
            else:
                self.say('Invalid: %s is %s' % (answer.url, answer.data))
        self.say('%d/%d hosts ok, %d error[s] while checking hosts.'
                 % (ok, len(self.hosts), errors))

    def diskio_check(self):
        self.heading('Checking disk I/O (iostat -x per device, CPU steal)')
        answers = self.ask('diskio?interval=%s' % self.args.diskio_interval)
        self.figures(answers, 'cpu_steal_pct', lambda d: d['cpu']['steal_pct'])
        self.figures(answers, 'cpu_iowait_pct', lambda d: d['cpu']['iowait_pct'])
        rows = []
        for answer in answers:
            if answer.ok and isinstance(answer.data, dict):
                for entry in answer.data.get('devices') or []:
                    rows.append((answer.host, entry))
        measured = [(h, e) for h, e in rows if 'util_pct' in e]
        for key in ('util_pct', 'await_ms'):
            self.figures([_DeviceRow(i, e) for i, (_h, e) in enumerate(measured)], key,
                         lambda d, k=key: d[k])
        if self.args.top:
            rows = sorted(rows, key=lambda r: -r[1].get('util_pct', -1))[:self.args.top]
        self.say('%-21s %-8s %-9s %8s %8s %8s %8s %8s %8s %6s'
                 % ('host', 'device', 'blockdev', 'r/s', 'w/s', 'rMB/s', 'wMB/s',
                    'r_await', 'w_await', '%util'))
        for host, e in rows:
            if 'util_pct' not in e:
                self.say('%-21s %-8s %s' % (client.host_label(host), e.get('device'),
                                            e.get('reason') or 'no figures'))
                continue
            self.say('%-21s %-8s %-9s %8.2f %8.2f %8.3f %8.3f %8.2f %8.2f %6.1f' % (
                client.host_label(host), e['device'], e.get('block_device'),
                e['reads_per_s'], e['writes_per_s'], e['read_mb_per_s'], e['write_mb_per_s'],
                e['read_await_ms'], e['write_await_ms'], e['util_pct']))


class _DeviceRow:
    """A per-device row dressed as an answer, so figures() can summarise devices."""
    ok = True

    def __init__(self, index, data):
        self.host = index
        self.data = data


def _ago(seconds):
    seconds = max(0, int(seconds))
    if seconds < 120:
        return '%d seconds' % seconds
    if seconds < 7200:
        return '%d minutes' % (seconds // 60)
    return '%d hours' % (seconds // 3600)


def _stamp(when):
    return time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(when))


def _human(n):
    for unit in ('', 'Ki', 'Mi', 'Gi', 'Ti'):
        if abs(n) < 1024 or unit == 'Ti':
            return ('%d' % n) if not unit else '%.1f %sB' % (n, unit)
        n /= 1024.0
    return str(n)


# (flag attribute, method) in swift-recon's order.
CHECKS = (('async', 'async_check'), ('unmounted', 'unmounted_check'),
          ('replication', 'replication_check'), ('auditor', 'auditor_check'),
          ('updater', 'updater_check'), ('expirer', 'expirer_check'),
          ('loadstats', 'load_check'), ('diskusage', 'diskusage_check'),
          ('md5', 'md5_check'), ('sockstat', 'sockstat_check'),
          ('quarantined', 'quarantine_check'), ('time', 'time_check'),
          ('driveaudit', 'driveaudit_check'), ('validate_servers', 'validate_servers'),
          ('diskio', 'diskio_check'))


def build_parser():
    p = argparse.ArgumentParser(
        prog='swiftlike-recon', description=__doc__.split('\n\n')[0],
        usage='swiftlike-recon [object|container|account] [-v] [--suppress] [-a] [-r] [-u] '
              '[-d] [-l] [-q] [-T] [--md5] [--auditor] [--updater] [--expirer] '
              '[--sockstat] [--driveaudit] [--validate-servers] [--diskio] [--all] '
              '[--top N]')
    p.add_argument('server_type', nargs='?', default='object', choices=client.SERVER_TYPES,
                   help='whose ring and servers to ask (default object)')
    p.add_argument('-v', '--verbose', action='store_true', help="print each host's answer")
    p.add_argument('--suppress', action='store_true', help='hide connection errors')
    p.add_argument('-a', '--async', action='store_true', help='async pendings')
    p.add_argument('-r', '--replication', action='store_true', help='replication stats')
    p.add_argument('--auditor', action='store_true', help='auditor stats')
    p.add_argument('--updater', action='store_true', help='updater sweep times')
    p.add_argument('--expirer', action='store_true', help='expirer stats')
    p.add_argument('-u', '--unmounted', action='store_true', help='unmounted devices')
    p.add_argument('-d', '--diskusage', action='store_true', help='disk usage')
    p.add_argument('--top', type=int, default=0, metavar='N',
                   help='also list the N fullest (with --diskio: busiest) devices')
    p.add_argument('--lowest', type=int, default=0, metavar='N',
                   help='also list the N emptiest devices')
    p.add_argument('--human-readable', action='store_true', help='disk usage in KiB..TiB')
    p.add_argument('-l', '--loadstats', action='store_true', help='load averages')
    p.add_argument('-q', '--quarantined', action='store_true', help='quarantine counts')
    p.add_argument('--md5', action='store_true',
                   help='compare rings and swiftlike.conf with the local copies')
    p.add_argument('--sockstat', action='store_true', help='socket usage')
    p.add_argument('-T', '--time', action='store_true', help='clock differences')
    p.add_argument('--driveaudit', action='store_true', help='drive audit errors')
    p.add_argument('--validate-servers', action='store_true',
                   help="check that each ring host is a server of the ring's type")
    p.add_argument('--diskio', action='store_true',
                   help='per-device I/O like iostat -x, and CPU steal')
    p.add_argument('--diskio-interval', type=float, default=1.0, metavar='S',
                   help='seconds a node measures I/O over when it has no recent sample')
    p.add_argument('--all', action='store_true', help='every check above')
    p.add_argument('-z', '--zone', type=int, help='only hosts in this zone')
    p.add_argument('--region', type=int, help='only hosts in this region')
    p.add_argument('-t', '--timeout', type=float, default=5.0, metavar='SECONDS',
                   help='seconds to wait for each host (default 5)')
    p.add_argument('--swiftdir', default='/etc/swiftlike',
                   help='where the rings are (default /etc/swiftlike)')
    return p


def main(argv=None, out=None):
    out = out or sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.top < 0 or args.lowest < 0 or args.timeout <= 0:
        parser.error('--top and --lowest must be >= 0, --timeout > 0')
    if not 0.1 <= args.diskio_interval <= 10:
        parser.error('--diskio-interval must be between 0.1 and 10 seconds')
    try:
        hosts = client.ring_hosts(args.swiftdir, args.server_type, args.zone, args.region)
    except (RingError, OSError, ValueError) as err:
        sys.stderr.write('swiftlike-recon: cannot read the %s ring in %s: %s\n'
                         % (args.server_type, args.swiftdir, err))
        return EXIT_ERROR
    recon = Recon(args, hosts, out)
    chosen = [method for flag, method in CHECKS if args.all or getattr(args, flag)]
    recon.say(RULE)
    recon.say('--> Starting reconnaissance on %d hosts (%s)' % (len(hosts), args.server_type))
    recon.say(RULE)
    if not chosen:
        recon.say('Nothing to check: give -a, -r, -d, -l, -q, -u, --md5, --diskio, ... '
                  'or --all (see --help).')
        return EXIT_OK
    for method in chosen:
        getattr(recon, method)()
        recon.say(RULE)
    return EXIT_OK


if __name__ == '__main__':
    sys.exit(main())
