"""SLO manifests, the pure part: parsing and checking a client's manifest,
the stored form, ETag and size arithmetic (tables and hypothesis)."""
import base64
import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swiftlike.exceptions import BadRequest, RequestEntityTooLarge
from swiftlike.middleware import slo_manifest as m


def md5hex(data):
    return hashlib.md5(data).hexdigest()


def parse(items, max_segments=1000):
    return m.parse_put_manifest(json.dumps(items).encode('utf-8'), max_segments)


# -- a client's manifest -------------------------------------------------------------

@pytest.mark.parametrize('item,expected', [
    ({'path': '/c/o'}, ('/c/o', None, None, None, None)),
    ({'path': 'c/o'}, ('c/o', None, None, None, None)),
    ({'path': '/c/o/with/slashes', 'etag': '"abc"', 'size_bytes': 5},
     ('/c/o/with/slashes', 'abc', 5, None, None)),
    ({'path': '/c/o', 'etag': None, 'size_bytes': None}, ('/c/o', None, None, None, None)),
    ({'path': '/c/o', 'size_bytes': '12'}, ('/c/o', None, 12, None, None)),
    ({'path': '/c/o', 'range': '1-2'}, ('/c/o', None, None, (1, 2), None)),
    ({'path': '/c/o', 'range': '-3'}, ('/c/o', None, None, (None, 3), None)),
    ({'path': '/c/o', 'range': '4-'}, ('/c/o', None, None, (4, None), None)),
    ({'path': '/c/o', 'range': 'bytes=4-5'}, ('/c/o', None, None, (4, 5), None)),
    ({'path': '/c/seg_with_%ff_funky_name'}, ('/c/seg_with_%ff_funky_name', None, None, None,
                                               None)),
    ({'path': '/\u00e9/\u2603'}, ('/\u00e9/\u2603', None, None, None, None)),
    ({'data': base64.b64encode(b'hello').decode()}, (None, None, None, None, b'hello')),
])
def test_parse_good(item, expected):
    (segment,) = parse([item])
    assert (segment.path, segment.etag, segment.size, segment.range, segment.data) == expected


@pytest.mark.parametrize('item,reason', [
    ('just a string', 'not a JSON object'),
    ([], 'not a JSON object'),
    ({}, 'path must be a string'),
    ({'path': ''}, 'path must be a string'),
    ({'path': 5}, 'path must be a string'),
    ({'path': '/c'}, 'does not refer to an object'),
    ({'path': '/c/'}, 'does not refer to an object'),
    ({'path': '//o'}, 'does not refer to an object'),
    ({'path': '/c/o\x00'}, 'NUL'),
    ({'path': '/c/' + 'o' * 1025}, 'too long'),
    ({'path': '/' + 'c' * 257 + '/o'}, 'too long'),
    ({'path': '/c/\ud800'}, 'valid UTF-8'),
    ({'path': '/c/o', 'teag': 'x'}, 'extraneous keys "teag"'),
    ({'path': '/c/o', 'siz_bytes': 1}, 'extraneous keys "siz_bytes"'),
    ({'path': '/c/o', 'etag': 5}, 'etag must be'),
    ({'path': '/c/o', 'size_bytes': -1}, 'size_bytes must be'),
    ({'path': '/c/o', 'size_bytes': 1.5}, 'size_bytes must be'),
    ({'path': '/c/o', 'size_bytes': True}, 'size_bytes must be'),
    ({'path': '/c/o', 'size_bytes': 'ten'}, 'size_bytes must be'),
    ({'path': '/c/o', 'range': '1-2,4-5'}, 'multiple ranges'),
    ({'path': '/c/o', 'range': '5-2'}, 'invalid range'),
    ({'path': '/c/o', 'range': 'x-y'}, 'invalid range'),
    ({'path': '/c/o', 'range': 12}, 'range must be a string'),
    ({'data': 'not base64!'}, 'valid base64'),
    ({'data': ''}, 'at least 1 byte'),
    ({'data': 5}, 'base64 string'),
    ({'data': 'aGk=', 'path': '/c/o'}, 'may only have "data"'),
])
def test_parse_bad_segment(item, reason):
    with pytest.raises(BadRequest) as err:
        parse([{'path': '/c/fine'}, item])
    assert err.value.reason.startswith('Index 1: ')
    assert reason in err.value.reason


def test_every_bad_segment_is_named():
    with pytest.raises(BadRequest) as err:
        parse([{'path': '/c'}, {'path': '/c/o'}, {'teag': 'x', 'path': '/c/o'}])
    lines = err.value.reason.split('\n')
    assert [line.split(':')[0] for line in lines] == ['Index 0', 'Index 2']


