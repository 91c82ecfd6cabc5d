"""The swiftlike CLI's argument parsing, help texts, usage errors and exit statuses (no server needed)."""
import io
import socket

import pytest

from swiftlike.client import cli
from swiftlike.client.commands import COMMANDS


@pytest.fixture(autouse=True)
def _no_credentials_from_env(monkeypatch):
    for name in ('ST_AUTH', 'ST_USER', 'ST_KEY', 'OS_STORAGE_URL', 'OS_AUTH_TOKEN'):
        monkeypatch.delenv(name, raising=False)


class TtyIO(io.StringIO):
    def isatty(self):
        return True


def run(argv, stdin=None):
    out, err = io.StringIO(), io.StringIO()
    status = cli.main(argv, stdout=out, stderr=err, stdin=stdin or io.StringIO())
    return status, out.getvalue(), err.getvalue()


def parse(argv):
    return cli.build_parser().parse_args(argv)


def closed_port():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


# -- parsing ---------------------------------------------------------------------------------------------------

def test_global_options_before_and_after_the_command():
    before = parse(['-A', 'http://a/auth/v1.0', '-U', 'u:v', '-K', 'k', 'list', 'c'])
    after = parse(['list', 'c', '-A', 'http://a/auth/v1.0', '-U', 'u:v', '-K', 'k'])
    for args in (before, after):
        assert (args.auth, args.user, args.key, args.container) == ('http://a/auth/v1.0', 'u:v', 'k', 'c')


def test_option_after_command_does_not_reset_one_given_before():
    args = parse(['--retries', '2', 'stat'])
    assert args.retries == 2


def test_credentials_come_from_the_environment(monkeypatch):
    monkeypatch.setenv('ST_AUTH', 'http://e/auth/v1.0')
    monkeypatch.setenv('ST_USER', 'e:u')
    monkeypatch.setenv('ST_KEY', 'ek')
    args = parse(['stat'])
    assert (args.auth, args.user, args.key) == ('http://e/auth/v1.0', 'e:u', 'ek')
    assert parse(['-U', 'flag:u', 'stat']).user == 'flag:u'   # a flag beats the environment


def test_list_options():
    args = parse(['list', 'c', '--prefix', 'a/', '--delimiter', '/', '--long', '--json', '-r'])
    assert (args.prefix, args.delimiter, args.long, args.json, args.reverse) == ('a/', '/', True, True, True)


def test_upload_options():
    args = parse(['upload', 'c', 'a', 'b', '-t', '4', '-m', 'k:v', '--force', '--object-name', 'x'])
    assert args.paths == ['a', 'b'] and args.object_threads == 4 and args.meta == ['k:v'] and args.force
    assert parse(['upload', 'c', 'f']).object_threads == 10


def test_delete_and_download_options():
    args = parse(['delete', 'c', 'o1', 'o2', '-y'])
    assert args.objects == ['o1', 'o2'] and args.yes
    args = parse(['download', 'c', '-D', '/tmp/x', '-p', 'pre', '--remove-prefix', '--skip-identical'])
    assert (args.output_dir, args.prefix, args.remove_prefix, args.skip_identical) == (
        '/tmp/x', 'pre', True, True)


def test_post_acl_flags():
    args = parse(['post', 'c', '-r', '.r:*', '-w', 'acct:user', '-m', 'a:b'])
    assert (args.read_acl, args.write_acl, args.meta) == ('.r:*', 'acct:user', ['a:b'])


# -- help ------------------------------------------------------------------------------------------------------

def test_main_help_lists_every_command_and_the_exit_codes():
    with pytest.raises(SystemExit) as exit_:
        parse(['--help'])
    assert exit_.value.code == 0
    status, out, _ = run(['--help'])
    assert status == 0
    for module in COMMANDS:
        assert module.NAME in out
    assert 'ST_AUTH' in out and 'exit status' in out and '2 usage error' in out


@pytest.mark.parametrize('command', [m.NAME for m in COMMANDS])
def test_each_command_has_help_with_examples(command):
    status, out, err = run([command, '--help'])
    assert status == 0, err
    assert out.startswith('usage: swiftlike %s' % command)
    assert 'connection options' in out
    if command not in ('auth',):
        assert 'examples:' in out


def test_upload_help_explains_resuming():
    _, out, _ = run(['upload', '--help'])
    assert 'resumable' in out and '--force' in out


