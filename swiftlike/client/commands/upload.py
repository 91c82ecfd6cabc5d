"""swiftlike upload: files and directories, many at a time, skipping objects that are already identical."""
import hashlib
import os

from swiftlike.client.commands.common import (UsageError, add_threads_option, build_headers,
                                              is_not_found)
from swiftlike.client.exceptions import ClientException

NAME = 'upload'
HELP = 'upload files and directories'
DESCRIPTION = '''Upload files and directories (recursively) to a container, creating it if needed.
Object names are the paths as given, without a leading "/" or "../"; CONTAINER/PREFIX puts
them under PREFIX (as the swift CLI does). Directories are uploaded concurrently. Uploads are
resumable: an object whose size and ETag already match the local file's MD5 is skipped, so
re-running an interrupted upload only sends what is missing (--force uploads everything again).
Every upload is checked against the ETag the server returns.

examples:
  swiftlike upload photos cat.jpg                   object "cat.jpg"
  swiftlike upload photos ./2024                    objects "2024/..."
  swiftlike upload photos ./2024 --object-name y    objects "y/..."
  swiftlike upload photos/2024/may cat.jpg          object "2024/may/cat.jpg"
  swiftlike upload photos/old ./2024                objects "old/2024/..."
  tar c dir | swiftlike upload backups - --object-name dir.tar    from stdin (sent chunked)
'''


def add_arguments(parser):
    parser.add_argument('container', metavar='CONTAINER[/PREFIX]',
                        help='container to upload into (created if missing); a PREFIX after the first "/" is put '
                             'in front of every object name')
    parser.add_argument('paths', nargs='+', metavar='PATH', help='files or directories; "-" reads stdin')
    parser.add_argument('--object-name', metavar='NAME',
                        help='object name for a single file, or name prefix replacing a single directory')
    parser.add_argument('-m', '--meta', action='append', metavar='KEY:VALUE',
                        help='object metadata (repeatable)')
    parser.add_argument('-H', '--header', action='append', metavar='NAME:VALUE',
                        help='extra request header, e.g. "Content-Type: text/plain" (repeatable)')
    parser.add_argument('--force', action='store_true',
                        help='upload even objects that already match the local file')
    add_threads_option(parser, 'upload')


class Item:
    __slots__ = ('path', 'name', 'size', 'mtime', 'is_dir_marker')

    def __init__(self, path, name, size=0, mtime=None, is_dir_marker=False):
        self.path, self.name, self.size, self.mtime, self.is_dir_marker = path, name, size, mtime, is_dir_marker


def object_name_for(path):
    """The default object name of a local path: normalised, without leading '/', './' or '../'."""
    parts = [p for p in os.path.normpath(path).replace(os.sep, '/').split('/') if p not in ('', '.', '..')]
    return '/'.join(parts)


def split_container(text):
    """'photos/2024/may' -> ('photos', '2024/may/'): the container, and the prefix for object names ('' if none).

    As the swift CLI does: everything after the first '/' is a pseudo-folder the objects go into.
    """
    container, _, prefix = text.partition('/')
    if not container:
        raise UsageError('CONTAINER is empty in %r; give CONTAINER or CONTAINER/PREFIX' % text)
    if prefix and not prefix.endswith('/'):
        prefix += '/'
    return container, prefix


def plan(paths, object_name=None):
    """[Item] to upload and [(path, reason)] that cannot be, for the given paths (pure but for stat/walk)."""
    if object_name is not None and len(paths) != 1:
        raise UsageError('--object-name needs exactly one PATH, got %d' % len(paths))
    items, problems = [], []
    for path in paths:
        if path == '-':
            if not object_name:
                raise UsageError('uploading stdin ("-") needs --object-name')
            items.append(Item('-', object_name, size=None))
            continue
        try:
            st = os.stat(path)
        except OSError as err:
            problems.append((path, err.strerror or str(err)))
            continue
        if os.path.isdir(path):
            base = object_name.strip('/') if object_name is not None else object_name_for(path)
            _walk(path, base, items, problems)
        else:
            name = object_name or object_name_for(path)
            if not name:
                problems.append((path, 'cannot make an object name from this path; use --object-name'))
            else:
                items.append(Item(path, name, st.st_size, st.st_mtime))
    return items, problems


