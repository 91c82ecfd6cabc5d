"""The listing engine against a plain reference implementation."""
import pytest
from hypothesis import given, settings, strategies as st

from swiftlike.db import listing
from swiftlike.db.listing import Bounds, ListingParams, list_entries, next_prefix
from swiftlike.exceptions import BadRequest, NotAcceptable, PreconditionFailed


def reference(names, p):
    """Sort everything, filter, map to subdirs, collapse duplicates, cut."""
    out = []
    for name in sorted(set(names), reverse=p.reverse):
        if not name.startswith(p.prefix):
            continue
        if p.marker and (name <= p.marker if not p.reverse else name >= p.marker):
            continue
        if p.end_marker and (name >= p.end_marker if not p.reverse else name <= p.end_marker):
            continue
        entry = (name,)
        if p.delimiter:
            if p.path is not None and name == p.prefix:
                continue   # Swift leaves out the path's own marker object
            cut = name.find(p.delimiter, len(p.prefix))
            if cut >= 0 and p.path is not None:
                if name != name[:cut + len(p.delimiter)]:
                    continue   # deeper than the path: not listed
            elif cut >= 0:
                entry = name[:cut + len(p.delimiter)]
                if entry == p.marker:
                    continue
                if out and out[-1] == entry:
                    continue
        out.append(entry)
    return out[:p.limit]


def list_fetch(names, calls=None):
    ordered = sorted(set(names))

    def fetch(bounds, reverse, limit):
        if calls is not None:
            calls.append(limit)
        rows = [(n,) for n in (reversed(ordered) if reverse else ordered) if bounds.contains(n)]
        return iter(rows[:limit])
    return fetch


alphabet = st.sampled_from(['a', 'b', '/', '-', '\u00e9', '\U0001f600', 'z', '\x7f'])
names_st = st.lists(st.text(alphabet, min_size=1, max_size=6), max_size=40)
param_text = st.text(alphabet, max_size=3)


@settings(max_examples=400, deadline=None)
@given(names=names_st, prefix=param_text, delimiter=st.sampled_from(['', '/', '-', 'a/', '\U0001f600']),
       marker=param_text, end_marker=param_text, limit=st.integers(1, 50),
       reverse=st.booleans())
def test_matches_reference(names, prefix, delimiter, marker, end_marker, limit, reverse):
    p = ListingParams(prefix=prefix, delimiter=delimiter, marker=marker,
                      end_marker=end_marker, limit=limit, reverse=reverse)
    got = [e if isinstance(e, str) else e for e in list_entries(list_fetch(names), p)]
    assert got == reference(names, p)


@settings(max_examples=200, deadline=None)
@given(names=names_st, path=st.text(st.sampled_from(['a', 'b', '/']), max_size=3),
       limit=st.integers(1, 50), reverse=st.booleans())
def test_path_matches_reference(names, path, limit, reverse):
    p = ListingParams(path=path, prefix=path.rstrip('/') + '/' if path else '',
                      delimiter='/', limit=limit, reverse=reverse)
    assert list_entries(list_fetch(names), p) == reference(names, p)


@settings(max_examples=200, deadline=None)
@given(names=names_st, delimiter=st.sampled_from(['/', '-']), limit=st.integers(1, 5),
       reverse=st.booleans())
def test_paging_by_marker_sees_everything_once(names, delimiter, limit, reverse):
    """Following markers page by page gives the same as one big page."""
    whole = list_entries(list_fetch(names), ListingParams(delimiter=delimiter, limit=10000,
                                                          reverse=reverse))
    pages, marker = [], ''
    for _ in range(100):
        page = list_entries(list_fetch(names), ListingParams(
            delimiter=delimiter, limit=limit, marker=marker, reverse=reverse))
        pages.extend(page)
        if len(page) < limit:
            break
        last = page[-1]
        marker = last if isinstance(last, str) else last[0]
    assert pages == whole


def test_delimiter_skips_subtrees_with_seeks():
    """A subtree of 10,000 names costs one fetch, whose cursor is not drained."""
    names = ['big/%05d' % i for i in range(10000)] + ['small']
    drained = []
    ordered = sorted(names)

    def fetch(bounds, reverse, limit):
        def gen():
            for n in ordered:
                if bounds.contains(n):
                    drained.append(n)
                    yield (n,)
        return gen()
    out = list_entries(fetch, ListingParams(delimiter='/'))
    assert out == ['big/', ('small',)]
    assert len(drained) == 2


def test_next_prefix():
    assert next_prefix('a/') == 'a0'
    assert next_prefix('') is None
    assert next_prefix('\U0010ffff') is None
    assert next_prefix('a\U0010ffff') == 'b'
    assert next_prefix('\ud7ff') == '\ue000'