def test_delete_help_explains_confirmation():
    _, out, _ = run(['delete', '--help'])
    assert '-y, --yes' in out and 'exit status 2' in out


# -- usage errors: exit status 2, a message, never a traceback -----------------------------------------------

USAGE_ERRORS = [
    ([], 'no COMMAND given'),
    (['bogus'], "invalid choice: 'bogus'"),
    (['list', '--prefix'], 'expected one argument'),
    (['upload', 'c'], 'the following arguments are required: PATH'),
    (['upload', 'c', 'f', '-t', '0'], 'must be at least 1'),
    (['upload', 'c', 'f', '-t', 'many'], "'many' is not a whole number"),
    (['--retries', '-1', 'stat'], 'must be 0 or more'),
    (['-V', '2', 'stat'], "invalid choice: '2'"),
    (['--timeout', '0', 'stat'], 'must be more than 0'),
]


@pytest.mark.parametrize('argv,message', USAGE_ERRORS)
def test_parse_errors_exit_2_with_a_message(argv, message):
    status, out, err = run(argv)
    assert status == 2
    assert message in err
    assert 'Traceback' not in err + out
    assert err.startswith('usage: swiftlike')


CREDS = ['-A', 'http://127.0.0.1:1/auth/v1.0', '-U', 'u:v', '-K', 'k']

COMMAND_USAGE_ERRORS = [
    (['stat'], 'no credentials: missing -A/--auth (or ST_AUTH), -U/--user (or ST_USER), -K/--key'),
    (CREDS + ['upload', 'c', '-'], 'uploading stdin ("-") needs --object-name'),
    (CREDS + ['upload', 'c', 'a', 'b', '--object-name', 'x'], '--object-name needs exactly one PATH'),
    (CREDS + ['upload', 'c', 'f', '-m', 'novalue'], "-m/--meta must look like NAME:VALUE, got 'novalue'"),
    (CREDS + ['post', 'c', '-H', ':v'], '-H/--header has an empty name'),
    (CREDS + ['download'], 'download needs a CONTAINER, or --all'),
    (CREDS + ['download', 'c', 'a', 'b', '-o', 'f'], '-o/--output needs exactly one OBJECT'),
    (CREDS + ['download', 'c', '--remove-prefix'], '--remove-prefix needs -p/--prefix'),
    (CREDS + ['delete'], 'delete needs a CONTAINER'),
    (CREDS + ['delete', 'c', 'o', '-p', 'x'], 'give OBJECT names or -p/--prefix, not both'),
    (CREDS + ['delete', '--all', 'c'], '--all deletes every container; do not name one'),
    (CREDS + ['post', 'c', 'o', '-r', '.r:*'], '-r/--read-acl and -w/--write-acl apply to a container only'),
    (CREDS + ['post', '-w', 'a:b'], '-r/--read-acl and -w/--write-acl apply to a container only'),
    (CREDS + ['post', 'c', '--replace-meta'], '--replace-meta applies to objects only'),
    (CREDS + ['copy', 'c', 'a', 'b', '-d', '/d/x'], '-d /CONTAINER/OBJECT takes one OBJECT'),
    (CREDS + ['copy', 'c', 'a', '-d', 'nodash'], '-d/--destination must look like /CONTAINER'),
    (['auth', '--credentials', '-A', 'http://x/auth/v1.0'], '--credentials needs -A/--auth, -U/--user and -K'),
]


@pytest.mark.parametrize('argv,message', COMMAND_USAGE_ERRORS)
def test_command_usage_errors_exit_2_with_a_message(argv, message):
    status, out, err = run(argv)
    assert status == 2, err
    assert message in err
    assert err.startswith('swiftlike %s: error: ' % [a for a in argv if not a.startswith('-') and a not in
                                                      CREDS][0])
    assert 'Traceback' not in err + out


def test_delete_container_without_a_terminal_and_without_yes_refuses_with_2(monkeypatch):
    from swiftlike.client.commands import delete

    class Ctx:
        stdin = io.StringIO()
        err = io.StringIO()
    with pytest.raises(Exception) as info:
        delete.confirm(Ctx, 'Delete container x?', assume_yes=False)
    assert 'stdin is not a terminal (pass -y/--yes)' in str(info.value)


