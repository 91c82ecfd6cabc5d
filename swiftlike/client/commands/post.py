"""swiftlike post: set metadata (and container ACLs) on the account, a container or an object."""
from swiftlike.client.commands.common import UsageError, build_headers, is_not_found
from swiftlike.client.exceptions import ClientException

NAME = 'post'
HELP = 'set metadata or ACLs on the account, a container or an object'
DESCRIPTION = '''Update metadata of the account, a container or an object. "-m key:" (empty value)
removes that key. A container that does not exist yet is created with the given settings.

Unlike a raw object POST, which replaces all of an object's metadata, this merges: keys not
named stay as they are (--replace-meta replaces them all).

-r/--read-acl and -w/--write-acl set container ACLs; they are only sent when the cluster
says (in /info) that its auth system understands ACLs.

examples:
  swiftlike post -m project:apollo                 account metadata
  swiftlike post photos -r '.r:*,.rlistings'       make a container publicly readable
  swiftlike post photos cat.jpg -m color:grey      object metadata
'''

ACL_AWARE_SECTIONS = ('tempauth', 'keystoneauth')


def add_arguments(parser):
    parser.add_argument('container', nargs='?', help='container (omit for the account)')
    parser.add_argument('object', nargs='?', help='object')
    parser.add_argument('-m', '--meta', action='append', metavar='KEY:VALUE',
                        help='set metadata KEY to VALUE; "KEY:" removes it (repeatable)')
    parser.add_argument('-H', '--header', action='append', metavar='NAME:VALUE',
                        help='extra request header (repeatable)')
    parser.add_argument('-r', '--read-acl', metavar='ACL', help='container read ACL, e.g. ".r:*,.rlistings"')
    parser.add_argument('-w', '--write-acl', metavar='ACL', help='container write ACL, e.g. "account:user"')
    parser.add_argument('--replace-meta', action='store_true',
                        help='objects: replace all metadata instead of merging')


def supports_acls(info):
    """Does /info say container ACLs will be honoured?"""
    if not isinstance(info, dict):
        return False
    if any(section in info for section in ACL_AWARE_SECTIONS):
        return True
    swift = info.get('swift') if isinstance(info.get('swift'), dict) else {}
    return bool(swift.get('container_acls') or info.get('container_acls'))


def run(args, ctx):
    acl = args.read_acl is not None or args.write_acl is not None
    if acl and (args.container is None or args.object is not None):
        raise UsageError('-r/--read-acl and -w/--write-acl apply to a container only')
    if args.object is None and args.replace_meta:
        raise UsageError('--replace-meta applies to objects only')
    conn = ctx.conn
    target = '/'.join(p for p in (args.container, args.object) if p is not None) or 'account'
    if acl:
        try:
            info = conn.get_capabilities()
        except ClientException as err:
            ctx.fail('post', target, 'cannot tell whether the cluster supports ACLs: /info: %s' % err.short())
            return
        if not supports_acls(info):
            ctx.fail('post', target, 'the cluster does not support container ACLs (its /info names no '
                     'ACL-aware auth); nothing was changed')
            return
    try:
        if args.object is not None:
            headers = build_headers(args, 'X-Object-Meta-')
            if not args.replace_meta:
                headers = _merged_object_headers(conn.head_object(args.container, args.object), headers)
            conn.post_object(args.container, args.object, headers)
        elif args.container is not None:
            headers = build_headers(args, 'X-Container-Meta-')
            if args.read_acl is not None:
                headers['X-Container-Read'] = args.read_acl
            if args.write_acl is not None:
                headers['X-Container-Write'] = args.write_acl
            try:
                conn.post_container(args.container, headers)
            except ClientException as err:
                if not is_not_found(err):
                    raise
                conn.put_container(args.container, headers=headers)
        else:
            conn.post_account(build_headers(args, 'X-Account-Meta-'))
    except ClientException as err:
        ctx.fail('post', target, err)


def _merged_object_headers(current, wanted):
    """Current user metadata, updated by `wanted` (an empty value drops the key)."""
    merged = {}
    wanted_lower = {k.lower(): (k, v) for k, v in wanted.items()}
    for name, value in current.items():
        if name.startswith('x-object-meta-') and name not in wanted_lower:
            merged[name] = value
    for lower, (name, value) in wanted_lower.items():
        if lower.startswith('x-object-meta-') and value == '':
            continue
        merged[name] = value
    return merged
