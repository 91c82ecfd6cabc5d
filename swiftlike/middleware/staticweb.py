"""Static web (Swift's `staticweb`): a container served as a web site.

The container's owner turns it on with metadata:
- `X-Container-Meta-Web-Index: index.html`: `GET /v1/a/c/` and `GET /v1/a/c/dir/`
  serve that object of the (pseudo-)directory;
- `X-Container-Meta-Web-Listings: true`: where there is no index, an HTML
  listing of the (pseudo-)directory, styled by `-Web-Listings-CSS` (an
  object name, made relative to each page; or a URL) and titled by
  `-Web-Listings-Label` instead of the path if set;
- `X-Container-Meta-Web-Error: error.html`: a 404 (or 401) is answered with
  the body of the object `404error.html` (`401error.html`) when it exists;
- `X-Container-Meta-Web-Directory-Type` (default `application/directory`):
  marker objects of that type (at most 1 byte) count as directories.
A path naming a directory without its trailing slash is redirected (301) to
the slashed one, so relative links work.

Only GET and HEAD of containers and objects are affected, and only for
anonymous requests (`X-Container-Read: .r:*` lets them read; `.rlistings`
lets them list) or requests with `X-Web-Mode: true`; an authenticated client
otherwise gets the plain API. Every read is a subrequest with the requester's
rights, so static web never shows what the requester could not read anyway.
"""
import dataclasses
import json
from urllib.parse import parse_qsl

from swiftlike.config import is_true
from swiftlike.constraints import is_decimal
from swiftlike.middleware import info
from swiftlike.middleware.domain_remap import REMAP_PREFIX_KEY
from swiftlike.middleware.filters import make_filter_factory
from swiftlike.middleware.staticweb_listing import render
from swiftlike.middleware.subrequest import call, make_environ
from swiftlike.middleware.toolkit import (AUTHORIZE_KEY, GENERATOR_HEADER, INFO_REQUEST_KEY,
                                          OWNER_KEY, TEMPURL_USER, container_info, mark_feature,
                                          split_account_path)
from swiftlike.paths import wsgi_quote, wsgi_to_str

SOURCE = 'SW'
MAX_LISTING_BYTES = 16 * 1024 * 1024


@dataclasses.dataclass
class Conf:
    # Scheme and host of the redirects static web sends (default: the
    # request's own), for a cluster behind a proxy that rewrites them.
    url_scheme: str = ''
    url_host: str = ''


class _Site:
    """A container's web settings (from its metadata; values are WSGI
    strings, as the names in PATH_INFO are)."""

    def __init__(self, meta):
        self.index = meta.get('web-index', '')
        self.error = meta.get('web-error', '')
        self.listings = is_true(meta.get('web-listings', ''))
        self.css = meta.get('web-listings-css', '')
        self.label = meta.get('web-listings-label', '')
        self.dir_type = meta.get('web-directory-type', '') or 'application/directory'

    @property
    def on(self):
        return bool(self.index or self.listings)


def _may_read(env, cinfo):
    """Whether the auth middleware lets this requester read objects of the
    container (its read ACL, referrer rules included)."""
    hook = env.get(AUTHORIZE_KEY)
    if hook is None or env.get(OWNER_KEY):
        return True
    return not hook(env, cinfo.get('read_acl', ''), cinfo.get('write_acl', ''), True)


def _temp_url_links(env):
    """(query for the links of a listing, the prefix a temp URL is signed
    for): a listing made for a temp URL links its entries with the same temp
    URL (signed for a prefix), and has no parent link above that prefix."""
    if env.get('REMOTE_USER') != TEMPURL_USER:
        return '', ''
    params = dict(parse_qsl(env.get('QUERY_STRING', ''), keep_blank_values=True,
                            encoding='latin-1'))
    if 'temp_url_prefix' not in params:
        return '', ''
    top = params['temp_url_prefix']
    parts = ['temp_url_prefix=' + wsgi_quote(top),
             'temp_url_expires=' + wsgi_quote(params.get('temp_url_expires', ''), safe=''),
             'temp_url_sig=' + wsgi_quote(params.get('temp_url_sig', ''), safe='')]
    if params.get('temp_url_ip_range'):
        parts.append('temp_url_ip_range=' + wsgi_quote(params['temp_url_ip_range'], safe=''))
    if 'inline' in params:
        parts.append('inline')
    return '?' + '&'.join(parts), top


