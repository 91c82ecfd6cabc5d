"""Extract archive: `PUT /v1/<account>[/<container>[/<prefix>]]?extract-archive=
tar|tar.gz|tar.bz2` with a tar archive as the body (see bulk.py for the answer).

Every regular file of the archive becomes an object `<container>/<prefix>/
<name in the archive>`; at account level the first part of a name is the
container (created when missing, at most `max_containers_per_extraction`
per request), and files at the top of the archive are ignored, as in Swift.
Directories, links, devices and the like are skipped. A leading `./` or `/` is
dropped; otherwise names are opaque object names (`a/../b` is the object
`../b` of container `a`; nothing is ever written to a local file system). At
account level a container named `.` or `..` is refused (it could not be
addressed through clients that normalise paths). Each object is a `PUT`
through the rest of the pipeline with the requester's tokens, the request's
`Content-Type` (unless `X-Detect-Content-Type: true`), `X-Object-Meta-*`,
`X-Delete-At`/`-After`, `Content-Disposition`, `Content-Encoding` and
`If-None-Match`; the pax attributes `user.mime_type` and `user.meta.*` (as GNU
and BSD tar write extended attributes) set a file's Content-Type and metadata.

The archive is streamed: each file goes to its PUT as it is read, never held
whole. The compression (gzip, bzip2, xz, or none) is recognised from the data,
whatever the parameter says, and undone at most READ_SIZE bytes at a time, so
a compression bomb cannot inflate memory; files bigger than MAX_FILE_SIZE are
refused (413 each); extended headers (long names, pax records) are bounded,
sparse files refused, and tarfile's list of members is emptied as it goes.
A damaged or truncated archive ends the request with `400 Bad Request` /
`Invalid Tar File: ...` (files before the damage are kept). The work a request
can cause is bounded by its body: every file stored is read from it.
"""
import base64
import bz2
import lzma
import re
import tarfile
import zlib
from urllib.parse import unquote

from swiftlike import concurrency
from swiftlike.constraints import MAX_FILE_SIZE, MAX_META_NAME_LENGTH
from swiftlike.http import client_content_type
from swiftlike.middleware.bulk import (EXTRACT_SOURCE, READ_SIZE, Abort, Summary, call_app,
                                       check_name, display_path, inherit_auth, read_client,
                                       subrequest_env)

ARCHIVE_TYPES = ('tar', 'tar.gz', 'tar.bz2')
# Extended headers (pax records, GNU long names) beyond this are refused.
MAX_EXTENDED_HEADER = 1024 * 1024
# Extended headers in front of one member (tarfile reads them recursively).
MAX_HEADER_CHAIN = 8
# Bigger sizes are refused outright (a skip would be bounded only by the claim).
MAX_MEMBER_SIZE = 2 * MAX_FILE_SIZE
EXTENDED_TYPES = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE,
                  tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK)
# Request headers every file's PUT inherits (besides the credentials).
INHERITED = ('HTTP_X_DELETE_AT', 'HTTP_X_DELETE_AFTER', 'HTTP_X_DETECT_CONTENT_TYPE',
             'HTTP_CONTENT_DISPOSITION', 'HTTP_CONTENT_ENCODING', 'HTTP_IF_NONE_MATCH')
META_NAME = re.compile(r'^[A-Za-z0-9_-]+$')
# A header value we pass on: no control characters (CR/LF would split it).
HEADER_VALUE = re.compile(rb'^[\t\x20-\x7e\x80-\xff]*$')


class ArchiveRefused(tarfile.TarError):
    """The archive uses something we do not read (or bounds we keep)."""


ARCHIVE_ERRORS = (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError, ValueError,
                  LookupError)


def extraction(bulk, env, parts):
    summary = Summary('extract', ('Number Files Created',), 201)
    return extract_work(bulk, env, parts, summary), summary


