"""swiftlike.body_check: the trailer a proxy ends a checked body with, and the
object server's reading of it."""
import hashlib
import zlib

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


def _sums(data):
    md5, crc = hashlib.md5(), body_check.Crc32()
    md5.update(data)
    crc.update(data)
    return md5, crc


@given(st.lists(st.binary(max_size=300), max_size=6))
def test_crc32_is_zlib_crc32_over_the_pieces(pieces):
    crc = body_check.Crc32()
    for piece in pieces:
        crc.update(piece)
    assert crc.hexdigest() == '%08x' % zlib.crc32(b''.join(pieces))
    assert len(crc.hexdigest()) == 8


@given(st.binary(max_size=2000))
def test_trailer_round_trips_through_the_chunked_reader(data):
    md5, crc = _sums(data)
    body = _Body((b'%x\r\n%s\r\n' % (len(data), data) if data else b'') +
                 body_check.trailer(md5, crc))
    assert body.chunks.read() == data
    received = body_check.Crc32()
    received.update(data)
    assert body_check.etag_from_trailer(body_trailers(body), received) == md5.hexdigest()


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
def test_bad_trailers_are_422(trailers):
    with pytest.raises(UnprocessableEntity):
        body_check.etag_from_trailer(trailers, body_check.Crc32())


def test_trailer_case_and_spaces_are_forgiven():
    md5 = 'D41D8CD98F00B204E9800998ECF8427E'
    assert body_check.etag_from_trailer(
        {'x-backend-body-md5': ' %s ' % md5, 'x-backend-body-crc32': '00000000'},
        body_check.Crc32()) == md5.lower()


@pytest.mark.parametrize('headers,expected', [
    ({}, False),
    ({'X-Backend-Body-Check': 'crc32'}, True),
    ({'X-Backend-Body-Check': ' CRC32 '}, True),
])
def test_requested(headers, expected):
    assert body_check.requested(headers) is expected


@pytest.mark.parametrize('value', ['', 'md5', 'crc32c', 'crc32,md5', 'x' * 5000])
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
