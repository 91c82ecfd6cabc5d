"""What `swiftlike-recon` needs besides printing: the hosts of a ring, asking
them all at once, and the pure summaries swift-recon prints.

Summaries (tested by tables): `summarize(values)` is swift-recon's
"low, high, avg, total, Failed %, no_result, reported" line over one figure
from every host (None: the host answered but had no figure); `disk_usage`
the space totals and percentages; `md5_check` and `time_check` the
"x/y hosts matched" comparisons.
"""
import concurrent.futures
import hashlib
import json
import os
import time
import urllib.error
import urllib.request

from swiftlike.ring import Ring

SERVER_TYPES = ('object', 'container', 'account')


def ring_hosts(swift_dir, server_type, zone=None, region=None):
    """Sorted unique (ip, port) of the devices in <server_type>.ring.gz."""
    ring = Ring(swift_dir, ring_name=server_type)
    hosts = set()
    for dev in ring.devs:
        if dev is None:
            continue
        if zone is not None and dev['zone'] != zone:
            continue
        if region is not None and dev['region'] != region:
            continue
        hosts.add((dev['ip'], dev['port']))
    return sorted(hosts)


def host_label(host):
    ip, port = host
    return '[%s]:%d' % (ip, port) if ':' in ip else '%s:%d' % (ip, port)


def recon_url(host, path):
    return 'http://%s/recon/%s' % (host_label(host), path)


class Answer:
    """One host's answer: `data` (parsed JSON) or `error` (text)."""
    __slots__ = ('host', 'url', 'data', 'error', 'started', 'finished')

    def __init__(self, host, url, data=None, error=None, started=0.0, finished=0.0):
        self.host = host
        self.url = url
        self.data = data
        self.error = error
        self.started = started
        self.finished = finished

    @property
    def ok(self):
        return self.error is None


def fetch(host, path, timeout=5.0):
    url = recon_url(host, path)
    started = time.time()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            body = resp.read()
        data = json.loads(body.decode('utf-8'))
        return Answer(host, url, data=data, started=started, finished=time.time())
    except urllib.error.HTTPError as err:
        reason = err.read()[:200].decode('utf-8', 'replace').strip()
        return Answer(host, url, error='HTTP %d: %s' % (err.code, reason), started=started,
                      finished=time.time())
    except (OSError, ValueError) as err:
        return Answer(host, url, error=str(getattr(err, 'reason', err)), started=started,
                      finished=time.time())


def fetch_all(hosts, path, timeout=5.0, concurrency=16):
    """Every host's Answer to /recon/<path>, asked concurrently, in host order."""
    if not hosts:
        return []
    with concurrent.futures.ThreadPoolExecutor(min(concurrency, len(hosts))) as pool:
        return list(pool.map(lambda h: fetch(h, path, timeout), hosts))


# -- pure summaries ------------------------------------------------------------------

def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def summarize(values):
    """swift-recon's figures over {host: value} (None: answered without a figure)."""
    numbers = [v for v in values.values() if is_number(v)]
    missing = len(values) - len(numbers)
    summary = {'reported': len(numbers), 'number_none': missing,
               'perc_none': 100.0 * missing / len(values) if values else 0.0}
    if numbers:
        summary.update(low=min(numbers), high=max(numbers), total=sum(numbers),
                       average=sum(numbers) / len(numbers))
    return summary


def _num_text(value):
    if isinstance(value, float) and not value.is_integer():
        return '%.3f' % value if abs(value) < 100 else '%.1f' % value
    return '%d' % value


def stats_line(name, summary):
    if not summary.get('reported'):
        return '[%s] - No hosts returned valid data.' % name
    return ('[%s] low: %s, high: %s, avg: %.1f, total: %s, Failed: %.1f%%, no_result: %d, '
            'reported: %d' % (name, _num_text(summary['low']), _num_text(summary['high']),
                              summary['average'], _num_text(summary['total']),
                              summary['perc_none'], summary['number_none'],
                              summary['reported']))


def disk_usage(answers):
    """Totals and per-device percentages over diskusage answers.

    Returns {'used', 'size', 'avail', 'percents': [(pct, host, device)], 'unmounted':
    [(host, device)]}.
    """
    used = size = avail = 0
    percents, unmounted = [], []
    for answer in answers:
        if not answer.ok or not isinstance(answer.data, list):
            continue
        for entry in answer.data:
            if entry.get('mounted') is not True:
                unmounted.append((answer.host, entry.get('device')))
                continue
            if not (is_number(entry.get('size')) and is_number(entry.get('used'))):
                continue
            used += entry['used']
            size += entry['size']
            avail += entry.get('avail') or 0
            if entry['size']:
                percents.append((100.0 * entry['used'] / entry['size'], answer.host,
                                 entry['device']))
    percents.sort(key=lambda p: (p[0], p[1], p[2]))
    return {'used': used, 'size': size, 'avail': avail, 'percents': percents,
            'unmounted': unmounted}


def distribution(percents, width=60):
    """swift-recon's "Distribution Graph": [(percent bucket, count, bar)]."""
    buckets = {}
    for pct, _host, _dev in percents:
        buckets[int(pct)] = buckets.get(int(pct), 0) + 1
    if not buckets:
        return []
    most = max(buckets.values())
    return [(b, n, '*' * max(1, int(width * n / most))) for b, n in sorted(buckets.items())]


def file_md5(path):
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(65536), b''):
            digest.update(chunk)
    return digest.hexdigest()


def md5_check(answers, local):
    """Compare every host's {remote path: md5} with local {file name: md5} by
    file name. Returns (matched hosts, errors, [(url, name, why)])."""
    matched, errors, problems = 0, 0, []
    for answer in answers:
        if not answer.ok or not isinstance(answer.data, dict):
            errors += 1
            continue
        bad = False
        remote = {os.path.basename(p): md5 for p, md5 in answer.data.items()}
        for name in sorted(set(local) | set(remote)):
            if local.get(name) is None:
                continue      # a ring we do not have here: nothing to compare with
            if remote.get(name) != local[name]:
                bad = True
                why = 'missing' if name not in remote else "doesn't match on disk md5sum"
                problems.append((answer.url, name, why))
        if not bad:
            matched += 1
    return matched, errors, problems


def time_check(answers, jitter=1.0):
    """Hosts whose clock is within `jitter` seconds of ours, allowing for the
    request's own duration. Returns (matched, errors, [(url, ours, theirs)])."""
    matched, errors, problems = 0, 0, []
    for answer in answers:
        if not answer.ok or not is_number(answer.data):
            errors += 1
            continue
        if answer.started - jitter <= answer.data <= answer.finished + jitter:
            matched += 1
        else:
            problems.append((answer.url, answer.finished, answer.data))
    return matched, errors, problems
