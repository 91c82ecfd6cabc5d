"""The `swiftlike` command against a real cluster, run as a real process (python -m swiftlike.client)."""
import hashlib
import json
import os
import pty
import random
import select
import shlex
import subprocess
import sys
import time
import uuid

import pytest

from swiftlike.client import ClientException
from tests.functional.test_client_support import bulk_container, cli, conn, container, endpoint  # noqa: F401


def tree_digest(root):
    """{relative path: md5} of every file under root."""
    found = {}
    for dirpath, _, filenames in os.walk(root):
        for filename in filenames:
            path = os.path.join(dirpath, filename)
            with open(path, 'rb') as f:
                found[os.path.relpath(path, root)] = hashlib.md5(f.read()).hexdigest()
    return found


def test_directory_of_1000_files_up_and_down_concurrently_and_resumably(endpoint, conn, bulk_container,
                                                                        tmp_path):
    container = bulk_container
    src = tmp_path / 'src'
    rnd = random.Random(1)
    for i in range(1000):
        sub = src / ('d%02d' % (i % 20))
        sub.mkdir(parents=True, exist_ok=True)
        (sub / ('f%04d.bin' % i)).write_bytes(os.urandom(rnd.randint(0, 2048)))
    status, out, err = cli(endpoint, 'upload', container, 'src', '-t', '16', cwd=str(tmp_path))
    assert (status, err) == (0, '')
    assert len(out.splitlines()) == 1000 and 'src/d07/f0007.bin' in out.splitlines()
    _, listing = conn.get_container(container, full_listing=True)
    assert len(listing) == 1000

    status, out, err = cli(endpoint, 'download', container, '-D', str(tmp_path / 'dst'), '-t', '16')
    assert (status, err) == (0, '')
    assert len(out.splitlines()) == 1000
    assert tree_digest(tmp_path / 'dst' / 'src') == tree_digest(src)

    # Resumable: nothing changed -> nothing sent; 2 changed files and 1 missing object -> exactly those 3.
    status, out, err = cli(endpoint, 'upload', container, 'src', cwd=str(tmp_path))
    assert (status, out, err) == (0, '', '')
    (src / 'd01' / 'f0001.bin').write_bytes(b'changed')
    (src / 'd02' / 'f0002.bin').write_bytes(b'changed too')
    conn.delete_object(container, 'src/d03/f0003.bin')
    status, out, err = cli(endpoint, 'upload', container, 'src', cwd=str(tmp_path))
    assert status == 0, err
    assert sorted(out.splitlines()) == ['src/d01/f0001.bin', 'src/d02/f0002.bin', 'src/d03/f0003.bin']
    assert conn.get_object(container, 'src/d01/f0001.bin')[1] == b'changed'


def test_single_file_names_stdin_and_stdout(endpoint, conn, container, tmp_path):
    (tmp_path / 'a.txt').write_bytes(b'hello')
    status, out, _ = cli(endpoint, 'upload', container, str(tmp_path / 'a.txt'), '--object-name', 'x/y.txt',
                         '-m', 'Color:blue', '-H', 'Content-Type: text/x-test')
    assert (status, out) == (0, 'x/y.txt\n')
    head = conn.head_object(container, 'x/y.txt')
    assert head['x-object-meta-color'] == 'blue' and head['content-type'] == 'text/x-test'
    assert 'x-object-meta-mtime' in head
    status, out, _ = cli(endpoint, 'upload', container, '-', '--object-name', 'piped', input=b'from stdin' * 1000)
    assert status == 0
    assert conn.get_object(container, 'piped')[1] == b'from stdin' * 1000
    done = subprocess.run([sys.executable, '-m', 'swiftlike.client', 'download', container, 'piped', '-o', '-'],
                          capture_output=True, env=endpoint.cli_env(), stdin=subprocess.DEVNULL, timeout=60)
    assert done.returncode == 0 and done.stdout == b'from stdin' * 1000


