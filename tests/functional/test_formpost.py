"""FormPost through a real cluster: uploads of one and several files, with a
redirect and a prefix, and hostile forms (expired, forged, for another path,
replayed with other limits, too big, too many, garbage): each a clear 4xx
that stores nothing it should not. A big file streams (the proxy's memory
does not grow with it)."""
import http.client
import json
import os
import time
import uuid

import pytest

from swiftlike.middleware.formpost_form import sign_form
from tests.functional.proxy_helpers import Api, raw, unique

KEY = 'form-key'
BOUNDARY = '----swiftlikeForm7MA4YWxk'


def multipart(fields, files, boundary=BOUNDARY):
    """fields: [(name, value str)]; files: [(field name, filename, bytes, ctype)]."""
    out = b''
    for name, value in fields:
        out += ('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
                % (boundary, name, value)).encode('utf-8')
    for name, filename, data, ctype in files:
        out += ('--%s\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\n'
                'Content-Type: %s\r\n\r\n' % (boundary, name, filename, ctype)).encode('utf-8')
        out += data + b'\r\n'
    return out + ('--%s--\r\n' % boundary).encode()


@pytest.fixture(scope='module')
def api(cluster):
    return Api(cluster)


@pytest.fixture
def cont(api):
    return api.put_container(unique('fp'), {'X-Container-Meta-Temp-URL-Key': KEY})


def form_fields(api, cont, prefix='', redirect='', max_file_size=1024, max_file_count=5,
                expires=None, key=KEY, digest='sha256', signed_path=None, **extra):
    expires = int(time.time()) + 600 if expires is None else expires
    path = signed_path or '%s/%s/%s' % (api.account_path, cont, prefix)
    if not prefix and signed_path is None:
        path = path.rstrip('/')
    sig = sign_form(key, path, redirect, max_file_size, max_file_count, expires, digest)
    fields = [('redirect', redirect), ('max_file_size', str(max_file_size)),
              ('max_file_count', str(max_file_count)), ('expires', str(expires)),
              ('signature', sig)]
    fields += list(extra.items())
    return fields


def post(api, cont, fields, files, prefix='', headers=None, body=None):
    path = '%s/%s' % (api.account_path, cont) + ('/' + prefix if prefix else '')
    hdrs = {'Content-Type': 'multipart/form-data; boundary=%s' % BOUNDARY}
    hdrs.update(headers or {})
    return raw(api.host, api.port, 'POST', path, hdrs,
               multipart(fields, files) if body is None else body)


def names(api, cont):
    status, _h, body = api.request('GET', '/' + cont, query='format=json')
    assert status == 200, body
    return sorted(o['name'] for o in json.loads(body))


# -- uploads --------------------------------------------------------------------------------

def test_one_file(api, cont):
    status, h, body = post(api, cont, form_fields(api, cont),
                           [('file1', 'hello.txt', b'hello world', 'text/plain')])
    assert (status, body) == (201, b'201 Created')
    assert h['content-type'].startswith('text/plain')
    status, h, data = api.request('GET', '/%s/hello.txt' % cont)
    assert (status, data) == (200, b'hello world')
    assert h['content-type'] == 'text/plain'


def test_several_files_with_a_prefix_and_a_redirect(api, cont):
    redirect = 'https://example.com/done?x=1'
    files = [('file%d' % i, 'f%d.bin' % i, os.urandom(100 * i), 'application/x-test%d' % i)
             for i in range(1, 4)]
    status, h, body = post(api, cont, form_fields(api, cont, 'up/', redirect, max_file_count=3),
                           files, prefix='up/')
    assert status == 303, body
    assert h['location'] == redirect + '&status=201&message='
    assert b'Click to continue' in body
    assert names(api, cont) == ['up/f1.bin', 'up/f2.bin', 'up/f3.bin']
    for _n, filename, data, ctype in files:
        status, h, got = api.request('GET', '/%s/up/%s' % (cont, filename))
        assert (status, got, h['content-type']) == (200, data, ctype)


