"""The pure framing rules of swiftlike.http_framing, by table."""
import io

import pytest

from swiftlike.http_framing import (ChunkedReader, ClosedEarly, FramingError, body_framing,
                                    parse_header_line, parse_request_line, read_header_block)


@pytest.mark.parametrize('raw,expected', [
    (b'GET / HTTP/1.1\r\n', ('GET', '/', (1, 1))),
    (b'PUT /a/b?x=1 HTTP/1.0\r\n', ('PUT', '/a/b?x=1', (1, 0))),
    (b'GET /a b  HTTP/1.1\r\n', ('GET', '/a b', (1, 1))),           # as Swift reads it
    (b'GET /\xc4\x85\xc2\xa0 HTTP/1.1\r\n', ('GET', '/\xc4\x85\xc2\xa0', (1, 1))),
    (b'GET / HTTP/1.2\r\n', ('GET', '/', (1, 2))),                  # a newer 1.x is 1.1
])
def test_request_lines_read(raw, expected):
    assert parse_request_line(raw) == expected


@pytest.mark.parametrize('raw,status', [
    (b'GET /\r\n', 400), (b'GET\r\n', 400), (b'GET / HTTP/1.1\n', 400),
    (b'GET / HTTP/1.1', 400), (b'GET / HTTP/1.1 x\r\n', 400), (b'GET / HTTP/1.10\r\n', 400),
    (b'GET / http/1.1\r\n', 400), (b'GET / HTTP/1\r\n', 400), (b'G(T / HTTP/1.1\r\n', 400),
    (b'GET\t/ HTTP/1.1\r\n', 400), (b'GET /\x00 HTTP/1.1\r\n', 400),
    (b'GET /\r HTTP/1.1\r\n', 400), (b'GET / HTTP/2.0\r\n', 505), (b'GET / HTTP/0.9\r\n', 505),
    (b'GET / HTTP/9.9\r\n', 505),
])
def test_request_lines_refused(raw, status):
    with pytest.raises(FramingError) as err:
        parse_request_line(raw)
    assert err.value.http_status == status and err.value.reason


@pytest.mark.parametrize('raw,expected', [
    (b'X-A: 1\r\n', ('X-A', '1')), (b'X-A:1\r\n', ('X-A', '1')),
    (b'X-A: \t spaced \t\r\n', ('X-A', 'spaced')), (b'X-A:\r\n', ('X-A', '')),
    (b'X-A: in \t side\r\n', ('X-A', 'in \t side')),
    (b'X-A: \xc3\xa9\r\n', ('X-A', '\xc3\xa9')),
    (b"!#$%&'*+-.^_`|~09az: v\r\n", ("!#$%&'*+-.^_`|~09az", 'v')),
])
def test_header_lines_read(raw, expected):
    assert parse_header_line(raw) == expected


@pytest.mark.parametrize('raw', [
    b'X-A: 1\n', b'X-A: 1', b' X-A: 1\r\n', b'\tX-A: 1\r\n', b'X-A : 1\r\n', b'X-A\t: 1\r\n',
    b'X-A 1\r\n', b': 1\r\n', b'X(A): 1\r\n', b'X/A: 1\r\n', b'X-A: a\x00b\r\n',
    b'X-A: a\rb\r\n', b'X-A: a\x1bb\r\n', b'X-A: a\x7f\r\n', b'X\xc3\xa9: 1\r\n',
])
def test_header_lines_refused(raw):
    with pytest.raises(FramingError) as err:
        parse_header_line(raw)
    assert err.value.http_status == 400


def test_header_block_limits():
    def block(raw, **kw):
        return read_header_block(io.BytesIO(raw).readline, **kw)
    assert block(b'A: 1\r\nB: 2\r\n\r\nbody') == [('A', '1'), ('B', '2')]
    with pytest.raises(FramingError) as err:
        block(b'A: 1\r\n' * 4 + b'\r\n', max_headers=3)
    assert err.value.http_status == 431
    assert len(block(b'A: 1\r\n' * 3 + b'\r\n', max_headers=3)) == 3
    with pytest.raises(FramingError) as err:
        block(b'A: ' + b'v' * 70000 + b'\r\n\r\n')
    assert err.value.http_status == 400
    with pytest.raises(ClosedEarly):
        block(b'A: 1\r\n')


H = ('Host', 'h')


@pytest.mark.parametrize('pairs,version,expected', [
    ([H], (1, 1), ('length', 0)),
    ([], (1, 0), ('length', 0)),
    ([H, ('Content-Length', '5')], (1, 1), ('length', 5)),
    ([H, ('Content-Length', '005')], (1, 1), ('length', 5)),
    ([H, ('Transfer-Encoding', 'chunked')], (1, 1), ('chunked', None)),
    ([H, ('Transfer-Encoding', ' Chunked ')], (1, 1), ('chunked', None)),
    ([H, ('Content-Length', '9' * 19)], (1, 1), ('length', int('9' * 19))),
])
def test_body_framing(pairs, version, expected):
    assert body_framing(pairs, version) == expected


