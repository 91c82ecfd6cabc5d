"""Temporary URLs (Swift's tempurl), as a proxy middleware before tempauth.

A request for an object whose query carries `temp_url_sig` and
`temp_url_expires` is authorised by its signature instead of a token (the
signature rules are in tempurl_sig.py): an HMAC with one of the account's
keys (X-Account-Meta-Temp-URL-Key, -Key-2) or the container's
(X-Container-Meta-Temp-URL-Key, -Key-2) over the method, the expiry and the
object's path (or `prefix:` + a name prefix, `temp_url_prefix`), optionally
bound to the client's address (`temp_url_ip_range`). HEAD is allowed with a
HEAD, GET, POST or PUT signature. Anything wrong (expired, garbage, another
path, an unknown key or digest, an address outside the range) is a 401 with
Swift's body; no detail is given away.

A valid request is authorised through the chain: this middleware sets
AUTHORIZE_OVERRIDE_KEY (so tempauth leaves the request alone) and an
AUTHORIZE_KEY hook that allows the signed path (or prefix) itself, and, for
the subrequests of the middlewares below (a large object's segments and
listings), other paths in the key's scope: the account for an account key,
the container for a container key. Before it goes on, the request loses
what the configuration removes (`incoming_remove_headers`, e.g. X-Timestamp)
and every query parameter but the temp URL's own (so a GET URL cannot be
turned into `multipart-manifest=delete`); writes carrying X-Object-Manifest,
X-Symlink-Target or X-Copy-From are refused (400), since they would give
the URL's holder data the URL does not sign for. Answers lose the headers
`outgoing_remove_headers` names (user metadata but `X-Object-Meta-Public-*`
by default); successful GET/HEAD answers get a Content-Disposition
(`inline`, `filename=`, the stored one, else an attachment named after the
object) and Expires (the URL's expiry).

Keys are read with toolkit.account_info / container_info (the proxy's
per-worker info cache); those lookups are made pre-authorised, as the
request itself has no token.
"""
import dataclasses
import hmac
from urllib.parse import parse_qsl, urlencode

from swiftlike.http import make_response
from swiftlike.middleware import info, toolkit
from swiftlike.middleware.filters import make_filter_factory
from swiftlike.middleware.subrequest import call
from swiftlike.middleware.tempurl_sig import (DEPRECATED_DIGESTS, DIGESTS, HeaderFilter,
                                              allowed_digests,
                                              InvalidTempURL, check_expires,
                                              content_disposition, http_date, ip_allowed,
                                              parse_signature, prefix_path, sign)

SOURCE = 'TempURL'
GENERATOR_HEADER = toolkit.GENERATOR_HEADER
FEATURE = 'tempurl'
# The environ keys of the authorisation chain (set by the seam in toolkit).
REMOTE_USER = toolkit.TEMPURL_USER
INVALID_BODY = '401 Unauthorized: Temp URL invalid\n'
KEY_NAMES = ('temp-url-key', 'temp-url-key-2')
# Query parameters a temp URL keeps on its way down (the rest is dropped).
KEPT_PARAMS = ('temp_url_sig', 'temp_url_expires', 'temp_url_prefix', 'temp_url_ip_range',
               'filename', 'inline')