def test_prefix_without_slash_and_delete_after(api, cont):
    fields = form_fields(api, cont, 'pre-', x_delete_after='3600')
    status, _h, body = post(api, cont, fields, [('f', 'a.txt', b'a', 'text/plain')], 'pre-')
    assert status == 201, body
    status, h, _b = api.request('HEAD', '/%s/pre-a.txt' % cont)
    assert status == 200
    assert 3500 < int(h['x-delete-at']) - time.time() <= 3601


def test_field_content_type_applies_to_every_file(api, cont):
    fields = form_fields(api, cont) + [('content-type', 'image/x-mine')]
    files = [('a', 'a', b'1', 'text/plain'), ('b', 'b', b'2', 'text/html')]
    assert post(api, cont, fields, files)[0] == 201
    for name in ('a', 'b'):
        assert api.request('HEAD', '/%s/%s' % (cont, name))[1]['content-type'] == 'image/x-mine'


def test_file_names_are_object_names_inside_the_container(api, cont):
    fields = form_fields(api, cont)
    status, _h, _b = post(api, cont, fields, [('f', '../../other/x', b'x', 'text/plain')])
    assert status == 201
    assert names(api, cont) == ['../../other/x']


def test_info(api):
    status, _h, body = raw(api.host, api.port, 'GET', '/info')
    assert status == 200
    assert json.loads(body)['formpost'] == {'allowed_digests': ['sha1', 'sha256', 'sha512'],
                                            'deprecated_digests': ['sha1']}


# -- hostile forms -----------------------------------------------------------------------

FILE = [('file', 'x.txt', b'data', 'text/plain')]


@pytest.mark.parametrize('case, expected', [
    ('expired', b'FormPost: Form Expired'),
    ('forged', b'FormPost: Invalid Signature'),
    ('other key', b'FormPost: Invalid Signature'),
    ('other path', b'FormPost: Invalid Signature'),
    ('bigger max_file_size', b'FormPost: Invalid Signature'),
    ('more files', b'FormPost: Invalid Signature'),
    ('other redirect', b'FormPost: Invalid Signature'),
    ('sha1 base64 forged', b'FormPost: Invalid Signature'),
])
def test_refused_signatures(api, cont, case, expected):
    fields = dict(form_fields(api, cont, redirect='https://e.com/'))
    if case == 'expired':
        fields = dict(form_fields(api, cont, redirect='https://e.com/',
                                  expires=int(time.time()) - 1))
    elif case == 'forged':
        fields['signature'] = 'ab' * 32
    elif case == 'other key':
        fields = dict(form_fields(api, cont, redirect='https://e.com/', key='guess'))
    elif case == 'other path':
        fields = dict(form_fields(api, cont, redirect='https://e.com/',
                                  signed_path='%s/%s' % (api.account_path, 'another')))
    elif case == 'bigger max_file_size':
        fields['max_file_size'] = '999999999'
    elif case == 'more files':
        fields['max_file_count'] = '500'
    elif case == 'other redirect':
        fields['redirect'] = 'https://evil.example.com/'
    else:
        fields['signature'] = 'sha1:' + 'A' * 27 + '='
    status, h, body = post(api, cont, list(fields.items()), FILE)
    assert (status, body) == (401, expected)
    assert names(api, cont) == []


def test_a_signature_for_another_container_with_the_same_key(api, cont):
    other = api.put_container(unique('fp-other'), {'X-Container-Meta-Temp-URL-Key': KEY})
    fields = form_fields(api, other)
    status, _h, body = post(api, cont, fields, FILE)
    assert (status, body) == (401, b'FormPost: Invalid Signature')
    # and a prefix signature does not reach outside its prefix
    fields = form_fields(api, cont, 'in/')
    assert post(api, cont, fields, FILE, prefix='out/')[0] == 401
    assert names(api, cont) == names(api, other) == []


