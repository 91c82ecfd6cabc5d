"""README.md's curl tour, run as written against a fresh aio cluster.

Every ```sh block between <!-- tour-begin --> and <!-- tour-end --> runs in one
bash session (so TOKEN/URL carry over); a block followed by a ```text block
must print exactly that text. The README's http://127.0.0.1:8080 becomes the
test cluster's URL. A fresh cluster (not the shared `cluster` fixture) so the
account listing holds only what the tour made.
"""
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from tests.functional.conftest import start_cluster

README = os.path.join(os.path.dirname(__file__), '..', '..', 'README.md')
README_URL = 'http://127.0.0.1:8080'
MARK = '@@tour-block-%d@@'


def tour_blocks(text):
    """[(commands, expected output or None)] of the README's tour."""
    match = re.search(r'<!-- tour-begin -->(.*)<!-- tour-end -->', text, re.S)
    assert match, 'README.md has no <!-- tour-begin --> ... <!-- tour-end --> section'
    fences = re.findall(r'^```(\w*)\n(.*?)^```$', match.group(1), re.S | re.M)
    blocks = []
    for lang, body in fences:
        if lang == 'sh':
            blocks.append([body, None])
        elif lang == 'text':
            assert blocks and blocks[-1][1] is None, 'a text block must follow a sh block'
            blocks[-1][1] = body
    return [tuple(b) for b in blocks]


def test_tour_parsing():
    blocks = tour_blocks('x <!-- tour-begin -->\n```sh\necho a\n```\n```text\na\n```\n'
                         'prose\n```sh\ntrue\n```\n<!-- tour-end -->\n```sh\nnot me\n```\n')
    assert blocks == [('echo a\n', 'a\n'), ('true\n', None)]


def _checkout_venv(directory):
    """Make `directory/.venv` the venv running the tests (a link), or, when they run outside a venv, a stand-in
    whose bin/activate puts this interpreter's scripts on PATH."""
    link = os.path.join(directory, '.venv')
    if sys.prefix != sys.base_prefix and os.path.exists(os.path.join(sys.prefix, 'bin', 'activate')):
        os.symlink(sys.prefix, link)
        return
    os.makedirs(os.path.join(link, 'bin'))
    with open(os.path.join(link, 'bin', 'activate'), 'w') as f:
        f.write('export PATH=%s:"$PATH"\n' % shlex.quote(os.path.dirname(sys.executable)))


@pytest.fixture(scope='module')
def tour_cluster(tmp_path_factory):
    aio = start_cluster(tmp_path_factory.mktemp('tour-aio'))
    try:
        yield aio
    finally:
        aio.stop(timeout=10)
        aio.unlock()


@pytest.mark.skipif(not shutil.which('curl'), reason='the tour uses curl')
def test_readme_tour(tour_cluster, tmp_path):
    with open(README, encoding='utf-8') as f:
        blocks = tour_blocks(f.read())
    assert len(blocks) >= 6, 'the tour lost its blocks'
    url = tour_cluster.proxy_url
    script = ['set -e']
    for n, (commands, _expected) in enumerate(blocks):
        script += ['echo %s' % (MARK % n), commands.replace(README_URL, url)]
    env = dict(os.environ)
    env.pop('VIRTUAL_ENV', None)
    # As a reader would: `swift` and `swiftlike` are not on PATH until the tour's `. .venv/bin/activate`
    # (run in the checkout, here in a directory whose .venv is the venv running the tests).
    bindir = os.path.dirname(sys.executable)
    env['PATH'] = os.pathsep.join(p for p in env.get('PATH', '').split(os.pathsep) if p and p != bindir)
    _checkout_venv(str(tmp_path))
    done = subprocess.run(['bash', '-c', '\n'.join(script)], cwd=str(tmp_path), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=120)
    outputs = re.split(r'@@tour-block-\d+@@\n', done.stdout)[1:]
    assert done.returncode == 0, 'tour failed at block %d:\n%s\nstderr: %s' % (
        len(outputs) - 1, blocks[len(outputs) - 1][0], done.stderr)
    assert len(outputs) == len(blocks)
    for (commands, expected), output in zip(blocks, outputs):
        if expected is not None:
            assert output == expected.replace(README_URL, url), commands