class GuardedTarInfo(tarfile.TarInfo):
    """tarfile's member headers, with bounds: the size an extended header or
    member may claim, how many extended headers may come in a row, and no
    sparse files (whose maps tarfile reads without limit)."""

    @classmethod
    def fromtarfile(cls, tar):
        depth = getattr(tar, 'bulk_depth', 0)
        if depth >= MAX_HEADER_CHAIN:
            raise ArchiveRefused('too many extended headers in a row')
        tar.bulk_depth = depth + 1
        try:
            member = super().fromtarfile(tar)
        except tarfile.HeaderError as err:
            if depth == 0:
                tar.bulk_end = err      # how the archive ended (see check_end)
            raise
        finally:
            tar.bulk_depth = depth
        if member.sparse is not None or any(k.startswith('GNU.sparse.')
                                            for k in member.pax_headers):
            raise ArchiveRefused('sparse files are not supported')
        if not 0 <= member.size <= MAX_MEMBER_SIZE:
            raise ArchiveRefused('member size out of range')
        return member

    # tarfile's extension point for subclasses (see its comment on _proc_member).
    def _proc_member(self, tar):
        if not 0 <= self.size <= MAX_MEMBER_SIZE:
            raise ArchiveRefused('member size out of range')
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise ArchiveRefused('sparse files are not supported')
        if self.type in EXTENDED_TYPES:
            if self.size > MAX_EXTENDED_HEADER:
                raise ArchiveRefused('extended header too large')
            if self.type == tarfile.XGLTYPE:
                tar.bulk_global = getattr(tar, 'bulk_global', 0) + self.size
                if tar.bulk_global > MAX_EXTENDED_HEADER:
                    raise ArchiveRefused('global extended headers too large')
        return super()._proc_member(tar)

    def _proc_gnusparse_10(self, next, pax_headers, tar):
        raise ArchiveRefused('sparse files are not supported')


def check_end(tar):
    """Raise ArchiveRefused unless the archive ended well: at its end-of-archive
    blocks, or cleanly after a member (some writers leave the blocks out)."""
    end = getattr(tar, 'bulk_end', None)
    if isinstance(end, (tarfile.EOFHeaderError, tarfile.EmptyHeaderError)):
        return
    raise ArchiveRefused(str(end) if end else 'unexpected end of archive')


def compression(head):
    """'gz', 'bz2', 'xz' or 'tar' (none) from an archive's first bytes."""
    if head.startswith(b'\x1f\x8b\x08'):
        return 'gz'
    if head[:3] == b'BZh' and head[4:10] == b'1AY&SY':
        return 'bz2'
    if head.startswith((b'\xfd7zXZ\x00', b'\x5d\x00\x00\x80')):
        return 'xz'
    return 'tar'


class ArchiveStream:
    """The archive's uncompressed bytes, from the request body. Compressed
    data (recognised by its magic bytes) is inflated at most READ_SIZE bytes
    at a time, so memory stays bounded whatever the compression ratio."""

    def __init__(self, wsgi_input):
        self.input = wsgi_input
        self.kind = None
        self.pending = b''      # bytes read from the body, not yet used
        self.decomp = None
        self.ended = False      # the body is all read
        self.over = False       # the compressed data is all inflated
        self.reads = 0

    def _body(self):
        if self.pending:
            data, self.pending = self.pending, b''
            return data
        if self.ended:
            return b''
        data = read_client(self.input, READ_SIZE)
        if not data:
            self.ended = True
        return data

    def _head(self):
        """At least 10 bytes in self.pending (unless the body ends first)."""
        while len(self.pending) < 10 and not self.ended:
            data = read_client(self.input, READ_SIZE)
            if not data:
                self.ended = True
            self.pending += data
        return self.pending

    def _decompressor(self):
        if self.kind == 'gz':
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        if self.kind == 'bz2':
            return bz2.BZ2Decompressor()
        return lzma.LZMADecompressor()

    def read(self, size=-1):
        if size is None or size < 0 or size > READ_SIZE:
            size = READ_SIZE
        self.reads += 1
        if not self.reads % 16:
            # Inflating or skipping data can go on long without the body
            # running dry: let the worker's other requests have a turn.
            concurrency.sleep(0)
        if self.kind is None:
            self.kind = compression(self._head())
            if self.kind != 'tar':
                self.decomp = self._decompressor()
        if self.kind == 'tar':
            if self.pending:
                data, self.pending = self.pending[:size], self.pending[size:]
                return data
            if self.ended:
                return b''
            data = read_client(self.input, size)
            self.ended = not data
            return data
        while not self.over:
            out = self._inflate(size)
            if out is None:
                self.over = True
            elif out:
                return out
        return b''

    def _inflate(self, size):
        """Some output (maybe b'' while headers are read), or None at the end."""
        d = self.decomp
        if d.eof:
            self.pending = d.unused_data + self.pending
            if compression(self._head()) != self.kind:
                return None     # trailing padding, or nothing: the archive is over
            # Another stream follows (as pigz and pbzip2 write them): go on.
            self.decomp = self._decompressor()
            return b''
        if self.kind == 'gz':
            data = d.unconsumed_tail or self._body()
        else:
            data = self._body() if d.needs_input else b''
        if not data and (self.kind == 'gz' or d.needs_input):
            raise ArchiveRefused('truncated compressed data')
        return d.decompress(data, size)

    def close(self):
        pass