def test_upload_into_container_slash_prefix_like_the_swift_cli(endpoint, conn, container, tmp_path):
    """`upload CONTAINER/PREFIX PATH...`: the objects go into CONTAINER under PREFIX (files, directories with
    their empty sub-directories, --object-name, stdin), never into a container named "CONTAINER/PREFIX"."""
    (tmp_path / 'file').write_bytes(b'f')
    (tmp_path / 'dir' / 'sub').mkdir(parents=True)
    (tmp_path / 'dir' / 'empty').mkdir()
    (tmp_path / 'dir' / 'x').write_bytes(b'x')
    (tmp_path / 'dir' / 'sub' / 'y').write_bytes(b'y')
    status, out, err = cli(endpoint, 'upload', container + '/sub', 'file', 'dir/', cwd=str(tmp_path))
    assert (status, err) == (0, '')
    assert sorted(out.splitlines()) == ['sub/dir/empty', 'sub/dir/sub/y', 'sub/dir/x', 'sub/file']
    _, listing = conn.get_container(container)
    assert [o['name'] for o in listing] == ['sub/dir/empty', 'sub/dir/sub/y', 'sub/dir/x', 'sub/file']
    assert conn.get_object(container, 'sub/dir/sub/y')[1] == b'y'
    assert conn.head_object(container, 'sub/dir/empty')['content-type'].startswith('application/directory')
    status, out, err = cli(endpoint, 'upload', container + '/a/b/', 'file', '--object-name', 'n',
                           cwd=str(tmp_path))
    assert (status, out, err) == (0, 'a/b/n\n', '')
    status, out, err = cli(endpoint, 'upload', container + '/in', '-', '--object-name', 'piped', input=b'p')
    assert (status, out) == (0, 'in/piped\n') and conn.get_object(container, 'in/piped')[1] == b'p'
    status, out, err = cli(endpoint, 'upload', container + '/', 'file', cwd=str(tmp_path))
    assert (status, out) == (0, 'file\n')
    # Re-running resumes (nothing is sent again), and no container or object named after the whole argument.
    status, out, err = cli(endpoint, 'upload', container + '/sub', 'file', 'dir/', cwd=str(tmp_path))
    assert (status, out, err) == (0, '', '')
    _, listing = conn.get_container(container)
    assert sorted(o['name'] for o in listing) == ['a/b/n', 'file', 'in/piped', 'sub/dir/empty', 'sub/dir/sub/y',
                                                  'sub/dir/x', 'sub/file']
    _, containers = conn.get_account(prefix=container)
    assert [c['name'] for c in containers] == [container]
    status, out, err = cli(endpoint, 'upload', '/sub', 'file', cwd=str(tmp_path))
    assert status == 2 and err.startswith('swiftlike upload: error: CONTAINER is empty')


def test_other_commands_refuse_a_container_name_with_a_slash(endpoint, conn, container):
    conn.put_object(container, 'sub', b'an object the slash would have reached')
    status, out, err = cli(endpoint, 'post', container + '/sub', '-m', 'k:v')
    assert status == 1
    assert "container name '%s/sub' contains '/'" % container in err
    assert 'x-object-meta-k' not in conn.head_object(container, 'sub')


def test_download_failures_are_named_and_the_rest_still_lands(endpoint, conn, container, tmp_path):
    conn.put_object(container, 'good', b'good')
    conn.put_object(container, '../escape', b'evil')
    status, out, err = cli(endpoint, 'download', container, 'good', 'missing', '-D', str(tmp_path))
    assert status == 1
    assert out == '%s/good\n' % container
    assert err.startswith('swiftlike: download %s/missing failed: 404 Not Found' % container)
    assert 'Traceback' not in err and len(err.splitlines()) == 1
    assert (tmp_path / 'good').read_bytes() == b'good'
    status, out, err = cli(endpoint, 'download', container, '-D', str(tmp_path / 'all'))
    assert status == 1
    assert 'download %s/../escape failed: refused: the name would be written outside' % container in err
    assert not (tmp_path / 'escape').exists() and (tmp_path / 'all' / 'good').exists()


def test_list_and_stat(endpoint, conn, container):
    for name in ('a/1', 'a/2', 'b'):
        conn.put_object(container, name, b'12345', content_type='text/plain')
    status, out, _ = cli(endpoint, 'list', container)
    assert (status, out) == (0, 'a/1\na/2\nb\n')
    assert cli(endpoint, 'list', container, '--prefix', 'a/')[1] == 'a/1\na/2\n'
    assert cli(endpoint, 'list', container, '--delimiter', '/')[1] == 'a/\nb\n'
    status, out, _ = cli(endpoint, 'list', container, '--long')
    lines = out.splitlines()
    assert lines[0].split()[0] == '5' and lines[0].endswith(' text/plain a/1')
    assert lines[-1].split() == ['15', '(3', 'objects)']
    listing = json.loads(cli(endpoint, 'list', container, '--json')[1])
    assert [o['name'] for o in listing] == ['a/1', 'a/2', 'b'] and listing[0]['bytes'] == 5
    assert container in cli(endpoint, 'list', '--prefix', container)[1].split()
    status, out, _ = cli(endpoint, 'stat', container)
    assert status == 0
    assert '  Container: %s' % container in out and 'Objects: 3' in out and 'Bytes: 15' in out
    status, out, _ = cli(endpoint, 'stat', container, 'b', '--json')
    assert json.loads(out)['etag'].strip('"') == hashlib.md5(b'12345').hexdigest()
    status, out, err = cli(endpoint, 'stat', container, 'nope')
    assert status == 1 and err.startswith('swiftlike: stat %s/nope failed: 404 Not Found' % container)


