"""The unmodified `swift` CLI and swiftclient library against the cluster."""
import os
import subprocess
import sys

import pytest

from tests.functional.proxy_helpers import unique

SWIFT = os.path.join(os.path.dirname(sys.executable), 'swift')


@pytest.fixture(scope='module')
def swift(cluster):
    if not os.path.exists(SWIFT):
        pytest.skip('python-swiftclient CLI not installed')
    env = dict(os.environ)
    for key in list(env):
        if key.startswith(('OS_', 'ST_')):
            del env[key]
    env.update({'ST_AUTH': cluster.auth_url, 'ST_USER': 'test:tester', 'ST_KEY': 'testing'})

    def run(*args, cwd=None, check=True):
        done = subprocess.run([SWIFT] + list(args), env=env, cwd=cwd, capture_output=True,
                              text=True, timeout=120)
        if check:
            assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done
    return run


def _make_tree(root):
    files = {
        'a.txt': b'hello world\n',
        'sub/b.bin': os.urandom(300000),
        'sub/deeper/c.json': b'{"x": 1}',
        'empty': b'',
        'sp ace/\u00fcnicode.txt': '\u00fcber'.encode(),
    }
    for rel, data in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as f:
            f.write(data)
    return files


def test_cli_stat_post_upload_list_download_delete(swift, tmp_path):
    out = swift('stat').stdout
    assert 'Account: AUTH_test' in out
    container = unique('cli')
    swift('post', container)
    swift('post', '-m', 'color:blue', container)
    assert 'Meta Color: blue' in swift('stat', container).stdout

    src = tmp_path / 'src'
    src.mkdir()
    files = _make_tree(str(src))
    swift('upload', container, '.', cwd=str(src))
    listed = set(swift('list', container).stdout.splitlines())
    assert listed == set(files)
    assert set(swift('list', container, '--prefix', 'sub/').stdout.splitlines()) == \
        {'sub/b.bin', 'sub/deeper/c.json'}
    assert container in swift('list').stdout.splitlines()

    dst = tmp_path / 'dst'
    dst.mkdir()
    swift('download', container, cwd=str(dst))
    for rel, data in files.items():
        with open(os.path.join(str(dst), rel), 'rb') as f:
            assert f.read() == data, rel

    stat = swift('stat', container, 'sub/b.bin').stdout
    assert 'Content Length: 300000' in stat
    swift('post', '-m', 'k:v', container, 'a.txt')
    assert 'Meta K: v' in swift('stat', container, 'a.txt').stdout

    swift('copy', '--destination', '/%s/a-copy.txt' % container, container, 'a.txt')
    dl = swift('download', container, 'a-copy.txt', '-o', '-').stdout
    assert dl == 'hello world\n'

    swift('delete', container, 'a.txt')
    assert 'a.txt' not in swift('list', container).stdout.splitlines()
    swift('delete', container)
    assert container not in swift('list').stdout.splitlines()
    assert swift('stat', container, check=False).returncode != 0


def test_cli_capabilities(swift):
    out = swift('capabilities').stdout
    assert 'max_file_size' in out
    words = out.split()
    for name in ('slo', 'symlink', 'versioned_writes', 'tempurl', 'formpost', 'ratelimit'):
        assert name in words or name + ':' in words, name
    # not built: not advertised
    assert 'container_sync' not in words and 'container_sync:' not in words


def test_library_round_trip(cluster):
    from swiftclient import client
    conn = client.Connection(**cluster.swiftclient_conf())
    container = unique('lib')
    conn.put_container(container, headers={'X-Container-Meta-A': 'b'})
    etag = conn.put_object(container, 'o', contents=b'abc' * 1000, content_type='text/plain')
    headers, body = conn.get_object(container, 'o')
    assert body == b'abc' * 1000 and headers['etag'] == etag
    headers, listing = conn.get_container(container)
    assert headers['x-container-meta-a'] == 'b'
    assert [item['name'] for item in listing] == ['o']
    # Chunked upload from a generator.
    conn.put_object(container, 'gen', contents=(b'x' * 1000 for _ in range(100)))
    assert conn.head_object(container, 'gen')['content-length'] == '100000'
    conn.delete_object(container, 'o')
    conn.delete_object(container, 'gen')
    conn.delete_container(container)