@pytest.mark.parametrize('pairs,version,status', [
    ([], (1, 1), 400), ([H, H], (1, 1), 400), ([H, H], (1, 0), 400),
    ([H, ('Content-Length', '5'), ('content-length', '5')], (1, 1), 400),
    ([H, ('Content-Length', '5, 5')], (1, 1), 400),
    ([H, ('Content-Length', '+5')], (1, 1), 400),
    ([H, ('Content-Length', '-5')], (1, 1), 400),
    ([H, ('Content-Length', '')], (1, 1), 400),
    ([H, ('Content-Length', '\xb2')], (1, 1), 400),
    ([H, ('Content-Length', '9' * 20)], (1, 1), 400),
    ([H, ('Content-Length', '5'), ('Transfer-Encoding', 'chunked')], (1, 1), 400),
    ([H, ('Transfer-Encoding', 'chunked')], (1, 0), 400),
    ([H, ('Transfer-Encoding', 'gzip, chunked')], (1, 1), 501),
    ([H, ('Transfer-Encoding', 'gzip'), ('Transfer-Encoding', 'chunked')], (1, 1), 501),
    ([H, ('Transfer-Encoding', 'chunked, gzip')], (1, 1), 400),
    ([H, ('Transfer-Encoding', 'gzip')], (1, 1), 400),
    ([H, ('Transfer-Encoding', '')], (1, 1), 400),
    ([H, ('Transfer-Encoding', 'chunked, chunked')], (1, 1), 400),
])
def test_body_framing_refused(pairs, version, status):
    with pytest.raises(FramingError) as err:
        body_framing(pairs, version)
    assert err.value.http_status == status


def _reader(raw, **kw):
    stream = io.BufferedReader(io.BytesIO(raw))
    return ChunkedReader(stream, **kw), stream


@pytest.mark.parametrize('raw', [
    b'5\r\nhello\r\n0\r\n\r\n',
    b'2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n',
    b'5;a=b ; c;d="q \\" x"\r\nhello\r\n0;z\r\n\r\n',
    b'5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n',
    b'0005\r\nhello\r\n000\r\n\r\n',
])
def test_chunked_bodies_read_exactly(raw):
    reader, stream = _reader(raw + b'NEXT')
    assert reader.read() == b'hello' and reader.read(10) == b''
    assert stream.read() == b'NEXT'      # never past the body
    reader, stream = _reader(raw + b'NEXT')
    assert b''.join(iter(lambda: reader.read(1), b'')) == b'hello'
    assert stream.read() == b'NEXT'


def test_chunked_readline():
    reader, _stream = _reader(b'4\r\na\nbc\r\n3\r\nd\ne\r\n0\r\n\r\n')
    assert [reader.readline(), reader.readline(), reader.readline(), reader.readline()] \
        == [b'a\n', b'bcd\n', b'e', b'']


@pytest.mark.parametrize('raw,status', [
    (b'5\r\nhello world\r\n0\r\n\r\n', 400), (b'5\r\nhello0\r\n\r\n', 400),
    (b'5\r\nhello\n0\r\n\r\n', 400), (b'5\nhello\r\n0\r\n\r\n', 400),
    (b'-5\r\nhello\r\n', 400), (b'0x5\r\nhello\r\n', 400), (b'5g\r\nhello\r\n', 400),
    (b'\r\nhello\r\n', 400), (b' 5\r\nhello\r\n', 400), (b'5 x\r\nhello\r\n', 400),
    (b'5;=x\r\nhello\r\n', 400), (b'5;a="x\r\nhello\r\n', 400), (b'5;a=\x01\r\n', 400),
    (b'1' + b'0' * 16 + b'\r\n', 400), (b'f' * 40 + b'\r\n', 400),
    (b'140000001\r\n', 413), (b'5\r\nhello\r\n0\r\nbad\r\n\r\n', 400),
    (b'5;' + b'a' * 5000 + b'\r\n', 400),
])
def test_chunked_bodies_refused(raw, status):
    seen = []
    reader, _stream = _reader(raw, on_error=seen.append)
    with pytest.raises(FramingError) as err:
        reader.read()
    assert err.value.http_status == status and seen == [err.value]
    with pytest.raises(FramingError):   # and it stays failed
        reader.read(1)


def test_oversized_total_is_413():
    reader, _stream = _reader(b'3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n', max_size=5)
    with pytest.raises(FramingError) as err:
        reader.read()
    assert err.value.http_status == 413


@pytest.mark.parametrize('raw', [b'', b'5\r\nhel', b'5\r\nhello', b'5\r\nhello\r\n',
                                 b'5\r\nhello\r\n0\r\n'])
def test_chunked_body_cut_short_is_a_disconnect(raw):
    reader, _stream = _reader(raw)
    with pytest.raises(ClosedEarly):
        reader.read()
