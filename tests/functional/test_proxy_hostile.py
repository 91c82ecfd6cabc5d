"""Constraints and hostile input through the real proxy: every bad request
gets the right 4xx (never a 500), and odd names are stored as opaque keys."""
import json

import pytest

from tests.functional.proxy_helpers import Api, raw, raw_bytes, unique


@pytest.fixture(scope='module')
def api(cluster):
    return Api(cluster)


@pytest.fixture(scope='module')
def container(api):
    return api.put_container()


def test_object_name_length_limit(api, container):
    ok = 'o' * 1024
    assert api.request('PUT', '/%s/%s' % (container, ok), body=b'x')[0] == 201
    assert api.request('GET', '/%s/%s' % (container, ok))[2] == b'x'
    status, _h, body = api.request('PUT', '/%s/%s' % (container, 'o' * 1025), body=b'x')
    assert status == 400 and b'Object name' in body
    # The limit is in bytes: 342 three-byte characters is 1,026 bytes.
    assert api.request('PUT', '/%s/%s' % (container, '\u20ac' * 342), body=b'x')[0] == 400


def test_container_name_length_limit(api):
    assert api.request('PUT', '/' + 'c' * 256)[0] in (201, 202)
    status, _h, body = api.request('PUT', '/' + 'c' * 257)
    assert status == 400 and b'Container name' in body


def test_metadata_limits(api, container):
    path = '/%s/meta' % container
    ok = {'X-Object-Meta-' + 'n' * 128: 'v' * 256}
    assert api.request('PUT', path, ok, b'x')[0] == 201
    cases = [
        {'X-Object-Meta-' + 'n' * 129: 'v'},
        {'X-Object-Meta-Big': 'v' * 257},
        {'X-Object-Meta-%d' % i: 'v' for i in range(91)},
        {'X-Object-Meta-%d' % i: 'v' * 250 for i in range(17)},
        {'X-Object-Meta-': 'empty name'},
    ]
    for headers in cases:
        status, _h, body = api.request('PUT', path, headers, b'x')
        assert status == 400, (list(headers)[:1], body)
        assert api.request('POST', path, headers)[0] == 400
    assert api.request('POST', '/' + container, {'X-Container-Meta-B': 'v' * 257})[0] == 400
    assert api.request('POST', '', {'X-Account-Meta-B': 'v' * 257})[0] == 400
    assert api.request('PUT', '/' + unique(), {'X-Container-Meta-' + 'n' * 129: 'v'})[0] == 400


def test_max_file_size_413(api, container):
    status, _h, body = api.request('PUT', '/%s/huge' % container,
                                   {'Content-Length': str(5 * 1024 ** 3 + 1)})
    assert status == 413


def test_missing_and_bad_content_length(api, container):
    host, port = api.host, api.port
    path = (api.account_path + '/%s/nolen' % container).encode()
    token = api.token.encode()
    status, out = raw_bytes(host, port, b'PUT ' + path + b' HTTP/1.1\r\nHost: x\r\nX-Auth-Token: '
                            + token + b'\r\nConnection: close\r\n\r\n')
    assert status == 411, out[:200]
    status, out = raw_bytes(host, port, b'PUT ' + path + b' HTTP/1.1\r\nHost: x\r\nX-Auth-Token: '
                            + token + b'\r\nContent-Length: abc\r\nConnection: close\r\n\r\nxyz')
    assert status == 400, out[:200]
    status, out = raw_bytes(host, port, b'PUT ' + path + b' HTTP/1.1\r\nHost: x\r\nX-Auth-Token: '
                            + token + b'\r\nContent-Length: -1\r\nConnection: close\r\n\r\n')
    assert status == 400, out[:200]


def test_short_body_is_not_stored(api, container):
    """Content-Length says 100, the client sends 10 and hangs up."""
    path = (api.account_path + '/%s/short' % container).encode()
    status, out = raw_bytes(api.host, api.port, b'PUT ' + path + b' HTTP/1.1\r\nHost: x\r\n'
                            b'X-Auth-Token: ' + api.token.encode() +
                            b'\r\nContent-Length: 100\r\n\r\n0123456789')
    assert status in (None, 499, 408, 400)
    assert api.request('HEAD', '/%s/short' % container)[0] == 404


@pytest.mark.parametrize('size', [5000, 200000])
def test_malformed_chunked_body_is_not_stored(api, container, size):
    path = (api.account_path + '/%s/badchunk%d' % (container, size)).encode()
    good = b'%x\r\n%s\r\n' % (size, b'a' * size)
    status, out = raw_bytes(api.host, api.port, b'PUT ' + path + b' HTTP/1.1\r\nHost: x\r\n'
                            b'X-Auth-Token: ' + api.token.encode() +
                            b'\r\nTransfer-Encoding: chunked\r\n\r\n' + good +
                            b'zz\r\nabc\r\n')
    assert status is None or 400 <= status < 500, out[:300]
    assert api.request('HEAD', '/%s/badchunk%d' % (container, size))[0] == 404