def test_cli_segmented_upload_round_trips(swift, tmp_path):
    """`swift upload --segment-size` makes a DLO (segments in <c>_segments,
    a manifest under the file's name); `swift download` gets the bytes back."""
    data = os.urandom(3 * 1024 * 1024 + 5)
    (tmp_path / 'big.bin').write_bytes(data)
    c = unique()
    swift('upload', '--segment-size', '1048576', '--use-dlo', c, 'big.bin', cwd=str(tmp_path))
    stat = swift('stat', c, 'big.bin').stdout
    assert 'Manifest: %s_segments/big.bin/' % c in stat
    assert 'Content Length: %d' % len(data) in stat
    assert len(swift('list', c + '_segments').stdout.splitlines()) == 4
    out = tmp_path / 'out'
    out.mkdir()
    swift('download', c, 'big.bin', cwd=str(out))
    assert (out / 'big.bin').read_bytes() == data


def test_cli_slo_upload_round_trips(swift, tmp_path):
    """`swift upload --use-slo`: segments in <c>_segments and a static large
    object under the file's name; `swift download` checks and gets the bytes."""
    data = os.urandom(3 * 1024 * 1024 + 5)
    (tmp_path / 'big.bin').write_bytes(data)
    c = unique()
    swift('upload', '--segment-size', '1048576', '--use-slo', c, 'big.bin', cwd=str(tmp_path))
    stat = swift('stat', c, 'big.bin').stdout
    assert 'Content Length: %d' % len(data) in stat
    assert 'X-Static-Large-Object: True' in stat
    assert len(swift('list', c + '_segments').stdout.splitlines()) == 4
    out = tmp_path / 'out'
    out.mkdir()
    swift('download', c, 'big.bin', cwd=str(out))
    assert (out / 'big.bin').read_bytes() == data
    # deleting the SLO deletes its segments too
    swift('delete', c, 'big.bin')
    assert swift('list', c + '_segments').stdout.strip() == ''


def test_cli_versions(swift, tmp_path):
    """`swift list --versions` and `swift delete --version-id` on a container
    with object versioning (X-Versions-Enabled), as on Swift."""
    c = unique()
    swift('post', '-H', 'X-Versions-Enabled: true', c)
    for content in (b'first', b'second'):
        (tmp_path / 'f.txt').write_bytes(content)
        swift('upload', '--object-name', 'f.txt', c, 'f.txt', cwd=str(tmp_path))
    lines = swift('list', '--versions', c).stdout.splitlines()
    versions = [line.split() for line in lines if 'f.txt' in line]
    assert len(versions) == 2, lines
    out = tmp_path / 'out'
    out.mkdir()
    swift('download', c, 'f.txt', cwd=str(out))
    assert (out / 'f.txt').read_bytes() == b'second'
    # the older version by its id
    oldest = [v for v in versions if v[-1] == 'f.txt'][-1][-3]
    swift('download', '--version-id', oldest, c, 'f.txt', '-o', str(out / 'old'))
    assert (out / 'old').read_bytes() == b'first'
    # delete the newest version by its id: as on Swift, the object then reads
    # as absent (no version is promoted) and the older version stays listed
    newest = swift('stat', c, 'f.txt').stdout
    vid = [line.split(':', 1)[1].strip() for line in newest.splitlines()
           if 'X-Object-Version-Id' in line][0]
    swift('delete', '--version-id', vid, c, 'f.txt')
    assert swift('download', c, 'f.txt', cwd=str(out), check=False).returncode != 0
    lines = swift('list', '--versions', c).stdout.splitlines()
    assert [line.split()[-3] for line in lines if line.endswith('f.txt')] == [oldest], lines
