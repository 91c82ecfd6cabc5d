"""FormPost's form: the streaming multipart parser (by table, by chunk size,
with hypothesis) and the rules of the fields and the signature."""
import base64
import hashlib
import hmac
import io
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swiftlike.middleware.formpost_form import (MAX_HEADER_BYTES, READ_SIZE,
                                                FormError, FormUnauthorized, MultipartReader,
                                                check_expires, check_signature,
                                                form_boundary, hmac_body, int_field,
                                                parse_header_params, redirect_location,
                                                sign_form)

B = b'----formBoundaryX7'


def form(parts, boundary=B, end=b'--\r\n'):
    """parts: [(headers bytes, body bytes)]."""
    out = b''
    for headers, body in parts:
        out += b'--' + boundary + b'\r\n' + headers + b'\r\n' + body + b'\r\n'
    return out + b'--' + boundary + end


def field(name, value):
    return (b'Content-Disposition: form-data; name="%s"\r\n' % name, value)


def file_part(name, filename, data, ctype=b'application/octet-stream'):
    return (b'Content-Disposition: form-data; name="%s"; filename="%s"\r\n'
            b'Content-Type: %s\r\n' % (name, filename, ctype), data)


def parse(body, boundary=B, read_size=READ_SIZE, part_read=7):
    reader = MultipartReader(io.BytesIO(body).read, boundary, read_size)
    out = []
    while True:
        part = reader.next_part()
        if part is None:
            return out
        data = b''
        while True:
            chunk = part.read(part_read)
            if not chunk:
                break
            data += chunk
        out.append((part.name, part.filename, part.headers, data))


PARTS = [field(b'redirect', b'https://example.com/done'),
         field(b'max_file_size', b'100'),
         file_part(b'file1', b'a.txt', b'hello'),
         file_part(b'file2', b'b.bin', b'\r\n--' + B[:-1] + b'\r\n\r\n--'),
         file_part(b'file3', b'empty', b'')]


@pytest.mark.parametrize('read_size', [1, 2, 3, 5, 16, 41, 1000, READ_SIZE])
@pytest.mark.parametrize('part_read', [1, 4, 65536])
def test_parts_whatever_the_chunk_sizes(read_size, part_read):
    got = parse(form(PARTS), read_size=read_size, part_read=part_read)
    assert [(n, f, d) for n, f, _h, d in got] == [
        ('redirect', None, b'https://example.com/done'), ('max_file_size', None, b'100'),
        ('file1', 'a.txt', b'hello'), ('file2', 'b.bin', PARTS[3][1]),
        ('file3', 'empty', b'')]
    assert got[2][2]['content-type'] == 'application/octet-stream'


def test_unread_parts_are_skipped_and_epilogue_ignored():
    reader = MultipartReader(io.BytesIO(form(PARTS) + b'epilogue').read, B, 3)
    names = []
    while True:
        part = reader.next_part()
        if part is None:
            break
        names.append(part.name)
    assert names == ['redirect', 'max_file_size', 'file1', 'file2', 'file3']


def test_padding_after_boundary_and_no_headers():
    body = b'--' + B + b'  \t\r\n\r\nvalue\r\n--' + B + b'--'
    assert parse(body) == [(None, None, {}, b'value')]


def test_folded_header_and_value_cut_at_limit():
    body = form([(b'Content-Disposition: form-data;\r\n name="big"\r\n', b'x' * 5000)])
    reader = MultipartReader(io.BytesIO(body).read, B)
    part = reader.next_part()
    assert part.name == 'big'
    assert part.read_value() == 'x' * 4096
    assert reader.next_part() is None


@pytest.mark.parametrize('body, reason', [
    (b'', 'unexpected end of form'),
    (b'garbage', 'unexpected end of form'),
    (b'x' * 100, 'invalid starting boundary'),
    (b'preamble\r\n' + form(PARTS), 'invalid starting boundary'),
    (b'--' + B + b'X\r\n\r\nv\r\n--' + B + b'--', 'invalid boundary line'),
    (b'--' + B + b'\r\nno colon here\r\n\r\nv\r\n--' + B + b'--', 'invalid part header'),
    (b'--' + B + b'\r\n' + b'A: ' + b'b' * MAX_HEADER_BYTES, 'part headers too long'),
    (b'--' + B + b'\r\nA: b\r\n\r\nvalue without end', 'unexpected end of form'),
    (form(PARTS)[:-30], 'unexpected end of form'),
    (b'--' + B + b'\r\n', 'unexpected end of form'),
    (b'--' + B, 'unexpected end of form'),
])
def test_broken_forms(body, reason):
    with pytest.raises(FormError) as err:
        parse(body)
    assert str(err.value) == reason


