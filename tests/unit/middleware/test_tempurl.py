"""The tempurl middleware over a stand-in for the rest of the pipeline: the
stand-in answers account/container info lookups with Temp-URL keys and, for
other requests, asks the authorize hook the way the proxy does (by the
container, is_object=True) before answering."""
import io
import time
from urllib.parse import parse_qsl, urlencode

import pytest

from swiftlike.exceptions import ConfigError
from swiftlike.middleware import info, tempurl, toolkit
from swiftlike.middleware.subrequest import make_environ
from swiftlike.middleware.tempurl_sig import prefix_path, sign

ACCOUNT_KEY = 'acct-key'
CONTAINER_KEY = 'cont-key'
PATH = '/v1/AUTH_a/c/obj'


class FakeProxy:
    def __init__(self, account_keys=(ACCOUNT_KEY,), container_keys=(), headers=None,
                 status='200 OK'):
        self.account_keys = account_keys
        self.container_keys = container_keys
        self.headers = headers if headers is not None else [
            ('Content-Type', 'text/plain'), ('Content-Length', '5'),
            ('X-Object-Meta-Secret', 's'), ('X-Object-Meta-Public-Ok', 'p'),
            ('Etag', 'abc')]
        self.status = status
        self.calls = []

    def __call__(self, env, start_response):
        path = env['PATH_INFO']
        if env.get(toolkit.INFO_REQUEST_KEY):
            assert env.get(toolkit.AUTHORIZE_OVERRIDE_KEY) is True
            parts = toolkit.split_account_path(path)
            if parts[1] is None:
                keys, level = self.account_keys, 'account'
            else:
                keys, level = self.container_keys, 'container'
            names = ('Temp-Url-Key', 'Temp-Url-Key-2')
            start_response('204 No Content', [('X-%s-Meta-%s' % (level.title(), n), k)
                                              for n, k in zip(names, keys)])
            return [b'']
        self.calls.append(dict(env))
        hook = env.get(toolkit.AUTHORIZE_KEY)
        if hook is not None:
            account, container, _obj = toolkit.split_account_path(path)
            asked = dict(env, PATH_INFO='/v1/%s/%s' % (account, container))
            denied = hook(asked, '', '', True)
            if denied:
                start_response(denied[0], [('Content-Length', '0')])
                return [b'']
        start_response(self.status, list(self.headers))
        return [b'hello']


def environ(method='GET', path=PATH, query='', headers=None, remote='127.0.0.1'):
    env = {'REQUEST_METHOD': method, 'PATH_INFO': path, 'QUERY_STRING': query,
           'SERVER_NAME': 'x', 'SERVER_PORT': '80', 'wsgi.input': io.BytesIO(b''),
           'wsgi.url_scheme': 'http', 'REMOTE_ADDR': remote}
    for name, value in (headers or {}).items():
        env['HTTP_' + name.upper().replace('-', '_')] = value
    return env


FUTURE = 4102444800     # 2100-01-01


def signed_query(method='GET', path=PATH, key=ACCOUNT_KEY, expires=None, digest='sha256',
                 ip_range=None, prefix=None, extra=()):
    # A fixed time (not now + n): test ids built from these queries must be
    # the same in every pytest worker.
    expires = FUTURE if expires is None else expires
    signed = path
    if prefix is not None:
        account, container = path.split('/')[2:4]
        signed = prefix_path(account, container, prefix)
    sig = sign(key, method, expires, signed, digest, ip_range).hex()
    query = [('temp_url_sig', sig), ('temp_url_expires', str(expires))]
    if ip_range is not None:
        query.append(('temp_url_ip_range', ip_range))
    if prefix is not None:
        query.append(('temp_url_prefix', prefix))
    return urlencode(query + list(extra))


def run(app, env):
    out = {}

    def start_response(status, headers, exc_info=None):
        out['status'] = int(status.split()[0])
        out['headers'] = dict(headers)
    body = b''.join(app(env, start_response))
    return out['status'], out['headers'], body


def make(conf=None, **fake):
    proxy = FakeProxy(**fake)
    factory = tempurl.filter_factory(conf or {})
    return factory(proxy), proxy


# -- valid URLs ------------------------------------------------------------------------

