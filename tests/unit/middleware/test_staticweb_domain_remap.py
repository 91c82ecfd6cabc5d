"""Domain remap's host parsing and static web's listing page (tables)."""
import pytest

from swiftlike.middleware.domain_remap import Conf, DomainRemap, remap
from swiftlike.middleware.staticweb_listing import css_link, render

CONF = Conf(storage_domain='example.com, store.example.org', reseller_prefixes='AUTH, SERVICE')


@pytest.mark.parametrize('host,expected', [
    ('AUTH_test.example.com', ('AUTH_test', None)),
    ('auth_test.example.com', ('AUTH_test', None)),
    ('auth-test.example.com', ('AUTH_test', None)),
    ('AUTH-test.example.com:8080', ('AUTH_test', None)),
    ('Cont.AUTH_test.example.com', ('AUTH_test', 'Cont')),
    ('c.service-x.store.example.org', ('SERVICE_x', 'c')),
    ('AUTH_test.EXAMPLE.COM', ('AUTH_test', None)),
    ('example.com', None),
    ('other.com', None),
    ('notanaccount.example.com', None),        # no reseller prefix
    ('AUTH_.example.com', None),
    ('a.b.AUTH_test.example.com', None),       # too many labels
    ('.AUTH_test.example.com', None),
    ('c..example.com', None),
    ('AUTH_test.example.com.evil.net', None),
    ('xexample.com', None),
    ('[::1]:8080', None),
    ('', None),
    (None, None),
])
def test_remap(host, expected):
    assert remap(host, CONF) == expected


def test_default_reseller_prefix():
    conf = Conf(default_reseller_prefix='AUTH')
    assert remap('bob.example.com', conf) == ('AUTH_bob', None)


def _run(app, host, path):
    seen = {}

    def inner(env, start_response):
        seen.update(env)
        start_response('204 No Content', [])
        return [b'']
    mw = DomainRemap(inner, CONF)
    list(mw({'HTTP_HOST': host, 'PATH_INFO': path, 'REQUEST_METHOD': 'GET'},
            lambda *a: None))
    return seen


@pytest.mark.parametrize('host,path,expected,prefix', [
    ('c.auth-test.example.com', '/', '/v1/AUTH_test/c/', '/v1/AUTH_test/c'),
    ('c.auth-test.example.com', '/o/p', '/v1/AUTH_test/c/o/p', '/v1/AUTH_test/c'),
    ('auth-test.example.com', '/c//v1', '/v1/AUTH_test/c//v1', '/v1/AUTH_test'),
    ('proxy.local', '/v1/AUTH_test', '/v1/AUTH_test', None),
])
def test_middleware_rewrites_path(host, path, expected, prefix):
    env = _run(None, host, path)
    assert env['PATH_INFO'] == expected
    assert env.get('swiftlike.remap_prefix') == prefix


def test_listing_page_links_titles_and_escaping():
    items = [{'subdir': 'd/sub dir/'},
             {'name': 'd/a&b<c>.txt', 'bytes': 2048, 'content_type': 'text/plain',
              'last_modified': '2026-01-02T03:04:05.000000'},
             {'name': 'd/', 'bytes': 0, 'content_type': 'application/directory',
              'last_modified': '2026-01-02T03:04:05.000000'}]
    page = render('/v1/AUTH_t/c/d/<x>', 'd/', items, 'style.css')
    assert 'Listing of /v1/AUTH_t/c/d/&lt;x&gt;' in page
    assert '<a href="./sub%20dir/">sub dir/</a>' in page
    assert '<a href="./a%26b%3Cc%3E.txt">a&amp;b&lt;c&gt;.txt</a>' in page
    assert '<a href="../">../</a>' in page
    assert '2.0 KiB' in page and '2026-01-02 03:04:05' in page
    assert 'href="../style.css"' in page
    # the directory's own marker is not listed as an entry of itself
    assert '<a href="./">' not in page


@pytest.mark.parametrize('css,prefix,expected', [
    ('s.css', '', 'href="s.css"'),
    ('s.css', 'a/b/', 'href="../../s.css"'),
    ('my style.css', 'a/', 'href="../my%20style.css"'),
    ('/abs/s.css', 'a/', 'href="/abs/s.css"'),
    ('https://cdn.example/s.css', 'a/', 'href="https://cdn.example/s.css"'),
    ('x"onload="y', '', 'href="x%22onload%3D%22y"'),
])
def test_css_link(css, prefix, expected):
    assert expected in css_link(css, prefix)


def test_top_level_has_no_parent_row():
    assert '../' not in render('/v1/a/c/', '', [{'name': 'x', 'bytes': 1}], None)


def test_temp_url_links_and_parent_row():
    items = [{'subdir': 'p/s/'}, {'name': 'p/x y', 'bytes': 1}]
    page = render('/v1/a/c/p/', 'p/', items, None, link_query='?temp_url_sig=ab&inline',
                  parent=False)
    assert '<a href="./s/?temp_url_sig=ab&amp;inline">s/</a>' in page
    assert '<a href="./x%20y?temp_url_sig=ab&amp;inline">x y</a>' in page
    assert '../' not in page
    assert '<a href="../">' in render('/v1/a/c/', '', items, None, parent=True)