def test_post_metadata_and_acls(endpoint, conn, container):
    conn.put_object(container, 'o', b'x', headers={'X-Object-Meta-Keep': 'k'})
    assert cli(endpoint, 'post', container, 'o', '-m', 'Added:a')[0] == 0
    head = conn.head_object(container, 'o')
    assert head['x-object-meta-keep'] == 'k' and head['x-object-meta-added'] == 'a'   # merged, not replaced
    assert cli(endpoint, 'post', container, 'o', '-m', 'Only:1', '--replace-meta')[0] == 0
    head = conn.head_object(container, 'o')
    assert 'x-object-meta-keep' not in head and head['x-object-meta-only'] == '1'
    assert cli(endpoint, 'post', container, '-m', 'Color:red')[0] == 0
    assert conn.head_container(container)['x-container-meta-color'] == 'red'
    assert cli(endpoint, 'post', container, '-m', 'Color:')[0] == 0
    assert 'x-container-meta-color' not in conn.head_container(container)
    status, out, err = cli(endpoint, 'post', container, '-r', '.r:*,.rlistings', '-w', 'test:tester3')
    assert status == 0, err
    head = conn.head_container(container)
    assert head['x-container-read'] == '.r:*,.rlistings' and head['x-container-write'] == 'test:tester3'
    new = container + '-made-by-post'
    try:
        assert cli(endpoint, 'post', new, '-m', 'x:y')[0] == 0
        assert conn.head_container(new)['x-container-meta-x'] == 'y'
    finally:
        conn.delete_container(new)


def test_copy(endpoint, conn, container):
    conn.put_object(container, 'src', b'data', headers={'X-Object-Meta-A': '1'})
    status, out, _ = cli(endpoint, 'copy', container, 'src', '-d', '/%s/dst' % container, '-m', 'B:2')
    assert (status, out) == (0, '%s/src copied to /%s/dst\n' % (container, container))
    headers, body = conn.get_object(container, 'dst')
    assert body == b'data' and headers['x-object-meta-a'] == '1' and headers['x-object-meta-b'] == '2'
    status, _, err = cli(endpoint, 'copy', container, 'src', '-d', '/no-such-container-%s/x' % uuid.uuid4().hex)
    assert status == 1 and "the destination container 'no-such-container-" in err


def test_delete_confirmation_and_recursive_delete(endpoint, conn, tmp_path):
    name = 'client-cli-del-' + uuid.uuid4().hex[:8]
    conn.put_container(name)
    for i in range(30):
        conn.put_object(name, 'o%02d' % i, b'x')
    status, out, err = cli(endpoint, 'delete', name)          # stdin is not a terminal, no --yes
    assert status == 2 and out == ''
    assert "refusing without confirmation: stdin is not a terminal (pass -y/--yes)" in err
    assert conn.head_container(name)['x-container-object-count'] == '30'
    status, out, err = cli(endpoint, 'delete', name, 'o00', 'o01')   # named objects: no question
    assert (status, sorted(out.splitlines())) == (0, ['%s/o00' % name, '%s/o01' % name])
    status, out, err = cli(endpoint, 'delete', name, 'o00')
    assert status == 1 and err.startswith('swiftlike: delete %s/o00 failed: 404 Not Found' % name)
    status, out, err = cli(endpoint, 'delete', name, '--prefix', 'o1', '-y')
    assert status == 0 and len(out.splitlines()) == 10
    status, out, err = cli(endpoint, 'delete', name, '--yes')
    assert status == 0, err
    assert out.splitlines()[-1] == name and len(out.splitlines()) == 19
    with pytest.raises(ClientException) as info:
        conn.head_container(name)
    assert info.value.http_status == 404


