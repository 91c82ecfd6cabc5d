"""swiftlike list [container]: containers of the account or objects of a container, all pages."""
import json

from swiftlike.client.progress import human_size

NAME = 'list'
HELP = 'list containers, or the objects in a container'
DESCRIPTION = '''List the account's containers, or a container's objects. Every page is fetched
(listings of any length), one name per line.

examples:
  swiftlike list                          containers
  swiftlike list photos --prefix 2024/    objects whose names start with 2024/
  swiftlike list photos --delimiter /     one level of a pseudo-directory tree
  swiftlike list photos --long --lh       sizes, dates and content types, human-readable sizes
  swiftlike list photos --json            the listing as JSON (name, bytes, hash, ...)
'''


def add_arguments(parser):
    parser.add_argument('container', nargs='?', help='container to list (omit for the account)')
    parser.add_argument('-p', '--prefix', help='only names starting with PREFIX')
    parser.add_argument('-d', '--delimiter', help='roll names up at the first DELIMITER after the prefix')
    parser.add_argument('-l', '--long', action='store_true', help='show sizes, dates (and content types)')
    parser.add_argument('--lh', action='store_true', help='like --long, with human-readable sizes')
    parser.add_argument('--json', action='store_true', help='print the listing as a JSON array')
    parser.add_argument('-r', '--reverse', action='store_true', help='list in reverse order')
    parser.add_argument('--totals', action='store_true', help='print only the totals (count and bytes)')


def run(args, ctx):
    conn = ctx.conn
    try:
        if args.container is None:
            _, items = conn.get_account(prefix=args.prefix, delimiter=args.delimiter, full_listing=True,
                                        reverse=args.reverse or None)
        else:
            _, items = conn.get_container(args.container, prefix=args.prefix, delimiter=args.delimiter,
                                          full_listing=True, reverse=args.reverse or None)
    except Exception as err:  # noqa: BLE001 - reported, never a traceback
        ctx.fail('list', args.container or 'account', err)
        return
    if args.json:
        ctx.out.write(json.dumps(items, indent=1) + '\n')
        return
    ctx.out.write(format_listing(items, is_account=args.container is None,
                                 long=args.long or args.lh, human=args.lh, totals_only=args.totals))


def format_listing(items, is_account, long=False, human=False, totals_only=False):
    lines = []
    total_bytes = 0
    total_count = 0
    size = human_size if human else str
    for item in items:
        if 'subdir' in item:
            if not totals_only:
                lines.append((' ' * 12 + ' ' * 20 + ' ' * 25 + item['subdir']) if long and not is_account
                             else item['subdir'])
            continue
        nbytes = int(item.get('bytes', 0))
        total_bytes += nbytes
        total_count += int(item.get('count', 0)) if is_account else 1
        if totals_only:
            continue
        if not long:
            lines.append(item['name'])
        elif is_account:
            lines.append('%10s %12s %19s %s' % (item.get('count', ''), size(nbytes),
                                                _date(item.get('last_modified', '')), item['name']))
        else:
            lines.append('%12s %19s %24s %s' % (size(nbytes), _date(item.get('last_modified', '')),
                                               item.get('content_type', ''), item['name']))
    if long or totals_only:
        if is_account:
            lines.append('%10d %12s (%d containers)' % (total_count, size(total_bytes), len(
                [i for i in items if 'subdir' not in i])))
        else:
            lines.append('%12s (%d objects)' % (size(total_bytes), total_count))
    return ''.join(line + '\n' for line in lines)


def _date(value):
    """'2024-01-02T03:04:05.123456' -> '2024-01-02 03:04:05'."""
    return value.replace('T', ' ')[:19]