class MemberBody:
    """The wsgi.input of one file's PUT: its bytes from the archive. A broken
    archive (or client) ends the body early, so the proxy stores nothing, and
    is kept in .error."""

    def __init__(self, fileobj):
        self.fileobj = fileobj
        self.error = None

    def read(self, size=-1):
        if self.error is not None:
            return b''
        if size is None or size < 0 or size > READ_SIZE:
            size = READ_SIZE
        try:
            return self.fileobj.read(size)
        except (Abort,) + ARCHIVE_ERRORS as err:
            self.error = err
            return b''


def corrupt(err):
    if isinstance(err, Abort):
        return err
    text = str(err).strip() or type(err).__name__
    return Abort(400, 'Invalid Tar File: %s' % text[:200])


def header_value(raw):
    """A header value from archive bytes, as a WSGI str; None if unusable."""
    if len(raw) > 1024 or not HEADER_VALUE.match(raw):
        return None
    return raw.decode('latin-1')


def xattr_headers(member):
    """{environ key: value} from the file's extended attributes
    (user.mime_type, user.meta.*), as GNU tar (SCHILY.xattr.) and libarchive
    (LIBARCHIVE.xattr., names URL-encoded, values base64) store them."""
    out = {}
    for key, value in member.pax_headers.items():
        if key.startswith('SCHILY.xattr.'):
            attr, raw = key[13:], value.encode('utf-8', 'surrogateescape')
        elif key.startswith('LIBARCHIVE.xattr.'):
            attr = unquote(key[17:], errors='replace')
            try:
                raw = base64.b64decode(value.encode('ascii') + b'==', validate=False)
            except (ValueError, UnicodeError):
                continue
        else:
            continue
        text = header_value(raw)
        if text is None:
            continue
        if attr == 'user.mime_type':
            out['CONTENT_TYPE'] = text
        elif attr.startswith('user.meta.'):
            name = attr[10:]
            if META_NAME.match(name) and len(name) <= MAX_META_NAME_LENGTH:
                out['HTTP_X_OBJECT_META_' + name.upper().replace('-', '_')] = text
    return out


def member_path(member, base):
    """The object path (bytes, '<container>/<object>') of a file, or None
    when the file has no place (at the top of the account)."""
    name = member.name.encode('utf-8', 'surrogateescape')
    while name.startswith(b'./'):
        name = name[2:]
    name = name.lstrip(b'/')
    if not name:
        return None
    path = base + b'/' + name if base else name
    _container, _, obj = path.partition(b'/')
    return path if obj else None


