#!/usr/bin/env python3
"""Run OpenStack Swift's own functional test suite against a fresh aio.

    make conformance                      # the five core modules
    MODULES="tests.py test_object.py" make conformance
    PYTEST_ARGS="-k testCopy" make conformance
    EXTRAS=1 make conformance             # + service tokens and reseller admin tests

What it does: downloads Swift's source distribution (SWIFT_VERSION, from PyPI)
into a cache dir (var/conformance/cache), makes a venv there with swift,
python-swiftclient and pytest, starts a fresh `swiftlike-aio` in a temporary
data dir (on XFS loop devices when run as root with mkfs.xfs: metadata-heavy
tests need XFS's xattr room, as Swift's SAIO does), writes Swift's test.conf
for the aio's users, runs pytest on test/functional/<module> in external mode,
stops the aio, and prints a table per module (passed / failed / skipped) with
every failed test and the skip reasons. Exit status 0 when nothing failed.

Swift's results on its own SAIO with the same settings are in doc/api.md.
"""
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SWIFT_VERSION = os.environ.get('SWIFT_VERSION', '2.38.3')
CACHE = os.environ.get('CONFORMANCE_CACHE', os.path.join(ROOT, 'var', 'conformance', 'cache'))
CORE = 'tests.py test_account.py test_container.py test_object.py test_protocol.py'
AIO = os.path.join(os.path.dirname(sys.executable), 'swiftlike-aio')


def log(msg):
    print('[conformance] %s' % msg, file=sys.stderr, flush=True)


def prepare():
    """(venv python, unpacked sdist dir), made once in the cache."""
    venv = os.path.join(CACHE, 'venv-%s' % SWIFT_VERSION)
    py = os.path.join(venv, 'bin', 'python')
    if not os.path.exists(os.path.join(venv, '.ready')):
        log('making %s (swift==%s, python-swiftclient, pytest)' % (venv, SWIFT_VERSION))
        subprocess.run([sys.executable, '-m', 'venv', venv], check=True)
        subprocess.run([py, '-m', 'pip', 'install', '-q', 'swift==%s' % SWIFT_VERSION,
                        'python-swiftclient', 'pytest', 'pytest-timeout'], check=True)
        open(os.path.join(venv, '.ready'), 'w').close()
    sdist = os.path.join(CACHE, 'swift-%s' % SWIFT_VERSION)
    if not os.path.isdir(os.path.join(sdist, 'test', 'functional')):
        log('downloading the swift %s source distribution' % SWIFT_VERSION)
        subprocess.run([py, '-m', 'pip', 'download', '-q', '--no-deps', '--no-binary', ':all:',
                        'swift==%s' % SWIFT_VERSION, '-d', CACHE], check=True)
        subprocess.run(['tar', '-xzf', os.path.join(CACHE, 'swift-%s.tar.gz' % SWIFT_VERSION),
                        '-C', CACHE], check=True)
    return py, sdist


def start_aio(data_dir, extras):
    args = [AIO, '--data-dir', data_dir, '--port', '0', '--base-port', '0', '--no-daemons']
    if os.geteuid() == 0 and shutil.which('mkfs.xfs'):
        args.append('--xfs')
    else:
        log('not root or no mkfs.xfs: devices are plain directories (the metadata-limit '
            'tests need XFS and may fail)')
    out = open(os.path.join(data_dir, 'aio.out'), 'w')
    proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    state = os.path.join(data_dir, 'run', 'aio.json')
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit('swiftlike-aio exited: see %s' % out.name)
        if os.path.exists(state):
            with open(state) as f:
                info = json.load(f)
            try:
                urllib.request.urlopen(info['proxy_url'] + '/healthcheck', timeout=2).read()
                return proc, info
            except OSError:
                pass
        time.sleep(0.5)
    raise SystemExit('swiftlike-aio did not start in 120 s')


def prime(auth_url, account, user, key):
    """PUT and DELETE a container so the account exists, as Swift's own
    in-process mode does before the suite."""
    req = urllib.request.Request(auth_url, headers={'X-Auth-User': '%s:%s' % (account, user),
                                                    'X-Auth-Key': key})
    with urllib.request.urlopen(req, timeout=20) as resp:
        url, token = resp.headers['X-Storage-Url'], resp.headers['X-Auth-Token']
    for method in ('PUT', 'DELETE'):
        urllib.request.urlopen(urllib.request.Request(
            url + '/conformance-prime', method=method,
            headers={'X-Auth-Token': token, 'Content-Length': '0'}), timeout=20).read()


