"""Object versioning's pure parts: version ids, hidden names, pointer content
types, and the ?versions listing merge."""
import pytest
from hypothesis import given, strategies as st

from swiftlike.exceptions import BadRequest
from swiftlike.middleware import versioning_core as core
from swiftlike.middleware.versioning_listing import (VersionsParams, merge_versions, pages,
                                                     source_queries)


@pytest.mark.parametrize('value,expected', [
    ('true', True), ('True', True), (' yes ', True), ('1', True), ('on', True),
    ('false', False), ('False', False), ('no', False), ('0', False), ('off', False),
])
def test_parse_enabled(value, expected):
    assert core.parse_enabled(value) is expected


@pytest.mark.parametrize('value', ['', 'garbage', 'ture', 'enable', '2', 'true false',
                                   '\x00', 'x' * 10000, '\xff\xfe'])
def test_parse_enabled_refuses_garbage(value):
    with pytest.raises(BadRequest):
        core.parse_enabled(value)


@pytest.mark.parametrize('value,expected', [
    ('null', 'null'), ('1234567890.12345', '1234567890.12345'),
    ('1234567890', '1234567890.00000'), ('1.5', '0000000001.50000'),
])
def test_parse_version_id(value, expected):
    assert core.parse_version_id(value) == expected


@pytest.mark.parametrize('value', ['', 'bad', 'NULL', '-1', '0', '1e5', '1234567890.123456',
                                   '12345678901', ' 1', '1.', '.5', '1_0000000000000001',
                                   '1234567890.12345\x00', '9' * 1000, '١٢٣'])
def test_parse_version_id_refuses(value):
    with pytest.raises(BadRequest):
        core.parse_version_id(value)


ids = st.integers(min_value=1, max_value=10 ** 15 - 1).map(
    lambda raw: '%010d.%05d' % divmod(raw, 100000))
names = st.text(st.characters(blacklist_categories=('Cs',), blacklist_characters='\x00'),
                min_size=1, max_size=20)


@given(names, ids)
def test_version_name_round_trip(name, version):
    hidden = core.version_name(name, version)
    assert core.split_version_name(hidden) == (name, version)
    assert hidden.startswith(name + core.SEPARATOR)


@given(names, ids, ids)
def test_newer_versions_sort_first(name, a, b):
    if a == b:
        return
    newer, older = max(a, b), min(a, b)
    assert core.version_name(name, newer) < core.version_name(name, older)


@given(names, names, ids, ids)
def test_versions_sort_with_their_names(n1, n2, v1, v2):
    # All versions of a name sort together, in the names' own order.
    if n1 == n2:
        return
    assert (core.version_name(n1, v1) < core.version_name(n2, v2)) == (n1 < n2)


def test_split_version_name_refuses_other_names():
    for name in ('plain', 'a\x00', 'a\x00123', 'a\x00' + 'x' * 15):
        assert core.split_version_name(name) is None


@pytest.mark.parametrize('ctype,size,vid,expected', [
    ('text/plain', 5, '1000000001.00000', 'text/plain;swift_bytes=5;swift_versions_pointer=1000000001.00000'),
    ('text/plain; charset=utf-8', 0, '1000000002.00000',
     'text/plain;charset=utf-8;swift_bytes=0;swift_versions_pointer=1000000002.00000'),
    ('application/json;swift_bytes=99', 7, '1000000003.00000',
     'application/json;swift_bytes=7;swift_versions_pointer=1000000003.00000'),
])
def test_pointer_content_type(ctype, size, vid, expected):
    assert core.pointer_content_type(ctype, size, vid) == expected


@pytest.mark.parametrize('overrides,fallback,expected', [
    ({}, 12, '12'),                                                  # a plain object
    ({'size': '40'}, 12, '40'),                                      # an explicit size wins
    ({'content-type': 'text/plain;swift_bytes=1048576'}, 321, '1048576'),  # an SLO manifest
    ({'size': 'x', 'content-type': 'a/b;swift_bytes=5'}, 9, '5'),    # a bad size is ignored
    ({'content-type': 'a/b;swift_bytes=-5'}, 9, '9'),                # so is a bad swift_bytes
    ({'content-type': 'a/b'}, 0, '0'),
])
def test_listed_size(overrides, fallback, expected):
    assert core.listed_size(overrides, fallback) == expected


def test_clean_listing_row():
    row = {'name': 'o', 'content_type': 'text/plain;charset=utf-8;swift_versions_pointer=1000000001.00000'}
    assert core.clean_listing_row(row) == '1000000001.00000'
    assert row['content_type'] == 'text/plain;charset=utf-8'
    plain = {'name': 'o', 'content_type': 'text/plain'}
    assert core.clean_listing_row(plain) is None and plain['content_type'] == 'text/plain'


def test_delete_marker_type():
    assert core.is_delete_marker(core.DELETE_MARKER_TYPE)
    assert core.is_delete_marker('application/x-deleted; swift_versions_deleted=1')
    assert not core.is_delete_marker('application/x-deleted')
    assert not core.is_delete_marker('text/plain')


def test_pointer_target_ignores_bad_values():
    assert core.pointer_target({'x-object-sysmeta-versions-pointer': '1000000001.00000'}) == '1000000001.00000'
    for bad in ('', 'null', 'junk', '-5'):
        assert core.pointer_target({'x-object-sysmeta-versions-pointer': bad}) is None
    assert core.pointer_target({}) is None


# -- the merge --------------------------------------------------------------

DM = core.DELETE_MARKER_TYPE