def test_get_with_account_key():
    app, proxy = make()
    status, headers, body = run(app, environ(query=signed_query(extra=[('foo', 'bar')])))
    assert status == 200 and body == b'hello'
    env = proxy.calls[-1]
    assert env[toolkit.AUTHORIZE_OVERRIDE_KEY] is True
    assert env['REMOTE_USER'] == '.wsgi.tempurl'
    assert 'foo' not in dict(parse_qsl(env['QUERY_STRING']))
    assert 'temp_url_sig' in dict(parse_qsl(env['QUERY_STRING']))
    assert 'tempurl' in env[toolkit.FEATURES_KEY]
    assert headers['Content-Disposition'] == "attachment; filename=\"obj\"; filename*=UTF-8''obj"
    assert headers['Expires'].endswith('GMT')
    assert 'X-Object-Meta-Secret' not in headers and headers['X-Object-Meta-Public-Ok'] == 'p'


@pytest.mark.parametrize('digest', ['sha1', 'sha256', 'sha512'])
def test_digests(digest):
    app, _ = make()
    assert run(app, environ(query=signed_query(digest=digest)))[0] == 200


def test_container_key_and_second_key():
    app, _ = make(account_keys=(), container_keys=('', CONTAINER_KEY))
    assert run(app, environ(query=signed_query(key=CONTAINER_KEY)))[0] == 200
    assert run(app, environ(query=signed_query(key=ACCOUNT_KEY)))[0] == 401


@pytest.mark.parametrize('signed_method,ok', [
    ('HEAD', True), ('GET', True), ('PUT', True), ('POST', True), ('DELETE', False)])
def test_head_with_other_signatures(signed_method, ok):
    app, _ = make()
    status, _h, body = run(app, environ('HEAD', query=signed_query(signed_method)))
    assert status == (200 if ok else 401)
    if not ok:
        assert body == b''


def test_iso8601_expiry():
    app, _ = make()
    expires = int(time.time()) + 600
    query = dict(parse_qsl(signed_query(expires=expires)))
    query['temp_url_expires'] = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(expires))
    assert run(app, environ(query=urlencode(query)))[0] == 200


def test_prefix_url():
    app, proxy = make()
    query = signed_query(path='/v1/AUTH_a/c/', prefix='ob')
    assert run(app, environ(query=query))[0] == 200
    assert run(app, environ(path='/v1/AUTH_a/c/other', query=query))[0] == 401
    query = signed_query(path='/v1/AUTH_a/c/', prefix='')
    assert run(app, environ(query=query))[0] == 200


@pytest.mark.parametrize('ip_range,remote,ok', [
    ('127.0.0.1', '127.0.0.1', True),
    ('127.0.0.0/8', '127.9.9.9', True),
    ('10.0.0.0/8', '127.0.0.1', False),
    ('::1/128', '::1', True),
    ('2001:db8::/32', '::1', False),
    ('garbage', '127.0.0.1', False),
])
def test_ip_range(ip_range, remote, ok):
    app, _ = make()
    env = environ(query=signed_query(ip_range=ip_range), remote=remote)
    assert run(app, env)[0] == (200 if ok else 401)


def test_ip_range_is_signed():
    app, _ = make()
    query = dict(parse_qsl(signed_query(ip_range='127.0.0.1')))
    query['temp_url_ip_range'] = '0.0.0.0/0'
    assert run(app, environ(query=urlencode(query)))[0] == 401


@pytest.mark.parametrize('query,expected', [
    ({'inline': ''}, 'inline'),
    ({'inline': '', 'filename': 'x.txt'}, "inline; filename=\"x.txt\"; filename*=UTF-8''x.txt"),
    ({'filename': 'a "b".txt'},
     "attachment; filename=\"a %22b%22.txt\"; filename*=UTF-8''a%20%22b%22.txt"),
    ({'filename': 'caf\u00e9'},
     "attachment; filename=\"caf%C3%A9\"; filename*=UTF-8''caf%C3%A9"),
])
def test_content_disposition(query, expected):
    app, _ = make()
    status, headers, _ = run(app, environ(query=signed_query(extra=query.items())))
    assert status == 200 and headers['Content-Disposition'] == expected


def test_stored_content_disposition_kept():
    app, _ = make(headers=[('Content-Disposition', 'inline; filename=zz')])
    assert run(app, environ(query=signed_query()))[1]['Content-Disposition'] == \
        'inline; filename=zz'


def test_no_disposition_on_errors_and_writes():
    app, _ = make(status='404 Not Found')
    assert 'Content-Disposition' not in run(app, environ(query=signed_query()))[1]
    app, _ = make(status='201 Created')
    headers = run(app, environ('PUT', query=signed_query('PUT')))[1]
    assert 'Content-Disposition' not in headers and 'Expires' not in headers