def _reply(start_response, status, body=b'', headers=None, head=False):
    out = list(headers or [])
    out.append((GENERATOR_HEADER, 'staticweb'))
    if not any(k.lower() == 'content-type' for k, _ in out):
        out.append(('Content-Type', 'text/html; charset=UTF-8'))
    out.append(('Content-Length', str(len(body))))
    start_response(status, out)
    return [b''] if head else [body]


class StaticWeb:
    def __init__(self, app, conf):
        self.app = app
        self.conf = conf
        info.register('staticweb')

    def __call__(self, env, start_response):
        mark_feature(env, 'staticweb')
        if env.get('REQUEST_METHOD') not in ('GET', 'HEAD'):
            return self.app(env, start_response)
        if env.get('REMOTE_USER') not in (None, '', TEMPURL_USER) and \
                not is_true(env.get('HTTP_X_WEB_MODE', '')):
            return self.app(env, start_response)
        if env.get(INFO_REQUEST_KEY):
            # A middleware's container_info/account_info lookup (a temp URL's
            # keys), not a visitor.
            return self.app(env, start_response)
        parts = split_account_path(env.get('PATH_INFO', ''))
        if not parts or not parts[1]:
            return self.app(env, start_response)
        account, container, obj = parts
        cinfo = container_info(env, self.app, account, container, SOURCE)
        if not 200 <= cinfo['status'] < 300:
            return self.app(env, start_response)
        site = _Site(cinfo.get('meta', {}))
        if site.on and not _may_read(env, cinfo):
            # Say nothing about a site the requester may not read (no
            # redirect, no listing): the proxy answers as without static web.
            return self.app(env, start_response)
        req = _Request(self, env, start_response, account, container, site)
        if obj is None:
            return req.handle_container()
        return req.handle_object(obj)


