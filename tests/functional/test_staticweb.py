"""Static web and domain remap on a real cluster: a container served as a site
to anonymous browsers (index pages, listings, redirects, error pages), under
its own host name, and never showing what the reader could not read."""
import time
from urllib.parse import quote

import pytest

from swiftlike.middleware.tempurl_sig import prefix_path, sign
from tests.functional.proxy_helpers import Api, raw, unique


@pytest.fixture(scope='module')
def api(cluster):
    return Api(cluster)


@pytest.fixture(scope='module')
def site(api):
    c = unique('site')
    api.put_container(c, {'X-Container-Read': '.r:*,.rlistings'})
    api.put_object(c, 'index.html', b'<h1>home</h1>', {'Content-Type': 'text/html'})
    api.put_object(c, '404err.html', b'custom not found', {'Content-Type': 'text/html'})
    api.put_object(c, 'docs', b'', {'Content-Type': 'application/directory'})
    api.put_object(c, 'docs/a.txt', b'aaa')
    api.put_object(c, 'docs/deep/b.txt', b'bbb')
    api.put_object(c, 'docs/index.html', b'<h1>docs</h1>')
    api.put_object(c, 'style.css', b'h1 {}')
    return c


def anon(api, path, headers=None, method='GET'):
    """(status, headers, body) of an anonymous request (no token)."""
    return raw(api.host, api.port, method, api.account_path + path, headers or {})


def set_web(api, c, **meta):
    headers = {}
    for key in ('index', 'listings', 'error', 'listings-css', 'listings-label'):
        value = meta.get(key.replace('-', '_'))
        name = 'X-Container-Meta-Web-' + key.title()
        if value is None:
            headers['X-Remove-Container-Meta-Web-' + key.title()] = 'x'
        else:
            headers[name] = value
    assert api.request('POST', '/' + c, headers)[0] == 204


def test_index_pages_and_redirects(api, site):
    set_web(api, site, index='index.html')
    status, h, body = anon(api, '/%s/' % site)
    assert (status, body) == (200, b'<h1>home</h1>')
    status, h, _b = anon(api, '/%s' % site)
    assert status == 301
    assert h['location'] == 'http://%s:%s%s/%s/' % (api.host, api.port, api.account_path, site)
    # a pseudo-directory: redirect, then its own index
    status, h, _b = anon(api, '/%s/docs' % site)
    assert status == 301 and h['location'].endswith('/%s/docs/' % site)
    assert anon(api, '/%s/docs/' % site)[2] == b'<h1>docs</h1>'
    # HEAD answers like GET without a body
    status, h, body = anon(api, '/%s/' % site, method='HEAD')
    assert (status, body, h['content-length']) == (200, b'', '13')


def test_listings_with_css_and_label(api, site):
    set_web(api, site, listings='true', listings_css='style.css')
    status, h, body = anon(api, '/%s/docs/deep/' % site)
    page = body.decode()
    assert status == 200 and h['content-type'].startswith('text/html')
    assert 'Listing of %s/%s/docs/deep/' % (api.account_path, site) in page
    assert '<a href="./b.txt">b.txt</a>' in page
    assert 'href="../../style.css"' in page
    page = anon(api, '/%s/' % site)[2].decode()
    assert '<a href="./docs/">docs/</a>' in page and '<a href="./index.html">' in page
    set_web(api, site, listings='true', listings_label='My Site')
    assert 'Listing of My Site/docs/' in anon(api, '/%s/docs/' % site)[2].decode()
    # an empty pseudo-directory is not found
    assert anon(api, '/%s/nothing/' % site)[0] == 404


def test_error_pages(api, site):
    set_web(api, site, listings='true', error='err.html')
    status, _h, body = anon(api, '/%s/missing.html' % site)
    assert (status, body) == (404, b'custom not found')
    set_web(api, site, listings='true')
    status, _h, body = anon(api, '/%s/missing.html' % site)
    assert status == 404 and body != b'custom not found'


def test_authenticated_clients_get_the_api_unless_web_mode(api, site):
    set_web(api, site, index='index.html')
    status, h, body = api.request('GET', '/' + site)
    assert status == 200 and b'index.html' in body and 'location' not in h
    status, h, _b = api.request('GET', '/' + site, {'X-Web-Mode': 'true'})
    assert status == 301


def test_no_listing_without_rlistings(api):
    c = unique('private')
    api.put_container(c, {'X-Container-Read': '.r:*'})
    api.put_object(c, 'secret/a.txt', b'x')
    assert api.request('POST', '/' + c, {'X-Container-Meta-Web-Listings': 'true'})[0] == 204
    status, _h, body = anon(api, '/%s/' % c)
    assert status in (401, 403) and b'a.txt' not in body
    status, _h, body = anon(api, '/%s/secret/' % c)
    assert status in (401, 403) and b'a.txt' not in body
    # an object is readable (.r:*), as without static web
    assert anon(api, '/%s/secret/a.txt' % c)[:3:2] == (200, b'x')


def test_private_container_stays_private(api):
    c = unique('closed')
    api.put_container(c, {'X-Container-Meta-Web-Index': 'index.html',
                          'X-Container-Meta-Web-Listings': 'true'})
    api.put_object(c, 'index.html', b'private page')
    for path in ('/%s' % c, '/%s/' % c, '/%s/index.html' % c, '/%s/x/' % c):
        status, _h, body = anon(api, path)
        assert status == 401 and b'private page' not in body, path