@pytest.mark.parametrize('path', [
    b'/v1/AUTH_test/c\xff\xfe',
    b'/v1/AUTH_test/c/o\xc3',
    b'/v1/AUTH_test/c%FF/o',
    b'/v1/AUTH_test/c/o%00x',
    b'/v1/AUTH_test/c%00',
])
def test_bad_utf8_and_nul_in_path(api, path):
    status, out = raw_bytes(api.host, api.port, b'GET ' + path + b' HTTP/1.1\r\nHost: x\r\n'
                            b'X-Auth-Token: ' + api.token.encode() +
                            b'\r\nConnection: close\r\n\r\n')
    # Swift's status and text for it
    assert status == 412, out[:300]
    assert out.endswith(b'Invalid UTF8 or contains NULL')


@pytest.mark.parametrize('path', [b'/v2/AUTH_test', b'/v1', b'/v1/', b'/v1//c', b'/', b'/x'])
def test_bad_paths(api, path):
    status, _h, _b = raw(api.host, api.port, 'GET', path, {'X-Auth-Token': api.token})
    assert 400 <= status < 500


def test_bad_query_strings(api, container):
    for query in ('prefix=%FF', 'prefix=%00', 'limit=99999999999999999999',
                  'delimiter=' + 'd' * 257, 'format=%FF', 'marker=' + 'm' * 1025):
        status, _h, _b = api.request('GET', '/' + container, query=query)
        assert 400 <= status < 500, query
    # What Swift reads leniently: a limit that is no number is ignored, a NUL
    # in a marker is compared like any character, delimiters may be long.
    for query in ('limit=-1', 'limit=abc', 'marker=%00', 'delimiter=ab', 'reverse=maybe'):
        status, _h, _b = api.request('GET', '/' + container, query=query)
        assert status in (200, 204), query


def test_huge_and_many_headers(api, container):
    status, _h, _b = api.request('GET', '/' + container, {'X-Foo': 'a' * 20000})
    assert 400 <= status < 500 or status is None
    many = {'X-Header-%d' % i: 'v' for i in range(200)}
    status, _h, _b = api.request('GET', '/' + container, many)
    assert status in (400, 431)


def test_garbage_request_line(api):
    status, out = raw_bytes(api.host, api.port, b'\x00\xff garbage\r\n\r\n')
    assert status is None or 400 <= status < 500
    status, out = raw_bytes(api.host, api.port, b'GET /v1/AUTH_test HTTP/9.9\r\n\r\n')
    assert status is None or 400 <= status < 600 and status != 500


def test_bad_header_values(api, container):
    path = '/%s/hdr' % container
    cases = [
        {'X-Delete-At': 'tomorrow'}, {'X-Delete-After': '1.5'}, {'X-Delete-At': '1'},
        {'Transfer-Encoding': 'gzip'},
        {'X-Copy-From': '%FF%FE/x'}, {'X-Copy-From': '/onlycontainer'},
    ]
    for headers in cases:
        body = b'' if 'X-Copy-From' in headers else b'x'
        hdrs = dict(headers)
        if 'Transfer-Encoding' not in hdrs:
            hdrs['Content-Length'] = str(len(body))
        status, _h, _b = api.request('PUT', path, hdrs, body)
        # (an unknown Transfer-Encoding is 501 Not Implemented, as in Swift)
        assert 400 <= status < 500 or (status == 501 and 'Transfer-Encoding' in hdrs), \
            (headers, status, _b)
    status, _h, _b = api.request('COPY', path, {'Destination': 'nope'})
    assert 400 <= status < 500
    status, _h, _b = api.request('GET', path, {'Range': 'bytes=zz'})
    assert status in (404, 200, 416)


def test_digits_int_refuses_are_no_numbers(api, container):
    # str.isdigit() is true for '\u00b2' (and other scripts' digits), which
    # int() refuses: each such number is bad input, never a 500.
    seg = '/%s/sup-seg' % container
    assert api.request('PUT', seg, body=b'abc')[0] == 201
    for size, expected in (('\u00b2', 400), ('\u0663', 400), ('3', 201)):
        manifest = json.dumps([{'path': container + '/sup-seg', 'size_bytes': size}]).encode()
        status, _h, body = api.request('PUT', '/%s/sup-man' % container, body=manifest,
                                       query='multipart-manifest=put')
        assert status == expected, (size, status, body)
    status, _h, body = api.request('GET', '/%s/sup-man' % container, query='part-number=%C2%B2')
    assert status == 400, body
    # A Range that is no range is ignored, as any malformed one.
    assert api.request('GET', seg, {'Range': 'bytes=\u00b2-'})[::2] == (200, b'abc')
    assert api.request('GET', seg, {'Range': 'bytes=0-\u00b2'})[::2] == (200, b'abc')
    status, _h, body = api.request('DELETE', seg, {'X-If-Delete-At': '\u00b2'})
    assert status == 400, body