def test_bounds_contains():
    b = Bounds('b', True, 'd', False)
    assert [b.contains(x) for x in 'abcd'] == [False, True, True, False]


@pytest.mark.parametrize('query,error', [
    ('limit=10001', PreconditionFailed), ('format=bad', BadRequest),
    ('marker=%C3', BadRequest),
    ('prefix=%00', BadRequest), ('prefix=' + 'p' * 1025, PreconditionFailed),
])
def test_parse_params_rejects(query, error):
    with pytest.raises(error):
        listing.parse_params(query, None, 10000)


def test_parse_params_values():
    p = listing.parse_params('prefix=a%2Fb&delimiter=%2F&marker=%C3%A9&limit=5&reverse=on'
                             '&format=JSON', None, 10000)
    assert (p.prefix, p.delimiter, p.marker, p.limit, p.reverse, p.format) == \
        ('a/b', '/', '\u00e9', 5, True, 'json')
    p = listing.parse_params('path=d/&prefix=ignored', None, 10000)
    assert (p.prefix, p.delimiter, p.path) == ('d/', '/', 'd/')
    assert listing.parse_params('', None, 10000).limit == 10000


@pytest.mark.parametrize('accept,fmt', [
    (None, 'plain'), ('*/*', 'plain'), ('application/json', 'json'),
    ('text/xml', 'xml'), ('application/xml;q=0.5, application/json;q=0.9', 'json'),
    ('text/plain;q=0, application/xml', 'xml'), ('application/*', 'json'),
])
def test_accept(accept, fmt):
    assert listing.choose_format(None, accept) == fmt


def test_accept_nothing_acceptable():
    with pytest.raises(NotAcceptable):
        listing.choose_format(None, 'image/png, text/plain;q=0')


def test_render_plain_json_xml_escaping():
    entries = [('a<&>"', 1), 'd/']
    to_dict = lambda row: {'name': row[0], 'bytes': row[1]}
    body, ctype = listing.render(entries, 'xml', to_dict, 'container', 'object', 'c"<')
    assert b'<container name="c&quot;&lt;">' in body
    assert b'<name>a&lt;&amp;&gt;"</name>' in body
    assert b'<subdir name="d/"><name>d/</name></subdir>' in body
    body, ctype = listing.render(entries, 'plain', to_dict, 'container', 'object', 'c')
    assert body == 'a<&>"\nd/\n'.encode()
    body, ctype = listing.render([('\u00e9', 1)], 'json', to_dict, 'c', 'o', 'c')
    assert body == '[{"name":"\u00e9","bytes":1}]'.encode('utf-8')


@pytest.mark.parametrize('query,limit,reverse', [
    # As Swift: a limit that is not a plain number is ignored, and only the
    # true words turn reverse on.
    ('limit=x', 10000, False), ('limit=%EF%BC%91', 10000, False), ('limit=5000.0', 10000, False),
    ('limit=0', 0, False), ('reverse=perhaps', 10000, False), ('reverse=', 10000, False),
    ('reverse=Y', 10000, True), ('reverse=on', 10000, True),
])
def test_parse_params_lenient_like_swift(query, limit, reverse):
    p = listing.parse_params(query, None, 10000)
    assert (p.limit, p.reverse) == (limit, reverse)


def test_path_lists_marker_objects_but_not_deeper_names():
    names = ['/dir1/', '/dir1/f', '/file', 'd/', 'd/e/', 'd/e/f', 'd/g', 'x']
    for path, want in (('/', ['/dir1/', '/file']), ('d', ['d/e/', 'd/g']),
                       ('d/', ['d/e/', 'd/g']), ('', ['d/', 'x'])):
        p = listing.parse_params('path=' + path, None, 10000)
        assert [e[0] for e in list_entries(list_fetch(names), p)] == want, path


@settings(max_examples=200, deadline=None)
@given(names=names_st, hidden=st.lists(st.text(alphabet, max_size=4).map(
           lambda t: '\x00versions\x00' + t), max_size=5),
       limit=st.integers(1, 50), reverse=st.booleans(),
       delimiter=st.sampled_from(['', '/', '\x00']))
def test_hide_reserved_leaves_out_reserved_names_only(names, hidden, limit, reverse, delimiter):
    # Account listings never show reserved names (a leading NUL: hidden
    # versions containers), whatever the order, limit or delimiter.
    from swiftlike.db.listing import ListingParams, list_entries
    params = ListingParams(limit=limit, reverse=reverse, delimiter=delimiter,
                           hide_reserved=True)
    got = list_entries(list_fetch(names + hidden), params)
    plain = ListingParams(limit=limit, reverse=reverse, delimiter=delimiter)
    assert got == list_entries(list_fetch(names), plain)
