"""Temporary URLs (the tempurl middleware) through a real cluster: valid URLs
of every form, keys of both levels, large objects, and hostile URLs (each a
401 or 400 that changes nothing)."""
import base64
import json
import time
from urllib.parse import quote, urlencode, urlsplit

import pytest

from swiftlike.cli import tempurl as cli
from swiftlike.middleware.tempurl_sig import prefix_path, sign
from tests.functional.proxy_helpers import Api, raw, unique

USER = 'test2:tester2'
ACCOUNT_KEY = 'acct-key-\u00e9'
ACCOUNT_KEY_2 = 'acct-key-2'
CONTAINER_KEY = 'cont-key'
INVALID = b'401 Unauthorized: Temp URL invalid\n'


@pytest.fixture(scope='module')
def api(cluster):
    api = Api(cluster, USER)
    status, _h, body = api.request('POST', '', {
        'X-Account-Meta-Temp-URL-Key': ACCOUNT_KEY.encode('utf-8').decode('latin-1'),
        'X-Account-Meta-Temp-URL-Key-2': ACCOUNT_KEY_2})
    assert status == 204, body
    yield api
    api.request('POST', '', {'X-Account-Meta-Temp-URL-Key': '',
                             'X-Account-Meta-Temp-URL-Key-2': ''})


@pytest.fixture(scope='module')
def objs(api):
    c = api.put_container(unique('tu'))
    other = api.put_container(unique('tu-other'))
    keyed = api.put_container(unique('tu-keyed'), {'X-Container-Meta-Temp-URL-Key': CONTAINER_KEY})
    api.put_object(c, 'obj', b'obj contents', {'X-Object-Meta-Secret': 's',
                                               'X-Object-Meta-Public-Color': 'blue'})
    api.put_object(c, 'private', b'private contents')
    api.put_object(c, 'pub/a', b'public a')
    api.put_object(keyed, 'obj', b'keyed contents')
    for name in ('seg1', 'seg2'):
        api.put_object(c, 'segs/' + name, name.encode() * 3)
        api.put_object(keyed, 'segs/' + name, name.encode() * 3)
    api.put_object(other, 'dlo-out', b'', {'X-Object-Manifest': '%s/segs/' % c})
    api.put_object(keyed, 'dlo-in', b'', {'X-Object-Manifest': '%s/segs/' % keyed})
    api.put_object(keyed, 'dlo-out', b'', {'X-Object-Manifest': '%s/segs/' % c})
    return {'c': c, 'other': other, 'keyed': keyed}


def full(api, path):
    return api.account_path + path


def signed(api, method, path, key=ACCOUNT_KEY, expires=None, digest='sha256', form='hex',
           prefix=None, ip_range=None, **extra):
    """The query of a temp URL for `path` (relative to the account, real str)."""
    expires = int(time.time()) + 600 if expires is None else expires
    target = full(api, path)
    if prefix is not None:
        account, container = target.split('/')[2:4]
        target = prefix_path(account, container, prefix)
    raw_sig = sign(key.encode('utf-8'), method, expires, target.encode('utf-8'), digest,
                   ip_range.encode() if ip_range else None)
    if form == 'hex':
        sig = raw_sig.hex()
    elif form == 'urlsafe':
        sig = digest + ':' + base64.urlsafe_b64encode(raw_sig).decode().rstrip('=')
    else:
        sig = digest + ':' + base64.b64encode(raw_sig).decode()
    query = {'temp_url_sig': sig, 'temp_url_expires': str(expires)}
    if prefix is not None:
        query['temp_url_prefix'] = prefix
    if ip_range is not None:
        query['temp_url_ip_range'] = ip_range
    query.update(extra)
    return urlencode(query)


def anon(api, method, path, query, headers=None, body=None):
    return api.request(method, path, headers, body, token=False, query=query)


# -- valid URLs -------------------------------------------------------------------------

@pytest.mark.parametrize('digest,form', [
    ('sha1', 'hex'), ('sha256', 'hex'), ('sha512', 'hex'),
    ('sha256', 'b64'), ('sha512', 'urlsafe'), ('sha1', 'urlsafe')])
def test_get_and_head(api, objs, digest, form):
    path = '/%s/obj' % objs['c']
    query = signed(api, 'GET', path, digest=digest, form=form)
    status, h, body = anon(api, 'GET', path, query)
    assert (status, body) == (200, b'obj contents')
    assert h['content-disposition'] == "attachment; filename=\"obj\"; filename*=UTF-8''obj"
    assert h['expires'].endswith(' GMT')
    assert 'x-object-meta-secret' not in h and h['x-object-meta-public-color'] == 'blue'
    assert anon(api, 'HEAD', path, query)[0] == 200


def test_key_2_and_iso8601(api, objs):
    path = '/%s/obj' % objs['c']
    expires = int(time.time()) + 600
    query = signed(api, 'GET', path, key=ACCOUNT_KEY_2, expires=expires).replace(
        'temp_url_expires=%d' % expires,
        'temp_url_expires=' + quote(time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(expires))))
    assert anon(api, 'GET', path, query)[:3:2] == (200, b'obj contents')


