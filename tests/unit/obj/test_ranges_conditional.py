"""swiftlike.ranges and swiftlike.conditional: pure tables and properties."""
import email.utils

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swiftlike import conditional, ranges
from swiftlike.exceptions import RangeNotSatisfiable


@pytest.mark.parametrize('header,length,expected', [
    ('bytes=0-4', 10, [(0, 5)]),
    ('bytes=5-', 10, [(5, 10)]),
    ('bytes=-3', 10, [(7, 10)]),
    ('bytes=-30', 10, [(0, 10)]),
    ('bytes=8-100', 10, [(8, 10)]),
    ('bytes=0-0,-1', 10, [(0, 1), (9, 10)]),
    ('bytes=0-1, 20-30', 10, [(0, 2)]),        # unsatisfiable parts dropped
    ('bytes = 2-3', 10, [(2, 4)]),             # spaces tolerated
    ('bytes=3-2', 10, None),
    ('bytes=a-b', 10, None),
    ('bytes=\xb2-', 10, None),                # a superscript two: no digit of a range
    ('bytes=0-\u0663', 10, None),
    ('bytes=-', 10, None),
    ('items=0-1', 10, None),
    ('bytes=', 10, None),
    ('', 10, None),
    ('bytes=' + ','.join(['0-0'] * 51), 10, None),  # too many ranges
])
def test_resolve_ranges(header, length, expected):
    assert ranges.resolve_ranges(header, length) == expected


@pytest.mark.parametrize('header,length', [('bytes=10-', 10), ('bytes=-0', 10),
                                           ('bytes=0-', 0), ('bytes=20-30,40-', 10)])
def test_unsatisfiable(header, length):
    with pytest.raises(RangeNotSatisfiable) as info:
        ranges.resolve_ranges(header, length)
    assert info.value.headers['Content-Range'] == 'bytes */%d' % length


@given(st.integers(0, 10 ** 6), st.integers(0, 10 ** 6), st.integers(1, 10 ** 6))
def test_span_within_body(first, last, length):
    header = 'bytes=%d-%d' % (min(first, last), max(first, last))
    try:
        spans = ranges.resolve_ranges(header, length)
    except RangeNotSatisfiable:
        assert min(first, last) >= length
        return
    [(start, stop)] = spans
    assert 0 <= start < stop <= length
    assert stop - start == min(max(first, last) + 1, length) - min(first, last)


def test_multipart_length_matches_body():
    body = bytes(range(100))
    spans = [(0, 3), (50, 60), (99, 100)]
    boundary = ranges.new_boundary()
    out = b''
    for start, stop in spans:
        out += ranges.multipart_part_header(boundary, 'text/plain', start, stop, 100)
        out += body[start:stop] + ranges.PART_END
    out += ranges.multipart_trailer(boundary)
    assert len(out) == ranges.multipart_length(spans, boundary, 'text/plain', 100)
    assert b'Content-Range: bytes 50-59/100' in out


NOW = 1700000000
DATE = email.utils.formatdate(NOW, usegmt=True)
EARLIER = email.utils.formatdate(NOW - 100, usegmt=True)


@pytest.mark.parametrize('headers,method,expected', [
    ({}, 'GET', None),
    ({'If-Match': '"abc"'}, 'GET', None),
    ({'If-Match': 'abc'}, 'GET', None),
    ({'If-Match': '"x", "abc"'}, 'GET', None),
    ({'If-Match': '*'}, 'GET', None),
    ({'If-Match': '"x"'}, 'GET', 412),
    ({'If-None-Match': '"abc"'}, 'GET', 304),
    ({'If-None-Match': '"abc"'}, 'HEAD', 304),
    ({'If-None-Match': '*'}, 'GET', 304),
    ({'If-None-Match': '"abc"'}, 'DELETE', 412),
    ({'If-None-Match': '"x"'}, 'GET', None),
    ({'If-Modified-Since': DATE}, 'GET', 304),
    ({'If-Modified-Since': EARLIER}, 'GET', None),
    ({'If-Modified-Since': 'garbage'}, 'GET', None),
    ({'If-None-Match': '"x"', 'If-Modified-Since': DATE}, 'GET', None),
    ({'If-Unmodified-Since': EARLIER}, 'GET', 412),
    ({'If-Unmodified-Since': DATE}, 'GET', None),
    ({'If-Unmodified-Since': 'nonsense'}, 'GET', None),
    # As Swift: If-Unmodified-Since counts even when If-Match matched.
    ({'If-Match': '"abc"', 'If-Unmodified-Since': EARLIER}, 'GET', 412),
])
def test_evaluate(headers, method, expected):
    assert conditional.evaluate(headers, 'abc', NOW, method) == expected
    # The short cut the object server takes: no condition, nothing to evaluate.
    environ = {'HTTP_' + k.upper().replace('-', '_'): v for k, v in headers.items()}
    environ.update({'HTTP_X_OTHER': '1', 'CONTENT_LENGTH': '0'})
    assert conditional.has_conditions(environ) is bool(headers)
    assert conditional.has_conditions(environ) or expected is None


def test_if_range():
    assert conditional.if_range_allows(None, 'abc', NOW)
    assert conditional.if_range_allows('"abc"', 'abc', NOW)
    assert not conditional.if_range_allows('"x"', 'abc', NOW)
    assert not conditional.if_range_allows('W/"abc"', 'abc', NOW)
    assert conditional.if_range_allows(DATE, 'abc', NOW)
    assert not conditional.if_range_allows(EARLIER, 'abc', NOW)
