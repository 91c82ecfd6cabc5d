"""swiftlike delete: objects, whole containers (recursively) or everything, with a confirmation."""
import time

from swiftlike.client.commands.common import UsageError, add_threads_option, is_not_found
from swiftlike.client.exceptions import ClientException

NAME = 'delete'
HELP = 'delete objects or containers'
DESCRIPTION = '''Delete named objects, all objects under a prefix, a whole container (its objects first,
then the container) or every container (--all).

Deleting a container, a prefix or everything asks for confirmation first. Without a terminal
to ask on, it refuses (exit status 2) unless -y/--yes is given. Deleting named objects never asks.

examples:
  swiftlike delete photos cat.jpg dog.jpg     two objects
  swiftlike delete photos -p 2023/ -y         every object under 2023/
  swiftlike delete photos                     the container and everything in it (asks)
  swiftlike delete --all --yes                every container in the account
'''

CONTAINER_DELETE_TRIES = 5      # a container listing can lag its objects' deletes for a moment


def add_arguments(parser):
    parser.add_argument('container', nargs='?', help='container to delete (or to delete objects from)')
    parser.add_argument('objects', nargs='*', metavar='OBJECT', help='objects to delete')
    parser.add_argument('-a', '--all', action='store_true', help='delete every container and object')
    parser.add_argument('-p', '--prefix', help='delete only the objects whose names start with PREFIX')
    parser.add_argument('-y', '--yes', action='store_true', help='do not ask for confirmation')
    add_threads_option(parser, 'delete')


def run(args, ctx):
    if args.container is None and not args.all:
        raise UsageError('delete needs a CONTAINER (and OBJECTs), or --all for everything')
    if args.all and args.container is not None:
        raise UsageError('--all deletes every container; do not name one')
    if args.prefix is not None and args.objects:
        raise UsageError('give OBJECT names or -p/--prefix, not both')
    conn = ctx.conn
    if args.container is not None and args.objects:
        _delete_objects(ctx, args.container, args.objects, args.object_threads)
        return
    try:
        if args.all:
            _, containers = conn.get_account(full_listing=True)
            names = [c['name'] for c in containers]
            count = sum(int(c.get('count', 0)) for c in containers)
            question = 'Delete ALL %d containers (%d objects) of this account?' % (len(names), count)
        else:
            _, listing = conn.get_container(args.container, prefix=args.prefix, full_listing=True)
            names = [args.container]
            if args.prefix is not None:
                question = 'Delete %d objects with prefix %r from container %r?' % (
                    len(listing), args.prefix, args.container)
            else:
                question = 'Delete container %r and the %d objects in it?' % (args.container, len(listing))
    except ClientException as err:
        ctx.fail('delete', args.container or 'account listing', err)
        return
    if not confirm(ctx, question, args.yes):
        ctx.err.write('Nothing deleted.\n')
        return
    if args.prefix is not None:
        _delete_objects(ctx, args.container, [o['name'] for o in listing if 'name' in o], args.object_threads)
        return
    for container in names:
        delete_container_recursively(ctx, container, args.object_threads)


def confirm(ctx, question, assume_yes):
    """True to go ahead. With no terminal to ask on and no --yes, refuse as a usage error (exit 2)."""
    if assume_yes:
        return True
    try:
        interactive = ctx.stdin.isatty()
    except (AttributeError, ValueError):
        interactive = False
    if not interactive:
        raise UsageError('%s -- refusing without confirmation: stdin is not a terminal (pass -y/--yes)'
                         % question.rstrip('?'))
    ctx.err.write('%s [y/N] ' % question)
    ctx.err.flush()
    answer = ctx.stdin.readline()
    return answer.strip().lower() in ('y', 'yes')


def _delete_objects(ctx, container, names, threads):
    def delete_one(name):
        try:
            ctx.conn.delete_object(container, name)
            ctx.say('%s/%s' % (container, name))
        except ClientException as err:
            ctx.fail('delete', '%s/%s' % (container, name), err)
    ctx.run_parallel(delete_one, names, threads)


def delete_container_recursively(ctx, container, threads):
    conn = ctx.conn
    for attempt in range(CONTAINER_DELETE_TRIES):
        try:
            _, listing = conn.get_container(container, full_listing=True)
        except ClientException as err:
            ctx.fail('delete', container, err)
            return
        failed_before = len(ctx.failures)
        _delete_objects(ctx, container, [o['name'] for o in listing if 'name' in o], threads)
        if len(ctx.failures) > failed_before:
            ctx.fail('delete', container, 'not deleted: some of its objects could not be deleted')
            return
        try:
            conn.delete_container(container)
            ctx.say(container)
            return
        except ClientException as err:
            if is_not_found(err):
                ctx.say(container)
                return
            if err.http_status != 409 or attempt == CONTAINER_DELETE_TRIES - 1:
                ctx.fail('delete', container, err)
                return
            time.sleep(0.5 * (attempt + 1))    # listing not caught up yet: list and try again