def _walk(top, base, items, problems):
    def on_error(err):
        problems.append((err.filename or top, err.strerror or str(err)))
    for dirpath, dirnames, filenames in os.walk(top, onerror=on_error):
        dirnames.sort()
        rel = os.path.relpath(dirpath, top)
        prefix = base if rel == '.' else '/'.join(p for p in (base, rel.replace(os.sep, '/')) if p)
        if not dirnames and not filenames and prefix:
            items.append(Item(dirpath, prefix, 0, is_dir_marker=True))   # keep empty directories
        for filename in sorted(filenames):
            path = os.path.join(dirpath, filename)
            try:
                st = os.stat(path)
            except OSError as err:
                problems.append((path, err.strerror or str(err)))
                continue
            name = '%s/%s' % (prefix, filename) if prefix else filename
            items.append(Item(path, name, st.st_size, st.st_mtime))


def file_md5(path, chunk=1 << 20):
    md5 = hashlib.md5()
    with open(path, 'rb') as f:
        while True:
            data = f.read(chunk)
            if not data:
                return md5.hexdigest()
            md5.update(data)


class ProgressReader:
    """A file wrapper that reports bytes read to a Progress, and un-reports them when rewound for a retry."""

    def __init__(self, fileobj, progress):
        self._f = fileobj
        self._progress = progress

    def read(self, size=-1):
        data = self._f.read(size)
        self._progress.add(len(data))
        return data

    def tell(self):
        return self._f.tell()

    def seek(self, pos, whence=0):
        before = self._f.tell()
        result = self._f.seek(pos, whence)
        self._progress.add(self._f.tell() - before)
        return result


def run(args, ctx):
    container, prefix = split_container(args.container)
    items, problems = plan(args.paths, args.object_name)
    for item in items:
        item.name = prefix + item.name
    headers = build_headers(args, 'X-Object-Meta-')
    for path, reason in problems:
        ctx.fail('upload', path, reason)
    if not items:
        return
    conn = ctx.conn
    try:
        conn.head_container(container)
    except ClientException as err:
        if not is_not_found(err):
            ctx.fail('upload', 'container ' + container, err)
            return
        try:
            conn.put_container(container)
        except ClientException as err2:
            ctx.fail('upload', 'container ' + container, err2)
            return
    existing = {} if args.force else _existing(conn, container, items)
    progress = ctx.progress('upload', sum(i.size or 0 for i in items), len(items))

    def upload_one(item):
        try:
            if not args.force and _identical(conn, container, item, existing):
                progress.add(item.size)
                progress.item_done()
                return
            hdrs = dict(headers)
            if item.is_dir_marker:
                hdrs.setdefault('Content-Type', 'application/directory')
                conn.put_object(container, item.name, b'', headers=hdrs)
            elif item.path == '-':
                stdin = getattr(ctx.stdin, 'buffer', ctx.stdin)
                conn.put_object(container, item.name, ProgressReader(stdin, progress), headers=hdrs)
            else:
                hdrs.setdefault('X-Object-Meta-Mtime', '%.6f' % item.mtime)
                with open(item.path, 'rb') as f:
                    conn.put_object(container, item.name, ProgressReader(f, progress),
                                    content_length=item.size, headers=hdrs)
            progress.item_done()
            ctx.say(item.name)
        except ClientException as err:
            ctx.fail('upload', '%s -> %s/%s' % (item.path, container, item.name), err)
        except OSError as err:
            ctx.fail('upload', item.path, err.strerror or str(err))
        except ValueError as err:      # the file changed size while being read
            ctx.fail('upload', item.path, str(err))

    try:
        ctx.run_parallel(upload_one, items, args.object_threads)
    finally:
        ctx.end_progress()


def _existing(conn, container, items):
    """name -> (bytes, etag) from one listing when many objects go up; HEADs are cheaper for a few."""
    if len(items) <= 10:
        return None
    prefix = os.path.commonprefix([i.name for i in items])
    try:
        _, listing = conn.get_container(container, prefix=prefix or None, full_listing=True)
    except ClientException:
        return None
    return {o['name']: (o.get('bytes'), o.get('hash')) for o in listing if 'name' in o}


def _identical(conn, container, item, existing):
    if item.path == '-':
        return False
    if existing is not None:
        if item.name not in existing:
            return False
        size, etag = existing[item.name]
    else:
        try:
            head = conn.head_object(container, item.name)
        except ClientException as err:
            if is_not_found(err):
                return False
            raise
        size, etag = int(head.get('content-length', -1)), head.get('etag', '')
    if item.is_dir_marker:
        return size == 0
    if size != item.size or not etag:
        return False
    return etag.strip('"') == file_md5(item.path)
