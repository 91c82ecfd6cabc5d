"""`swiftlike-dispersion-populate [CONF]` and `swiftlike-dispersion-report [CONF]`
(Swift's swift-dispersion-populate / -report; see swiftlike/dispersion.py).

CONF defaults to /etc/swiftlike/dispersion.conf, section [dispersion] (the
sample etc/dispersion.conf lists every key). Populate: --container-only,
--object-only, --container-suffix-start N, --object-suffix-start N. Report:
--container-only, --object-only, -j/--dump-json (Swift's JSON: {"container":
{...}, "object": {...}}), -d/--debug (print each copy not found, and why).
Exit status 0, 1 when populate could not place every name, 2 for bad
arguments or config.
"""
import argparse
import json
import os
import sys
import time

from swiftlike import backend_http, concurrency, dispersion
from swiftlike.config import load_section
from swiftlike.exceptions import ConfigError, RingError, SwiftlikeError

DEFAULT_CONF = '/etc/swiftlike/dispersion.conf'
SECTION = 'dispersion'
EXIT_OK, EXIT_INCOMPLETE, EXIT_ERROR = 0, 1, 2


def _load(path):
    if not os.path.exists(path):
        raise ConfigError('%s: config file not found' % path)
    return load_section(path, SECTION, dispersion.DispersionConf)


def _connect(conf):
    from swiftlike.client import Connection
    conn = Connection(authurl=conf.auth_url, user=conf.auth_user, key=conf.auth_key,
                      retries=conf.retries, starting_backoff=0.2, max_backoff=2)
    url, _token = conn.get_auth()
    return conn, url.rstrip('/').rsplit('/', 1)[1]


def _rings(conf):
    from swiftlike.hashing import hash_secrets, locate_cluster_conf
    from swiftlike.ring import Ring
    locate_cluster_conf(conf.swift_dir)
    hash_secrets()      # the ring lookups below need the cluster's secrets
    return (Ring(conf.swift_dir, ring_name='container'),
            Ring(conf.swift_dir, ring_name='object'))


def _parser(prog, report):
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split('\n\n')[0])
    p.add_argument('conf', nargs='?', default=DEFAULT_CONF,
                   help='dispersion config (default %s)' % DEFAULT_CONF)
    p.add_argument('--container-only', action='store_true', help='containers only')
    p.add_argument('--object-only', action='store_true', help='objects only')
    if report:
        p.add_argument('-j', '--dump-json', action='store_true', help='print JSON')
        p.add_argument('-d', '--debug', action='store_true',
                       help='print each copy not found and why')
    else:
        p.add_argument('--container-suffix-start', type=int, default=0, metavar='N',
                       help='first container number to try (default 0)')
        p.add_argument('--object-suffix-start', type=int, default=0, metavar='N',
                       help='first object number to try (default 0)')
    return p


def _setup(prog, report, argv):
    """Parse, load and connect: (args, conf, container ring, object ring,
    connection, account), or None (with the reason on stderr) on failure."""
    parser = _parser(prog, report)
    args = parser.parse_args(argv)
    if args.container_only and args.object_only:
        parser.error('--container-only and --object-only exclude each other')
    try:
        conf = _load(args.conf)
    except ConfigError as err:
        sys.stderr.write('%s: %s\n' % (prog, err))
        return None
    concurrency.monkey_patch()
    try:
        container_ring, object_ring = _rings(conf)
        conn, account = _connect(conf)
    except (RingError, ConfigError, SwiftlikeError, OSError) as err:
        sys.stderr.write('%s: %s\n' % (prog, err))
        return None
    return args, conf, container_ring, object_ring, conn, account


# -- populate ---------------------------------------------------------------------------

def populate(argv=None, out=None):
    out = out or sys.stdout
    setup = _setup('swiftlike-dispersion-populate', False, argv)
    if setup is None:
        return EXIT_ERROR
    args, conf, container_ring, object_ring, conn, account = setup
    do_containers = conf.container_populate and not args.object_only
    do_objects = conf.object_populate and not args.container_only
    complete = True
    if do_containers:
        wanted = dispersion.wanted_count(container_ring.partition_count,
                                         conf.dispersion_coverage)
        names = dispersion.choose_names(lambda n: container_ring.get_part(account, n),
                                        container_ring.partition_count, wanted,
                                        args.container_suffix_start)
        done = _put_all(conf, [(lambda n=n: conn.put_container(n)) for n, _p in names])
        out.write('Created %d containers for dispersion reporting, %.1fs, %d retries\n'
                  % (done['ok'], done['seconds'], conn.resent))
        complete = complete and done['ok'] == wanted
    if do_objects:
        try:
            conn.put_container(dispersion.OBJECT_CONTAINER)
        except Exception as err:     # the client's errors, or the network's
            sys.stderr.write('cannot create %s: %s\n' % (dispersion.OBJECT_CONTAINER, err))
            return EXIT_ERROR
        wanted = dispersion.wanted_count(object_ring.partition_count, conf.dispersion_coverage)
        names = dispersion.choose_names(
            lambda n: object_ring.get_part(account, dispersion.OBJECT_CONTAINER, n),
            object_ring.partition_count, wanted, args.object_suffix_start)
        before = conn.resent
        done = _put_all(conf, [
            (lambda n=n: conn.put_object(dispersion.OBJECT_CONTAINER, n, n.encode('ascii'),
                                         content_type='text/plain'))
            for n, _p in names])
        out.write('Created %d objects for dispersion reporting, %.1fs, %d retries\n'
                  % (done['ok'], done['seconds'], conn.resent - before))
        complete = complete and done['ok'] == wanted
    return EXIT_OK if complete else EXIT_INCOMPLETE