def test_a_container_without_keys(api):
    bare = api.put_container(unique('fp-bare'))
    status, _h, body = post(api, bare, form_fields(api, bare), FILE)
    assert (status, body) == (401, b'FormPost: Invalid Signature')
    assert names(api, bare) == []


def test_over_max_file_size_stores_nothing_of_it(api, cont):
    files = [('a', 'small', b'x' * 10, 'text/plain'),
             ('b', 'big', b'y' * 200000, 'text/plain'),
             ('c', 'after', b'z', 'text/plain')]
    status, _h, body = post(api, cont, form_fields(api, cont, max_file_size=100000), files)
    assert (status, body) == (400, b'FormPost: max_file_size exceeded')
    assert names(api, cont) == ['small']
    assert api.request('HEAD', '/%s/big' % cont)[0] == 404


def test_exactly_max_file_size_is_fine(api, cont):
    status, _h, _b = post(api, cont, form_fields(api, cont, max_file_size=5),
                          [('a', 'five', b'12345', 'text/plain')])
    assert status == 201
    assert api.request('GET', '/%s/five' % cont)[2] == b'12345'


def test_over_max_file_count(api, cont):
    files = [('f%d' % i, 'n%d' % i, b'x', 'text/plain') for i in range(4)]
    status, _h, body = post(api, cont, form_fields(api, cont, max_file_count=2), files)
    assert (status, body) == (400, b'400 Bad Request\r\nFormPost: Max File Count Exceeded')
    assert names(api, cont) == ['n0', 'n1']
    status, h, _b = post(api, cont, form_fields(api, cont, redirect='http://r/', max_file_count=1),
                         files)
    assert status == 303
    assert h['location'] == 'http://r/?status=400&message=max%20file%20count%20exceeded'


@pytest.mark.parametrize('case, status, expected', [
    ('no files', 400, b'400 Bad Request\r\nFormPost: No Files To Process'),
    ('garbage', 400, b'FormPost: invalid starting boundary'),
    ('truncated', 400, b'FormPost: unexpected end of form'),
    ('no boundary', 400, b'FormPost: invalid boundary'),
    ('bad max_file_size', 400, b'FormPost: max_file_size not an integer'),
    ('bad max_file_count', 400, b'FormPost: max_file_count not an integer'),
    ('bad expires', 400, b'FormPost: expired not an integer'),
    ('bad x_delete_at', 400, b'FormPost: x_delete_at not an integer: Unix timestamp required.'),
    ('too many fields', 400, b'FormPost: too many form fields'),
    ('huge part headers', 400, b'FormPost: part headers too long'),
])
def test_bad_forms(api, cont, case, status, expected):
    fields = form_fields(api, cont)
    files = FILE
    headers = None
    body = None
    if case == 'no files':
        files = []
    elif case == 'garbage':
        body = os.urandom(5000)
    elif case == 'truncated':
        fields = form_fields(api, cont, max_file_size=10 ** 6)
        body = multipart(fields, [('f', 'big', b'q' * 300000, 'text/plain')])[:200000]
    elif case == 'no boundary':
        headers = {'Content-Type': 'multipart/form-data'}
    elif case.startswith('bad '):
        name = case[4:]
        fields = [(n, v) for n, v in fields if n != name] + [(name, 'soon')]
    elif case == 'too many fields':
        fields = fields + [('extra%d' % i, 'v') for i in range(100)]
    else:
        body = ('--%s\r\nContent-Disposition: form-data; name="x"\r\nX-Pad: %s\r\n\r\nv'
                % (BOUNDARY, 'p' * 20000)).encode()
    got_status, _h, got = post(api, cont, fields, files, headers=headers, body=body)
    assert (got_status, got) == (status, expected)
    assert names(api, cont) == []


