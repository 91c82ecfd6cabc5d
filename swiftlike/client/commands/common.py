"""What every sub-command shares: the connection, output streams, failure reporting, option parsing."""
import concurrent.futures
import sys
import threading

from swiftlike.client.connection import Connection
from swiftlike.client.exceptions import ClientException, InvalidURL
from swiftlike.client.progress import Progress
from swiftlike.client.urls import check_url


class UsageError(Exception):
    """Bad arguments or missing credentials: exit status 2."""


class Context:
    """Per-invocation state handed to a command's run()."""

    def __init__(self, args, stdout=None, stderr=None, stdin=None, connection_factory=Connection):
        self.args = args
        self.out = stdout or sys.stdout
        self.err = stderr or sys.stderr
        self.stdin = stdin or sys.stdin
        self.quiet = getattr(args, 'quiet', False)
        self.failures = []
        self._lock = threading.Lock()
        self._output_lock = threading.Lock()     # whole lines from many threads, never interleaved
        self._conn = None
        self._progress = None
        self._connection_factory = connection_factory
        self._retry_noticed = False

    @property
    def conn(self):
        if self._conn is None:
            self._conn = self._connection_factory(on_retry=self.retry_notice, **connection_kwargs(self.args))
        return self._conn

    def retry_notice(self, what, method, reason, retries_left):
        """Say once (stderr) that we are retrying when the cluster looks unreachable: an authentication, or any
        request before one has succeeded. Retries later in a long run stay quiet unless they run out."""
        with self._lock:
            if self._retry_noticed or (what != 'Auth' and self._conn is not None and self._conn.succeeded_once):
                return
            self._retry_noticed = True
        label = 'auth' if what == 'Auth' else '%s %s' % (what.lower(), method)
        self.progress_log('swiftlike: %s failed (%s); retrying %d more time%s...' % (
            label, reason, retries_left, '' if retries_left == 1 else 's'), self.err)

    def fail(self, what, name, reason):
        """Record a failed item and say so on stderr at once; the command goes on with the others."""
        if isinstance(reason, ClientException):
            reason = reason.short()
        line = 'swiftlike: %s %s failed: %s' % (what, name, reason) if name else 'swiftlike: %s failed: %s' % (
            what, reason)
        with self._lock:
            self.failures.append((what, name, str(reason)))
        self.progress_log(line, self.err)

    def say(self, line):
        """A normal output line (stdout), unless --quiet."""
        if not self.quiet:
            self.progress_log(line, self.out)

    def progress_log(self, line, stream):
        progress = self._progress
        if progress is not None:
            progress.log(line, stream)
        else:
            with self._output_lock:
                stream.write(line + '\n')
                stream.flush()

    def progress(self, label, total_bytes=None, total_items=None, unsized=0):
        """A progress bar on stderr, live only when stderr is a terminal and output is not quiet."""
        enabled = not self.quiet and not getattr(self.args, 'no_progress', False) and _isatty(self.err)
        self._progress = Progress(label, total_bytes, total_items, stream=self.err, out=self.out,
                                  enabled=enabled, unsized=unsized)
        return self._progress

    def end_progress(self):
        progress, self._progress = self._progress, None
        if progress is not None:
            progress.close()

    def exit_status(self):
        return 1 if self.failures else 0

    def run_parallel(self, func, items, threads):
        """Run func(item) for each item on `threads` threads; one item's failure never stops the others."""
        threads = max(1, min(threads, len(items) or 1))
        if threads == 1:
            for item in items:
                func(item)
            return
        pool = concurrent.futures.ThreadPoolExecutor(threads)
        futures = [pool.submit(func, item) for item in items]
        try:
            for future in futures:
                future.result()
        except BaseException:
            # Ctrl-C: drop what has not started; transfers in flight finish their current object.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()


def check_connection_urls(args):
    """A usage error naming the option when -A/--auth or --os-storage-url (or their variables) is unusable."""
    for value, option, what in ((args.auth, '-A/--auth (or ST_AUTH)', 'auth URL'),
                                (args.os_storage_url, '--os-storage-url (or OS_STORAGE_URL)', 'storage URL')):
        if value:
            try:
                check_url(value, what)
            except InvalidURL as err:
                raise UsageError('%s: %s' % (option, err.msg)) from None


def connection_kwargs(args):
    auth, user, key = args.auth, args.user, args.key
    storage_url, token = args.os_storage_url, args.os_auth_token
    if not (storage_url and token) and not (auth and user and key is not None):
        missing = [flag for flag, value in (('-A/--auth (or ST_AUTH)', auth), ('-U/--user (or ST_USER)', user),
                                            ('-K/--key (or ST_KEY)', key)) if not value]
        raise UsageError('no credentials: missing %s; or give --os-storage-url and --os-auth-token'
                         % ', '.join(missing))
    return dict(authurl=auth, user=user, key=key, preauthurl=storage_url, preauthtoken=token,
                retries=args.retries, insecure=args.insecure, timeout=args.timeout)


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def split_pair(text, sep, what):
    """'Key:Value' -> ('Key', 'Value'); a missing separator is a usage error naming the option."""
    if sep not in text:
        raise UsageError('%s must look like NAME%sVALUE, got %r' % (what, sep, text))
    name, value = text.split(sep, 1)
    name = name.strip()
    if not name:
        raise UsageError('%s has an empty name: %r' % (what, text))
    return name, value.strip()


def build_headers(args, meta_prefix):
    """Headers from -H 'Name: value' and -m 'key:value' (an empty value removes that metadata item)."""
    headers = {}
    for text in getattr(args, 'header', None) or []:
        name, value = split_pair(text, ':', '-H/--header')
        headers[name] = value
    for text in getattr(args, 'meta', None) or []:
        name, value = split_pair(text, ':', '-m/--meta')
        if value or meta_prefix == 'X-Object-Meta-':
            headers[meta_prefix + name] = value     # objects: an empty value drops the key on POST
        else:
            headers[meta_prefix.replace('X-', 'X-Remove-', 1) + name] = 'x'
    return headers


def add_threads_option(parser, what, default=10):
    parser.add_argument('--object-threads', '-t', type=positive_int, default=default, metavar='N',
                        help='%s N objects at a time (default %d)' % (what, default))


def positive_int(text):
    import argparse
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError('%r is not a whole number' % text) from None
    if value < 1:
        raise argparse.ArgumentTypeError('must be at least 1, got %d' % value)
    return value


def is_not_found(err):
    return isinstance(err, ClientException) and err.http_status == 404