class Extraction:
    def __init__(self, bulk, env, account, summary):
        self.app = bulk.app
        self.conf = bulk.conf
        self.env = env
        self.account = account
        self.summary = summary
        self.containers = {}    # name -> None (usable) or the status it failed with
        self.headers = {k: v for k, v in env.items()
                        if k in INHERITED or k.startswith('HTTP_X_OBJECT_META_')}
        ctype = client_content_type(env)
        if ctype:
            self.headers['CONTENT_TYPE'] = ctype

    def subrequest(self, method, path):
        return inherit_auth(self.env, subrequest_env(
            self.env, method, '/v1/%s/%s' % (self.account, path.decode('latin-1')),
            EXTRACT_SOURCE))

    def fail(self, display, status):
        self.summary.fail(display, status)
        if status == 401:
            raise Abort(401, 'Unauthorized')
        if len(self.summary.errors) >= self.conf.max_failed_extractions:
            raise Abort(400, 'Max extraction failures exceeded')

    def container(self, name):
        """None when files may go into container `name` (created if missing),
        else the status that stops them."""
        if name in self.containers:
            return self.containers[name]
        if len(self.containers) >= self.conf.max_containers_per_extraction:
            raise Abort(400, 'More than %d containers to create from tar.'
                        % self.conf.max_containers_per_extraction)
        result = None
        status = call_app(self.app, self.subrequest('HEAD', name))[0]
        if status == 404:
            status = call_app(self.app, self.subrequest('PUT', name))[0]
            if not 200 <= status < 300:
                result = status
        elif status == 401:
            result = status
        # (Another answer, e.g. 403 to a user allowed to write but not to read:
        # the file's PUT will tell.)
        self.containers[name] = result
        return result

    def store(self, tar, member, path, at_account):
        display = display_path(path)
        container, _, obj = path.partition(b'/')
        status = check_name(container, obj)
        if status is None and at_account and container in (b'.', b'..'):
            status = 400
        if status is None and member.size > MAX_FILE_SIZE:
            status = 413
        if status is None and at_account:
            status = self.container(container)
        if status is not None:
            return self.fail(display, status)
        sub = self.subrequest('PUT', path)
        sub.update(self.headers)
        sub.update(xattr_headers(member))
        sub['CONTENT_LENGTH'] = str(member.size)
        body = sub['wsgi.input'] = MemberBody(tar.extractfile(member))
        status = call_app(self.app, sub)[0]
        if body.error is not None:
            raise corrupt(body.error)
        if 200 <= status < 300:
            self.summary.counts['Number Files Created'] += 1
            return None
        if status == 408:
            raise Abort(408, 'Timed out reading the request body')
        return self.fail(display, status)


def extract_work(bulk, env, parts, summary):
    account, container, obj = parts
    if not env.get('CONTENT_LENGTH') and \
            env.get('HTTP_TRANSFER_ENCODING', '').lower() != 'chunked':
        raise Abort(411, 'Length Required')
    base = b''
    if container:
        base = container.encode('latin-1')
        prefix = (obj or '').encode('latin-1').rstrip(b'/')
        if prefix:
            base += b'/' + prefix
    job = Extraction(bulk, env, account, summary)
    try:
        tar = tarfile.open(mode='r|', fileobj=ArchiveStream(env['wsgi.input']),
                           tarinfo=GuardedTarInfo, encoding='utf-8', errors='surrogateescape')
    except (Abort,) + ARCHIVE_ERRORS as err:
        raise corrupt(err)
    try:
        while True:
            try:
                member = tar.next()
                del tar.members[:]      # stream mode: nothing looks back
                if member is None:
                    check_end(tar)
                    break
            except (Abort,) + ARCHIVE_ERRORS as err:
                raise corrupt(err)
            if not member.isreg():
                continue
            path = member_path(member, base)
            if path is not None:
                job.store(tar, member, path, not container)
                yield
    finally:
        tar.close()
    if not summary.counts['Number Files Created'] and not summary.errors:
        raise Abort(400, 'Invalid Tar File: No Valid Files')
