"""A read-only operator console under /console/, for reseller admins only.

Pages (server-rendered HTML, one small script that polls each page's JSON for
live numbers; see console_pages.py):
  /console/          overview: cluster totals, request figures
  /console/ring      each ring: regions, zones, servers, devices with weight,
                     partitions, balance and fill
  /console/nodes     storage servers up/down (probed, cached cache_seconds),
                     devices: mounted, fill, error-limited, slow, per-disk I/O
  /console/daemons   replication, auditor, async pendings, quarantines
  /console/api/<page>  the live figures of a page as JSON {key: [text, state]}
  /console/login     GET: the sign-in form; POST token=<token>: sets the cookie
  /console/logout    POST: clears it
  /console/static/console.js, console.css

Who may see it: a request must carry a token of a reseller admin, either as
X-Auth-Token (scripts, curl) or in the console's cookie, which the sign-in
form sets (HttpOnly, SameSite=Strict, Path=/console, Secure over https): the
page's script gets a token from the cluster's own auth (`auth_url`, same
origin) with the user and key typed in, and posts only the token. The console
judges a token with the auth middleware's `IDENTIFY_KEY` hook (toolkit), so it
must come after the auth middleware in the pipeline; without one it refuses
everyone (403).

Its figures: the rings (read from swift_dir), storage servers probed over HTTP
(their recon endpoints: console_data.py), and this proxy worker's own view of
the nodes (swiftlike.proxy.node_stats: backend requests, latency percentiles,
error limiting, slow nodes; with workers > 1 each worker sees its own share),
and client request figures from the metrics middleware's Prometheus counts
(console_requests.py; every worker's). Nothing is fetched from outside the
cluster; nothing is changed.
"""
import dataclasses
import json
from urllib.parse import parse_qs

from swiftlike.http import status_line
from swiftlike.middleware import console_pages as pages
from swiftlike.middleware import console_requests
from swiftlike.middleware import console_static
from swiftlike.middleware.console_data import Collector
from swiftlike.middleware.filters import make_filter_factory
from swiftlike.middleware.toolkit import IDENTIFY_KEY
from swiftlike.proxy import node_stats

PREFIX = '/console'
COOKIE = 'swiftlike_console'
MAX_FORM = 16384
SECURITY_HEADERS = [
    ('Cache-Control', 'no-store'),
    ('X-Content-Type-Options', 'nosniff'),
    ('X-Frame-Options', 'DENY'),
    ('Referrer-Policy', 'no-referrer'),
    ('Content-Security-Policy', "default-src 'none'; script-src 'self'; style-src 'self'; "
                                "connect-src 'self'; form-action 'self'; frame-ancestors 'none'"),
]
STATIC = {
    '/static/console.js': ('application/javascript; charset=utf-8',
                           console_static.SCRIPT.encode('utf-8')),
    '/static/console.css': ('text/css; charset=utf-8', console_static.STYLE.encode('utf-8')),
}
# Request rates are counted over at least this many seconds.
RATE_SECONDS = 1.5
PAGE_PATHS = {'/': 'overview', '/ring': 'ring', '/nodes': 'nodes', '/daemons': 'daemons'}


@dataclasses.dataclass
class Conf:
    # Where the rings are (usually set once in [DEFAULT]).
    swift_dir: str = '/etc/swiftlike'
    # Seconds to wait for a storage server's answer before calling it down.
    probe_timeout: float = 1.0
    # Seconds one picture of the cluster (probes, recon figures) is reused.
    cache_seconds: float = 2.0
    # Lifetime of the sign-in cookie (the token's own expiry still applies).
    session_seconds: int = 28800
    # Where the sign-in page gets a token with a user and key (same origin).
    auth_url: str = '/auth/v1.0'

    def validate(self):
        if self.probe_timeout <= 0 or self.cache_seconds < 0:
            raise ValueError('probe_timeout must be positive, cache_seconds not negative')
        if self.session_seconds <= 0:
            raise ValueError('session_seconds must be positive')
        if not self.auth_url.startswith('/'):
            raise ValueError('auth_url must be a path on this proxy (start with /)')