@pytest.mark.parametrize('body,reason', [
    (b'', 'valid JSON'),
    (b'{"path": "/c/o"}', 'must be a list'),
    (b'[', 'valid JSON'),
    (b'\xff\xfe[]', 'valid JSON'),
    (b'[' * 100000 + b']' * 100000, 'valid JSON'),
    (b'[]', 'at least one segment'),
    (b'"string"', 'must be a list'),
])
def test_parse_bad_manifest(body, reason):
    with pytest.raises(BadRequest) as err:
        m.parse_put_manifest(body, 1000)
    assert reason in err.value.reason


def test_too_many_segments():
    with pytest.raises(RequestEntityTooLarge) as err:
        parse([{'path': '/c/o'}] * 11, max_segments=10)
    assert '<= 10' in err.value.reason
    assert len(parse([{'path': '/c/o'}] * 10, max_segments=10)) == 10


def test_self_reference():
    segments = parse([{'path': '/c/a'}, {'path': 'c/m'}, {'data': 'aGk='}])
    with pytest.raises(BadRequest) as err:
        m.self_references(segments, '/c/m')
    assert err.value.reason == 'Index 1: manifest must not include itself as a segment'
    m.self_references(segments, '/c/other')


# -- checking a segment against its HEAD ------------------------------------------------

HEAD = {'etag': md5hex(b'a' * 10), 'content-length': '10', 'content-type': 'text/plain',
        'last-modified': 'Mon, 23 Nov 2026 18:27:34 GMT'}
SUB = {'etag': 'manifestmd5', 'content-length': '300', m.SLO_ETAG: 'sloetag',
       m.SLO_SIZE: '1000', 'content-type': 'x/y'}


@pytest.mark.parametrize('item,headers,is_last,expected', [
    ({'path': '/c/o'}, HEAD, False, {'name': '/c/o', 'bytes': 10, 'hash': md5hex(b'a' * 10)}),
    ({'path': 'c/o', 'etag': md5hex(b'a' * 10), 'size_bytes': 10}, HEAD, False,
     {'name': '/c/o', 'bytes': 10}),
    ({'path': '/c/o', 'etag': md5hex(b'a' * 10).upper()}, HEAD, False, {'bytes': 10}),
    ({'path': '/c/o', 'range': '-3'}, HEAD, False, {'range': '7-9'}),
    ({'path': '/c/o', 'range': '2-100'}, HEAD, False, {'range': '2-9'}),
    ({'path': '/c/o', 'range': '0-9'}, HEAD, False, {'range': '0-9'}),
    ({'path': '/c/o', 'etag': 'nope'}, HEAD, False, 'Etag Mismatch'),
    ({'path': '/c/o', 'size_bytes': 9}, HEAD, False, 'Size Mismatch'),
    ({'path': '/c/o', 'range': '10-'}, HEAD, False, 'Unsatisfiable Range'),
    ({'path': '/c/o'}, dict(HEAD, **{'content-length': '0'}), False,
     'Too small; each segment must be at least 1 byte.'),
    ({'path': '/c/o'}, dict(HEAD, **{'content-length': '0'}), True, {'bytes': 0}),
    ({'path': '/c/o'}, dict(HEAD, **{'content-length': 'junk'}), True, 'Size Mismatch'),
    ({'path': '/c/sub'}, SUB, False, {'bytes': 1000, 'hash': 'sloetag', 'sub_slo': True}),
    ({'path': '/c/sub', 'etag': 'manifestmd5'}, SUB, False, 'Etag Mismatch'),
    ({'path': '/c/sub', 'size_bytes': 300}, SUB, False, 'Size Mismatch'),
])
def test_stored_entry(item, headers, is_last, expected):
    (segment,) = parse([item])
    got, problem = m.stored_entry(segment, headers, 1, is_last)
    if isinstance(expected, str):
        assert (got, problem) == (None, expected)
    else:
        assert problem is None
        assert expected.items() <= got.items()
        if 'range' not in expected:
            assert 'range' not in got


def test_stored_entry_times_as_listings_write_them():
    (segment,) = parse([{'path': '/c/o'}])
    got, _ = m.stored_entry(segment, HEAD, 1, False)
    assert got['last_modified'] == '2026-11-23T18:27:34.000000'
    assert got['content_type'] == 'text/plain'


# -- stored manifests ----------------------------------------------------------------------

def test_etag_and_size_of_stored_items():
    items = [{'name': '/c/a', 'bytes': 10, 'hash': 'ea'},
             {'name': '/c/b', 'bytes': 10, 'hash': 'eb', 'range': '2-4'},
             {'data': base64.b64encode(b'xyz').decode()}]
    expected = md5hex(('ea' + 'eb:2-4;' + md5hex(b'xyz')).encode())
    assert m.stored_etag(items) == expected
    assert m.stored_size(items) == 10 + 3 + 3