def test_a_failing_client_is_a_form_error():
    def read(size):
        raise OSError('connection reset')
    with pytest.raises(FormError):
        MultipartReader(read, B).next_part()


def test_a_big_file_passes_through_a_small_buffer():
    """64 MiB through the parser: the buffer never holds more than about two
    chunks (memory does not grow with the file)."""
    size = 64 * 1024 * 1024
    head = b'--' + B + b'\r\nContent-Disposition: form-data; name="f"; filename="big"\r\n\r\n'
    tail = b'\r\n--' + B + b'--\r\n'
    state = {'sent': 0, 'stage': 0}
    block = bytes(range(256)) * 256

    def read(n):
        if state['stage'] == 0:
            state['stage'] = 1
            return head
        if state['stage'] == 1:
            n = min(n, size - state['sent'], len(block))
            if n > 0:
                state['sent'] += n
                return block[:n]
            state['stage'] = 2
            return tail
        return b''
    reader = MultipartReader(read, B)
    part = reader.next_part()
    total = 0
    biggest = 0
    while True:
        data = part.read(65536)
        if not data:
            break
        total += len(data)
        biggest = max(biggest, len(reader.buf))
    assert total == size
    assert biggest <= 2 * READ_SIZE + len(B) + 4
    assert reader.next_part() is None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600), st.integers(1, 64))
def test_arbitrary_bodies_raise_only_form_errors(body, read_size):
    try:
        parse(body, read_size=read_size)
    except FormError:
        pass


_HEADER_BYTES = st.binary(max_size=60).filter(lambda b: b'\r\n\r\n' not in b)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from([b'a', b'file', b'x y']), st.binary(max_size=80)),
                max_size=5),
       st.integers(1, 50), st.integers(1, 50), st.binary(max_size=200), st.integers(0, 400))
def test_generated_forms_round_trip_and_mangled_ones_fail_cleanly(parts, read_size, part_read,
                                                                  junk, cut):
    # A body may hold anything but the delimiter itself (as a browser ensures).
    parts = [(n, d) for n, d in parts if b'\r\n--' + B not in b'\r\n' + d + b'\r\n']
    body = form([field(n, d) for n, d in parts])
    got = parse(body, read_size=read_size, part_read=part_read)
    assert [(n.encode('latin-1'), d) for n, _f, _h, d in got] == parts
    mangled = body[:cut] + junk + body[cut:]
    try:
        parse(mangled, read_size=read_size)
    except FormError:
        pass


# -- header values and boundaries ---------------------------------------------------------

@pytest.mark.parametrize('value, expected', [
    ('form-data; name="a"; filename="b.txt"', ('form-data', {'name': 'a', 'filename': 'b.txt'})),
    ('Form-Data;name=a;filename=b', ('form-data', {'name': 'a', 'filename': 'b'})),
    ('form-data; name="a;b"; filename="q\\"x"', ('form-data', {'name': 'a;b', 'filename': 'q"x'})),
    ('form-data; name="a"; name="b"', ('form-data', {'name': 'a'})),
    ('form-data; flag; name=x', ('form-data', {'flag': '', 'name': 'x'})),
    ('form-data; name="unterminated', ('form-data', {'name': '"unterminated'})),
    ('', ('', {})),
])
def test_header_params(value, expected):
    assert parse_header_params(value) == expected


@pytest.mark.parametrize('ctype, boundary', [
    ('multipart/form-data; boundary=abc', b'abc'),
    ('Multipart/Form-Data; boundary="a b:c"', b'a b:c'),
    ('text/plain', None),
    ('application/x-www-form-urlencoded', None),
    ('', None),
])
def test_boundary(ctype, boundary):
    assert form_boundary(ctype) == boundary


@pytest.mark.parametrize('ctype', [
    'multipart/form-data', 'multipart/form-data; boundary=', 'multipart/form-data; boundary=a{b',
    'multipart/form-data; boundary=' + 'a' * 71, 'multipart/form-data; boundary="ab "'])
def test_invalid_boundary(ctype):
    with pytest.raises(FormError) as err:
        form_boundary(ctype)
    assert str(err.value) == 'invalid boundary'


# -- fields and signature -----------------------------------------------------------------

PATH = '/v1/AUTH_test/c/pre'
KEY = 'k\u00e9y'.encode('utf-8').decode('latin-1')     # as a WSGI string


