"""The pure parts of appendable objects: offsets, manifests, ETag chain,
compaction planning, timestamps."""
import hashlib
import json

import pytest
from hypothesis import given, settings, strategies as st

from swiftlike.exceptions import BadRequest
from swiftlike.middleware import append_manifest as am
from swiftlike.timestamp import Timestamp


def md5(data):
    return hashlib.md5(data).hexdigest()


@pytest.mark.parametrize('value,expected', [
    ('0', 0), ('17', 17), (' 42 ', 42), ('007', 7), (str(2 ** 53), 2 ** 53),
])
def test_offsets(value, expected):
    assert am.parse_offset(value) == expected


@pytest.mark.parametrize('value', [
    None, '', ' ', '-1', '+1', '1.5', '1e3', '0x10', 'abc', '١٢', '1 2', '1\n2',
    str(2 ** 53 + 1), '9' * 21, '\x00',
])
def test_bad_offsets(value):
    with pytest.raises(BadRequest):
        am.parse_offset(value)


@given(st.text(max_size=30))
def test_offset_parser_never_crashes(value):
    try:
        offset = am.parse_offset(value)
    except BadRequest:
        return
    assert 0 <= offset <= am.MAX_OFFSET


def test_piece_names():
    name = am.piece_name('log/x', 1234, 'a' * 32)
    assert name == 'log/x/append/00000000000000001234-' + 'a' * 32
    assert am.is_piece_of('log/x', name)
    assert not am.is_piece_of('log', name)            # 'log''s pieces are log/append/...
    assert not am.is_piece_of('log/x/append/1', name)
    assert not am.is_piece_of('log/x', name + 'z')
    assert len(name) == len('log/x') + am.PIECE_NAME_EXTRA


def test_manifest_round_trip_and_etag_chain():
    m = am.Manifest('c_segments')
    assert (m.length, m.etag) == (0, '')
    m1 = m.appended('o/append/%020d-%s' % (0, 'a' * 32), 3, md5(b'abc'))
    m2 = m1.appended('o/append/%020d-%s' % (3, 'b' * 32), 2, md5(b'de'))
    assert m2.length == 5
    first = md5(md5(b'abc').encode())
    assert m1.etag == first and m2.etag == md5((first + md5(b'de')).encode())
    parsed = am.parse_manifest(m2.to_json(), 'c', 'o')
    assert (parsed.pieces, parsed.length, parsed.etag, parsed.version) == \
        (m2.pieces, 5, m2.etag, m2.version)
    assert m1.version != m2.version and m1.to_json() != m2.to_json()
    compacted = m2.compacted(0, 2, 'o/append/%020d-%s' % (0, 'c' * 32), md5(b'abcde'))
    assert (compacted.length, compacted.etag) == (5, m2.etag)
    assert compacted.pieces == [('o/append/%020d-%s' % (0, 'c' * 32), 5, md5(b'abcde'))]
    sysmeta = m2.sysmeta(Timestamp('1700000000.00001'))
    assert sysmeta[am.LENGTH_HEADER] == sysmeta[am.OVERRIDE_SIZE] == '5'
    assert sysmeta[am.ETAG_HEADER] == sysmeta[am.OVERRIDE_ETAG] == m2.etag


GOOD = {'format': 1, 'container': 'c_segments', 'length': 3, 'etag': 'x', 'version': 'v',
        'pieces': [['o/append/%020d-%s' % (0, 'a' * 32), 3, 'd' * 32]]}


@pytest.mark.parametrize('change', [
    {'format': 2}, {'container': 'other_segments'}, {'length': 4}, {'pieces': 'x'},
    {'pieces': [['o/append/x', 3, 'd' * 32]]},
    {'pieces': [['p/append/%020d-%s' % (0, 'a' * 32), 3, 'd' * 32]]},
    {'pieces': [['o/append/%020d-%s' % (0, 'a' * 32), 0, 'd' * 32]]},
    {'pieces': [['o/append/%020d-%s' % (0, 'a' * 32), True, 'd' * 32]]},
    {'pieces': [['o/append/%020d-%s' % (0, 'a' * 32), 3, 'nothex']]},
    {'pieces': [['o/append/%020d-%s' % (0, 'a' * 32), 3]]},
    {'etag': None}, {'container': 5},
])
def test_bad_manifests(change):
    doc = dict(GOOD, **change)
    with pytest.raises(am.ManifestError):
        am.parse_manifest(json.dumps(doc).encode(), 'c', 'o')


