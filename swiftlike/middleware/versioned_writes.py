"""Object versioning with a versions container (Swift's legacy versioned_writes).

A container's owner sets `X-Versions-Location: <container>` (stack mode) or
`X-History-Location: <container>` (history mode), URL-quoted UTF-8 allowed;
an empty value, `X-Remove-Versions-Location` or `X-Remove-History-Location`
turns versioning off. Both locations at once are a 400. The setting lives in
the container's system metadata (X-Container-Sysmeta-Versions-Location and
-Mode, Swift's names); container GET/HEAD answers show it as the header that
set it. X-Versions-Mode (briefly in Swift's API, never released) is ignored.

In a versioned container:
- a PUT that replaces an object (also a copy's destination: the copy
  middleware above turns COPY and X-Copy-From into a PUT) first copies the
  object into the versions container as
  `<len(name) as 3 hex digits><name>/<its timestamp>`;
- a DELETE in stack mode puts the newest version back in the object's place
  and removes it from the versions container (undoing a history-mode delete
  marker, see versioned_writes_ops); in history mode it keeps the object and
  a delete marker (`application/x-deleted;swift_versions_deleted=1`) in the
  versions container and removes the object;
- POST changes the object only, as Swift.
The requester must be allowed to write the versioned container (checked
before anything else); the versions container must exist (else 412) but the
requester needs no rights on it (as Swift). DLO manifests, SLO manifests and
symlinks are versioned as they are stored: this middleware sits below
slo/dlo and above symlink, and reads with ?symlink=get.

Writes to one object through this process are serialised (copy, then
write), so concurrent overwrites through one proxy process keep every
acknowledged version; across processes the race is Swift's (see doc/api.md).
"""
import collections
import contextlib
import dataclasses
from urllib.parse import unquote_to_bytes

from swiftlike.concurrency import Semaphore
from swiftlike.constraints import MAX_CONTAINER_NAME_LENGTH
from swiftlike.exceptions import BadRequest, PreconditionFailed, SwiftlikeError
from swiftlike.http import make_response
from swiftlike.logs import get_logger
from swiftlike.middleware import info
from swiftlike.middleware.filters import make_filter_factory
from swiftlike.middleware.toolkit import container_info, mark_feature, split_account_path
from swiftlike.middleware.versioned_writes_ops import SOURCE, Versioner
from swiftlike.paths import str_to_wsgi, strip_ows, wsgi_to_str

FEATURE = 'versioned_writes'
# Client headers (environ keys) and the sysmeta they become.
VERSIONS_LOCATION = 'HTTP_X_VERSIONS_LOCATION'
HISTORY_LOCATION = 'HTTP_X_HISTORY_LOCATION'
REMOVE_HEADERS = ('HTTP_X_REMOVE_VERSIONS_LOCATION', 'HTTP_X_REMOVE_HISTORY_LOCATION')
CLIENT_HEADERS = (VERSIONS_LOCATION, HISTORY_LOCATION) + REMOVE_HEADERS
SYSMETA_LOCATION = 'HTTP_X_CONTAINER_SYSMETA_VERSIONS_LOCATION'
SYSMETA_MODE = 'HTTP_X_CONTAINER_SYSMETA_VERSIONS_MODE'
# Container info sysmeta keys (lower-case header suffixes).
LOCATION_KEY = 'versions-location'
MODE_KEY = 'versions-mode'
# Response header per mode.
MODE_HEADERS = {'stack': 'X-Versions-Location', 'history': 'X-History-Location'}
ALLOWED_FLAGS = ('x-versions-location', 'x-history-location')


@dataclasses.dataclass
class Conf:
    # Off: a container's owner may not set a versions location (412), and
    # containers that have one are written without keeping versions.
    allow_versioned_writes: bool = True
    log_level: str = 'INFO'
    log_file: str = ''


# -- pure parts ------------------------------------------------------------------

def parse_location(value):
    """A location header value (WSGI str, URL-quoted UTF-8 allowed) -> the
    versions container's name (real str). 412 for a slash (as Swift), 400
    for what no container can be named."""
    what = 'The versions location'
    try:
        raw = strip_ows(value).encode('latin-1')
        raw.decode('utf-8')
        name = unquote_to_bytes(raw).decode('utf-8')
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise BadRequest('%s must be a container name in UTF-8' % what)
    if not name:
        raise PreconditionFailed('Container name cannot be empty')
    if '/' in name:
        raise PreconditionFailed('Container name cannot contain slashes')
    if '\x00' in name:
        raise BadRequest('%s must not contain a NUL' % what)
    if len(name.encode('utf-8')) > MAX_CONTAINER_NAME_LENGTH:
        raise BadRequest('%s is longer than %d bytes' % (what, MAX_CONTAINER_NAME_LENGTH))
    return name


def container_plan(headers, enabled=True):
    """What a container PUT/POST asks of versioning, from its headers
    ({environ key: value} of CLIENT_HEADERS present): None (nothing),
    ('set', value, mode) or ('remove',). Raises BadRequest (both locations)
    and PreconditionFailed (a bad name, or versioning disabled)."""
    versions = headers.get(VERSIONS_LOCATION)
    history = headers.get(HISTORY_LOCATION)
    if versions is not None and history is not None:
        if not strip_ows(history):
            history = None
        elif strip_ows(versions):
            raise BadRequest('Only one of X-Versions-Location or X-History-Location '
                             'may be specified')
        else:
            versions = None
    if versions is not None or history is not None:
        value, mode = (versions, 'stack') if versions is not None else (history, 'history')
        if strip_ows(value):
            if not enabled:
                raise PreconditionFailed('Versioned Writes is disabled')
            parse_location(value)
            return ('set', strip_ows(value), mode)
        return ('remove',)
    if any(headers.get(key, '').strip() for key in REMOVE_HEADERS):
        return ('remove',)
    return None