# Request headers a signed write may not carry: each points the object at
# other data (a manifest, a symlink, a copy source).
DISALLOWED_HEADERS = ('x-object-manifest', 'x-symlink-target', 'x-copy-from')
# A signature for the first method also allows HEAD.
HEAD_SIGNATURES = ('HEAD', 'GET', 'POST', 'PUT')
KNOWN_METHODS = frozenset(('GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'COPY', 'OPTIONS'))
# A query string longer than this is not a temp URL (and not parsed).
MAX_QUERY_LENGTH = 16384


def _words(value):
    return [w for w in value.replace(',', ' ').split() if w]


@dataclasses.dataclass
class Conf:
    # Methods a temporary URL may be used for (HEAD also follows from GET,
    # POST and PUT signatures).
    methods: str = 'GET HEAD PUT POST DELETE'
    # Request headers removed before the request goes on ('*' at the end:
    # a prefix), except those incoming_allow_headers names.
    incoming_remove_headers: str = 'x-timestamp x-open-expired'
    incoming_allow_headers: str = ''
    # Response headers removed from the answers, except the allowed ones.
    outgoing_remove_headers: str = 'x-object-meta-*'
    outgoing_allow_headers: str = 'x-object-meta-public-*'
    # Digests a signature may use (sha1 is accepted but deprecated).
    allowed_digests: str = 'sha1 sha256 sha512'

    def validate(self):
        methods = _words(self.methods.upper())
        unknown = [m for m in methods if m not in KNOWN_METHODS]
        if unknown:
            raise ValueError('methods: unknown method %r' % unknown[0])
        if not methods:
            raise ValueError('methods must name at least one method')
        allowed_digests(self.allowed_digests)

    @property
    def method_list(self):
        return list(dict.fromkeys(_words(self.methods.upper())))

    @property
    def digest_list(self):
        return allowed_digests(self.allowed_digests)


def _object_path(path, container_root=False):
    """'/v1/<a>/<c>/<o>' (WSGI str) -> (a, c, o); with `container_root`,
    '/v1/<a>/<c>[/]' -> (a, c, ''). None for anything else."""
    parts = toolkit.split_account_path(path)
    if parts is None or not parts[1] or not path.startswith('/v1/'):
        return None
    if not parts[2]:
        return (parts[0], parts[1], '') if container_root else None
    return parts


def temp_url_keys(env, info_app, account, container, source=SOURCE):
    """The account's and the container's Temp-URL keys, as [(key as a WSGI
    string, 'account' | 'container')] (also FormPost's keys). `info_app`
    must let the lookups through without a token (toolkit.PreAuthorized)."""
    found = []
    acct = toolkit.account_info(env, info_app, account, source=source)
    if 200 <= acct.get('status', 0) < 300:
        found.extend((acct['meta'][n], 'account') for n in KEY_NAMES if acct['meta'].get(n))
    cont = toolkit.container_info(env, info_app, account, container, source=source)
    if 200 <= cont.get('status', 0) < 300:
        found.extend((cont['meta'][n], 'container') for n in KEY_NAMES if cont['meta'].get(n))
    return found


class ScopeHook:
    """The authorisation hook of a valid temp URL: the signed path (or names
    under the signed prefix) for the request itself; for subrequests of the
    middlewares below, also other paths of the key's scope (the account, or
    the container for a container key). Anything else is a 401."""

    def __init__(self, account, container, obj, prefix, scope):
        self.account = account
        self.container = container
        self.obj = obj
        self.prefix = prefix
        self.scope = scope

    def __call__(self, env, read_acl='', write_acl='', is_object=False):
        parts = toolkit.split_account_path(env.get('PATH_INFO', ''))
        if parts is not None and parts[0] == self.account and parts[1] == self.container:
            obj = parts[2]
            if obj is None and not env.get(toolkit.SOURCE_KEY):
                # The proxy asks about the request's own object by its
                # container (is_object=True); the object is the signed one.
                return None
            if obj is not None and (obj == self.obj if self.prefix is None
                                    else obj.startswith(self.prefix)):
                return None
        if parts is not None and env.get(toolkit.SOURCE_KEY) and parts[0] == self.account \
                and (self.scope == 'account' or parts[1] == self.container):
            return None
        return '401 Unauthorized', 'Temp URL invalid'


class TempURL:
    def __init__(self, app, conf):
        self.app = app
        self.conf = conf
        self.info_app = toolkit.PreAuthorized(app)
        self.methods = conf.method_list
        self.digests = conf.digest_list
        self.incoming = HeaderFilter(_words(conf.incoming_remove_headers.lower()),
                                     _words(conf.incoming_allow_headers.lower()))
        self.outgoing = HeaderFilter(_words(conf.outgoing_remove_headers.lower()),
                                     _words(conf.outgoing_allow_headers.lower()))
        info.register('tempurl', methods=self.methods,
                      incoming_remove_headers=_words(conf.incoming_remove_headers.lower()),
                      incoming_allow_headers=_words(conf.incoming_allow_headers.lower()),
                      outgoing_remove_headers=_words(conf.outgoing_remove_headers.lower()),
                      outgoing_allow_headers=_words(conf.outgoing_allow_headers.lower()),
                      allowed_digests=self.digests,
                      deprecated_digests=[d for d in self.digests if d in DEPRECATED_DIGESTS])

    def __call__(self, env, start_response):
        toolkit.mark_feature(env, FEATURE)
        method = env.get('REQUEST_METHOD', '')
        query_string = env.get('QUERY_STRING', '')
        if method == 'OPTIONS' or not query_string:
            return self.app(env, start_response)
        if len(query_string) > MAX_QUERY_LENGTH:
            # Not parsed: a temp URL this long is garbage; anything else goes
            # on (and needs a token, like any request without a temp URL).
            if 'temp_url_' in query_string or 'temp%5furl' in query_string.lower():
                return self.invalid(env, start_response)
            return self.app(env, start_response)
        params = {}
        # latin-1: values stay "WSGI strings" (the client's bytes), as paths are.
        for name, value in parse_qsl(query_string, keep_blank_values=True,
                                     encoding='latin-1'):
            params.setdefault(name, value)
        if 'temp_url_sig' not in params and 'temp_url_expires' not in params:
            return self.app(env, start_response)
        try:
            grant = self.check(env, method, params)
        except InvalidTempURL:
            return self.invalid(env, start_response)
        if method not in ('GET', 'HEAD', 'OPTIONS'):
            for name in DISALLOWED_HEADERS:
                if 'HTTP_' + name.upper().replace('-', '_') in env:
                    title = '-'.join(w.capitalize() for w in name.split('-'))
                    return make_response(
                        400, "The header '%s' is not allowed in this tempurl" % title
                    )(env, start_response)
        self.clean_incoming(env)
        account, container, obj, prefix, scope, expires = grant
        toolkit.override_authorization(env, ScopeHook(account, container, obj, prefix, scope))
        env['REMOTE_USER'] = REMOTE_USER
        env.pop(toolkit.OWNER_KEY, None)
        env['QUERY_STRING'] = urlencode(
            [(k, params[k].encode('latin-1')) for k in KEPT_PARAMS if k in params])
        wrapped = self.response_wrapper(env, start_response, params, expires)
        if obj:
            return self.app(env, wrapped)
        # The container itself: only a page static web makes (its listing or
        # index page, or a redirect) is answered; a container listing is not
        # something a temp URL hands out.
        resp = call(self.app, env)
        if resp.status // 100 == 2 and \
                resp.headers.get(GENERATOR_HEADER.lower()) != 'staticweb':
            resp.close()
            return self.invalid(env, start_response)
        return resp.respond(wrapped)

    # -- the signature ----------------------------------------------------------------

    def check(self, env, method, params):
        """(account, container, obj, prefix, scope, expires) of a valid temp
        URL; InvalidTempURL otherwise."""
        sig, expires_value = params.get('temp_url_sig'), params.get('temp_url_expires')
        if not sig or not expires_value:
            raise InvalidTempURL('signature or expiry missing')
        digest, given = parse_signature(sig)
        expires = check_expires(expires_value)
        if digest not in self.digests:
            raise InvalidTempURL('digest %s not allowed' % digest)
        if method not in self.methods:
            raise InvalidTempURL('method %s not allowed' % method)
        # A GET/HEAD signed for the whole container (an empty prefix) may ask
        # for the container itself: static web's listing (see __call__).
        parts = _object_path(env.get('PATH_INFO', ''), container_root=(
            method in ('GET', 'HEAD') and params.get('temp_url_prefix') == ''))
        if parts is None:
            raise InvalidTempURL('not an object path')
        account, container, obj = parts
        ip_range = params.get('temp_url_ip_range')
        if ip_range and not ip_allowed(ip_range, env.get('REMOTE_ADDR')):
            raise InvalidTempURL('client address outside the range')
        prefix = params.get('temp_url_prefix')
        if prefix is None:
            signed_path = '/v1/%s/%s/%s' % (account, container, obj)
        elif obj.startswith(prefix):
            signed_path = prefix_path(account, container, prefix)
        else:
            raise InvalidTempURL('object outside the prefix')
        methods = HEAD_SIGNATURES if method == 'HEAD' else (method,)
        for key, scope in self.keys(env, account, container):
            for signed_method in methods:
                expected = sign(key, signed_method, expires, signed_path, digest, ip_range)
                if hmac.compare_digest(expected, given):
                    return account, container, obj, prefix, scope, expires
        raise InvalidTempURL('no key signs this URL')

    def keys(self, env, account, container):
        """[(key as a WSGI string, 'account' | 'container')]."""
        return temp_url_keys(env, self.info_app, account, container, SOURCE)

    # -- requests and answers -----------------------------------------------------------

    def clean_incoming(self, env):
        for key in [k for k in env if k.startswith('HTTP_')]:
            if self.incoming.drops(key[5:].replace('_', '-')):
                del env[key]

    def invalid(self, env, start_response):
        body = b'' if env.get('REQUEST_METHOD') == 'HEAD' else INVALID_BODY.encode('ascii')
        headers = [('Www-Authenticate', 'Swift realm="unknown"'),
                   ('Content-Length', str(len(INVALID_BODY)) if body else '0'),
                   ('Content-Type', 'text/plain; charset=UTF-8')]
        start_response('401 Unauthorized', headers)
        return [body]

    def response_wrapper(self, env, start_response, params, expires):
        method = env.get('REQUEST_METHOD')
        inline = 'inline' in params
        filename = params.get('filename') or ''
        obj = env.get('PATH_INFO', '').rstrip('/').rsplit('/', 1)[-1]

        def wrapped(status, headers, exc_info=None):
            kept = [(k, v) for k, v in headers if not self.outgoing.drops(k)]
            if method in ('GET', 'HEAD') and status.startswith('2'):
                stored = generator = None
                out = []
                for name, value in kept:
                    if name.lower() == GENERATOR_HEADER.lower():
                        generator = value
                    if name.lower() == 'content-disposition':
                        stored = value
                    elif name.lower() != 'expires':
                        out.append((name, value))
                name = filename.encode('latin-1')
                if inline or generator == 'staticweb':
                    disposition = content_disposition('inline', name) if name else 'inline'
                elif name:
                    disposition = content_disposition('attachment', name)
                elif stored:
                    disposition = stored
                else:
                    disposition = content_disposition('attachment', obj.encode('latin-1'))
                out.append(('Content-Disposition', disposition.replace('\n', '%0A')))
                out.append(('Expires', http_date(expires)))
                kept = out
            return start_response(status, kept, exc_info)
        return wrapped


filter_factory = make_filter_factory(TempURL, Conf)