def test_parse_stored_and_raw_round_trip():
    items = [{'name': '/c/a', 'bytes': 10, 'hash': 'ea', 'content_type': 't',
              'last_modified': 'x'},
             {'name': '/c/b', 'bytes': 10, 'hash': 'eb', 'range': '2-4', 'sub_slo': True},
             {'data': base64.b64encode(b'xyz').decode()}]
    body = json.dumps(items).encode()
    entries = m.parse_stored(body)
    assert [(e.name, e.first, e.stop, e.sub_slo) for e in entries] == [
        ('/c/a', 0, 10, False), ('/c/b', 2, 5, True), (None, 0, 3, False)]
    raw = json.loads(m.to_raw(body))
    assert raw == [{'path': '/c/a', 'etag': 'ea', 'size_bytes': 10},
                   {'path': '/c/b', 'etag': 'eb', 'size_bytes': 10, 'range': '2-4'},
                   {'data': items[2]['data']}]
    # the raw form is a valid client manifest again
    assert len(m.parse_put_manifest(m.to_raw(body), 10)) == 3
    assert m.part_span(entries, 1) == (0, 10)
    assert m.part_span(entries, 2) == (10, 13)
    assert m.part_span(entries, 3) == (13, 16)
    assert m.part_span(entries, 4) is None
    assert m.part_span(entries, 0) is None


@pytest.mark.parametrize('body', [
    b'{}', b'[1]', b'[{"name": "/c/o"}]', b'[{"name": "/c", "bytes": 1, "hash": "x"}]',
    b'[{"name": "/c/o", "bytes": -1, "hash": "x"}]', b'[{"data": "!!"}]', b'not json',
    b'[{"name": "/c/o", "bytes": 5, "hash": "x", "range": "9-"}]',
])
def test_parse_stored_bad(body):
    with pytest.raises(ValueError):
        m.parse_stored(body)


# -- properties --------------------------------------------------------------------------

json_values = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) |
               st.text(max_size=12) | st.sampled_from(['/c/o', 'c/o', '/c', '1-2', '-3', 'aGk=']) |
               st.lists(st.integers(), max_size=2))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(['path', 'etag', 'size_bytes', 'range', 'data',
                                                 'other']), json_values, max_size=5),
                max_size=6))
def test_any_json_is_parsed_or_refused_cleanly(items):
    try:
        segments = parse(items)
    except BadRequest as err:
        assert err.reason
        return
    for segment in segments:
        assert (segment.path is None) != (segment.data is None)
        if segment.path is not None:
            assert m.split_segment_path(segment.path) is not None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_are_parsed_or_refused_cleanly(body):
    try:
        m.parse_put_manifest(body, 1000)
    except (BadRequest, RequestEntityTooLarge) as err:
        assert err.reason


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=10 ** 6), st.integers(min_value=0, max_value=10 ** 6),
       st.integers(min_value=0, max_value=10 ** 6), st.booleans(), st.booleans())
def test_segment_ranges_stay_inside_the_object(size, a, b, has_first, has_last):
    first = a if has_first else None
    last = (max(a, b) if has_first else b) if has_last else None
    if first is None and last is None:
        return
    spec = (first, last)
    try:
        start, stop = m.resolve_segment_range(spec, size)
    except ValueError:
        assert first is not None and first >= size or last == 0
        return
    assert 0 <= start < stop <= size
    if first is not None:
        assert start == first
    else:
        assert stop == size and stop - start == min(last, size)


# -- the GET plan: which bytes of which segment make a range of the whole -------------

@st.composite
def manifests(draw):
    """Stored entries (objects, ranges of them, data) with each object's bytes."""
    objects, entries = {}, []
    for index in range(draw(st.integers(min_value=1, max_value=6))):
        if draw(st.booleans()):
            data = draw(st.binary(min_size=1, max_size=8))
            entries.append(m.Entry(None, len(data), md5hex(data), 0, len(data), False, data))
            continue
        name = '/c/o%d' % index
        body = draw(st.binary(min_size=0, max_size=12))
        objects[name] = body
        first = draw(st.integers(min_value=0, max_value=len(body)))
        stop = draw(st.integers(min_value=first, max_value=len(body)))
        if not draw(st.booleans()):
            first, stop = 0, len(body)
        entries.append(m.Entry(name, len(body), md5hex(body), first, stop, False, None))
    return objects, entries


@settings(max_examples=150, deadline=None)
@given(manifests(), st.data())
def test_slices_cover_exactly_the_range(manifest, data):
    from swiftlike.middleware.slo_get import DataSegment, Expander
    objects, entries = manifest
    whole = b''.join(e.data[e.first:e.stop] if e.data is not None
                     else objects[e.name][e.first:e.stop] for e in entries)
    assert m.total_size(entries) == len(whole)
    start = data.draw(st.integers(min_value=0, max_value=len(whole)))
    stop = data.draw(st.integers(min_value=start, max_value=len(whole)))
    got = b''
    for segment, first, last in Expander(_NoSlo, {}, "a").slices(entries, start, stop):
        assert 0 <= first < last <= segment.size
        source = segment.data if isinstance(segment, DataSegment) else objects[segment.path]
        got += source[first:last]
    assert got == whole[start:stop]


class _NoSlo:
    app = None
