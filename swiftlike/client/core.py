"""Authentication, token reuse and the retry loop under every API call of Connection."""
import json
import random
import threading
import time
from urllib.parse import quote, urlencode, urlsplit

from swiftlike.client.exceptions import ClientException, InvalidURL
from swiftlike.client.transport import NETWORK_ERRORS, BodySource, Transport
from swiftlike.client.urls import check_url

# Statuses worth another try: the server (or a proxy in front of it) may answer differently in a moment.
RETRY_STATUSES = frozenset([500, 502, 503, 504])
RATELIMIT_STATUSES = frozenset([429, 498])
USER_AGENT = 'swiftlike-client/0.1'


def _url_parts(url):
    p = urlsplit(url)
    return p.scheme, p.hostname or '', p.port or '', p.path, p.query


class BaseConnection:
    """Holds credentials, the current token and the HTTP transport; safe to share between threads.

    The token is reused by every thread. A 401 drops it (only if it is still the token that failed, so a
    burst of 401s from many threads causes a single re-authentication) and the request is sent again.
    Network errors, 5xx and rate-limit answers are retried `retries` times with exponential backoff.
    `on_retry(what, method, reason, retries_left)`, if given, is called before each such retry (e.g. 'Auth',
    'GET', 'connection refused', 5), so a program can say why it is waiting.
    """

    def __init__(self, authurl=None, user=None, key=None, retries=5, preauthurl=None, preauthtoken=None,
                 starting_backoff=1, max_backoff=64, tenant_name=None, os_options=None, auth_version='1',
                 cacert=None, insecure=False, retry_on_ratelimit=True, timeout=None, auth_url=None,
                 on_retry=None):
        if str(auth_version) not in ('1', '1.0'):
            raise ClientException('auth version %r is not supported (only v1.0 auth)' % (auth_version,))
        os_options = os_options or {}
        self.authurl = authurl or auth_url
        if self.authurl is not None:
            check_url(self.authurl, 'auth URL')
        self.user = user
        self.key = key
        self.tenant_name = tenant_name
        self.retries = retries
        self.starting_backoff = starting_backoff
        self.max_backoff = max_backoff
        self.retry_on_ratelimit = retry_on_ratelimit
        self.preauthurl = preauthurl or os_options.get('object_storage_url')
        if self.preauthurl is not None:
            check_url(self.preauthurl, 'storage URL')
        self.url = self.preauthurl
        self.token = preauthtoken or os_options.get('auth_token')
        self.attempts = 0           # requests sent, retries included (for the curious and for tests)
        self.auth_count = 0         # times we authenticated
        self.resent = 0             # requests sent again after a network error, 5xx or rate limit
        self.succeeded_once = False  # some request has got its final answer (the server is there)
        self.on_retry = on_retry
        self._auth_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self.transport = Transport(timeout=timeout, insecure=insecure, cacert=cacert)

    # -- authentication -------------------------------------------------------------------------------------

    def get_auth(self):
        """(storage_url, token), authenticating first when there is no token yet."""
        url, token = self.url, self.token
        if url and token:
            return url, token
        with self._auth_lock:
            if not (self.url and self.token):
                self.url, self.token = self._authenticate()
            return self.url, self.token

    def _invalidate(self, token):
        with self._auth_lock:
            if self.token == token and self.can_reauth():
                self.token = None

    def can_reauth(self):
        return bool(self.authurl and self.user is not None and self.key is not None)

    def _authenticate(self):
        if not self.can_reauth():
            raise ClientException('Auth GET failed: no auth URL, user and key to (re)authenticate with',
                                  http_status=401 if self.token else None)
        headers = {'X-Auth-User': self.user, 'X-Auth-Key': self.key, 'User-Agent': USER_AGENT}
        resp, body = self._send_with_retries('Auth', 'GET', self.authurl, headers, read=True, use_token=False)
        url = resp.headers.get('x-storage-url')
        token = resp.headers.get('x-auth-token') or resp.headers.get('x-storage-token')
        if not url or not token:
            raise ClientException('Auth GET failed: the response has no X-Storage-Url and X-Auth-Token',
                                  http_status=resp.status, http_reason=resp.reason,
                                  http_response_headers=resp.headers)
        if not self.preauthurl:
            try:
                check_url(url, 'the X-Storage-Url it answered')
            except InvalidURL as err:
                raise ClientException('Auth GET failed: %s' % err, *_url_parts(self.authurl)[:4],
                                      http_status=resp.status, http_reason=resp.reason,
                                      http_response_headers=resp.headers) from None
        self.auth_count += 1
        return (self.preauthurl or url), token

    # -- requests ---------------------------------------------------------------------------------------------

    def make_path_url(self, url, container=None, obj=None, query=None):
        if container is not None:
            url = url.rstrip('/') + '/' + quote(_text(container), safe='')
            if obj is not None:
                url += '/' + quote(_text(obj), safe='/')
        if query:
            url += '?' + query
        return url

    @staticmethod
    def make_query(params, query_string=None):
        pairs = [(k, _text(v)) for k, v in params.items() if v is not None]
        query = urlencode(pairs) if pairs else ''
        if query_string:
            query = (query + '&' if query else '') + query_string.lstrip('?')
        return query

    def request(self, what, method, container=None, obj=None, query=None, headers=None, body=None,
                read=True, response_dict=None, deleting=False):
        """One API call with retries; returns (Response, body bytes or None if read=False).

        `deleting`: a 404 after an attempt whose outcome is unknown (the connection broke after the request
        was sent) counts as success, since the earlier attempt most likely did the delete.
        """
        _check_names(what, method, container, obj)

        def url_for(storage_url):
            return self.make_path_url(storage_url, container, obj, query)
        return self._send_with_retries(what, method, url_for, dict(headers or {}), body=body, read=read,
                                       response_dict=response_dict, deleting=deleting)

    def _send_with_retries(self, what, method, url, headers, body=None, read=True, use_token=True,
                           response_dict=None, deleting=False):
        headers.setdefault('User-Agent', USER_AGENT)
        backoff = self.starting_backoff
        attempt = 0
        reauthed = False
        outcome_unknown = False
        free_reconnect = True
        while True:
            if use_token:
                storage_url, token = self.get_auth()
                target = url(storage_url)
                headers['X-Auth-Token'] = token
            else:
                target, token = url, None
            with self._count_lock:
                self.attempts += 1
            try:
                resp = self.transport.request(method, target, headers, body)
                data = resp.read() if read or method == 'HEAD' else None
            except NETWORK_ERRORS as err:
                if body is not None and not body.rewind():
                    raise ClientException('%s %s failed: %s (the body cannot be sent again: %s)' % (
                        what, method, _describe(err), 'it is an iterator or a pipe, already read'),
                        *_url_parts(target)[:4], method=method) from None
                outcome_unknown = True
                self._count_resend()
                if getattr(err, 'reused', False) and free_reconnect:
                    free_reconnect = False      # an idle kept-alive socket closed by the server: not a failure
                    continue
                attempt += 1
                if attempt > self.retries:
                    raise ClientException('%s %s failed after %d attempts: %s' % (
                        what, method, attempt, _describe(err)), *_url_parts(target)[:4], method=method) from None
                self._notify_retry(what, method, _describe(err), self.retries - attempt + 1)
                self._sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            if response_dict is not None:
                response_dict.update(status=resp.status, reason=resp.reason, headers=resp.headers)
            if resp.status == 401 and use_token and not reauthed and self.can_reauth():
                _drain(resp, data)
                reauthed = True
                self._invalidate(token)
                if body is not None and not body.rewind():
                    raise ClientException.from_response(what, method, _url_parts(target), resp.status,
                                                        resp.reason, resp.headers, data or b'')
                continue
            retryable = resp.status in RETRY_STATUSES or (
                self.retry_on_ratelimit and resp.status in RATELIMIT_STATUSES)
            if retryable and attempt < self.retries and (body is None or body.rewind()):
                _drain(resp, data)
                attempt += 1
                self._count_resend()
                self._notify_retry(what, method, '%s %s' % (resp.status, resp.reason), self.retries - attempt + 1)
                self._sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            if deleting and resp.status == 404 and outcome_unknown:
                return resp, data
            if not 200 <= resp.status < 300:
                if data is None:
                    data = _read_error_body(resp)
                raise ClientException.from_response(what, method, _url_parts(target), resp.status,
                                                    resp.reason, resp.headers, data)
            self.succeeded_once = True
            return resp, data

    def _notify_retry(self, what, method, reason, retries_left):
        if self.on_retry is not None:
            self.on_retry(what, method, reason, retries_left)

    def _count_resend(self):
        with self._count_lock:
            self.resent += 1

    def _sleep(self, backoff):
        time.sleep(backoff * random.uniform(0.5, 1.0))   # jitter: many threads must not retry in lockstep

    def close(self):
        """Close all kept-alive sockets (of every thread)."""
        self.transport.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- /info -------------------------------------------------------------------------------------------------

    def get_capabilities(self, url=None):
        """The cluster's /info document (no token needed). `url` may be any URL on the cluster."""
        if url is None:
            url = self.url or self.preauthurl or self.authurl
            if not url:
                url, _ = self.get_auth()
        check_url(url, 'URL')
        p = urlsplit(url)
        info_url = '%s://%s/info' % (p.scheme, p.netloc)
        resp, data = self._send_with_retries('Capabilities', 'GET', info_url, {}, use_token=False)
        try:
            return json.loads(data)
        except ValueError:
            raise ClientException('Capabilities GET failed: the answer is not JSON', *_url_parts(info_url)[:4],
                                  http_status=resp.status, http_reason=resp.reason) from None