def test_put_then_head_with_put_signature(api, objs):
    path = '/%s/%s' % (objs['c'], unique('new'))
    query = signed(api, 'PUT', path)
    status, _h, _b = anon(api, 'PUT', path, query,
                          {'X-Timestamp': '1000000000.00000', 'X-Object-Meta-A': '1'}, b'new')
    assert status == 201
    status, h, body = api.request('GET', path)
    assert (status, body) == (200, b'new') and h['x-object-meta-a'] == '1'
    assert float(h['x-timestamp']) > 1000000000        # the client's X-Timestamp was dropped
    assert anon(api, 'HEAD', path, query)[0] == 200
    assert anon(api, 'GET', path, query)[0] == 401     # a PUT URL does not read


def test_post_and_delete(api, objs):
    path = '/%s/%s' % (objs['c'], unique('victim'))
    api.put_object(objs['c'], path.rsplit('/', 1)[1], b'x')
    assert anon(api, 'POST', path, signed(api, 'POST', path), {'X-Object-Meta-B': '2'})[0] == 202
    assert api.request('HEAD', path)[1]['x-object-meta-b'] == '2'
    assert anon(api, 'DELETE', path, signed(api, 'GET', path))[0] == 401
    assert api.request('HEAD', path)[0] == 200
    assert anon(api, 'DELETE', path, signed(api, 'DELETE', path))[0] == 204
    assert api.request('HEAD', path)[0] == 404


@pytest.mark.parametrize('extra,expected', [
    ({'inline': ''}, 'inline'),
    ({'inline': '', 'filename': 'x.txt'}, "inline; filename=\"x.txt\"; filename*=UTF-8''x.txt"),
    ({'filename': 'My "Test" File.pdf'},
     "attachment; filename=\"My %22Test%22 File.pdf\"; "
     "filename*=UTF-8''My%20%22Test%22%20File.pdf"),
])
def test_disposition(api, objs, extra, expected):
    path = '/%s/obj' % objs['c']
    status, h, _b = anon(api, 'GET', path, signed(api, 'GET', path, **extra))
    assert status == 200 and h['content-disposition'] == expected


def test_prefix_url(api, objs):
    query = signed(api, 'GET', '/%s/' % objs['c'], prefix='pub/')
    assert anon(api, 'GET', '/%s/pub/a' % objs['c'], query)[:3:2] == (200, b'public a')
    assert anon(api, 'GET', '/%s/private' % objs['c'], query)[0] == 401
    # '..' is part of an object name, not a way out of the prefix
    status, _h, body = anon(api, 'GET', '/%s/pub/../private' % objs['c'], query)
    assert status == 404 and b'private contents' not in body


def test_ip_range(api, objs):
    path = '/%s/obj' % objs['c']
    assert anon(api, 'GET', path, signed(api, 'GET', path, ip_range='127.0.0.1'))[0] == 200
    assert anon(api, 'GET', path, signed(api, 'GET', path, ip_range='127.0.0.0/8'))[0] == 200
    assert anon(api, 'GET', path, signed(api, 'GET', path, ip_range='10.0.0.0/8'))[0] == 401
    assert anon(api, 'GET', path, signed(api, 'GET', path, ip_range='2001:db8::/32'))[0] == 401


def test_container_key(api, objs):
    path = '/%s/obj' % objs['keyed']
    query = signed(api, 'GET', path, key=CONTAINER_KEY)
    assert anon(api, 'GET', path, query)[:3:2] == (200, b'keyed contents')
    # the container key signs nothing in other containers
    other = '/%s/obj' % objs['c']
    assert anon(api, 'GET', other, signed(api, 'GET', other, key=CONTAINER_KEY))[0] == 401


def test_large_objects(api, objs):
    # account key: segments anywhere in the account
    path = '/%s/dlo-out' % objs['other']
    status, _h, body = anon(api, 'GET', path, signed(api, 'GET', path))
    assert (status, body) == (200, b'seg1seg1seg1seg2seg2seg2')
    # container key: segments in the same container only
    path = '/%s/dlo-in' % objs['keyed']
    status, _h, body = anon(api, 'GET', path, signed(api, 'GET', path, key=CONTAINER_KEY))
    assert (status, body) == (200, b'seg1seg1seg1seg2seg2seg2')
    path = '/%s/dlo-out' % objs['keyed']
    query = signed(api, 'GET', path, key=CONTAINER_KEY)
    assert anon(api, 'GET', path, query)[0] == 401
    assert anon(api, 'HEAD', path, query)[0] == 401


def test_cli_url_works(api, objs):
    path = full(api, '/%s/obj' % objs['c'])
    url = cli.make_url('GET', int(time.time()) + 60, path, ACCOUNT_KEY, 'sha512')
    parts = urlsplit(url)
    status, _h, body = raw(api.host, api.port, 'GET', parts.path + '?' + parts.query)
    assert (status, body) == (200, b'obj contents')