class Denied(Exception):
    def __init__(self, status, reason, clear_cookie=False):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.clear_cookie = clear_cookie


class Console:
    def __init__(self, app, conf):
        self.app = app
        self.conf = conf
        self.collector = Collector(conf.swift_dir, conf.probe_timeout, conf.cache_seconds)
        self.rates = console_requests.RateTracker(RATE_SECONDS)

    def __call__(self, env, start_response):
        path = env.get('PATH_INFO', '')
        if path != PREFIX and not path.startswith(PREFIX + '/'):
            return self.app(env, start_response)
        rest = path[len(PREFIX):]
        method = env.get('REQUEST_METHOD', '')
        if rest == '':
            return self.respond(env, start_response, 301, b'', 'text/plain',
                                [('Location', PREFIX + '/')])
        if rest in STATIC:
            if method not in ('GET', 'HEAD'):
                return self.not_allowed(env, start_response, 'GET, HEAD')
            ctype, body = STATIC[rest]
            return self.respond(env, start_response, 200, body, ctype)
        if rest == '/login':
            return self.login(env, start_response, method)
        if rest == '/logout':
            if method != 'POST':
                return self.not_allowed(env, start_response, 'POST')
            return self.respond(env, start_response, 303, b'', 'text/plain',
                                [('Location', PREFIX + '/login'), self.cookie(env, '')])
        page = PAGE_PATHS.get(rest)
        api = rest[len('/api/'):] if rest.startswith('/api/') else None
        if page is None and api not in pages.BUILDERS:
            return self.text(env, start_response, 404, 'Not found: no such console page')
        if method not in ('GET', 'HEAD'):
            return self.not_allowed(env, start_response, 'GET, HEAD')
        try:
            self.check_admin(env)
        except Denied as denied:
            return self.denied(env, start_response, denied, as_html=api is None)
        proxy = self.proxy_state()
        snap = self.collector.snapshot()
        tables = pages.BUILDERS[page or api](snap, proxy)
        if api is not None:
            body = json.dumps(pages.live_values(tables), sort_keys=True).encode('utf-8')
            return self.respond(env, start_response, 200, body, 'application/json')
        return self.html(env, start_response, 200, pages.page_html(page, tables))

    # -- who may see it -----------------------------------------------------------------

    def token(self, env):
        header = env.get('HTTP_X_AUTH_TOKEN')
        if header:
            return header
        for item in env.get('HTTP_COOKIE', '').split(';'):
            name, sep, value = item.strip().partition('=')
            if sep and name == COOKIE and value:
                return value
        return None

    def check_admin(self, env, token=None):
        token = token if token is not None else self.token(env)
        identify = env.get(IDENTIFY_KEY)
        if identify is None:
            raise Denied(403, 'The console needs an auth middleware (e.g. tempauth) before it '
                              'in the pipeline')
        if not token:
            raise Denied(401, 'Sign in as a reseller admin to see the console')
        if len(token) > 4096:
            raise Denied(400, 'Token too long', clear_cookie=True)
        groups = identify(token)
        if groups is None:
            raise Denied(401, 'Invalid or expired token', clear_cookie=True)
        if '.reseller_admin' not in groups:
            raise Denied(403, 'The console is for reseller admins only')

    def denied(self, env, start_response, denied, as_html):
        headers = [self.cookie(env, '')] if denied.clear_cookie else []
        if as_html and denied.status == 401 and not self.token(env):
            return self.respond(env, start_response, 303, b'', 'text/plain',
                                [('Location', PREFIX + '/login')])
        if as_html:
            return self.html(env, start_response, denied.status,
                             pages.message_html('Not allowed', denied.reason), headers)
        return self.text(env, start_response, denied.status, denied.reason, headers)

    def login(self, env, start_response, method):
        if method in ('GET', 'HEAD'):
            return self.html(env, start_response, 200,
                             pages.login_html(auth_url=self.conf.auth_url))
        if method != 'POST':
            return self.not_allowed(env, start_response, 'GET, HEAD, POST')
        try:
            form = self.read_form(env)
        except Denied as denied:
            return self.login_failed(env, start_response, denied)
        token = (form.get('token') or [''])[0].strip()
        if not token:
            reason = ('Signing in with a user and key needs JavaScript; paste a token instead'
                      if form.get('user') else 'No token given')
            return self.login_failed(env, start_response, Denied(400, reason))
        try:
            self.check_admin(env, token)
        except Denied as denied:
            return self.login_failed(env, start_response, denied)
        return self.respond(env, start_response, 303, b'', 'text/plain',
                            [('Location', PREFIX + '/'), self.cookie(env, token)])

    def login_failed(self, env, start_response, denied):
        return self.html(env, start_response, denied.status,
                         pages.login_html(denied.reason, 'bad', self.conf.auth_url))

    @staticmethod
    def read_form(env):
        ctype = env.get('CONTENT_TYPE', '').split(';', 1)[0].strip().lower()
        if ctype != 'application/x-www-form-urlencoded':
            raise Denied(400, 'Sign in with a form (application/x-www-form-urlencoded)')
        try:
            length = int(env.get('CONTENT_LENGTH') or '')
        except ValueError:
            raise Denied(411, 'Content-Length required')
        if length < 0 or length > MAX_FORM:
            raise Denied(413, 'Form too large')
        data = env['wsgi.input'].read(length) if length else b''
        try:
            return parse_qs(data.decode('ascii'), max_num_fields=8, strict_parsing=False)
        except (UnicodeDecodeError, ValueError):
            raise Denied(400, 'Malformed form')

    def cookie(self, env, token):
        attrs = ['%s=%s' % (COOKIE, token), 'Path=%s' % PREFIX, 'HttpOnly', 'SameSite=Strict',
                 'Max-Age=%d' % (self.conf.session_seconds if token else 0)]
        if env.get('wsgi.url_scheme') == 'https':
            attrs.append('Secure')
        return ('Set-Cookie', '; '.join(attrs))

    # -- the proxy's own state ----------------------------------------------------------

    def proxy_state(self):
        """This worker's view of the storage nodes (node_stats: latencies,
        error limiting, slow nodes), and this proxy's client request figures
        (the metrics middleware's, every worker's), with rates."""
        nodes = {}
        for row in node_stats.current().snapshot():
            key = (row['ip'], row['port'], row['device'])
            nodes[key] = dict(row, rate=self.rates.rate(('node',) + key, row['count']))
        try:
            requests = console_requests.client_requests()
        except (OSError, ValueError):
            requests = None
        for name, figures in (requests or {}).items():
            figures['rate'] = self.rates.rate(('client', name), figures['count'])
        return {'nodes': nodes, 'requests': requests}

    # -- answers --------------------------------------------------------------------------

    def respond(self, env, start_response, status, body, ctype, headers=()):
        all_headers = [('Content-Type', ctype), ('Content-Length', str(len(body)))]
        all_headers.extend(SECURITY_HEADERS)
        all_headers.extend(headers)
        start_response(status_line(status), all_headers)
        return [b'' if env.get('REQUEST_METHOD') == 'HEAD' else body]

    def html(self, env, start_response, status, text, headers=()):
        return self.respond(env, start_response, status, text.encode('utf-8'),
                            'text/html; charset=utf-8', headers)

    def text(self, env, start_response, status, reason, headers=()):
        return self.respond(env, start_response, status, (reason + '\n').encode('utf-8'),
                            'text/plain; charset=utf-8', headers)

    def not_allowed(self, env, start_response, allow):
        return self.text(env, start_response, 405, 'Method not allowed', [('Allow', allow)])


filter_factory = make_filter_factory(Console, Conf)
