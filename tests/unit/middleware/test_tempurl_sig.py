"""Temp URL signature rules (swiftlike/middleware/tempurl_sig.py): tables,
then hypothesis for the parsers."""
import base64
import calendar
import hashlib
import hmac
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swiftlike.middleware.tempurl_sig import (HeaderFilter, InvalidTempURL, check_expires,
                                              content_disposition, hmac_body, http_date,
                                              ip_allowed, parse_expires, parse_signature,
                                              prefix_path, sign)

MSG = b'GET\n1700000000\n/v1/AUTH_a/c/o'
RAW = {name: hmac.new(b'key', MSG, getattr(hashlib, name)).digest()
       for name in ('sha1', 'sha256', 'sha512')}


def b64(raw, urlsafe=False, pad=True):
    text = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(raw).decode()
    return text if pad else text.rstrip('=')


# -- signatures ----------------------------------------------------------------

@pytest.mark.parametrize('value,digest', [
    (RAW['sha1'].hex(), 'sha1'),
    (RAW['sha256'].hex(), 'sha256'),
    (RAW['sha512'].hex(), 'sha512'),
    ('sha1:' + b64(RAW['sha1']), 'sha1'),
    ('sha256:' + b64(RAW['sha256']), 'sha256'),
    ('sha256:' + b64(RAW['sha256'], pad=False), 'sha256'),
    ('sha512:' + b64(RAW['sha512'], urlsafe=True), 'sha512'),
    ('sha512:' + b64(RAW['sha512'], urlsafe=True, pad=False), 'sha512'),
    ('sha256:' + b64(RAW['sha256']) + '==', 'sha256'),     # extra padding: as Swift
])
def test_parse_signature_good(value, digest):
    assert parse_signature(value) == (digest, RAW[digest])


@pytest.mark.parametrize('value', [
    '',                                         # missing
    'a' * 50,                                   # unknown hex length
    RAW['sha256'].hex().upper(),                # hex is lower-case (as Swift compares)
    'g' * 64,                                   # not hex
    'md5:' + b64(hashlib.md5(b'x').digest()),   # unknown digest
    'SHA256:' + b64(RAW['sha256']),             # digest names are lower-case
    'sha256:!!!!',                              # not base64
    'sha256:' + b64(RAW['sha1']),               # right base64, wrong length
    'sha256:' + b64(RAW['sha256'])[:-5],        # truncated
    'sha256:',                                  # empty
    'sha256:' + 'A' * 10000,                    # huge
    'sha256:' + b64(RAW['sha256'])[:10] + '=' + b64(RAW['sha256'])[10:],  # pad inside
    ':' + b64(RAW['sha256']),
])
def test_parse_signature_bad(value):
    with pytest.raises(InvalidTempURL):
        parse_signature(value)


# -- expiry ----------------------------------------------------------------------

@pytest.mark.parametrize('value,expected', [
    ('1700000000', 1700000000),
    (' 1700000000 ', 1700000000),
    ('01700000000', 1700000000),
    ('+1700000000', 1700000000),
    ('2023-11-14T22:13:20Z', 1700000000),
    ('2023-11-14T22:13:20z', 1700000000),
    ('-5', -5),
])
def test_parse_expires_good(value, expected):
    assert parse_expires(value) == expected


@pytest.mark.parametrize('value', [
    None, '', '   ', 'abc', '1700000000x', '1700000000.0', '1e10', '1_700_000_000',
    '2023-11-14T22:13:20+00:00', '2023-11-14 22:13:20Z', '2023-13-14T22:13:20Z',
    '9' * 100, '\x00', '１７００',   # full-width digits are not ASCII digits
])
def test_parse_expires_bad(value):
    with pytest.raises(InvalidTempURL):
        parse_expires(value)


@pytest.mark.parametrize('value,ok', [
    ('2000', True), ('1000', True), ('999', False), ('0', False), ('-5', False),
])
def test_check_expires(value, ok):
    if ok:
        assert check_expires(value, now=1000) == int(value)
    else:
        with pytest.raises(InvalidTempURL):
            check_expires(value, now=1000)


def test_check_expires_future_iso():
    future = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() + 3600))
    assert check_expires(future) == calendar.timegm(time.strptime(future, '%Y-%m-%dT%H:%M:%SZ'))


# -- messages, digests, ranges, headers ---------------------------------------------

@pytest.mark.parametrize('args,expected', [
    (('GET', 1700000000, '/v1/AUTH_a/c/o'), MSG),
    (('PUT', 5, b'/v1/a/c/o', '1.2.3.0/24'), b'ip=1.2.3.0/24\nPUT\n5\n/v1/a/c/o'),
    (('GET', 5, prefix_path('a', 'c', 'pre')), b'GET\n5\nprefix:/v1/a/c/pre'),
    (('GET', 5, '/v1/a/c/\xc3\xa9'), b'GET\n5\n/v1/a/c/\xc3\xa9'),   # a WSGI string
])
def test_hmac_body(args, expected):
    assert hmac_body(*args) == expected