def test_hostile_names_are_escaped_in_listings(api):
    c = unique('esc')
    api.put_container(c, {'X-Container-Read': '.r:*,.rlistings',
                          'X-Container-Meta-Web-Listings': 'true',
                          'X-Container-Meta-Web-Listings-Css': '"><script>x</script>'})
    api.put_object(c, '<img src=x onerror=alert(1)>', b'x')
    page = anon(api, '/%s/' % c)[2].decode()
    assert '<img' not in page and '<script>' not in page
    assert '&lt;img src=x onerror=alert(1)&gt;' in page


def test_domain_remap_serves_a_container_under_its_host_name(api, site):
    set_web(api, site, index='index.html')
    account = api.account_path.rsplit('/', 1)[1]
    host = '%s.%s.example.com' % (site, account.replace('_', '-', 1).lower())
    status, _h, body = raw(api.host, api.port, 'GET', '/', {'Host': host})
    assert (status, body) == (200, b'<h1>home</h1>')
    status, h, _b = raw(api.host, api.port, 'GET', '/docs', {'Host': host})
    assert status == 301 and h['location'] == 'http://%s/docs/' % host
    status, _h, body = raw(api.host, api.port, 'GET', '/docs/a.txt', {'Host': host})
    assert (status, body) == (200, b'aaa')
    # an account host, with the token: the API under the account
    status, _h, body = raw(api.host, api.port, 'GET', '/%s/docs/a.txt' % site,
                           {'Host': '%s.example.com' % account, 'X-Auth-Token': api.token})
    assert (status, body) == (200, b'aaa')
    # hosts outside the storage domain are not remapped
    assert raw(api.host, api.port, 'GET', '/', {'Host': 'evil.example.net'})[0] in (400, 404, 412)


def test_utf8_names_redirect_and_list(api):
    c = unique('sité-')
    api.put_container(c, {'X-Container-Read': '.r:*,.rlistings'})
    api.put_object(c, 'dír/ünï.txt', b'x')
    set_web(api, c, listings='true')
    status, h, _b = anon(api, quote('/%s/dír' % c))
    # the Location is the name's UTF-8, percent-encoded once
    assert status == 301 and h['location'].endswith(
        '/%s/d%%C3%%ADr/' % quote(c.encode('utf-8')))
    status, _h, body = anon(api, quote('/%s/dír/' % c))
    assert status == 200
    assert 'href="./%s">ünï.txt</a>' % quote('ünï.txt') in body.decode('utf-8')


def _container_temp_url(api, c, prefix, key='sw-key'):
    expires = int(time.time()) + 600
    sig = sign(key, 'GET', expires, prefix_path(api.account_path.split('/')[2], c, prefix)).hex()
    return 'temp_url_sig=%s&temp_url_expires=%d&temp_url_prefix=%s' % (sig, expires, quote(prefix))


def test_a_temp_url_for_a_whole_container_browses_it(api):
    """A GET temp URL signed for a prefix browses the static web listings
    under it (links carry the temp URL); it never hands out the container
    listing itself, nor anything above its prefix."""
    c = unique('private')
    api.put_container(c, {'X-Container-Meta-Temp-URL-Key': 'sw-key'})   # no read ACL
    api.put_object(c, 'a.txt', b'aaa')
    api.put_object(c, 'docs/b.txt', b'bbb')
    query = _container_temp_url(api, c, '')
    # static web off: no answer for the container itself
    assert anon(api, '/%s/?%s' % (c, query))[0] == 401
    set_web(api, c, listings='true')
    status, h, _b = anon(api, '/%s?%s' % (c, query))
    assert status == 301 and h['location'].endswith('/%s/?%s' % (c, query))
    status, h, body = anon(api, '/%s/?%s' % (c, query))
    page = body.decode('utf-8')
    assert status == 200 and h['content-disposition'] == 'inline'
    assert 'x-backend-content-generator' not in h
    sig, expires = (dict(p.split('=') for p in query.split('&'))[k]
                    for k in ('temp_url_sig', 'temp_url_expires'))
    assert ('href="./a.txt?temp_url_prefix=&amp;temp_url_expires=%s&amp;temp_url_sig=%s"'
            % (expires, sig)) in page
    assert 'href="../"' not in page
    status, _h, body = anon(api, '/%s/docs/?%s' % (c, query))
    assert status == 200 and 'href="../"' in body.decode('utf-8')
    assert anon(api, '/%s/docs/b.txt?%s' % (c, query))[2] == b'bbb'
    # a temp URL for docs/ lists docs/ but neither the container nor a.txt
    docs = _container_temp_url(api, c, 'docs/')
    assert anon(api, '/%s/docs/?%s' % (c, docs))[0] == 200
    assert anon(api, '/%s/?%s' % (c, docs))[0] == 401
    assert anon(api, '/%s/a.txt?%s' % (c, docs))[0] == 401
    # a forged signature gets nothing
    forged = query.replace('temp_url_sig=', 'temp_url_sig=0')
    assert anon(api, '/%s/?%s' % (c, forged))[0] == 401
