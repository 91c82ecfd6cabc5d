"""swiftlike download: objects to files, many at a time, each checked against its ETag before it lands."""
import hashlib
import os
import tempfile

from swiftlike.client.commands.common import UsageError, add_threads_option, build_headers
from swiftlike.client.commands.upload import file_md5
from swiftlike.client.exceptions import ClientException
from swiftlike.constraints import is_decimal

NAME = 'download'


def _read_umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()
HELP = 'download objects'
DESCRIPTION = '''Download objects to local files (a whole container, a prefix, or named objects).
Each object is written to a temporary file, its MD5 checked against the ETag, and only then
renamed into place: a failed or corrupt download never leaves a half-written file under the
object's name. Object names with ".." parts are refused (they would write outside the target).

examples:
  swiftlike download photos                        the whole container into ./
  swiftlike download photos -D /tmp/p -p 2024/     objects under 2024/ into /tmp/p
  swiftlike download photos cat.jpg -o - > x.jpg   one object to stdout
  swiftlike download --all -D backup               every container into backup/<container>/
'''


def add_arguments(parser):
    parser.add_argument('container', nargs='?', help='container to download from')
    parser.add_argument('objects', nargs='*', metavar='OBJECT', help='objects (default: all in the container)')
    parser.add_argument('-a', '--all', action='store_true', help='download every container')
    parser.add_argument('-p', '--prefix', help='only objects whose names start with PREFIX')
    parser.add_argument('--remove-prefix', action='store_true', help='strip --prefix from the local names')
    parser.add_argument('-D', '--output-dir', default='.', metavar='DIR', help='where to write (default .)')
    parser.add_argument('-o', '--output', metavar='FILE', help='file for a single object; "-" is stdout')
    parser.add_argument('--skip-identical', action='store_true',
                        help='skip objects whose local file already has the same MD5')
    parser.add_argument('-H', '--header', action='append', metavar='NAME:VALUE',
                        help='extra request header (repeatable)')
    add_threads_option(parser, 'download')


def run(args, ctx):
    if args.container is None and not args.all:
        raise UsageError('download needs a CONTAINER, or --all for every container')
    if args.all and (args.container is not None):
        raise UsageError('--all downloads every container; do not name one')
    if args.output is not None and len(args.objects) != 1:
        raise UsageError('-o/--output needs exactly one OBJECT')
    if args.remove_prefix and not args.prefix:
        raise UsageError('--remove-prefix needs -p/--prefix')
    headers = build_headers(args, 'X-Object-Meta-')
    conn = ctx.conn
    jobs = []          # (container, name, size or None, local path or None for stdout)
    try:
        if args.all:
            _, containers = conn.get_account(full_listing=True)
            for c in containers:
                for obj in _list(conn, c['name'], args.prefix):
                    jobs.append((c['name'], obj['name'], obj.get('bytes'),
                                 _local(args, obj['name'], subdir=c['name'])))
        elif args.objects:
            for name in args.objects:
                out = args.output if args.output is not None else _local(args, name)
                jobs.append((args.container, name, None, None if out == '-' else out))
        else:
            for obj in _list(conn, args.container, args.prefix):
                jobs.append((args.container, obj['name'], obj.get('bytes'), _local(args, obj['name'])))
    except ClientException as err:
        ctx.fail('download', args.container or 'account listing', err)
        return
    sizes = [j[2] for j in jobs]
    # Named objects' sizes come with their responses: the bar shows a percentage once all are known.
    progress = ctx.progress('download', sum(s for s in sizes if s is not None), len(jobs), sizes.count(None))

    def download_one(job):
        container, name, size, path = job
        label = '%s/%s' % (container, name)
        sized = SizeOnce(progress, known=size is not None)
        try:
            if path is not None and args.output is None and unsafe_name(name):
                raise ValueError('refused: the name would be written outside %s' % args.output_dir)
            if path is None:
                _to_stream(conn, container, name, headers, ctx, progress, sized)
            elif fetch_to_file(conn, container, name, path, headers, progress, args.skip_identical, sized):
                ctx.say(label)
            progress.item_done()
        except ClientException as err:
            ctx.fail('download', label, err)
        except (OSError, ValueError) as err:
            ctx.fail('download', label, getattr(err, 'strerror', None) or str(err))
        finally:
            sized(0)              # a failed item adds nothing more to the total

    try:
        ctx.run_parallel(download_one, jobs, args.object_threads)
    finally:
        ctx.end_progress()


