"""swiftlike stat [container [object]]: the account's, a container's or an object's headers, readable."""
import json

NAME = 'stat'
HELP = 'show account, container or object information'
DESCRIPTION = '''Show information about the account, a container or an object.

examples:
  swiftlike stat                   the account: containers, objects, bytes used, metadata
  swiftlike stat photos            a container
  swiftlike stat photos cat.jpg    an object
  swiftlike stat --json photos     all response headers as a JSON object
'''

# (header, label) in display order; everything else follows under its own name.
ACCOUNT_FIELDS = [('x-account-container-count', 'Containers'), ('x-account-object-count', 'Objects'),
                  ('x-account-bytes-used', 'Bytes')]
CONTAINER_FIELDS = [('x-container-object-count', 'Objects'), ('x-container-bytes-used', 'Bytes'),
                    ('x-container-read', 'Read ACL'), ('x-container-write', 'Write ACL'),
                    ('x-storage-policy', 'Storage Policy')]
OBJECT_FIELDS = [('content-type', 'Content Type'), ('content-length', 'Content Length'),
                 ('last-modified', 'Last Modified'), ('etag', 'ETag'), ('x-delete-at', 'Delete At'),
                 ('x-object-manifest', 'Manifest')]
HIDDEN = {'date', 'content-length', 'x-trans-id', 'x-openstack-request-id', 'connection', 'vary',
          'accept-ranges', 'x-put-timestamp', 'x-timestamp', 'content-type', 'transfer-encoding'}
META_PREFIXES = ('x-account-meta-', 'x-container-meta-', 'x-object-meta-')


def add_arguments(parser):
    parser.add_argument('container', nargs='?', help='container name (omit for the account)')
    parser.add_argument('object', nargs='?', help='object name')
    parser.add_argument('--json', action='store_true', help='print all response headers as JSON')
    parser.add_argument('-H', '--header', action='append', metavar='NAME:VALUE',
                        help='add a request header (repeatable)')


def run(args, ctx):
    from swiftlike.client.commands.common import build_headers
    headers = build_headers(args, '')
    conn = ctx.conn
    try:
        if args.object is not None:
            resp = conn.head_object(args.container, args.object, headers=headers)
            fields = [('Account', _account(conn)), ('Container', args.container), ('Object', args.object)]
            known = OBJECT_FIELDS
        elif args.container is not None:
            resp = conn.head_container(args.container, headers=headers)
            fields = [('Account', _account(conn)), ('Container', args.container)]
            known = CONTAINER_FIELDS
        else:
            resp = conn.head_account(headers=headers)
            fields = [('Account', _account(conn))]
            known = ACCOUNT_FIELDS
    except Exception as err:   # noqa: BLE001 - reported as a failed item, never a traceback
        ctx.fail('stat', '/'.join(p for p in (args.container, args.object) if p is not None) or 'account', err)
        return
    if args.json:
        ctx.out.write(json.dumps(resp, indent=2, sort_keys=True) + '\n')
        return
    ctx.out.write(format_stat(fields, known, resp))


def format_stat(fields, known, headers):
    """Aligned 'Label: value' lines like the swift CLI's stat."""
    rows = list(fields)
    for name, label in known:
        if name in headers:
            rows.append((label, headers[name]))
    shown = {name for name, _ in known}
    for name in sorted(headers):
        if name.startswith(META_PREFIXES):
            key = name.split('-meta-', 1)[1]
            rows.append(('Meta ' + key.title(), headers[name]))
        elif name not in shown and name not in HIDDEN:
            rows.append((name.title(), headers[name]))
    if 'x-timestamp' in headers:
        rows.append(('X-Timestamp', headers['x-timestamp']))
    width = max(len(label) for label, _ in rows)
    return ''.join('%s: %s\n' % (label.rjust(width), value) for label, value in rows)


def _account(conn):
    url = conn.url or ''
    return url.rstrip('/').rsplit('/', 1)[-1]
