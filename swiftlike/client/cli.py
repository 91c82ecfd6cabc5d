"""The `swiftlike` command line (also `python -m swiftlike.client`).

Exit status: 0 all done, 1 some items failed (each named on stderr), 2 usage error. Never a traceback.
"""
import argparse
import os
import sys

from swiftlike.client.commands import COMMANDS
from swiftlike.client.commands.common import Context, UsageError, check_connection_urls
from swiftlike.client.exceptions import ClientException

PROG = 'swiftlike'
DESCRIPTION = '''Command-line client for swiftlike and other OpenStack Swift (v1 API) clusters.

Credentials: -A/-U/-K, or the environment variables ST_AUTH, ST_USER and ST_KEY
(or a ready storage URL and token: --os-storage-url/--os-auth-token, OS_STORAGE_URL/OS_AUTH_TOKEN).
'''
EPILOG = '''examples:
  export ST_AUTH=http://127.0.0.1:8080/auth/v1.0 ST_USER=test:tester ST_KEY=testing
  swiftlike upload photos ./2024          (re-run to resume: identical objects are skipped)
  swiftlike list photos --long --lh
  swiftlike download photos -D /tmp/photos
  swiftlike delete photos --yes

Run "swiftlike COMMAND --help" for a command's options.
exit status: 0 ok, 1 some items failed (each is named on stderr), 2 usage error.
'''


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors say which command they are about and exit with status 2."""

    def error(self, message):
        self.print_usage(sys.stderr)
        sys.stderr.write('%s: error: %s\n' % (self.prog, message))
        sys.exit(2)


def _add_global_options(parser, suppress):
    """The connection options, accepted both before and after the command name.

    The copy on each sub-command uses SUPPRESS defaults so it never overwrites a value given before it.
    """
    def default(value):
        return argparse.SUPPRESS if suppress else value
    env = os.environ
    group = parser.add_argument_group('connection options')
    group.add_argument('-A', '--auth', default=default(env.get('ST_AUTH')), metavar='URL',
                       help='v1.0 auth URL, e.g. http://host:8080/auth/v1.0 (env ST_AUTH)')
    group.add_argument('-U', '--user', default=default(env.get('ST_USER')), metavar='USER',
                       help='user, e.g. account:user (env ST_USER)')
    group.add_argument('-K', '--key', default=default(env.get('ST_KEY')), metavar='KEY',
                       help='key / password (env ST_KEY)')
    group.add_argument('--os-storage-url', default=default(env.get('OS_STORAGE_URL')), metavar='URL',
                       help='use this storage URL (env OS_STORAGE_URL)')
    group.add_argument('--os-auth-token', default=default(env.get('OS_AUTH_TOKEN')), metavar='TOKEN',
                       help='use this token instead of authenticating (env OS_AUTH_TOKEN)')
    group.add_argument('-V', '--auth-version', default=default('1.0'), choices=['1', '1.0'],
                       help='auth version; only v1.0 is supported')
    group.add_argument('--retries', type=_non_negative_int, default=default(5), metavar='N',
                       help='retries per request on network errors and 5xx (default 5)')
    group.add_argument('--timeout', type=_positive_float, default=default(120.0), metavar='SECONDS',
                       help='give up on a connection silent for this long, then retry (default 120)')
    group.add_argument('--insecure', action='store_true', default=default(False),
                       help='do not verify the server certificate (https)')
    out = parser.add_argument_group('output options')
    out.add_argument('-q', '--quiet', action='store_true', default=default(False),
                     help='print only errors')
    out.add_argument('--no-progress', action='store_true', default=default(False),
                     help='never draw progress bars (they are drawn only when stderr is a terminal)')


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError('%r is not a number' % text) from None
    if not value > 0:
        raise argparse.ArgumentTypeError('must be more than 0, got %s' % text)
    return value


def _non_negative_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError('%r is not a whole number' % text) from None
    if value < 0:
        raise argparse.ArgumentTypeError('must be 0 or more, got %d' % value)
    return value


def build_parser():
    parser = _Parser(prog=PROG, description=DESCRIPTION, epilog=EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--version', action='version', version='%(prog)s 0.1.0')
    _add_global_options(parser, suppress=False)
    sub = parser.add_subparsers(dest='command', metavar='COMMAND', parser_class=_Parser)
    for module in COMMANDS:
        cmd = sub.add_parser(module.NAME, help=module.HELP, description=module.DESCRIPTION,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(cmd)
        _add_global_options(cmd, suppress=True)
        cmd.set_defaults(run=module.run)
    return parser


def main(argv=None, stdout=None, stderr=None, stdin=None):
    """Run one command; returns (and as a console script exits with) the exit status."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser()
    try:
        old_err, sys.stderr = sys.stderr, stderr      # argparse writes usage errors to sys.stderr
        old_out, sys.stdout = sys.stdout, stdout
        try:
            args = parser.parse_args(argv)
        finally:
            sys.stderr, sys.stdout = old_err, old_out
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2
    if not getattr(args, 'command', None):
        parser.print_usage(stderr)
        stderr.write('%s: error: no COMMAND given; try "%s --help"\n' % (PROG, PROG))
        return 2
    ctx = Context(args, stdout=stdout, stderr=stderr, stdin=stdin)
    try:
        check_connection_urls(args)
        args.run(args, ctx)
    except UsageError as err:
        stderr.write('%s %s: error: %s\n' % (PROG, args.command, err))
        return 2
    except ClientException as err:
        ctx.fail(args.command, '', err)
    except KeyboardInterrupt:
        stderr.write('\n%s: interrupted\n' % PROG)
        return 130
    except BrokenPipeError:
        _quiet_broken_pipe()
        return 1
    except Exception as err:  # noqa: BLE001 - the promise is: a message, never a traceback
        ctx.fail(args.command, '', '%s: %s' % (err.__class__.__name__, err))
    finally:
        ctx.end_progress()
        if ctx._conn is not None:
            ctx._conn.close()
    return ctx.exit_status()


def _quiet_broken_pipe():
    """`swiftlike list | head` must end quietly, not with 'Exception ignored ... BrokenPipeError'."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass

