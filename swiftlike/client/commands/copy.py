"""swiftlike copy: server-side copies of objects, optionally with new metadata."""
from swiftlike.client.commands.common import UsageError, build_headers
from swiftlike.client.exceptions import ClientException

NAME = 'copy'
HELP = 'copy objects on the server'
DESCRIPTION = '''Copy objects within the cluster (no data passes through this machine).

-d /container/object copies one object there; -d /container copies each object under its own
name into that container. Without -d an object is copied onto itself, which is how to change
its metadata while keeping its data.

examples:
  swiftlike copy photos cat.jpg -d /backup/cat.jpg
  swiftlike copy photos a.jpg b.jpg -d /backup
  swiftlike copy photos cat.jpg -m reviewed:yes --fresh-metadata
'''


def add_arguments(parser):
    parser.add_argument('container', help='source container')
    parser.add_argument('objects', nargs='+', metavar='OBJECT', help='objects to copy')
    parser.add_argument('-d', '--destination', metavar='/CONTAINER[/OBJECT]',
                        help='where to copy to (default: onto itself)')
    parser.add_argument('-m', '--meta', action='append', metavar='KEY:VALUE', help='metadata to set (repeatable)')
    parser.add_argument('-H', '--header', action='append', metavar='NAME:VALUE',
                        help='extra request header (repeatable)')
    parser.add_argument('--fresh-metadata', action='store_true',
                        help='do not keep the source metadata, only what -m/-H give')


def destinations(container, objects, destination):
    """[(object, '/dest_container/dest_object')] for the arguments (pure)."""
    if destination is None:
        return [(o, '/%s/%s' % (container, o)) for o in objects]
    if not destination.startswith('/') or destination == '/':
        raise UsageError('-d/--destination must look like /CONTAINER or /CONTAINER/OBJECT, got %r'
                         % destination)
    dest_container, _, dest_obj = destination[1:].partition('/')
    if not dest_container:
        raise UsageError('-d/--destination names no container: %r' % destination)
    if dest_obj:
        if len(objects) > 1:
            raise UsageError('-d /CONTAINER/OBJECT takes one OBJECT; give -d /CONTAINER to copy several')
        return [(objects[0], '/%s/%s' % (dest_container, dest_obj))]
    return [(o, '/%s/%s' % (dest_container, o)) for o in objects]


def run(args, ctx):
    pairs = destinations(args.container, args.objects, args.destination)
    headers = build_headers(args, 'X-Object-Meta-')
    for obj, dest in pairs:
        try:
            ctx.conn.copy_object(args.container, obj, dest, headers=headers,
                                 fresh_metadata=True if args.fresh_metadata else None)
            ctx.say('%s/%s copied to %s' % (args.container, obj, dest))
        except ClientException as err:
            ctx.fail('copy', '%s/%s' % (args.container, obj), _explain(ctx.conn, args.container, obj, dest, err))


def _explain(conn, container, obj, dest, err):
    """A 404 on copy may be the source or the destination container: say which."""
    if err.http_status != 404:
        return err
    try:
        conn.head_object(container, obj)
    except ClientException:
        return err
    return '%s (the destination container %r does not exist)' % (err.short(), dest.split('/')[1])