class _Request:
    def __init__(self, mw, env, start_response, account, container, site):
        self.app = mw.app
        self.conf = mw.conf
        self.env = env
        self.start_response = start_response
        self.account = account
        self.container = container
        self.site = site
        self.head = env['REQUEST_METHOD'] == 'HEAD'

    # -- container: /v1/a/c[/] -------------------------------------------------

    def handle_container(self):
        site = self.site
        if not site.on:
            if is_true(self.env.get('HTTP_X_WEB_MODE', '')):
                return self.error(404)
            return self.app(self.env, self.start_response)
        if not self.env['PATH_INFO'].endswith('/'):
            return self.redirect_with_slash()
        if not site.index:
            return self.listing('')
        page = self.get(self._container_path() + '/' + site.index)
        if page.status == 404:
            page.close()
            return self.listing('')
        if page.status >= 400:
            page.close()
            return self.error(page.status)
        return _generated(page, self.start_response)

    # -- object: /v1/a/c/o -----------------------------------------------------

    def handle_object(self, obj):
        site = self.site
        first = call(self.app, dict(self.env))
        if first.status < 400:
            length = first.headers.get('content-length', '0')
            is_marker = first.headers.get('content-type', '').split(';')[0].strip() == \
                site.dir_type and is_decimal(length) and int(length) <= 1
            if not is_marker:
                return first.respond(self.start_response)
            first.close()
        elif first.status != 404:
            # Other errors keep their own answer (no custom page), as Swift's.
            return first.respond(self.start_response)
        elif not site.on:
            return first.respond(self.start_response)
        else:
            first.close()
        if site.index:
            page = self.get(self.env['PATH_INFO'].rstrip('/') + '/' + site.index)
            if page.status < 400:
                if not self.env['PATH_INFO'].endswith('/'):
                    page.close()
                    return self.redirect_with_slash()
                return _generated(page, self.start_response)
            page.close()
            if page.status != 404:
                return self.error(page.status)
        if not self.env['PATH_INFO'].endswith('/'):
            if self._is_directory(obj):
                return self.redirect_with_slash()
            return self.error(404)
        return self.listing(obj)

    def _is_directory(self, obj):
        sub = self.get(self._container_path(), 'limit=1&delimiter=/&format=json&prefix=%s'
                       % wsgi_quote(obj.rstrip('/') + '/', safe=''))
        try:
            items = json.loads(sub.read(MAX_LISTING_BYTES)) if sub.status == 200 else []
        except ValueError:
            items = []
        return bool(items)

    # -- pieces ----------------------------------------------------------------

    def _container_path(self):
        return '/v1/%s/%s' % (self.account, self.container)

    def get(self, path, query=''):
        env = make_environ(self.env, 'GET', path, query, source=SOURCE)
        if self.head and not query:
            env['REQUEST_METHOD'] = 'HEAD'
        return call(self.app, env)

    def listing(self, prefix):
        site = self.site
        if not site.listings:
            return self.error(404)
        query = 'delimiter=/&format=json'
        if prefix:
            query += '&prefix=%s' % wsgi_quote(prefix, safe='')
        sub = self.get(self._container_path(), query)
        if sub.status != 200:
            status = sub.status
            sub.close()
            return self.error(status)
        try:
            items = json.loads(sub.read(MAX_LISTING_BYTES))
        except ValueError:
            return self.error(503)
        if prefix and not items:
            return self.error(404)
        if site.label:
            title = wsgi_to_str(site.label).rstrip('/') + '/' + wsgi_to_str(prefix)
        else:
            title = wsgi_to_str(self.env['PATH_INFO'])
        css = wsgi_to_str(site.css)
        link_query, top = _temp_url_links(self.env)
        body = render(title, wsgi_to_str(prefix), items, css, link_query=link_query,
                      parent=len(prefix) > len(top)).encode('utf-8')
        return _reply(self.start_response, '200 OK', body, head=self.head)

    def redirect_with_slash(self):
        env = self.env
        path = env['PATH_INFO']
        remapped = env.get(REMAP_PREFIX_KEY)
        if remapped and path.startswith(remapped):
            path = path[len(remapped):] or '/'
        scheme = self.conf.url_scheme or env.get('wsgi.url_scheme', 'http')
        host = self.conf.url_host or env.get('HTTP_HOST') or '%s:%s' % (
            env.get('SERVER_NAME', 'localhost'), env.get('SERVER_PORT', '80'))
        location = '%s://%s%s/' % (scheme, host, wsgi_quote(path))
        if env.get('REMOTE_USER') == TEMPURL_USER and env.get('QUERY_STRING'):
            location += '?' + env['QUERY_STRING']     # the temp URL stays valid there
        return _reply(self.start_response, '301 Moved Permanently', b'',
                      [('Location', location)], head=self.head)

    def error(self, status, original=None):
        """The container's error page for `status` (404 and 401 only), or a
        plain answer with that status."""
        status_line = {401: '401 Unauthorized', 403: '403 Forbidden', 404: '404 Not Found',
                       503: '503 Service Unavailable'}.get(status, '%d Error' % status)
        if self.site.error and status in (401, 404):
            page = self.get('%s/%d%s' % (self._container_path(), status,
                                         self.site.error))
            if page.status == 200:
                if original is not None:
                    original.close()
                headers = [(k, v) for k, v in page.header_list
                           if k.lower() in ('content-type', 'content-length')]
                headers.append((GENERATOR_HEADER, 'staticweb'))
                self.start_response(status_line, headers)
                return page if not self.head else _closed(page)
            page.close()
        if original is not None:
            return original.respond(self.start_response)
        return _reply(self.start_response, status_line, b'', head=self.head)


def _generated(page, start_response):
    """Pass on a page static web chose (an index page) as its own."""
    return page.respond(start_response, page.header_list + [(GENERATOR_HEADER, 'staticweb')])


def _closed(sub):
    sub.close()
    return [b'']


filter_factory = make_filter_factory(StaticWeb, Conf)
