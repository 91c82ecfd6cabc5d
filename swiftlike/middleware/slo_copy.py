"""Copying an SLO's manifest: COPY (or PUT with X-Copy-From) with
`?multipart-manifest=get`.

As with Swift, the copy is not of the stored bytes: the source's manifest is
read in the form a client PUTs (format=raw) and PUT again at the destination
as a manifest, so every segment is checked from the destination's account
with the requester's rights (a copy to another account fails with the
segments' 403/404s unless that account can read them). User metadata and
Content-Type come from the source unless the request gives its own (or
X-Fresh-Metadata: true).

A plain copy of an SLO (without `?multipart-manifest=get`) is the assembled
content: the proxy's copy asks the slo middleware for the source's body
(COPY_EXPANDERS_KEY, see `expand_copies`).

All of this is for the proxy's own copy path. Once the copy middleware is in
the pipeline (before this one), a copy reaches the slo middleware as a GET of
the source (`?multipart-manifest=get&format=raw` for a manifest copy) and a
PUT (`?multipart-manifest=put`), and this module is not used: when the proxy
no longer offers copy expanders, CONTROLLER_COPIES is False and the slo
middleware leaves copies alone.
"""
import io
from urllib.parse import quote

from swiftlike.config import is_true
from swiftlike import ranges
from swiftlike.exceptions import (Conflict, NotFound, PreconditionFailed, RangeNotSatisfiable,
                                  SwiftlikeError)
from swiftlike.http import client_content_type
from swiftlike.middleware import slo_manifest as manifest
from swiftlike.middleware.segments import SegmentError
from swiftlike.middleware.slo_get import (PART_NUMBER_UNSATISFIABLE, Expander, is_slo,
                                          strip_swift_bytes)
from swiftlike.middleware.slo_put import ManifestPut
from swiftlike.middleware.subrequest import OWNER_KEY, call, make_environ, object_path
from swiftlike.middleware.slo_manifest import SLO_ETAG
from swiftlike.proxy.controllers.obj import STORED_HEADERS

try:
    from swiftlike.middleware.segments import SegmentReader
    from swiftlike.proxy.controllers.obj import (COPY_EXPANDERS_KEY, _account_header,
                                                 _split_copy_path)
    CONTROLLER_COPIES = True
except ImportError:     # the copy middleware does copies
    COPY_EXPANDERS_KEY = SegmentReader = _account_header = _split_copy_path = None
    CONTROLLER_COPIES = False

SOURCE = 'SLO'
# Request headers of a copy that do not belong on the manifest PUT.
_DROPPED = ('HTTP_DESTINATION', 'HTTP_DESTINATION_ACCOUNT', 'HTTP_X_COPY_FROM',
            'HTTP_X_COPY_FROM_ACCOUNT', 'HTTP_TRANSFER_ENCODING', 'HTTP_X_FRESH_METADATA',
            'HTTP_RANGE', 'headers_raw')


def expand_copies(slo, env):
    """Offer the proxy's copy the assembled content of an SLO source."""
    env.setdefault(COPY_EXPANDERS_KEY, {})[SLO_ETAG] = slo.copy_source


def copy_ends(env, names):
    """(source, destination) as (account, container, obj) real str; a
    SwiftlikeError when the request does not name them well."""
    if env['REQUEST_METHOD'] == 'COPY':
        dest = env.get('HTTP_DESTINATION')
        if not dest:
            raise SwiftlikeError('no Destination')
        account = env.get('HTTP_DESTINATION_ACCOUNT')
        account = _account_header(account, 'Destination-Account') if account is not None \
            else names[0]
        return names, (account,) + _split_copy_path(dest, 'Destination')
    account = env.get('HTTP_X_COPY_FROM_ACCOUNT')
    account = _account_header(account, 'X-Copy-From-Account') if account is not None \
        else names[0]
    return (account,) + _split_copy_path(env['HTTP_X_COPY_FROM'], 'X-Copy-From'), names


def copy_manifest(slo, env, start_response, names):
    """Copy the manifest when the source is an SLO; anything else (a plain
    object or DLO, a missing source, a bad header) is the proxy's copy."""
    try:
        source, dest = copy_ends(env, names)
    except SwiftlikeError:
        return slo.app(env, start_response)
    resp = call(slo.app, make_environ(env, 'GET', object_path(*source), source=SOURCE))
    if resp.status != 200 or not is_slo(resp.headers):
        resp.close()
        return slo.app(env, start_response)
    try:
        body = manifest.to_raw(resp.read(slo.max_stored_manifest))
    except (ValueError, TypeError, KeyError, SwiftlikeError) as err:
        return slo.error(env, start_response, 409,
                         'The stored manifest of the copy source is not valid: %s' % err)
    put_env = dict(env)
    ctype = client_content_type(env)
    for key in _DROPPED:
        put_env.pop(key, None)
    if not is_true(env.get('HTTP_X_FRESH_METADATA')):
        stored = {h.lower() for h in STORED_HEADERS}
        for name, value in resp.header_list:
            lname = name.lower()
            if lname.startswith('x-object-meta-') or lname in stored:
                key = 'HTTP_' + lname.upper().replace('-', '_')
                put_env.setdefault(key, value)
        if not ctype:
            ctype = strip_swift_bytes(resp.headers.get('content-type', ''))
    put_env.update({
        'REQUEST_METHOD': 'PUT',
        'PATH_INFO': object_path(*dest),
        'QUERY_STRING': 'multipart-manifest=put',
        'wsgi.input': io.BytesIO(body),
        'CONTENT_LENGTH': str(len(body)),
    })
    if ctype:
        put_env['CONTENT_TYPE'] = ctype
    else:
        put_env.pop('CONTENT_TYPE', None)
    if dest[0] != names[0]:
        # The auth middleware judged the request's own account, not this one.
        put_env.pop(OWNER_KEY, None)
    copied = [('X-Copied-From', quote(('%s/%s' % source[1:]).encode('utf-8'), safe='/'))]
    if resp.headers.get('last-modified'):
        copied.append(('X-Copied-From-Last-Modified', resp.headers['last-modified']))
    if source[0] != dest[0]:
        copied.append(('X-Copied-From-Account', quote(source[0].encode('utf-8'), safe='')))

    def copied_start_response(status, headers, exc_info=None):
        if status.startswith('201'):
            headers = list(headers) + copied
        return start_response(status, headers, exc_info)
    return ManifestPut(slo, put_env, dest)(copied_start_response)


def copy_body(slo, environ, account, container, obj, range_header, part_number=None):
    """The assembled bytes of the SLO account/container/obj (real str) for a
    copy: a SegmentReader (`length`, `read(size)`, `close()`), of `range_header`'s
    single range or of part `part_number` when given. SwiftlikeErrors else."""
    expander = Expander(slo, environ, account)
    try:
        entries = expander.read_manifest('/%s/%s' % (container, obj))
    except SegmentError as err:
        raise (NotFound if 'status 404' in err.reason else Conflict)(
            'Copy source: %s' % err.reason)
    size = manifest.total_size(entries)
    start, stop = 0, size
    if part_number is not None:
        span = manifest.part_span(entries, part_number)
        if span is None:
            raise RangeNotSatisfiable(PART_NUMBER_UNSATISFIABLE)
        start, stop = span
    elif range_header:
        try:
            spans = ranges.resolve_ranges(range_header, size)
        except RangeNotSatisfiable:
            raise PreconditionFailed('Copy source: status 416')
        if spans and len(spans) == 1:
            start, stop = spans[0]
    name = '%s/%s/%s' % (account, container, obj)
    return SegmentReader(expander.stream(entries, start, stop, name), stop - start)
