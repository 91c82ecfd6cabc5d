"""The formpost middleware over a stand-in for the rest of the pipeline (it
answers the key lookups and stores PUT bodies the way the proxy reads them:
until b'', a ValueError from the body being a client disconnect), and the
authorisation hook of its uploads by table. The real pipeline is exercised
in tests/functional/test_formpost.py."""
import io
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swiftlike.middleware import formpost, info, toolkit
from swiftlike.middleware.formpost_form import sign_form

KEY = 'secret'
PATH = '/v1/AUTH_a/c/pre/'
B = 'bOuNdArY'


class StandIn:
    def __init__(self):
        self.stored = {}

    def __call__(self, env, start_response):
        if env.get(toolkit.INFO_REQUEST_KEY):
            meta = [('X-Container-Meta-Temp-Url-Key', KEY)] \
                if toolkit.split_account_path(env['PATH_INFO'])[1] else []
            start_response('204 No Content', meta)
            return [b'']
        assert env['REQUEST_METHOD'] == 'PUT' and env['HTTP_TRANSFER_ENCODING'] == 'chunked'
        hook = env[toolkit.AUTHORIZE_KEY]
        assert env[toolkit.AUTHORIZE_OVERRIDE_KEY] and not env.get(toolkit.OWNER_KEY)
        assert hook(env, '', '', True) is None
        data = b''
        try:
            while True:
                chunk = env['wsgi.input'].read(65536)
                if not chunk:
                    break
                data += chunk
        except ValueError:
            start_response('499 Client Disconnect', [])
            return [b'Client disconnected']
        self.stored[env['PATH_INFO']] = data
        start_response('201 Created', [])
        return [b'']


def fields(max_file_size=100, max_file_count=3, redirect='', expires=None):
    expires = int(time.time()) + 60 if expires is None else expires
    sig = sign_form(KEY, PATH, redirect, max_file_size, max_file_count, expires)
    return [('redirect', redirect), ('max_file_size', str(max_file_size)),
            ('max_file_count', str(max_file_count)), ('expires', str(expires)),
            ('signature', sig)]


def body(field_list, files):
    out = b''
    for name, value in field_list:
        out += ('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
                % (B, name, value)).encode()
    for filename, data in files:
        out += ('--%s\r\nContent-Disposition: form-data; name="f"; filename="%s"\r\n\r\n'
                % (B, filename)).encode() + data + b'\r\n'
    return out + ('--%s--\r\n' % B).encode()


def call(data, content_type='multipart/form-data; boundary=' + B, path=PATH):
    app = StandIn()
    mw = formpost.filter_factory({})(app)
    env = {'REQUEST_METHOD': 'POST', 'PATH_INFO': path, 'CONTENT_TYPE': content_type,
           'CONTENT_LENGTH': str(len(data)), 'wsgi.input': io.BytesIO(data)}
    out = {}

    def start_response(status, headers, exc_info=None):
        out['status'], out['headers'] = status, dict(headers)
    out['body'] = b''.join(mw(env, start_response))
    return out['status'], out['headers'], out['body'], app.stored


def test_files_are_stored_under_the_prefix():
    status, _h, text, stored = call(body(fields(), [('a', b'1'), ('b', b'22')]))
    assert (status, text) == ('201 Created', b'201 Created')
    assert stored == {PATH + 'a': b'1', PATH + 'b': b'22'}
    assert info.capabilities()['formpost']['allowed_digests'] == ['sha1', 'sha256', 'sha512']


def test_a_file_too_big_stops_its_put_and_the_rest():
    status, _h, text, stored = call(body(fields(max_file_size=3),
                                         [('a', b'123'), ('b', b'1234'), ('c', b'1')]))
    assert (status, text) == ('400 Bad Request', b'FormPost: max_file_size exceeded')
    assert stored == {PATH + 'a': b'123'}


def test_expired_and_forged():
    status, h, text, stored = call(body(fields(expires=int(time.time()) - 5), [('a', b'1')]))
    assert (status, text, stored) == ('401 Unauthorized', b'FormPost: Form Expired', {})
    assert 'Www-Authenticate' in h
    forged = [(n, 'f' * 64 if n == 'signature' else v) for n, v in fields()]
    assert call(body(forged, [('a', b'1')]))[2] == b'FormPost: Invalid Signature'


def test_other_posts_pass_through():
    app_calls = []

    def app(env, start_response):
        app_calls.append(env['CONTENT_TYPE'])
        start_response('204 No Content', [])
        return [b'']
    mw = formpost.filter_factory({})(app)
    env = {'REQUEST_METHOD': 'POST', 'PATH_INFO': PATH, 'CONTENT_TYPE': 'text/plain',
           'wsgi.input': io.BytesIO(b'')}
    mw(env, lambda *a: None)
    assert app_calls == ['text/plain']


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400), st.integers(0, 600), st.binary(max_size=100))
def test_arbitrary_and_mangled_bodies_get_a_4xx_or_success(junk, cut, insert):
    good = body(fields(), [('a', b'x' * 50)])
    for data in (junk, good[:cut] + insert + good[cut:]):
        status, _h, _text, stored = call(data)
        assert status[:1] in '234', status
        for path in stored:
            assert path.startswith(PATH)


@pytest.mark.parametrize('method, path, source, is_object, allowed', [
    ('PUT', '/v1/AUTH_a/c/pre/x', 'FP', True, True),
    ('PUT', '/v1/AUTH_a/c', 'FP', True, True),           # the proxy asks by the container
    ('PUT', '/v1/AUTH_a/c', 'FP', False, False),         # a container PUT
    ('PUT', '/v1/AUTH_a/c/other/x', 'FP', True, False),  # outside the prefix
    ('PUT', '/v1/AUTH_a/d/pre/x', 'FP', True, False),    # another container
    ('PUT', '/v1/AUTH_b/c/pre/x', 'FP', True, False),    # another account
    ('DELETE', '/v1/AUTH_a/c/pre/x', 'FP', True, False),
    ('GET', '/v1/AUTH_a/c/pre/x', 'FP', True, False),
    ('POST', '/v1/AUTH_a/c', 'FP', False, False),
    ('HEAD', '/v1/AUTH_a/versions', 'VW', False, True),  # a middleware below, same account
    ('HEAD', '/v1/AUTH_b/versions', 'VW', False, False),
])
def test_upload_hook(method, path, source, is_object, allowed):
    hook = formpost.UploadHook('AUTH_a', 'c', 'pre/')
    env = {'REQUEST_METHOD': method, 'PATH_INFO': path, toolkit.SOURCE_KEY: source}
    assert (hook(env, '', '', is_object) is None) == allowed