def location_headers(header_list):
    """The X-Versions-Location / X-History-Location header a container
    answer gets for its sysmeta (none when not versioned)."""
    location = mode = ''
    for name, value in header_list:
        lname = name.lower()
        if lname == 'x-container-sysmeta-' + LOCATION_KEY:
            location = value
        elif lname == 'x-container-sysmeta-' + MODE_KEY:
            mode = value
    if not location:
        return []
    return [(MODE_HEADERS.get(mode, MODE_HEADERS['stack']), location)]


def _names(path):
    """(account, container, obj) of a WSGI path as real str (obj may be
    None); None when it is not an API path with a container."""
    parts = split_account_path(path)
    if parts is None or parts[1] is None:
        return None
    try:
        return tuple(wsgi_to_str(p) if p is not None else None for p in parts)
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None


class KeyedLocks:
    """One lock per key, kept only while someone holds or waits for it."""

    def __init__(self):
        self.locks = {}
        self.users = collections.Counter()

    @contextlib.contextmanager
    def hold(self, key):
        lock = self.locks.get(key)
        if lock is None:
            lock = self.locks[key] = Semaphore(1)
        self.users[key] += 1
        try:
            with lock:
                yield
        finally:
            self.users[key] -= 1
            if not self.users[key]:
                del self.users[key]
                del self.locks[key]


# -- the middleware ------------------------------------------------------------------

class VersionedWrites:
    def __init__(self, app, conf):
        self.app = app
        self.conf = conf
        self.logger = get_logger('proxy-server', conf.log_level, conf.log_file or None)
        self.locks = KeyedLocks()
        if conf.allow_versioned_writes:
            info.register(FEATURE, allowed_flags=list(ALLOWED_FLAGS))

    def __call__(self, environ, start_response):
        mark_feature(environ, FEATURE)
        names = _names(environ.get('PATH_INFO', ''))
        if names is None:
            return self.app(environ, start_response)
        method = environ.get('REQUEST_METHOD')
        try:
            if names[2] is None:
                return self.container_request(environ, start_response, method)
            if method in ('PUT', 'DELETE'):
                return self.object_request(environ, start_response, method, names)
        except SwiftlikeError as err:
            if err.http_status >= 500:
                self.logger.warning('Versioning %s %s: %s', method,
                                    environ.get('PATH_INFO', ''), err.reason)
            return make_response(err.http_status, err.reason, err.headers)(
                environ, start_response)
        return self.app(environ, start_response)

    # -- containers -------------------------------------------------------------

    def container_request(self, environ, start_response, method):
        if method in ('PUT', 'POST'):
            given = {key: environ[key] for key in CLIENT_HEADERS if key in environ}
            plan = container_plan(given, self.conf.allow_versioned_writes)
            for key in given:
                del environ[key]
            if plan is not None and plan[0] == 'set':
                environ[SYSMETA_LOCATION], environ[SYSMETA_MODE] = plan[1], plan[2]
            elif plan is not None:
                environ[SYSMETA_LOCATION] = environ[SYSMETA_MODE] = ''
            return self.app(environ, start_response)
        if method not in ('GET', 'HEAD'):
            return self.app(environ, start_response)

        def with_location(status, headers, exc_info=None):
            return start_response(status, list(headers) + location_headers(headers), exc_info)
        return self.app(environ, with_location)

    # -- objects -------------------------------------------------------------------

    def object_request(self, environ, start_response, method, names):
        if method == 'PUT' and environ.get('HTTP_IF_NONE_MATCH', '').strip() == '*':
            # Creates only: an existing object is not overwritten (412), so
            # there is no version to keep.
            return self.app(environ, start_response)
        target = names
        account, container, obj = target
        cinfo = container_info(environ, self.app, str_to_wsgi(account), str_to_wsgi(container),
                               source=SOURCE)
        location = cinfo.get('sysmeta', {}).get(LOCATION_KEY)
        if not location or not self.conf.allow_versioned_writes or \
                cinfo.get('status', 0) // 100 != 2:
            return self.app(environ, start_response)
        mode = cinfo['sysmeta'].get(MODE_KEY) or 'stack'
        try:
            versions = parse_location(location)
        except SwiftlikeError as err:
            raise PreconditionFailed('The container\'s versions location is not usable: %s'
                                     % err.reason)
        versioner = Versioner(self.app, environ, account, container, obj, versions)
        with self.locks.hold(target):
            if method != 'DELETE':
                versioner.copy_current(cinfo)
            elif mode == 'history':
                versioner.push_delete(cinfo)
            else:
                path = versioner.pop_delete(cinfo)
                if path is not None:
                    # The DELETE removes the version that took the object's place.
                    return versioner.send('DELETE', path).respond(start_response)
            return self.app(environ, start_response)


filter_factory = make_filter_factory(VersionedWrites, Conf)