def _text(value):
    if isinstance(value, bytes):
        return value.decode('utf-8')
    return str(value)


def _check_names(what, method, container, obj):
    """Refuse names that would silently address something else: an empty container or object name (the request
    would go to the account or the container) and a container name with '/' (its tail would name an object)."""
    problem = None
    if container is not None:
        name = _text(container)
        if not name:
            problem = 'the container name is empty'
        elif '/' in name:
            problem = "container name %r contains '/': a container name cannot (the rest would be read as an " \
                      "object name)" % name
    if problem is None and obj is not None and not _text(obj):
        problem = 'the object name is empty'
    if problem:
        raise ClientException('%s %s failed: %s' % (what, method, problem), method=method)


def _drain(resp, data):
    if data is None:
        try:
            resp.read()
        except NETWORK_ERRORS:
            resp.close(reuse=False)


def _read_error_body(resp):
    try:
        return resp.read()
    except NETWORK_ERRORS:
        resp.close(reuse=False)
        return b''


def _describe(err):
    text = str(err) or err.__class__.__name__
    if isinstance(err, ConnectionRefusedError):
        return 'connection refused'
    return '%s (%s)' % (text, err.__class__.__name__) if str(err) else text


def body_source(contents, content_length=None, chunk_size=None):
    return BodySource(contents, content_length, chunk_size)