class SizeOnce:
    """Tells the progress bar one object's size, the first time it is known (and never when it was already)."""

    def __init__(self, progress, known=False):
        self._progress = progress
        self._told = known

    def __call__(self, nbytes):
        if not self._told:
            self._told = True
            self._progress.size_known(nbytes)


def response_length(headers):
    """The body's length from Content-Length, or None (e.g. chunked)."""
    length = headers.get('content-length')
    return int(length) if length is not None and is_decimal(length) else None


def _list(conn, container, prefix):
    _, listing = conn.get_container(container, prefix=prefix, full_listing=True)
    return [o for o in listing if 'name' in o]


def _local(args, name, subdir=None):
    if args.remove_prefix and name.startswith(args.prefix):
        name = name[len(args.prefix):]
    parts = [p for p in name.split('/') if p not in ('', '.')]
    base = os.path.join(args.output_dir, subdir) if subdir else args.output_dir
    path = os.path.join(base, *parts)
    return path + os.sep if name.endswith('/') and parts else path


def unsafe_name(name):
    """Object names that would escape the output directory ('..' parts) or have no file name."""
    parts = [p for p in name.split('/') if p not in ('', '.')]
    return '..' in parts or not parts


def expected_md5(headers):
    """The MD5 the body must have, or None when the ETag is not one (large-object manifests)."""
    if headers.get('x-object-manifest') or headers.get('x-static-large-object', '').lower() == 'true':
        return None
    etag = headers.get('etag', '').strip('"')
    return etag if len(etag) == 32 else None


def fetch_to_file(conn, container, name, path, headers, progress, skip_identical=False, sized=None):
    """Download one object to `path` atomically; False when skipped as identical.

    `sized(nbytes)` is told the object's length as soon as a response says it.
    """
    sized = sized or (lambda nbytes: None)
    if path.endswith(os.sep):
        os.makedirs(path, exist_ok=True)          # a pseudo-directory marker "dir/"
        return True
    if skip_identical and os.path.isfile(path):
        head = conn.head_object(container, name, headers=headers)
        if expected_md5(head) and expected_md5(head) == file_md5(path):
            sized(response_length(head))
            progress.add(response_length(head) or 0)
            return False
    directory = os.path.dirname(path) or '.'
    os.makedirs(directory, exist_ok=True)
    resp_headers, body = conn.get_object(container, name, resp_chunk_size=1 << 20, headers=headers)
    sized(response_length(resp_headers))
    if resp_headers.get('content-type', '').startswith('application/directory') and \
            resp_headers.get('content-length') == '0':
        body.close()
        os.makedirs(path, exist_ok=True)
        return True
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path)[:50], suffix='.part', dir=directory)
    try:
        md5 = hashlib.md5()
        with os.fdopen(fd, 'wb') as f:
            with body:
                for chunk in body:
                    f.write(chunk)
                    md5.update(chunk)
                    progress.add(len(chunk))
        _check(resp_headers, md5.hexdigest(), body.received)
        os.chmod(tmp, 0o666 & ~_UMASK)      # mkstemp makes 0600; a download gets the usual mode
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    mtime = resp_headers.get('x-object-meta-mtime')
    if mtime:
        try:
            os.utime(path, (float(mtime), float(mtime)))
        except (ValueError, OSError):
            pass
    return True


def _check(headers, got_md5, received):
    want = None if headers.get('content-range') else expected_md5(headers)
    if want and want != got_md5:
        raise ValueError('MD5 mismatch: received data has %s, the ETag says %s' % (got_md5, want))
    length = headers.get('content-length')
    if length is not None and is_decimal(length) and int(length) != received:
        raise ValueError('received %d bytes, expected %s' % (received, length))


def _to_stream(conn, container, name, headers, ctx, progress, sized):
    out = getattr(ctx.out, 'buffer', ctx.out)
    resp_headers, body = conn.get_object(container, name, resp_chunk_size=1 << 20, headers=headers)
    sized(response_length(resp_headers))
    md5 = hashlib.md5()
    with body:
        for chunk in body:
            out.write(chunk)
            md5.update(chunk)
            progress.add(len(chunk))
    out.flush()
    _check(resp_headers, md5.hexdigest(), body.received)