def test_delete_confirmation_on_a_terminal():
    from swiftlike.client.commands import delete

    class Ctx:
        err = io.StringIO()
    Ctx.stdin = TtyIO('y\n')
    assert delete.confirm(Ctx, 'Delete container x?', assume_yes=False)
    assert Ctx.err.getvalue() == 'Delete container x? [y/N] '
    Ctx.stdin = TtyIO('\n')
    assert not delete.confirm(Ctx, 'Delete?', assume_yes=False)
    Ctx.stdin = io.StringIO()
    assert delete.confirm(Ctx, 'Delete?', assume_yes=True)


# -- failures talking to a server: exit status 1, the item and the reason named -----------------------------

def test_unreachable_server_names_the_item_and_exits_1():
    url = 'http://127.0.0.1:%d/auth/v1.0' % closed_port()
    status, out, err = run(['-A', url, '-U', 'u:v', '-K', 'k', '--retries', '0', 'stat', 'box'])
    assert status == 1
    assert err.startswith('swiftlike: stat box failed: Auth GET failed after 1 attempts: connection refused')
    assert 'Traceback' not in err + out


def test_unreachable_server_says_once_that_it_is_retrying(monkeypatch):
    from swiftlike.client.core import BaseConnection
    naps = []
    monkeypatch.setattr(BaseConnection, '_sleep', lambda self, backoff: naps.append(backoff))
    url = 'http://127.0.0.1:%d/auth/v1.0' % closed_port()
    status, out, err = run(['-A', url, '-U', 'u:v', '-K', 'k', '--retries', '3', 'list'])
    assert status == 1 and out == ''
    assert err.splitlines() == [
        'swiftlike: auth failed (connection refused); retrying 3 more times...',
        'swiftlike: list account failed: Auth GET failed after 4 attempts: connection refused']
    assert len(naps) == 3                                    # the retries are kept
    status, out, err = run(['-A', url, '-U', 'u:v', '-K', 'k', '--retries', '1', 'stat'])
    assert err.splitlines()[0] == 'swiftlike: auth failed (connection refused); retrying 1 more time...'
    # With a storage URL and token there is no auth: the first request says it instead.
    status, out, err = run(['--os-storage-url', url.replace('/auth/v1.0', '/v1/AUTH_t'), '--os-auth-token', 't',
                            '--retries', '2', 'stat'])
    assert status == 1
    assert err.splitlines()[0] == 'swiftlike: account HEAD failed (connection refused); retrying 2 more times...'
    assert len(err.splitlines()) == 2


def test_retry_notice_is_quiet_once_the_cluster_has_answered():
    from swiftlike.client.commands.common import Context

    class Conn:
        succeeded_once = False
    err = io.StringIO()
    ctx = Context(parse(['stat']), stdout=io.StringIO(), stderr=err)
    ctx._conn = Conn()
    ctx.retry_notice('Object', 'PUT', '503 Service Unavailable', 5)
    ctx.retry_notice('Auth', 'GET', 'connection refused', 5)       # once per run
    assert err.getvalue() == 'swiftlike: object PUT failed (503 Service Unavailable); retrying 5 more times...\n'
    ctx = Context(parse(['stat']), stdout=io.StringIO(), stderr=err)
    ctx._conn = Conn()
    ctx._conn.succeeded_once = True
    err.truncate(0)
    err.seek(0)
    ctx.retry_notice('Object', 'PUT', '503 Service Unavailable', 5)   # mid-run: quiet
    assert err.getvalue() == ''
    ctx.retry_notice('Auth', 'GET', 'timed out', 2)                   # re-authenticating: said
    assert err.getvalue() == 'swiftlike: auth failed (timed out); retrying 2 more times...\n'


def test_upload_of_missing_local_files_names_each_one(tmp_path):
    url = 'http://127.0.0.1:%d/auth/v1.0' % closed_port()
    status, out, err = run(['-A', url, '-U', 'u:v', '-K', 'k', 'upload', 'c',
                            str(tmp_path / 'nope1'), str(tmp_path / 'nope2')])
    assert status == 1
    lines = err.splitlines()
    assert lines == ['swiftlike: upload %s failed: No such file or directory' % (tmp_path / 'nope1'),
                     'swiftlike: upload %s failed: No such file or directory' % (tmp_path / 'nope2')]


def test_python_dash_m_entry_point_runs_main():
    import subprocess
    import sys
    done = subprocess.run([sys.executable, '-m', 'swiftlike.client', '--version'], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == 'swiftlike 0.1.0'
    done = subprocess.run([sys.executable, '-m', 'swiftlike.client', 'nope'], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and "invalid choice: 'nope'" in done.stderr
