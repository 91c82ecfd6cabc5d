"""Object versioning (Swift's X-Versions-Enabled API) as a proxy middleware.

Client API:
- `X-Versions-Enabled: true|false` on a container PUT/POST turns versioning
  on or off (anything else is a 400); HEAD/GET of the container answers it.
- With versioning on, every object PUT (and COPY into it) is a new version,
  answered with `X-Object-Version-Id`; a DELETE writes a delete marker (its
  id in `X-Object-Version-Id`) and the object reads as 404; POST changes the
  current version's metadata (no new version); GET/HEAD give the current
  version with its id and a `Content-Location` naming it.
- `?version-id=<id>` on GET/HEAD reads that version (404 for a delete marker,
  with its id and content type), on DELETE removes it for good, on PUT (empty
  body) makes it current again; `null` names an object written while
  versioning was off. Version-aware requests are for the account's owners.
- `GET <container>?versions` lists every version (JSON only; plain and XML
  are 406) with `version_id` and `is_latest`, paged by `marker` +
  `version_marker`, with prefix, delimiter, end_marker, limit and reverse.
- A container still holding versions cannot be deleted (409).

The storage layout and the pointer format are in versioning_core; object
requests in versioning_objects; the listing merge in versioning_listing.
"""
import dataclasses
import json
import re
from urllib.parse import parse_qsl, quote

from swiftlike.constraints import CONTAINER_LISTING_LIMIT, is_decimal
from swiftlike.db import listing as db_listing
from swiftlike.exceptions import (BadRequest, Conflict, NotAcceptable, ServiceUnavailable,
                                  SwiftlikeError)
from swiftlike.http import make_response, status_line
from swiftlike.logs import get_logger
from swiftlike.middleware import info
from swiftlike.middleware import versioning_core as core
from swiftlike.middleware.filters import make_filter_factory
from swiftlike.middleware.subrequest import call, make_environ, object_path
from swiftlike.middleware.toolkit import (AUTHORIZE_OVERRIDE_KEY, INFO_REQUEST_KEY, container_info, mark_feature,
                                          split_account_path)
from swiftlike.middleware.versioning_listing import (VersionsParams, merge_versions, pages,
                                                     source_queries)
from swiftlike.middleware.versioning_objects import (RESERVED_NAMES_KEY, SOURCE,
                                                     ObjectVersioning, Reply, _Passed,
                                                     hidden_env, is_owner)
from swiftlike.paths import wsgi_to_str

FEATURE = 'object_versioning'
MAX_LISTING_BYTES = 64 * 1024 * 1024
_LEGACY_HEADERS = ('HTTP_X_VERSIONS_LOCATION', 'HTTP_X_HISTORY_LOCATION')
_LEGACY_SYSMETA = ('versions-location', 'history-location')
_POINTER_IN_XML = re.compile(r'(<content_type>[^<]*?);%s=[0-9.]*' % core.POINTER_PARAM)


@dataclasses.dataclass
class Conf:
    # Versions asked of the container servers per listing subrequest.
    listing_page_size: int = CONTAINER_LISTING_LIMIT
    log_level: str = 'INFO'
    log_file: str = ''

    def validate(self):
        if not 1 <= self.listing_page_size <= CONTAINER_LISTING_LIMIT:
            raise ValueError('listing_page_size must be 1..%d' % CONTAINER_LISTING_LIMIT)