def write_conf(path, auth_url, extras):
    lines = ['[func_test]', 'auth_uri = %s' % auth_url, 'auth_version = 1',
             'account = test', 'username = tester', 'password = testing',
             'account2 = test2', 'username2 = tester2', 'password2 = testing2',
             'username3 = tester3', 'password3 = testing3',
             'account5 = test5', 'username5 = tester5', 'password5 = testing5',
             'collate = C', 'insecure = no',
             # the aio's domain_remap serves <account>.example.com (Host headers only)
             'storage_domain = example.com']
    if extras:
        lines += ['service_prefix = SERVICE', 'account6 = admin', 'username6 = admin',
                  'password6 = admin']
    lines += ['', '[unit_test]', 'fake_syslog = False', '']
    with open(path, 'w') as f:
        f.write('\n'.join(lines))


def summarise(junit):
    counts = collections.OrderedDict()
    failed, skips = [], collections.Counter()
    for case in ET.parse(junit).getroot().iter('testcase'):
        cls = case.get('classname', '')
        parts = cls.split('.')
        module = parts[2] + '.py' if parts[:2] == ['test', 'functional'] else cls
        c = counts.setdefault(module, collections.Counter())
        kinds = {child.tag: child for child in case}
        if 'error' in kinds or 'failure' in kinds:
            c['failed'] += 1
            failed.append('%s::%s' % (cls.replace('test.functional.', ''), case.get('name')))
        elif 'skipped' in kinds:
            c['skipped'] += 1
            skips[(module, kinds['skipped'].get('message', '')[:90])] += 1
        else:
            c['passed'] += 1
    total = collections.Counter()
    print('| module | passed | failed | skipped |')
    print('| --- | --- | --- | --- |')
    for module, c in counts.items():
        total.update(c)
        print('| %s | %d | %d | %d |' % (module, c['passed'], c['failed'], c['skipped']))
    print('| total | %d | %d | %d |' % (total['passed'], total['failed'], total['skipped']))
    for name in failed:
        print('FAILED %s' % name)
    for (module, msg), n in skips.most_common():
        print('skipped %s: %d x %s' % (module, n, msg))
    print('conformance: %d passed, %d failed, %d skipped'
          % (total['passed'], total['failed'], total['skipped']))
    return total['failed']


def _stop(signum, _frame):
    raise SystemExit(128 + signum)   # runs the clean-up below (stops the aio)


def main():
    signal.signal(signal.SIGTERM, _stop)
    extras = os.environ.get('EXTRAS') == '1'
    modules = os.environ.get('MODULES', CORE).split()
    py, sdist = prepare()
    data_dir = tempfile.mkdtemp(prefix='swiftlike-conformance-')
    proc, info = start_aio(data_dir, extras)
    try:
        for account, user, key in (('test', 'tester', 'testing'),
                                   ('test2', 'tester2', 'testing2')):
            prime(info['auth_url'], account, user, key)
        conf = os.path.join(data_dir, 'test.conf')
        write_conf(conf, info['auth_url'], extras)
        junit = os.path.join(data_dir, 'junit.xml')
        env = dict(os.environ, SWIFT_TEST_CONFIG_FILE=conf, SWIFT_TEST_IN_PROCESS='0',
                   PYTHONDONTWRITEBYTECODE='1')
        log('aio at %s; modules: %s' % (info['auth_url'], ' '.join(modules)))
        argv = [py, '-m', 'pytest', '-c', os.devnull, '--rootdir', sdist, '-p',
                'no:cacheprovider', '--timeout=120', '-q', '-rfE', '--tb=short',
                '--junitxml', junit, '-o', 'junit_family=xunit1']
        argv += os.environ.get('PYTEST_ARGS', '').split()
        argv += ['test/functional/%s' % m for m in modules]
        with open(os.path.join(data_dir, 'pytest.log'), 'w') as out:
            tests = subprocess.Popen(argv, cwd=sdist, env=env, stdout=out,
                                     stderr=subprocess.STDOUT)
        try:
            tests.wait()
        finally:
            if tests.poll() is None:
                tests.kill()
        failed = summarise(junit)
        log('details: %s/pytest.log' % data_dir)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