@pytest.mark.parametrize('body', [b'', b'not json', b'\xff\xfe', b'[]', b'null', b'{}'])
def test_garbage_manifests(body):
    with pytest.raises(am.ManifestError):
        am.parse_manifest(body, 'c', 'o')


def test_good_manifest():
    assert am.parse_manifest(json.dumps(GOOD).encode(), 'c', 'o').length == 3


@pytest.mark.parametrize('sizes,small,count,max_bytes,plan', [
    ([], 10, 3, 100, None),
    ([1, 1], 10, 3, 100, None),                       # too few
    ([1, 1, 1], 10, 3, 100, (0, 3)),
    ([50, 1, 1, 1], 10, 3, 100, (1, 4)),              # the big one stays
    ([1, 50, 1, 1], 10, 3, 100, None),                # the run is only 2 long
    ([9, 9, 9, 9], 10, 3, 20, None),                  # capped by max_bytes: too few
    ([9] * 6, 10, 3, 20, (4, 6)),                     # ... until the run is long
    ([6, 5, 4, 3, 2, 1], 10, 3, 100, (0, 6)),         # shrinking appends merge too
    ([9, 9, 9, 9], 10, 3, 5, None),                   # nothing fits: no merge
    ([1, 1, 1], 10, 0, 100, None),                    # compaction off
    ([1, 1, 1], 10, 1, 100, None),
    ([8, 4, 1, 1, 1], 10, 3, 100, (2, 5)),            # older bigger pieces stay
    ([8, 4, 2, 1, 1, 1], 10, 3, 100, (0, 6)),         # ... unless the carry reaches them
    ([4, 1, 1, 1], 10, 3, 100, (1, 4)),
    ([3, 1, 1, 1], 10, 3, 100, (0, 4)),
])
def test_compaction_plan(sizes, small, count, max_bytes, plan):
    assert am.plan_compaction(sizes, small, count, max_bytes) == plan


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=40), min_size=1, max_size=120),
       st.integers(2, 8), st.integers(1, 200))
def test_random_appends_concatenate_with_compaction(appends, count, small):
    """Appending random pieces and compacting as planned: the pieces still
    concatenate to what was appended, the ETag is the append chain, and the
    manifest stays short."""
    store = {}
    manifest = am.Manifest('c_segments')
    chain = ''
    for i, data in enumerate(appends):
        name = am.piece_name('o', manifest.length)
        store[name] = data
        manifest = manifest.appended(name, len(data), md5(data))
        chain = am.chain_etag(chain, md5(data))
        plan = am.plan_compaction([p[1] for p in manifest.pieces], small, count, 10 ** 6)
        if plan:
            start, stop = plan
            merged = b''.join(store[p[0]] for p in manifest.pieces[start:stop])
            name = am.piece_name('o', manifest.offset_of(start))
            store[name] = merged
            manifest = manifest.compacted(start, stop, name, md5(merged))
        manifest = am.parse_manifest(manifest.to_json(), 'c', 'o')
    whole = b''.join(appends)
    assert b''.join(store[p[0]] for p in manifest.pieces) == whole
    assert manifest.length == len(whole) and manifest.etag == chain
    assert all(md5(store[p[0]]) == p[2] for p in manifest.pieces)
    small_tail = 0
    for piece in reversed(manifest.pieces):
        if piece[1] >= small:
            break
        small_tail += 1
    assert small_tail < 2 * count


def test_compaction_copies_little_and_keeps_few_pieces():
    """100,000 appends of 100 bytes with the default settings: each byte is
    copied a few times, and the manifest stays short."""
    small, count, max_bytes = 1048576, 32, 33554432
    sizes, copied = [], 0
    for _ in range(100000):
        sizes.append(100)
        plan = am.plan_compaction(sizes, small, count, max_bytes)
        if plan:
            start, stop = plan
            merged = sum(sizes[start:stop])
            copied += merged
            sizes[start:stop] = [merged]
    assert sum(sizes) == 10 ** 7
    assert len(sizes) <= 10 ** 7 // small + 2 * count
    assert copied < 8 * 10 ** 7


def test_next_timestamp():
    prev = Timestamp('1700000000.99999')
    assert am.next_timestamp(prev, now=1600000000).internal == '1700000001.00000'
    assert am.next_timestamp(prev, now=1800000000).internal == '1800000000.00000'
    assert am.next_timestamp(None, now=1800000000).internal == '1800000000.00000'
    with_offset = Timestamp('1700000000.00000_0000000000000001')
    assert am.next_timestamp(with_offset, now=1) > with_offset