def test_info(api):
    status, _h, body = raw(api.host, api.port, 'GET', '/info')
    details = json.loads(body)['tempurl']
    assert details['methods'] == ['GET', 'HEAD', 'PUT', 'POST', 'DELETE']
    assert details['allowed_digests'] == ['sha1', 'sha256', 'sha512']
    assert details['incoming_remove_headers'] == ['x-timestamp', 'x-open-expired']


# -- hostile URLs -------------------------------------------------------------------------

def hostile_queries(api, objs):
    path = '/%s/obj' % objs['c']
    good = signed(api, 'GET', path)
    sha1_raw = sign(ACCOUNT_KEY.encode(), 'GET', int(time.time()) + 600,
                    full(api, path).encode(), 'sha1')
    return {
        'expired': signed(api, 'GET', path, expires=int(time.time()) - 1),
        'future-but-garbage-expires': good.replace('temp_url_expires=',
                                                   'temp_url_expires=9x'),
        'float-expires': good + '.5',
        'huge-expires': good.replace('temp_url_expires=', 'temp_url_expires=' + '9' * 3000),
        'bad-base64': urlencode({'temp_url_sig': 'sha256:***not-base64***',
                                 'temp_url_expires': str(int(time.time()) + 600)}),
        'wrong-digest': urlencode({'temp_url_sig': 'sha256:' +
                                   base64.b64encode(sha1_raw).decode(),
                                   'temp_url_expires': str(int(time.time()) + 600)}),
        'unknown-digest': good.replace('temp_url_sig=', 'temp_url_sig=md5%3A'),
        'another-path': signed(api, 'GET', '/%s/private' % objs['c']),
        'another-method': signed(api, 'HEAD', path),
        'wrong-key': signed(api, 'GET', path, key='guess'),
        'ip-outside': signed(api, 'GET', path, ip_range='192.0.2.0/24'),
        'ip-widened': signed(api, 'GET', path, ip_range='127.0.0.1').replace(
            '127.0.0.1', '0.0.0.0%2F0'),
        'prefix-added': good + '&temp_url_prefix=o',
        'huge-signature': urlencode({'temp_url_sig': 'a' * 6000,
                                     'temp_url_expires': str(int(time.time()) + 600)}),
        'only-signature': good.split('&')[0],
        'bad-utf8': 'temp_url_sig=%FF%FE&temp_url_expires=%C3',
    }


HOSTILE = ['expired', 'future-but-garbage-expires', 'float-expires', 'huge-expires',
           'bad-base64', 'wrong-digest', 'unknown-digest', 'another-path', 'another-method',
           'wrong-key', 'ip-outside', 'ip-widened', 'prefix-added', 'huge-signature',
           'only-signature', 'bad-utf8']


@pytest.mark.parametrize('case', HOSTILE)
def test_hostile_urls_are_401(api, objs, case):
    query = hostile_queries(api, objs)[case]
    status, h, body = anon(api, 'GET', '/%s/obj' % objs['c'], query)
    assert (status, body) == (401, INVALID), case
    assert h['www-authenticate'] == 'Swift realm="unknown"'


def test_prefix_escape_to_another_container(api, objs):
    query = signed(api, 'GET', '/%s/' % objs['c'], prefix='pub/')
    assert anon(api, 'GET', '/%s/pub/a' % objs['other'], query)[0] == 401


def test_huge_filename(api, objs):
    path = '/%s/obj' % objs['c']
    status, h, _b = anon(api, 'GET', path, signed(api, 'GET', path, filename='\u00e9' * 1000))
    assert status == 200 and h['content-disposition'].startswith('attachment; filename="%C3%A9')


@pytest.mark.parametrize('method,header', [
    ('PUT', 'X-Object-Manifest'), ('PUT', 'X-Copy-From'), ('PUT', 'X-Symlink-Target'),
    ('POST', 'X-Object-Manifest')])
def test_pointer_headers_refused(api, objs, method, header):
    name = unique('ptr')
    path = '/%s/%s' % (objs['c'], name)
    if method == 'POST':
        api.put_object(objs['c'], name, b'keep me')
    status, _h, body = anon(api, method, path, signed(api, method, path),
                            {header: '%s/private' % objs['c']}, b'')
    assert status == 400 and header.encode() in body
    status, h, body = api.request('GET', path)
    if method == 'PUT':
        assert status == 404
    else:
        assert (status, body) == (200, b'keep me') and 'x-object-manifest' not in h


def test_no_key_no_access(cluster):
    # an account without keys: every signature is invalid
    api = Api(cluster, 'test:tester')
    c = api.put_container(unique('nokey'))
    api.put_object(c, 'o', b'x')
    query = signed(api, 'GET', '/%s/o' % c, key='')
    assert anon(api, 'GET', '/%s/o' % c, query)[0] == 401
