"""One headless Chromium (driven by selenium) for the browser tests.

`requires_browser` skips a module, saying why, where Chromium, chromedriver or
selenium is missing (`make apt`, the test extras). `browser_session()` is the
body of a module-scoped `driver` fixture. `text_of()` and `shows()` read what
the page shows, waiting with a generous deadline, since scripts and loads
finish when they do.

Stopping: selenium's quit() asks chromedriver to shut down over HTTP and then
waits for the answer with no timeout; a chromedriver that accepted that
request and never answered hung a whole test run at a module's teardown. A
test's browser holds nothing worth a graceful exit: stop_browser() kills
chromedriver and every process below it (Chromium's), then reaps chromedriver
with a bounded wait. Killed that way, Chromium leaves its profile and scratch
directories behind (~3 MB each), so each browser gets a directory of its own
(the profile, and TMPDIR for everything else it makes) that is removed after.
"""
import os
import shutil
import signal
import tempfile
import time

import pytest

webdriver = pytest.importorskip('selenium.webdriver', reason='selenium is not installed '
                                '(pip install -e .[test])')
from selenium.common.exceptions import (StaleElementReferenceException,  # noqa: E402
                                        TimeoutException, WebDriverException)
from selenium.webdriver.common.by import By  # noqa: E402,F401 - for the tests
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
CHROMEDRIVER = shutil.which('chromedriver')
requires_browser = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason='headless Chromium needs the Debian packages chromium and chromium-driver '
           '(run `make apt` as root)')

WAIT = 30   # seconds: a generous deadline for each condition


def browser_session(width, height):
    """Start a headless Chromium with a window of the given size; yields the
    driver, and stops the browser after (a generator for a fixture)."""
    scratch = tempfile.mkdtemp(prefix='swiftlike-chromium-')
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    options.add_argument('--user-data-dir=' + os.path.join(scratch, 'profile'))
    for arg in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu',
                '--window-size=%d,%d' % (width, height), '--no-first-run',
                '--disable-extensions', '--disable-background-networking'):
        options.add_argument(arg)
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER,
                                      env=dict(os.environ, TMPDIR=scratch))
    try:
        try:
            driver = webdriver.Chrome(options=options, service=service)
        except WebDriverException as err:
            pytest.skip('headless Chromium does not start here: %s' % str(err).splitlines()[0])
        driver.set_page_load_timeout(WAIT)
        yield driver
    finally:
        stop_browser(service)
        shutil.rmtree(scratch, ignore_errors=True)


def text_of(driver, by, selector):
    """The stripped text of the first element found (None when there is none,
    or the page changed under us: look again)."""
    try:
        found = driver.find_elements(by, selector)
        return found[0].text.strip() if found else None
    except StaleElementReferenceException:
        return None


def shows(driver, read, expected, wait=WAIT, what=''):
    """Assert that read(driver) comes to equal `expected` within `wait` s."""
    try:
        WebDriverWait(driver, wait).until(lambda d: read(d) == expected)
    except TimeoutException:
        pass
    assert read(driver) == expected, what


def _children(pid):
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry, 'rb') as f:
                ppid = int(f.read().rsplit(b')', 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.append(int(entry))
    return found


def descendants(pid):
    """Every process below `pid` (children first found, then theirs)."""
    out, queue = [], [pid]
    while queue:
        for child in _children(queue.pop()):
            out.append(child)
            queue.append(child)
    return out


def stop_browser(service):
    """Kill chromedriver (the service's process) and all below it."""
    proc = getattr(service, 'process', None)
    if proc is None or proc.poll() is not None:
        return
    for pid in descendants(proc.pid) + [proc.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    deadline = time.monotonic() + 10
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