class ObjectVersioningMiddleware:
    def __init__(self, app, conf):
        self.app = app
        self.conf = conf
        self.logger = get_logger('proxy-server', conf.log_level, conf.log_file or None)
        info.register(FEATURE)

    def __call__(self, env, start_response):
        mark_feature(env, FEATURE)
        if env.get(RESERVED_NAMES_KEY):
            return self.app(env, start_response)    # our own subrequest
        parts = split_account_path(env.get('PATH_INFO', ''))
        if parts is None or parts[1] is None:
            return self.app(env, start_response)
        try:
            account, container, obj = (wsgi_to_str(p) if p is not None else None
                                       for p in parts)
        except UnicodeDecodeError:
            return self.app(env, start_response)    # the proxy answers it
        query = dict(parse_qsl(env.get('QUERY_STRING', ''), keep_blank_values=True))
        try:
            if obj is None:
                reply = self.container_request(env, account, container, query)
            else:
                reply = self.object_request(env, account, container, obj, query)
        except _Passed as err:
            reply = Reply(err.http_status, list(err.headers.items()),
                          err.reason.encode('utf-8'))
        except SwiftlikeError as err:
            headers = dict(err.headers)
            body = err.reason.encode('utf-8')
            ctype = headers.pop('Content-Type', None)
            resp = make_response(err.http_status, b'' if env['REQUEST_METHOD'] == 'HEAD'
                                 else body, headers, content_type=ctype)
            if ctype:
                resp.headers['Content-Type'] = ctype
            return resp(env, start_response)
        if reply is None:
            return self.app(env, start_response)
        return self._respond(env, start_response, reply)

    @staticmethod
    def _respond(env, start_response, reply):
        body = reply.body
        if isinstance(body, (bytes, str)):
            data = body.encode('utf-8') if isinstance(body, str) else body
            headers = [(k, v) for k, v in reply.headers if k.lower() != 'content-length']
            headers.append(('Content-Length', str(len(data))))
            start_response(status_line(reply.status), headers)
            return [b'' if env['REQUEST_METHOD'] == 'HEAD' else data]
        if reply.headers == body.header_list:
            return body.respond(start_response)   # passed on untouched (subrequest.call)
        return body.respond(start_response, reply.headers)

    # -- state -------------------------------------------------------------

    def _state(self, env, account, container):
        """None (versioning never set on the container) or True/False."""
        info_ = container_info(env, self.app, str_wsgi(account), str_wsgi(container),
                               source=SOURCE)
        if info_.get('status', 0) // 100 != 2:
            return None
        value = info_.get('sysmeta', {}).get(core.ENABLED_SYSMETA)
        if value is None:
            return None
        return value.strip().lower() == 'true'

    # -- objects -----------------------------------------------------------

    def object_request(self, env, account, container, obj, query):
        method = env['REQUEST_METHOD']
        version = query.get('version-id')
        if version is not None and env.get(AUTHORIZE_OVERRIDE_KEY) and \
                method in ('GET', 'HEAD'):
            # A request a middleware before auth settled (a temp URL) names
            # the object, not a version: the version-id is ignored, as Swift.
            version = None
        if version is not None:
            version = core.parse_version_id(version)
            if method == 'POST':
                raise BadRequest('POST to a specific version is not allowed')
        if version is None and method in ('GET', 'HEAD'):
            # The current object: a pointer (only versioning writes them, as
            # system metadata) says so itself, so the container's state is not
            # needed (and not looked up: this is every plain GET's path).
            return ObjectVersioning(self.app, env, account, container, obj, None).get_current()
        state = self._state(env, account, container)
        if state is None:
            if version is not None and (version != core.NULL_VERSION or method == 'PUT'):
                raise BadRequest('version-aware operations require that the container '
                                 'is versioned')
            return None     # version-id=null: the object itself
        if method == 'PUT' and 'HTTP_X_APPEND_OFFSET' in env:
            # An appendable object's pieces and commits are not versions.
            raise BadRequest('Appends are not supported in a container that has had '
                             'object versioning')
        req = ObjectVersioning(self.app, env, account, container, obj, state)
        if version is not None:
            if method in ('GET', 'HEAD'):
                return req.get_version(version)
            if method == 'DELETE':
                return req.delete_version(version)
            if method == 'PUT':
                return req.restore(version)
            return None
        if method in ('GET', 'HEAD'):
            return req.get_current()
        if method == 'PUT':
            return req.put() if state else None
        if method == 'POST':
            return req.post()
        if method == 'DELETE':
            return req.delete()
        return None

    # -- containers --------------------------------------------------------

    def container_request(self, env, account, container, query):
        method = env['REQUEST_METHOD']
        if method in ('PUT', 'POST'):
            return self.set_versioning(env, account, container)
        if method == 'DELETE':
            return self.delete_container(env, account, container)
        if method in ('GET', 'HEAD'):
            if 'versions' in query and method == 'GET':
                return self.list_versions(env, account, container, query)
            return self.read_container(env, account, container)
        return None

    def set_versioning(self, env, account, container):
        value = env.pop('HTTP_X_VERSIONS_ENABLED', None)
        if value is None or not value.strip() or not is_owner(env):
            if value is not None and value.strip():
                env['HTTP_X_VERSIONS_ENABLED'] = value   # the proxy refuses the request
            return None
        enable = core.parse_enabled(value)
        if enable and any(env.get(k, '').strip() for k in _LEGACY_HEADERS):
            raise BadRequest('X-Versions-Enabled cannot be set with X-Versions-Location '
                             'or X-History-Location')
        info_ = container_info(env, self.app, str_wsgi(account), str_wsgi(container),
                               source=SOURCE)
        sysmeta = info_.get('sysmeta', {}) if info_.get('status', 0) // 100 == 2 else {}
        if enable and any(sysmeta.get(k) for k in _LEGACY_SYSMETA):
            raise BadRequest('Versioning cannot be enabled on a container with '
                             'X-Versions-Location or X-History-Location')
        if enable:
            sub = make_environ(env, 'PUT', object_path(account, core.hidden_container(container)),
                               source=SOURCE)
            sub[RESERVED_NAMES_KEY] = True
            resp = call(self.app, sub)
            resp.discard()
            if resp.status // 100 != 2:
                raise ServiceUnavailable('Could not create the versions container')
        env['HTTP_' + core.ENABLED_SYSMETA_HEADER.upper().replace('-', '_')] = \
            'True' if enable else 'False'
        return None

    def read_container(self, env, account, container):
        resp = call(self.app, env)
        enabled = resp.headers.get(core.ENABLED_SYSMETA_HEADER.lower())
        if enabled is None or resp.status // 100 != 2:
            return Reply(resp.status, resp.header_list, resp)
        headers = [(k, v) for k, v in resp.header_list]
        headers.append((core.ENABLED_HEADER,
                        'True' if enabled.strip().lower() == 'true' else 'False'))
        hidden_bytes = self._hidden_bytes(env, account, container)
        if hidden_bytes:
            headers = [(k, str(int(v) + hidden_bytes) if k.lower() == 'x-container-bytes-used'
                        and is_decimal(v) else v) for k, v in headers]
        ctype = resp.headers.get('content-type', '')
        if env['REQUEST_METHOD'] == 'HEAD' or not ctype.startswith(('application/json',
                                                                    'application/xml')):
            return Reply(resp.status, headers, resp)
        try:
            body = resp.read(MAX_LISTING_BYTES)
        except ValueError:
            raise ServiceUnavailable('Container listing too large')
        if ctype.startswith('application/json'):
            try:
                rows = json.loads(body)
            except ValueError:
                raise ServiceUnavailable('Container listing is not JSON')
            for row in rows:
                version = core.clean_listing_row(row)
                if version and 'name' in row:
                    # Where the current version lives, as Swift's listings
                    # show a versioned object (its pointer is a symlink there).
                    row['symlink_path'] = quote('/v1/%s/%s/%s' % (
                        account, core.hidden_container(container),
                        core.version_name(row['name'], version)))
                    row['version_symlink'] = True
            body = json.dumps(rows, ensure_ascii=False, separators=(',', ':')).encode('utf-8')
        else:
            body = _POINTER_IN_XML.sub(r'\1', body.decode('utf-8')).encode('utf-8')
        return Reply(resp.status, headers, body)

    def _hidden_bytes(self, env, account, container):
        """Bytes held by the container's versions (its hidden container): a
        container's usage counts them, as quotas do. An info subrequest
        (a middleware's container_info) is answered from the proxy's cache."""
        sub = make_environ(env, 'HEAD', object_path(account, core.hidden_container(container)),
                           source=SOURCE)
        hidden_env(sub, account, core.hidden_container(container))
        if env.get(INFO_REQUEST_KEY):
            sub[INFO_REQUEST_KEY] = True
        resp = call(self.app, sub)
        resp.discard()
        value = resp.headers.get('x-container-bytes-used', '')
        return int(value) if resp.status // 100 == 2 and is_decimal(value) else 0

    def delete_container(self, env, account, container):
        if self._state(env, account, container) is None or not is_owner(env):
            return None
        hidden_path = object_path(account, core.hidden_container(container))
        sub = make_environ(env, 'GET', hidden_path, {'format': 'json', 'limit': '1'},
                           source=SOURCE)
        sub[RESERVED_NAMES_KEY] = True
        resp = call(self.app, sub)
        body = resp.read(MAX_LISTING_BYTES)
        if resp.status == 200 and body.strip() not in (b'', b'[]'):
            raise Conflict('The container still holds versions of objects: delete them '
                           '(?versions lists them) before the container')
        if resp.status // 100 != 2 and resp.status != 404:
            raise ServiceUnavailable('Could not check the versions container')
        user = call(self.app, env)
        body = user.read(65536)
        if user.status // 100 == 2:
            sub = make_environ(env, 'DELETE', hidden_path, source=SOURCE)
            sub[RESERVED_NAMES_KEY] = True
            call(self.app, sub).discard()
        return Reply(user.status, user.header_list, body)

    # -- ?versions listing -------------------------------------------------

    def list_versions(self, env, account, container, query):
        _check_json_wanted(query.get('format'), env.get('HTTP_ACCEPT'))
        raw_query = '&'.join(p for p in env.get('QUERY_STRING', '').split('&')
                             if p.split('=', 1)[0] not in ('format', 'versions',
                                                           'version_marker'))
        parsed = db_listing.parse_params(raw_query, None, CONTAINER_LISTING_LIMIT)
        if parsed.path is not None:
            raise BadRequest('path is not supported with versions')
        params = VersionsParams(prefix=parsed.prefix, delimiter=parsed.delimiter,
                                marker=parsed.marker, end_marker=parsed.end_marker,
                                limit=parsed.limit, reverse=parsed.reverse)
        marker = query.get('version_marker')
        if marker:
            if not params.marker:
                raise BadRequest('version_marker requires a marker')
            params.version_marker = core.parse_version_id(marker)
        user_query, hidden_query = source_queries(params)
        page = max(1, min(self.conf.listing_page_size, params.limit + 1))
        first = {}

        def fetch_user(q):
            resp = call(self.app, make_environ(env, 'GET', object_path(account, container),
                                               q, source=SOURCE))
            return self._listing_page(resp, first)

        def fetch_hidden(q):
            sub = make_environ(env, 'GET', object_path(account, core.hidden_container(container)),
                               q, source=SOURCE)
            resp = call(self.app, hidden_env(sub, account, core.hidden_container(container)))
            if resp.status == 404:
                resp.discard()
                return []
            return self._listing_page(resp, None)

        user_rows = pages(fetch_user, user_query, page)
        # The user's listing first: it decides access (ACLs) and existence.
        user_iter = iter(user_rows)
        head = next(user_iter, None)
        rows = ([head] if head is not None else [])

        def user_all():
            yield from rows
            yield from user_iter
        entries = merge_versions(user_all(), pages(fetch_hidden, hidden_query, page), params)
        body = json.dumps(entries, ensure_ascii=False, separators=(',', ':')).encode('utf-8')
        headers = [(k, v) for k, v in first.get('headers', [])
                   if k.lower() not in ('content-length', 'content-type')]
        enabled = first.get('enabled')
        if enabled is not None:
            headers.append((core.ENABLED_HEADER,
                            'True' if enabled.strip().lower() == 'true' else 'False'))
        headers.append(('Content-Type', 'application/json; charset=utf-8'))
        return Reply(200, headers, body)

    @staticmethod
    def _listing_page(resp, first):
        body = resp.read(MAX_LISTING_BYTES) if resp.status // 100 == 2 else resp.read(65536)
        if resp.status // 100 != 2:
            raise _Passed(resp.status, resp.header_list, body)
        if first is not None and 'headers' not in first:
            first['headers'] = resp.header_list
            first['enabled'] = resp.headers.get(core.ENABLED_SYSMETA_HEADER.lower())
        if resp.status == 204 or not body.strip():
            return []
        try:
            rows = json.loads(body)
        except ValueError:
            raise ServiceUnavailable('Container listing is not JSON')
        return rows if isinstance(rows, list) else []


def _check_json_wanted(format_param, accept):
    """Versions listings are JSON only: 406 for any other format asked."""
    if format_param is not None:
        fmt = format_param.strip().lower()
        if fmt in ('json', 'application/json'):
            return
        raise NotAcceptable('Versions listings are only available as JSON')
    if not accept:
        return
    for item in accept.split(','):
        kind, _, rest = item.strip().partition(';')
        kind = kind.strip().lower()
        q = 1.0
        for param in rest.split(';'):
            name, _, value = param.strip().partition('=')
            if name.strip() == 'q':
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0 and kind in ('application/json', 'application/*', '*/*'):
            return
    raise NotAcceptable('Versions listings are only available as JSON')


def str_wsgi(name):
    return name.encode('utf-8').decode('latin-1')


filter_factory = make_filter_factory(ObjectVersioningMiddleware, Conf)