def test_incoming_headers_cleaned():
    app, proxy = make({'incoming_remove_headers': 'x-timestamp x-object-meta-*',
                       'incoming_allow_headers': 'x-object-meta-keep'})
    env = environ('PUT', query=signed_query('PUT'),
                  headers={'X-Timestamp': '1', 'X-Object-Meta-Drop': 'd',
                           'X-Object-Meta-Keep': 'k', 'Content-Type': 'a/b'})
    assert run(app, env)[0] == 200
    sent = proxy.calls[-1]
    assert 'HTTP_X_TIMESTAMP' not in sent and 'HTTP_X_OBJECT_META_DROP' not in sent
    assert sent['HTTP_X_OBJECT_META_KEEP'] == 'k'


@pytest.mark.parametrize('header', ['X-Object-Manifest', 'X-Symlink-Target', 'X-Copy-From'])
@pytest.mark.parametrize('method', ['PUT', 'POST', 'DELETE'])
def test_disallowed_headers(header, method):
    app, proxy = make()
    status, _h, body = run(app, environ(method, query=signed_query(method),
                                        headers={header: 'c/o'}))
    assert status == 400 and header.encode() in body and not proxy.calls


def test_get_may_carry_disallowed_headers():
    app, _ = make()
    assert run(app, environ(query=signed_query(), headers={'X-Copy-From': 'c/o'}))[0] == 200


# -- the hook ---------------------------------------------------------------------------

def hook_of(proxy):
    return proxy.calls[-1][toolkit.AUTHORIZE_KEY]


@pytest.mark.parametrize('keys,path,source,ok', [
    # the request itself (the proxy asks by container)
    ('account', '/v1/AUTH_a/c', None, True),
    ('account', '/v1/AUTH_a/c/obj', None, True),
    ('account', '/v1/AUTH_a/c/other', None, False),
    ('account', '/v1/AUTH_a/d', None, False),
    # subrequests of middlewares below (segments, listings): the key's scope
    ('account', '/v1/AUTH_a/d/seg', 'DLO', True),
    ('account', '/v1/AUTH_a/d', 'DLO', True),
    ('account', '/v1/AUTH_b/c/seg', 'DLO', False),
    ('container', '/v1/AUTH_a/c/seg', 'DLO', True),
    ('container', '/v1/AUTH_a/d/seg', 'DLO', False),
    ('container', '/v1/AUTH_a', 'DLO', False),
    ('account', 'garbage', 'DLO', False),
])
def test_hook_scope(keys, path, source, ok):
    if keys == 'account':
        app, proxy = make()
        query = signed_query()
    else:
        app, proxy = make(account_keys=(), container_keys=(CONTAINER_KEY,))
        query = signed_query(key=CONTAINER_KEY)
    run(app, environ(query=query))
    env = make_environ(proxy.calls[-1], 'GET', path, source=source)
    if source is None:
        env.pop(toolkit.SOURCE_KEY, None)
    assert (hook_of(proxy)(env) is None) is ok


# -- invalid URLs -----------------------------------------------------------------------

def q(**kw):
    return urlencode(kw)


@pytest.mark.parametrize('method,path,query', [
    ('GET', PATH, signed_query(expires=1000000000)),                         # expired
    ('GET', PATH, q(temp_url_sig='0' * 64, temp_url_expires='abc')),        # garbage expiry
    ('GET', PATH, q(temp_url_sig='0' * 64, temp_url_expires='9' * 5000)),   # huge expiry
    ('GET', PATH, q(temp_url_sig='0' * 64, temp_url_expires='4102444800x')),
    ('GET', PATH, q(temp_url_sig='sha256:!!!', temp_url_expires='4102444800')),  # bad base64
    ('GET', PATH, q(temp_url_sig='md5:AAAA', temp_url_expires='4102444800')),
    ('GET', PATH, q(temp_url_sig='0' * 64)),                                 # no expiry
    ('GET', PATH, q(temp_url_expires='4102444800')),                         # no signature
    ('GET', PATH, q(temp_url_sig='', temp_url_expires='')),
    ('GET', PATH, q(temp_url_sig='x' * 100000, temp_url_expires='4102444800')),  # huge
    ('GET', '/v1/AUTH_a/c/other', signed_query()),                           # another path
    ('GET', '/v1/AUTH_a/c', signed_query(path='/v1/AUTH_a/c')),              # a container
    ('GET', '/v1/AUTH_a', signed_query(path='/v1/AUTH_a')),
    ('PUT', PATH, signed_query('GET')),                                      # another method
    ('DELETE', PATH, signed_query('GET')),
    ('GET', PATH, signed_query('HEAD')),
    ('COPY', PATH, signed_query('COPY')),                                    # not in methods
    ('GET', PATH, signed_query(key='wrong')),
    ('GET', PATH, signed_query(path='/v1/AUTH_a/c/', prefix='zz')),          # outside prefix
    ('GET', '/v1/AUTH_a/c/ob/../../d/x', signed_query(path='/v1/AUTH_a/c/', prefix='ob')
     .replace('prefix=ob', 'prefix=ob%2F..%2F..%2Fd')),                      # prefix escape
    ('GET', PATH, signed_query(ip_range='127.0.0.1').replace('127.0.0.1', '127.0.0.2')),
    ('GET', PATH, signed_query(digest='sha1')),                              # not allowed below
])
def test_invalid(method, path, query):
    app, proxy = make({'allowed_digests': 'sha256 sha512'})
    status, headers, body = run(app, environ(method, path, query))
    assert status == 401
    assert body == b'401 Unauthorized: Temp URL invalid\n'
    assert headers['Www-Authenticate'] == 'Swift realm="unknown"'
    assert not proxy.calls