def test_sign_matches_hmac():
    assert sign('key', 'GET', 1700000000, '/v1/AUTH_a/c/o', 'sha256') == RAW['sha256']


@pytest.mark.parametrize('ip_range,addr,ok', [
    ('127.0.0.1', '127.0.0.1', True),
    ('127.0.0.0/8', '127.1.2.3', True),
    ('10.0.0.0/8', '127.0.0.1', False),
    ('127.0.0.1/8', '127.0.0.1', False),        # host bits set: not a network
    ('::1', '::1', True),
    ('2001:db8::/32', '2001:db8::5', True),
    ('2001:db8::/32', '2001:db9::5', False),
    ('2001:db8::/32', '127.0.0.1', False),      # other family
    ('zz', '127.0.0.1', False),
    ('127.0.0.1', None, False),
    ('127.0.0.1', 'not-an-address', False),
    ('', '127.0.0.1', False),
    ('1' * 1000, '127.0.0.1', False),
])
def test_ip_allowed(ip_range, addr, ok):
    assert ip_allowed(ip_range, addr) is ok


@pytest.mark.parametrize('kind,name,expected', [
    ('attachment', 'plain', 'attachment; filename="plain"; filename*=UTF-8\'\'plain'),
    ('attachment', 'a "b" \u00e9.txt',
     'attachment; filename="a %22b%22 %C3%A9.txt"; filename*=UTF-8\'\'a%20%22b%22%20%C3%A9.txt'),
    ('inline', 'x.txt', 'inline; filename="x.txt"; filename*=UTF-8\'\'x.txt'),
    ('attachment', 'a/b;c', 'attachment; filename="a/b%3Bc"; filename*=UTF-8\'\'a/b%3Bc'),
    ('attachment', 'new\nline\r', 'attachment; filename="new%0Aline%0D"; '
                                  'filename*=UTF-8\'\'new%0Aline%0D'),
    ('attachment', b'\xff\xfe', 'attachment; filename="%FF%FE"; filename*=UTF-8\'\'%FF%FE'),
])
def test_content_disposition(kind, name, expected):
    assert content_disposition(kind, name) == expected


def test_http_date():
    assert http_date(1700000000) == 'Tue, 14 Nov 2023 22:13:20 GMT'


@pytest.mark.parametrize('name,dropped', [
    ('X-Object-Meta-Foo', True),
    ('x-object-meta-public-bar', False),
    ('X-Timestamp', True),
    ('X-Timestamps', False),
    ('Content-Type', False),
    ('X-Open-Expired', True),
])
def test_header_filter(name, dropped):
    f = HeaderFilter(['x-object-meta-*', 'x-timestamp', 'x-open-expired'],
                     ['x-object-meta-public-*'])
    assert f.drops(name) is dropped


def test_header_filter_empty():
    assert not HeaderFilter([], []).drops('x-anything')


# -- hypothesis --------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(key=st.binary(min_size=1, max_size=64),
       method=st.sampled_from(['GET', 'HEAD', 'PUT', 'POST', 'DELETE']),
       expires=st.integers(min_value=0, max_value=2 ** 40),
       path=st.binary(min_size=1, max_size=200),
       digest=st.sampled_from(['sha1', 'sha256', 'sha512']),
       form=st.sampled_from(['hex', 'b64', 'b64-nopad', 'urlsafe', 'urlsafe-nopad']))
def test_signature_round_trip(key, method, expires, path, digest, form):
    raw = sign(key, method, expires, path, digest)
    if form == 'hex':
        text = raw.hex()
    else:
        text = digest + ':' + b64(raw, urlsafe=form.startswith('urlsafe'),
                                  pad=not form.endswith('nopad'))
    assert parse_signature(text) == (digest, raw)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_parse_signature_never_crashes(value):
    try:
        digest, raw = parse_signature(value)
    except InvalidTempURL:
        return
    assert len(raw) == hashlib.new(digest).digest_size


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=100))
def test_parse_expires_never_crashes(value):
    try:
        assert isinstance(parse_expires(value), int)
    except InvalidTempURL:
        pass


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=253402300799))
def test_iso_and_epoch_agree(epoch):
    iso = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(epoch))
    assert parse_expires(iso) == parse_expires(str(epoch)) == epoch


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80), st.text(max_size=40))
def test_ip_allowed_never_crashes(ip_range, addr):
    assert ip_allowed(ip_range, addr) in (True, False)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=100))
def test_content_disposition_is_one_header_line(name):
    value = content_disposition('attachment', name)
    assert value.isascii() and '\n' not in value and '\r' not in value
    assert value.count('"') == 2