def test_cors_headers_on_answers(api):
    page = 'http://page.example'
    cont = api.put_container(unique('fp-cors'), {
        'X-Container-Meta-Temp-URL-Key': KEY,
        'X-Container-Meta-Access-Control-Allow-Origin': page})
    status, h, _b = post(api, cont, form_fields(api, cont), FILE, headers={'Origin': page})
    assert status == 201
    assert h['access-control-allow-origin'] == page
    assert 'etag' in h['access-control-expose-headers']
    # an error answer gets them too; another origin gets none
    fields = dict(form_fields(api, cont))
    fields['signature'] = 'ab' * 32
    status, h, _b = post(api, cont, list(fields.items()), FILE, headers={'Origin': page})
    assert status == 401 and h['access-control-allow-origin'] == page
    status, h, _b = post(api, cont, form_fields(api, cont), FILE,
                         headers={'Origin': 'http://evil.example'})
    assert status == 201 and 'access-control-allow-origin' not in h


def test_other_posts_are_untouched(api, cont):
    status, _h, _b = api.request('POST', '/' + cont, {'X-Container-Meta-Color': 'red',
                                                      'Content-Type': 'text/plain'})
    assert status == 204
    assert api.request('HEAD', '/' + cont)[1]['x-container-meta-color'] == 'red'


# -- a big file streams -------------------------------------------------------------------

def _rss_kib(pid, field):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise AssertionError('no %s for %d' % (field, pid))


def test_a_big_file_streams_through_the_proxy(api, cont, cluster):
    """128 MiB in one form: the proxy's peak RSS (VmHWM, reset just before)
    grows by far less than the file."""
    pid = cluster.proxy.pid
    try:
        with open('/proc/%d/clear_refs' % pid, 'w') as f:
            f.write('5')        # resets the peak RSS
    except OSError as err:
        pytest.skip('cannot reset the proxy\'s peak RSS: %s' % err)
    before = _rss_kib(pid, 'VmHWM')
    size = 128 * 1024 * 1024
    fields = form_fields(api, cont, max_file_size=size)
    head = multipart(fields, [])[:-len('--%s--\r\n' % BOUNDARY)]
    head += ('--%s\r\nContent-Disposition: form-data; name="f"; filename="big"\r\n'
             'Content-Type: application/octet-stream\r\n\r\n' % BOUNDARY).encode()
    tail = ('\r\n--%s--\r\n' % BOUNDARY).encode()
    block = uuid.uuid4().bytes * 65536      # 1 MiB
    conn = http.client.HTTPConnection(api.host, api.port, timeout=300)
    try:
        conn.putrequest('POST', '%s/%s' % (api.account_path, cont))
        conn.putheader('Content-Type', 'multipart/form-data; boundary=%s' % BOUNDARY)
        conn.putheader('Content-Length', str(len(head) + size + len(tail)))
        conn.endheaders()
        conn.send(head)
        for _ in range(size // len(block)):
            conn.send(block)
        conn.send(tail)
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (201, b'201 Created')
    finally:
        conn.close()
    grown = _rss_kib(pid, 'VmHWM') - before
    print('proxy peak RSS grew by %d KiB for a %d MiB file' % (grown, size >> 20))
    assert grown < 32 * 1024
    status, h, _b = api.request('HEAD', '/%s/big' % cont)
    assert (status, int(h['content-length'])) == (200, size)


def test_an_account_key_signs_for_every_container(cluster):
    api2 = Api(cluster, 'test2:tester2')
    key = 'acct-form-key-\u00e9'
    assert api2.request('POST', '', {'X-Account-Meta-Temp-URL-Key-2':
                                     key.encode('utf-8').decode('latin-1')})[0] == 204
    try:
        cont = api2.put_container(unique('fp-acct'))
        fields = form_fields(api2, cont, key=key.encode('utf-8'))
        assert post(api2, cont, fields, FILE)[:3:2] == (201, b'201 Created')
        assert names(api2, cont) == ['x.txt']
    finally:
        api2.request('POST', '', {'X-Account-Meta-Temp-URL-Key-2': ''})
    # without the key the same form is refused
    status, _h, body = post(api2, cont, fields, [('file', 'y.txt', b'y', 'text/plain')])
    assert (status, body) == (401, b'FormPost: Invalid Signature')
    assert names(api2, cont) == ['x.txt']