def test_dot_dot_names_are_opaque_keys(api, container):
    names = ['..', '../x', 'a/../b', '.', './y', '%2e%2e', 'a//b', '/lead', 'trail/']
    for i, name in enumerate(names):
        data = b'body %d' % i
        assert api.request('PUT', '/%s/%s' % (container, name), body=data)[0] == 201, name
    for i, name in enumerate(names):
        status, _h, body = api.request('GET', '/%s/%s' % (container, name))
        assert status == 200 and body == b'body %d' % i, name
    # Literal %2e%2e in the URL is the name '..' (the URL is decoded once).
    path = (api.account_path + '/%s/%%2e%%2e' % container).encode()
    status, _h, body = raw(api.host, api.port, 'GET', path, {'X-Auth-Token': api.token})
    assert status == 200 and body == b'body 0'
    status, _h, body = api.request('GET', '/' + container, query='format=json')
    listed = {item['name'] for item in json.loads(body)}
    assert set(names) <= listed


def test_unicode_names_round_trip(api):
    c = api.put_container('\u00e9t\u00e9-' + unique())
    name = '\u65e5\u672c/\u0001ctrl/\U0001f600'
    assert api.request('PUT', '/%s/%s' % (c, name), body=b'u')[0] == 201
    assert api.request('GET', '/%s/%s' % (c, name))[2] == b'u'
    status, _h, body = api.request('GET', '/' + c, query='format=json')
    assert [i['name'] for i in json.loads(body)] == [name]


def test_bad_etag_header(api, container):
    status, _h, _b = api.request('PUT', '/%s/et' % container, {'ETag': 'not-md5'}, b'x')
    assert status == 422


def test_no_header_injection_through_names(api, container):
    status, h, _b = raw(api.host, api.port, 'GET', '/v1/AUTH_x%0d%0aInjected:%20yes/c',
                        {'X-Auth-Token': 'AUTH_tkbogus.00'})
    assert status == 401 and 'injected' not in h
    name = 'line\nbreak'
    assert api.request('PUT', '/%s/%s' % (container, name), body=b'n')[0] == 201
    status, h, _b = api.request('PUT', '/%s/copied' % container,
                                {'X-Copy-From': '/%s/line%%0D%%0AInjected:%%20yes' % container,
                                 'Content-Length': '0'})
    assert status == 404 and 'injected' not in h
    status, h, _b = api.request('PUT', '/%s/copied' % container,
                                {'X-Copy-From': '/%s/line%%0Abreak' % container,
                                 'Content-Length': '0'})
    assert status == 201 and h['x-copied-from'] == '%s/line%%0Abreak' % container


def test_random_requests_never_500(api, container):
    """A seeded batch of odd requests: any status but 5xx (503 excepted if a
    node is slow), and the proxy keeps answering."""
    import random
    rng = random.Random(1234)
    methods = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'COPY', 'OPTIONS', 'PATCH', 'MKCOL']
    pieces = [b'', b'..', b'%2e', b'%00', b'%ff', b'\xc3\xa9', b'a' * 300, b'/', b'//', b'?',
              b'%25', b'~', b'c', container.encode()]
    header_names = ['X-Object-Meta-A', 'X-Container-Meta-B', 'X-Account-Meta-C', 'Range',
                    'If-Match', 'If-None-Match', 'If-Modified-Since', 'X-Delete-At',
                    'X-Delete-After', 'X-Copy-From', 'Destination', 'Content-Type', 'ETag',
                    'X-Container-Read', 'X-Container-Write', 'X-Newest', 'X-Fresh-Metadata',
                    'X-Remove-Container-Meta-B', 'X-Detect-Content-Type', 'Accept']
    values = ['', 'x', '\xff\xfe', 'bytes=1-0', 'bytes=-', '*', '0', '-1', '99999999999999999999',
              '/', '//x', 'true', '.r:*', 'a' * 300, 'Mon, 99 Foo 2020', '/%s/x' % container,
              'application/json', '%FF']
    base = api.account_path.encode()
    for _ in range(250):
        path = base + b'/' + b'/'.join(rng.choice(pieces) for _ in range(rng.randint(0, 3)))
        if rng.random() < 0.3:
            path += b'?' + rng.choice([b'limit=', b'format=xml', b'prefix=%ff', b'marker=a&x',
                                       b'delimiter=//', b'end_marker=%00', b'reverse=maybe'])
        headers = {'X-Auth-Token': api.token}
        for _ in range(rng.randint(0, 4)):
            headers[rng.choice(header_names)] = rng.choice(values)
        method = rng.choice(methods)
        body = rng.choice([b'', b'x' * rng.randint(1, 100)])
        request = [method.encode() + b' ' + path + b' HTTP/1.1', b'Host: x', b'Connection: close']
        request += [('%s: %s' % kv).encode('latin-1') for kv in headers.items()]
        request.append(b'Content-Length: %d' % len(body))
        status, out = raw_bytes(api.host, api.port, b'\r\n'.join(request) + b'\r\n\r\n' + body)
        assert status is not None and (status < 500 or status == 503), (method, path, headers,
                                                                        out[:300])
    assert raw(api.host, api.port, 'GET', '/healthcheck')[0] == 200


def test_proxy_logged_no_unhandled_errors(cluster):
    """Everything above was answered on purpose: no traceback in the proxy log."""
    with open(cluster.proxy.log_path, encoding='utf-8', errors='replace') as f:
        log = f.read()
    assert 'Traceback' not in log and 'unhandled exception' not in log
