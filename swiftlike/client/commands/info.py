"""swiftlike info: the cluster's capabilities (/info)."""
import json

from swiftlike.client.connection import Connection
from swiftlike.client.exceptions import ClientException

NAME = 'info'
HELP = "show the cluster's capabilities (/info)"
DESCRIPTION = '''Show what the cluster supports and its limits (GET /info), as JSON.

examples:
  swiftlike info              everything
  swiftlike info swift        only the core section (limits such as max_file_size)
'''


def add_arguments(parser):
    parser.add_argument('section', nargs='?', help='only this section, e.g. "swift"')


def run(args, ctx):
    try:
        if args.auth and not (args.user and args.key is not None):
            info = Connection(args.auth, retries=args.retries, timeout=args.timeout,
                              insecure=args.insecure).get_capabilities(args.auth)   # /info needs no login
        else:
            info = ctx.conn.get_capabilities()
    except ClientException as err:
        ctx.fail('info', '', err)
        return
    if args.section is not None:
        if args.section not in info:
            ctx.fail('info', args.section, 'no such section; the cluster has: %s' % ', '.join(sorted(info)))
            return
        info = info[args.section]
    ctx.out.write(json.dumps(info, indent=2, sort_keys=True) + '\n')