def signed_fields(digest='sha256', form_='hex', key=KEY, path=PATH, **changes):
    fields = {'redirect': 'https://e.com/x', 'max_file_size': '100', 'max_file_count': '2',
              'expires': str(int(time.time()) + 600)}
    raw = hmac.new(key.encode('latin-1'), hmac_body(path, fields),
                   getattr(hashlib, digest)).digest()
    if form_ == 'hex':
        fields['signature'] = raw.hex()
    else:
        fields['signature'] = '%s:%s' % (digest, base64.b64encode(raw).decode())
    fields.update(changes)
    return fields


def test_hmac_body_is_swifts_message():
    assert hmac_body('/v1/a/c', {'expires': '5'}) == b'/v1/a/c\n\n0\n0\n5'
    assert hmac_body('/v1/a/c/p', {'redirect': 'r', 'max_file_size': '1',
                                   'max_file_count': '2', 'expires': '3'}) == \
        b'/v1/a/c/p\nr\n1\n2\n3'


def test_sign_form_matches_the_check():
    fields = {'redirect': '', 'max_file_size': '10', 'max_file_count': '1', 'expires': '99'}
    fields['signature'] = sign_form(b'key', PATH, '', 10, 1, 99, 'sha1')
    check_signature(fields, PATH, ['key'], ['sha1'])


@pytest.mark.parametrize('digest, form_', [('sha1', 'hex'), ('sha256', 'hex'), ('sha512', 'hex'),
                                           ('sha1', 'b64'), ('sha256', 'b64'),
                                           ('sha512', 'b64')])
def test_valid_signatures(digest, form_):
    check_signature(signed_fields(digest, form_), PATH, ['other', KEY],
                    ['sha1', 'sha256', 'sha512'])


@pytest.mark.parametrize('fields, path, keys, allowed', [
    (signed_fields(), PATH, ['wrong'], ['sha256']),                     # another key
    (signed_fields(), PATH, [], ['sha256']),                            # no key at all
    (signed_fields(), '/v1/AUTH_test/c/other', [KEY], ['sha256']),      # another path
    (signed_fields(max_file_size='100000'), PATH, [KEY], ['sha256']),   # altered field
    (signed_fields(max_file_count='99'), PATH, [KEY], ['sha256']),
    (signed_fields(redirect='https://evil/'), PATH, [KEY], ['sha256']),
    (signed_fields(expires='9999999999'), PATH, [KEY], ['sha256']),
    (signed_fields('sha1'), PATH, [KEY], ['sha256', 'sha512']),         # digest not allowed
    (signed_fields(signature=''), PATH, [KEY], ['sha256']),
    (signed_fields(signature='zz' * 32), PATH, [KEY], ['sha256']),
    (signed_fields(signature='md5:AAAA'), PATH, [KEY], ['sha256']),
    (signed_fields(signature='sha256:!!!!'), PATH, [KEY], ['sha256']),
    (signed_fields(signature='a' * 63), PATH, [KEY], ['sha256']),
])
def test_invalid_signatures(fields, path, keys, allowed):
    with pytest.raises(FormUnauthorized) as err:
        check_signature(fields, path, keys, allowed)
    assert str(err.value) == 'invalid signature'


def test_expiry():
    assert check_expires({'expires': '100'}, now=99) == 100
    with pytest.raises(FormUnauthorized, match='form expired'):
        check_expires({'expires': '98'}, now=99)
    with pytest.raises(FormUnauthorized, match='form expired'):
        check_expires({}, now=99)
    with pytest.raises(FormError, match='expired not an integer'):
        check_expires({'expires': 'soon'}, now=99)


@pytest.mark.parametrize('fields, value', [({}, 0), ({'n': ''}, 0), ({'n': ' 12 '}, 12)])
def test_int_field(fields, value):
    assert int_field(fields, 'n', 'bad') == value


@pytest.mark.parametrize('raw', ['1.5', 'x', '0x10', '1e3'])
def test_int_field_garbage(raw):
    with pytest.raises(FormError, match='^n not an integer$'):
        int_field({'n': raw}, 'n', 'n not an integer')


@pytest.mark.parametrize('redirect, location', [
    ('https://e.com/done', 'https://e.com/done?status=201&message='),
    ('https://e.com/done?a=1', 'https://e.com/done?a=1&status=201&message='),
    ('https://e.com/a b\r\nX-Evil: 1', 'https://e.com/a%20b%0D%0AX-Evil:%201?status=201&message='),
])
def test_redirect_location(redirect, location):
    assert redirect_location(redirect, 201, '') == location


def test_redirect_message_is_quoted():
    assert redirect_location('/r', 400, 'max file count exceeded') == \
        '/r?status=400&message=max%20file%20count%20exceeded'