class Store:
    """Two containers' rows (user and hidden) and a fake listing over them."""

    def __init__(self):
        self.user = {}      # name -> row
        self.hidden = {}

    def put_version(self, name, vid, ctype='text/plain', size=1):
        hidden = core.version_name(name, vid)
        self.hidden[hidden] = {'name': hidden, 'bytes': size, 'hash': 'h' + vid,
                               'content_type': ctype, 'last_modified': 'x'}

    def point(self, name, vid, ctype='text/plain'):
        self.user[name] = {'name': name, 'bytes': 1, 'hash': 'h',
                           'content_type': ctype + ';' + core.POINTER_PARAM + '=' + vid,
                           'last_modified': 'x'}

    def plain(self, name):
        self.user[name] = {'name': name, 'bytes': 2, 'hash': 'n', 'content_type': 'text/x',
                           'last_modified': 'x'}

    @staticmethod
    def _list(rows, q):
        names = sorted(rows, reverse=q.get('reverse') == 'true')
        out = []
        for n in names:
            if q.get('prefix') and not n.startswith(q['prefix']):
                continue
            m, e = q.get('marker'), q.get('end_marker')
            if q.get('reverse') == 'true':
                if m and n >= m or e and n <= e:
                    continue
            elif m and n <= m or e and n >= e:
                continue
            d = q.get('delimiter')
            if d:
                cut = n.find(d, len(q.get('prefix', '')))
                if cut >= 0:
                    sub = n[:cut + len(d)]
                    if not out or out[-1].get('subdir') != sub:
                        if sub != m:
                            out.append({'subdir': sub})
                    continue
            out.append(dict(rows[n]))
        return out[:int(q['limit'])]

    def listing(self, **kw):
        params = VersionsParams(**kw)
        uq, hq = source_queries(params)
        return merge_versions(pages(lambda q: self._list(self.user, q), uq, 2),
                              pages(lambda q: self._list(self.hidden, q), hq, 2), params)


def brief(entries):
    return [e['subdir'] if 'subdir' in e else (e['name'], e['version_id'], e['is_latest'])
            for e in entries]


@pytest.fixture
def store():
    s = Store()
    # c: three versions then deleted; b: one version; a: only a delete marker
    for vid in ('1000000001.00000', '1000000002.00000', '1000000003.00000'):
        s.put_version('c', vid)
    s.put_version('c', '1000000004.00000', DM, 0)
    s.put_version('b', '1000000005.00000')
    s.point('b', '1000000005.00000')
    s.put_version('a', '1000000006.00000', DM, 0)
    return s


ALL = [('a', '1000000006.00000', True), ('b', '1000000005.00000', True), ('c', '1000000004.00000', True),
       ('c', '1000000003.00000', False), ('c', '1000000002.00000', False), ('c', '1000000001.00000', False)]


def test_merge_all(store):
    assert brief(store.listing()) == ALL


def test_merge_reverse(store):
    assert brief(store.listing(reverse=True)) == ALL[::-1]


@pytest.mark.parametrize('limit', [1, 2, 3, 5, 6, 10])
def test_merge_pages_with_version_marker(store, limit):
    got = []
    marker = vm = None
    while True:
        kw = {'limit': limit}
        if marker:
            kw.update(marker=marker, version_marker=vm)
        page = store.listing(**kw)
        got.extend(page)
        if len(page) < limit:
            break
        marker, vm = page[-1]['name'], page[-1]['version_id']
    assert [(e['name'], e['version_id']) for e in got] == [(n, v) for n, v, _ in ALL]


def test_merge_marker_and_version_marker_reverse(store):
    got = store.listing(marker='c', version_marker='1000000003.00000', reverse=True)
    assert brief(got) == [('c', '1000000004.00000', True), ('b', '1000000005.00000', True),
                          ('a', '1000000006.00000', True)]


def test_merge_null_versions(store):
    store.plain('b')        # b overwritten while versioning was off
    store.plain('d')
    assert brief(store.listing(prefix='b')) == [('b', 'null', True), ('b', '1000000005.00000', False)]
    assert brief(store.listing(marker='b', version_marker='null')) == \
        [('b', '1000000005.00000', False)] + ALL[2:] + [('d', 'null', True)]
    assert brief(store.listing(reverse=True, prefix='b')) == \
        [('b', '1000000005.00000', False), ('b', 'null', True)]


def test_merge_latest_is_the_pointed_version(store):
    store.point('c', '1000000002.00000')       # an old version made current again
    got = {e['version_id']: e['is_latest'] for e in store.listing(prefix='c')}
    assert got == {'1000000004.00000': False, '1000000003.00000': False, '1000000002.00000': True, '1000000001.00000': False}


def test_merge_strips_pointer_parameter(store):
    b = [e for e in store.listing(prefix='b')]
    assert all(core.POINTER_PARAM not in e['content_type'] for e in b)


@pytest.mark.parametrize('delimiter', ['/', '0', '-&'])
def test_merge_delimiter(delimiter):
    s = Store()
    for name in ('test', 'test%sbar' % delimiter, 'test%sfoo' % delimiter, 'off%sx' % delimiter):
        s.put_version(name, '1000000001.00000')
        s.point(name, '1000000001.00000')
    s.put_version('del%sbaz' % delimiter, '1000000002.00000', DM, 0)
    assert brief(s.listing(delimiter=delimiter)) == [
        'del' + delimiter, 'off' + delimiter, ('test', '1000000001.00000', True), 'test' + delimiter]
    assert brief(s.listing(delimiter=delimiter, reverse=True)) == [
        'test' + delimiter, ('test', '1000000001.00000', True), 'off' + delimiter, 'del' + delimiter]


def test_merge_end_marker(store):
    assert brief(store.listing(end_marker='c')) == ALL[:2]
    assert brief(store.listing(end_marker='a', reverse=True)) == ALL[::-1][:5]