def _put_all(conf, calls):
    start = time.time()
    counts = {'ok': 0, 'failed': 0}

    def run(call):
        try:
            call()
            counts['ok'] += 1
        except Exception as err:
            counts['failed'] += 1
            sys.stderr.write('ERROR: %s\n' % err)

    pool = concurrency.GreenPool(conf.concurrency)
    for call in calls:
        pool.spawn_n(run, call)
    pool.waitall()
    counts['seconds'] = time.time() - start
    return counts


# -- report -----------------------------------------------------------------------------

class _Checker:
    """Counts the copies of one name on its primaries, with direct HEADs."""

    def __init__(self, conf, debug, out):
        self.conf = conf
        self.debug = debug
        self.out = out
        self.retries = 0

    def copies(self, nodes, part, path_names):
        found = 0
        for node in nodes:
            path = backend_http.storage_path(node['device'], part, *path_names)
            why = None
            for attempt in range(self.conf.retries):
                if attempt:
                    self.retries += 1
                try:
                    status, _h, _b = backend_http.fetch(
                        node, 'HEAD', path, {'X-Trans-Id': 'tx-dispersion-report'},
                        conn_timeout=self.conf.conn_timeout, timeout=self.conf.node_timeout)
                except (SwiftlikeError, OSError) as err:
                    why = str(err)
                    continue
                why = None if 200 <= status < 300 else 'answered %d' % status
                break
            if why is None:
                found += 1
            elif self.debug:
                self.out.write('ERROR: %s:%s/%s %s: %s\n' % (
                    node['ip'], node['port'], node['device'], '/'.join(path_names), why))
        return found

    def run(self, ring, account, names, container=None):
        results = []
        pool = concurrency.GreenPool(self.conf.concurrency)

        def one(name):
            path_names = (account, container, name) if container else (account, name)
            part, nodes = ring.get_nodes(*path_names)
            results.append((name, part, self.copies(nodes, part, path_names)))

        for name in names:
            pool.spawn_n(one, name)
        pool.waitall()
        return sorted(results)


def report(argv=None, out=None):
    out = out or sys.stdout
    setup = _setup('swiftlike-dispersion-report', True, argv)
    if setup is None:
        return EXIT_ERROR
    args, conf, container_ring, object_ring, conn, account = setup
    dump_json = args.dump_json or conf.dump_json
    figures = {}
    text = []
    kinds = []
    if conf.container_report and not args.object_only:
        kinds.append('container')
    if conf.object_report and not args.container_only:
        kinds.append('object')
    for kind in kinds:
        checker = _Checker(conf, args.debug and not dump_json, out)
        start = time.time()
        try:
            if kind == 'container':
                ring = container_ring
                _h, listing = conn.get_account(prefix=dispersion.PREFIX, full_listing=True)
                names = [c['name'] for c in listing if c['name'] != dispersion.OBJECT_CONTAINER]
                results = checker.run(ring, account, names)
            else:
                ring = object_ring
                _h, listing = conn.get_container(dispersion.OBJECT_CONTAINER,
                                                 prefix=dispersion.PREFIX, full_listing=True)
                results = checker.run(ring, account, [o['name'] for o in listing],
                                      dispersion.OBJECT_CONTAINER)
        except Exception as err:
            sys.stderr.write('No %ss to report on (%s); run swiftlike-dispersion-populate '
                             'first\n' % (kind, err))
            continue
        if not results:
            sys.stderr.write('No %ss to report on; run swiftlike-dispersion-populate first\n'
                             % kind)
            continue
        figures[kind] = dispersion.tally(results, ring.replica_count, ring.partition_count,
                                         checker.retries)
        text.extend(dispersion.render_lines(kind, figures[kind], ring.replica_count,
                                            time.time() - start))
        text.append('')
    if dump_json:
        out.write(json.dumps(figures, sort_keys=True) + '\n')
    else:
        out.write('\n'.join(text).rstrip('\n') + '\n' if text else '')
    return EXIT_OK if figures else EXIT_ERROR


if __name__ == '__main__':
    which = sys.argv.pop(1) if len(sys.argv) > 1 else ''
    sys.exit({'populate': populate, 'report': report}.get(which, lambda: EXIT_ERROR)())
