"""swiftlike.body_check: the trailer a proxy ends a checked body with, and the
object server's reading of it."""
import hashlib
import zlib

import crc32c
import pytest
from hypothesis import given, strategies as st

from swiftlike import body_check
from swiftlike.exceptions import BadRequest, RequestEntityTooLarge, UnprocessableEntity
from swiftlike.http_framing import ChunkedReader, body_trailers


class _Body:
    """A server loop's wsgi.input over a chunked body (what body_trailers reads)."""

    def __init__(self, raw):
        import io
        self.chunks = ChunkedReader(io.BytesIO(raw))


CHECKS = sorted(body_check.KINDS.values(), key=lambda check: check.name)
CRC32 = body_check.KINDS['crc32']
CRC32C = body_check.KINDS['crc32c']


def _sums(data, check):
    md5, crc = hashlib.md5(), check.algorithm()
    md5.update(data)
    crc.update(data)
    return md5, crc


def test_the_check_values_of_the_standards():
    # RFC 3720's (iSCSI) CRC-32C and zlib's CRC-32 of '123456789'.
    for check, value in ((CRC32C, 'e3069283'), (CRC32, 'cbf43926')):
        crc = check.algorithm()
        crc.update(b'1234')
        crc.update(memoryview(b'56789'))
        assert crc.hexdigest() == value


@given(st.lists(st.binary(max_size=300), max_size=6))
def test_the_crcs_over_pieces_are_the_crcs_of_the_whole(pieces):
    whole = b''.join(pieces)
    for check, expected in ((CRC32, zlib.crc32(whole)), (CRC32C, crc32c.crc32c(whole))):
        crc = check.algorithm()
        for piece in pieces:
            crc.update(piece)
        assert crc.hexdigest() == '%08x' % expected


@given(st.binary(max_size=2000), st.sampled_from(CHECKS))
def test_trailer_round_trips_through_the_chunked_reader(data, check):
    md5, crc = _sums(data, check)
    body = _Body((b'%x\r\n%s\r\n' % (len(data), data) if data else b'') +
                 body_check.trailer(md5, crc, check))
    assert body.chunks.read() == data
    received = check.algorithm()
    received.update(data)
    assert body_check.etag_from_trailer(body_trailers(body), received, check) == md5.hexdigest()


def test_proxies_send_crc32c():
    md5, crc = _sums(b'abc', CRC32C)
    assert body_check.SEND is CRC32C
    assert b'X-Backend-Body-Crc32c: %s\r\n' % crc.hexdigest().encode() in \
        body_check.trailer(md5, crc)


def test_stored_finds_the_check_an_object_was_stored_with():
    assert body_check.stored({'ETag': 'x'}) is None
    assert body_check.stored({'X-Body-Crc32': '00000001'}) == (CRC32, '00000001')
    assert body_check.stored({'X-Body-Crc32c': '00000002'}) == (CRC32C, '00000002')


def test_trailers_only_once_the_body_is_read():
    body = _Body(b'3\r\nabc\r\n0\r\nX-A: 1\r\n\r\n')
    assert body_trailers(body) == {}
    assert body.chunks.read(2) == b'ab'
    assert body_trailers(body) == {}
    body.chunks.read()
    assert body_trailers(body) == {'x-a': '1'}
    assert body_trailers(object()) == {}


@pytest.mark.parametrize('trailers', [
    {},
    {'x-backend-body-md5': 'd41d8cd98f00b204e9800998ecf8427e'},
    {'x-backend-body-crc32': '00000000'},
    {'x-backend-body-md5': 'D41D8CD98F00B204E9800998ECF8427', 'x-backend-body-crc32': '00000000'},
    {'x-backend-body-md5': 'g' * 32, 'x-backend-body-crc32': '00000000'},
    {'x-backend-body-md5': 'd41d8cd98f00b204e9800998ecf8427e', 'x-backend-body-crc32': '00000001'},
    {'x-backend-body-md5': 'd41d8cd98f00b204e9800998ecf8427e', 'x-backend-body-crc32': ''},
])
@pytest.mark.parametrize('check', CHECKS, ids=lambda check: check.name)
def test_bad_trailers_are_422(trailers, check):
    # (each as the trailer of either check: the CRC-32's name is not the
    # CRC-32C's, and the CRC of nothing is 00000000 in both)
    trailers = {k.replace('crc32', check.name): v for k, v in trailers.items()}
    with pytest.raises(UnprocessableEntity):
        body_check.etag_from_trailer(trailers, check.algorithm(), check)


def test_the_other_checks_trailer_is_422():
    md5 = 'd41d8cd98f00b204e9800998ecf8427e'
    with pytest.raises(UnprocessableEntity):
        body_check.etag_from_trailer({'x-backend-body-md5': md5, 'x-backend-body-crc32': '00000000'},
                                     CRC32C.algorithm(), CRC32C)


@pytest.mark.parametrize('check', CHECKS, ids=lambda check: check.name)
def test_trailer_case_and_spaces_are_forgiven(check):
    md5 = 'D41D8CD98F00B204E9800998ECF8427E'
    assert body_check.etag_from_trailer(
        {'x-backend-body-md5': ' %s ' % md5, check.trailer.lower(): '00000000'},
        check.algorithm(), check) == md5.lower()


@pytest.mark.parametrize('headers,expected', [
    ({}, None),
    ({'X-Backend-Body-Check': 'crc32'}, CRC32),
    ({'X-Backend-Body-Check': ' CRC32 '}, CRC32),
    ({'X-Backend-Body-Check': 'crc32c'}, CRC32C),
    ({'X-Backend-Body-Check': 'CRC32C '}, CRC32C),
])
def test_requested(headers, expected):
    assert body_check.requested(headers) is expected


@pytest.mark.parametrize('value', ['', 'md5', 'crc32c,crc32', 'crc32,md5', 'crc-32c',
                                   'x' * 5000])
def test_unknown_check_is_400(value):
    with pytest.raises(BadRequest):
        body_check.requested({'X-Backend-Body-Check': value})


@pytest.mark.parametrize('value,expected', [
    (None, None), ('0', 0), (' 12 ', 12), (str(5 * 2 ** 30), 5 * 2 ** 30),
    ('-1', BadRequest), ('1e3', BadRequest), ('', BadRequest), ('9' * 21, BadRequest),
    ('\u0661', BadRequest), ('\xb2', BadRequest), (str(2 ** 40), RequestEntityTooLarge),
])
def test_expected_length(value, expected):
    headers = {} if value is None else {body_check.LENGTH_HEADER: value}
    if isinstance(expected, type):
        with pytest.raises(expected):
            body_check.expected_length(headers)
    else:
        assert body_check.expected_length(headers) == expected