def test_auth_exports_work_for_the_next_command(endpoint, conn, container):
    status, out, _ = cli(endpoint, 'auth')
    assert status == 0
    exports = dict(line[len('export '):].split('=', 1) for line in out.splitlines())
    assert set(exports) == {'OS_STORAGE_URL', 'OS_AUTH_TOKEN'}
    env = {k: v for k, v in os.environ.items() if not k.startswith(('ST_', 'OS_'))}
    env.update({k: shlex.split(v)[0] for k, v in exports.items()})
    conn.put_object(container, 'seen', b'x')
    done = subprocess.run([sys.executable, '-m', 'swiftlike.client', 'list', container], capture_output=True,
                          text=True, env=env, timeout=60, stdin=subprocess.DEVNULL)
    assert (done.returncode, done.stdout) == (0, 'seen\n')
    status, out, _ = cli(endpoint, 'auth', '--credentials')
    assert out == 'export ST_AUTH=%s\nexport ST_USER=%s\nexport ST_KEY=%s\n' % (
        endpoint.auth_url, endpoint.user, endpoint.key)


def test_wrong_key_is_one_clear_line(endpoint):
    env = endpoint.cli_env()
    env['ST_KEY'] = 'wrong'
    done = subprocess.run([sys.executable, '-m', 'swiftlike.client', 'list'], capture_output=True, text=True,
                          env=env, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 1
    assert done.stderr.startswith('swiftlike: list account failed: 401 Unauthorized')
    assert len(done.stderr.splitlines()) == 1


# -- a terminal session: progress bars and the confirmation prompt ---------------------------------------------

def run_in_pty(endpoint, argv, answer=None, timeout=120):
    """Run the CLI with stdin and stderr on a pseudo-terminal (stdout piped): (status, stdout, terminal text)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, '-m', 'swiftlike.client'] + argv, stdin=slave,
                            stdout=subprocess.PIPE, stderr=slave, env=dict(endpoint.cli_env(), COLUMNS='100'))
    os.close(slave)
    screen = b''
    deadline = time.time() + timeout
    answered = False
    while time.time() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:          # EIO: the child closed the terminal
                break
            if not data:
                break
            screen += data
            if answer is not None and not answered and b'[y/N]' in screen:
                os.write(master, answer)
                answered = True
        elif proc.poll() is not None:
            break
    out = proc.stdout.read()
    status = proc.wait(timeout=30)
    os.close(master)
    return status, out.decode(), screen.decode('utf-8', 'replace')


def test_progress_bar_is_drawn_on_a_terminal_only(endpoint, container, tmp_path):
    path = tmp_path / 'big.bin'
    with open(path, 'wb') as f:
        for _ in range(40):
            f.write(os.urandom(1 << 20))
    status, out, screen = run_in_pty(endpoint, ['upload', container, str(path), '--object-name', 'big.bin'])
    assert status == 0 and out == 'big.bin\n'
    assert '\r\x1b[Kupload ' in screen and 'upload 100% [' in screen and '40.0 MiB/40.0 MiB' in screen
    frames = [f for f in screen.split('\r\x1b[K') if f.startswith('upload')]
    assert frames[-1].rstrip().endswith('ETA 0:00')          # the last frame is drawn at the end: 0 s left
    # A named object's size comes with its response: the download bar has a percentage too.
    status, out, screen = run_in_pty(endpoint, ['download', container, 'big.bin', '-D', str(tmp_path / 'd')])
    assert status == 0 and 'download 100% [' in screen and '40.0 MiB/40.0 MiB' in screen
    assert (tmp_path / 'd' / 'big.bin').stat().st_size == 40 << 20
    # Not a terminal: no bar, no carriage returns, nothing but the names.
    status, out, err = cli(endpoint, 'upload', container, str(path), '--object-name', 'big2.bin')
    assert (status, out, err) == (0, 'big2.bin\n', '')
    status, out, screen = run_in_pty(endpoint, ['-q', 'upload', container, str(path), '--object-name', 'q.bin'])
    assert (status, out) == (0, '') and 'upload' not in screen


def test_confirmation_prompt_on_a_terminal(endpoint, conn):
    name = 'client-cli-tty-' + uuid.uuid4().hex[:8]
    conn.put_container(name)
    conn.put_object(name, 'o', b'x')
    status, out, screen = run_in_pty(endpoint, ['delete', name], answer=b'n\n')
    assert status == 0 and "Delete container '%s' and the 1 objects in it? [y/N]" % name in screen
    assert 'Nothing deleted.' in screen
    assert conn.head_container(name)['x-container-object-count'] == '1'
    status, out, screen = run_in_pty(endpoint, ['delete', name], answer=b'y\n')
    assert status == 0 and out == '%s/o\n%s\n' % (name, name)
    with pytest.raises(ClientException):
        conn.head_container(name)
