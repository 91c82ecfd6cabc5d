"""swiftlike auth: print shell export lines for the storage URL and token (or the credentials)."""
import shlex

from swiftlike.client.commands.common import UsageError
from swiftlike.client.exceptions import ClientException

NAME = 'auth'
HELP = 'print export lines for the storage URL and token'
DESCRIPTION = '''Authenticate and print shell "export" lines, so later commands (and other tools)
skip the authentication round trip:

  eval "$(swiftlike auth)"                 sets OS_STORAGE_URL and OS_AUTH_TOKEN
  eval "$(swiftlike auth --credentials)"   sets ST_AUTH, ST_USER and ST_KEY instead
'''


def add_arguments(parser):
    parser.add_argument('--credentials', action='store_true',
                        help='print ST_AUTH/ST_USER/ST_KEY (no request is made) instead of a token')


def run(args, ctx):
    if args.credentials:
        if not (args.auth and args.user and args.key is not None):
            raise UsageError('--credentials needs -A/--auth, -U/--user and -K/--key (or ST_AUTH/ST_USER/ST_KEY)')
        ctx.out.write(export_lines([('ST_AUTH', args.auth), ('ST_USER', args.user), ('ST_KEY', args.key)]))
        return
    try:
        url, token = ctx.conn.get_auth()
    except ClientException as err:
        ctx.fail('auth', '', err)
        return
    ctx.out.write(export_lines([('OS_STORAGE_URL', url), ('OS_AUTH_TOKEN', token)]))


def export_lines(pairs):
    return ''.join('export %s=%s\n' % (name, shlex.quote(value)) for name, value in pairs)