def test_no_keys_at_all():
    app, proxy = make(account_keys=())
    assert run(app, environ(query=signed_query()))[0] == 401


def test_bad_utf8_and_odd_bytes_in_query():
    app, _ = make()
    query = signed_query() + '&filename=%FF%FE&temp_url_prefix_x=%00'
    status, headers, _ = run(app, environ(query=query))
    assert status == 200 and '%FF%FE' in headers['Content-Disposition']
    assert run(app, environ(query='temp_url_sig=%FF&temp_url_expires=%FF'))[0] == 401


def test_first_value_wins():
    app, _ = make()
    good = dict(parse_qsl(signed_query()))
    query = urlencode([('temp_url_sig', good['temp_url_sig']), ('temp_url_sig', '0' * 64),
                       ('temp_url_expires', good['temp_url_expires'])])
    assert run(app, environ(query=query))[0] == 200


def test_untouched_without_temp_url():
    app, proxy = make()
    env = environ(query='format=json', headers={'X-Timestamp': '1'})
    assert run(app, env)[0] == 200
    assert proxy.calls[-1]['QUERY_STRING'] == 'format=json'
    assert 'HTTP_X_TIMESTAMP' in proxy.calls[-1]
    assert toolkit.AUTHORIZE_OVERRIDE_KEY not in proxy.calls[-1]


def test_long_queries():
    app, proxy = make()
    long_marker = 'marker=' + 'm' * 20000
    assert run(app, environ(path='/v1/AUTH_a/c', query=long_marker))[0] == 200
    assert proxy.calls[-1]['QUERY_STRING'] == long_marker
    assert run(app, environ(query=signed_query(extra=[('x', 'y' * 20000)])))[0] == 401
    assert run(app, environ(query=long_marker + '&temp%5Furl_sig=x'))[0] == 401


def test_empty_ip_range_is_no_range():
    app, _ = make()
    assert run(app, environ(query=signed_query() + '&temp_url_ip_range='))[0] == 200


def test_options_untouched():
    app, proxy = make()
    assert run(app, environ('OPTIONS', query=q(temp_url_sig='x', temp_url_expires='1')))[0] == 200


# -- config and /info -----------------------------------------------------------------------

def test_info_registration():
    make({'methods': 'GET HEAD', 'allowed_digests': 'sha512 sha1'})
    details = info.capabilities()['tempurl']
    assert details['methods'] == ['GET', 'HEAD']
    assert details['allowed_digests'] == ['sha1', 'sha512']
    assert details['deprecated_digests'] == ['sha1']
    assert details['outgoing_allow_headers'] == ['x-object-meta-public-*']
    make()
    assert info.capabilities()['tempurl']['methods'] == ['GET', 'HEAD', 'PUT', 'POST', 'DELETE']


def test_methods_from_config():
    app, _ = make({'methods': 'GET'})
    assert run(app, environ('PUT', query=signed_query('PUT')))[0] == 401
    assert run(app, environ(query=signed_query()))[0] == 200


@pytest.mark.parametrize('conf', [
    {'methods': 'GET FETCH'}, {'methods': ''}, {'allowed_digests': 'md5'},
    {'allowed_digests': ''}, {'bogus': '1'}])
def test_bad_config(conf):
    with pytest.raises(ConfigError):
        tempurl.filter_factory(conf)
