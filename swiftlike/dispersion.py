"""Dispersion: how many copies of a sample of containers and objects are
where the rings say they should be (Swift's swift-dispersion-populate and
swift-dispersion-report).

Populate puts containers named `dispersion_<n>` in the dispersion account, each
on a container partition no earlier one took, until `dispersion_coverage` percent
of the partitions are covered; likewise objects `dispersion_<n>` in the container
`dispersion_objects`, one per object partition. It goes through the proxy, as any
client. The report lists them back (through the proxy) and asks each primary node
of each one's partition directly (HEAD to the storage server) whether it holds a
copy, then counts the copies found, the partitions missing one, two, ... or all
copies, and the names that share a partition (overlapping).

The pure parts (`choose_names`, `tally`, `render_lines`) are tested by tables.
"""
import dataclasses
import itertools
import math

PREFIX = 'dispersion_'
OBJECT_CONTAINER = 'dispersion_objects'
NUMBER_WORDS = {1: 'one', 2: 'two', 3: 'three', 4: 'four', 5: 'five'}


@dataclasses.dataclass
class DispersionConf:
    """[dispersion] of dispersion.conf (the sample in etc/ lists every key)."""
    auth_url: str = 'http://127.0.0.1:8080/auth/v1.0'
    auth_user: str = 'test:tester'
    auth_key: str = 'testing'
    swift_dir: str = '/etc/swiftlike'
    # Percent of the container and object partitions to place a name on.
    dispersion_coverage: float = 1.0
    # Tries per request (populate's PUTs, the report's HEADs) before giving up.
    retries: int = 5
    concurrency: int = 25
    # Seconds to connect to / wait for a storage node in the report.
    conn_timeout: float = 0.5
    node_timeout: float = 10.0
    container_populate: bool = True
    object_populate: bool = True
    container_report: bool = True
    object_report: bool = True
    dump_json: bool = False

    def validate(self):
        if not 0 < self.dispersion_coverage <= 100:
            raise ValueError('dispersion_coverage must be a percentage in (0, 100]')
        if self.retries < 1 or self.concurrency < 1:
            raise ValueError('retries and concurrency must be >= 1')


def wanted_count(partition_count, coverage):
    """How many distinct partitions `coverage` percent of them is (rounded
    down, as Swift's populate does, but at least 1)."""
    return max(1, int(math.floor(partition_count * coverage / 100.0 + 1e-9)))


def choose_names(get_part, partition_count, wanted, start=0, taken=(), max_tries=None):
    """[(name, partition)] of up to `wanted` names dispersion_<n> (n from
    `start`) on distinct partitions not in `taken`. Stops after max_tries
    names (default: 100 per wanted partition, plenty for any coverage)."""
    seen = set(taken)
    chosen = []
    tries = max_tries if max_tries is not None else 100 * max(wanted, 1) + partition_count
    for n in itertools.islice(itertools.count(start), tries):
        if len(chosen) >= wanted:
            break
        name = '%s%d' % (PREFIX, n)
        part = get_part(name)
        if part in seen:
            continue
        seen.add(part)
        chosen.append((name, part))
    return chosen


def missing_key(missing, replicas):
    if missing == replicas:
        return 'missing_all'
    return 'missing_%s' % NUMBER_WORDS.get(missing, str(missing))


def tally(results, replicas, partition_count, retries=0):
    """Swift's report figures from [(name, partition, copies found)]."""
    expected = found = 0
    missing = {}
    parts = {}
    for _name, part, copies in results:
        expected += replicas
        found += copies
        parts[part] = parts.get(part, 0) + 1
        if copies < replicas:
            missing[replicas - copies] = missing.get(replicas - copies, 0) + 1
    figures = {'retries:': retries, 'copies_expected': expected, 'copies_found': found,
               'pct_found': round(100.0 * found / expected, 2) if expected else 0.0,
               'overlapping': sum(n - 1 for n in parts.values() if n > 1),
               'queried': len(results),
               'partition_pct': round(100.0 * len(parts) / partition_count, 2)
               if partition_count else 0.0}
    for count in range(1, replicas + 1):
        figures[missing_key(count, replicas)] = missing.get(count, 0)
    return figures


def render_lines(kind, figures, replicas, seconds):
    """The report's text for one kind ('container' or 'object')."""
    lines = ['Queried %d %ss for dispersion reporting, %ds, %d retries'
             % (figures['queried'], kind, round(seconds), figures['retries:'])]
    for count in range(1, replicas + 1):
        parts = figures[missing_key(count, replicas)]
        if parts:
            what = 'all' if count == replicas else NUMBER_WORDS.get(count, str(count))
            lines.append('There w%s %d partition%s missing %s cop%s.' % (
                'as' if parts == 1 else 'ere', parts, '' if parts == 1 else 's', what,
                'y' if count == 1 else 'ies'))
    lines.append('%.2f%% of %s copies found (%d of %d)' % (
        figures['pct_found'], kind, figures['copies_found'], figures['copies_expected']))
    lines.append('Sample represents %.2f%% of the %s partition space'
                 % (figures['partition_pct'], kind))
    return lines
