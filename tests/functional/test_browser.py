"""A real browser (headless Chromium driven by selenium) against a real
cluster: pages served from another origin (http://localhost:<page port>,
while the proxy is http://127.0.0.1:<port>) that
 1. upload a file with a FormPost form and follow the 303 back to the page
    origin, which shows the upload's status and message;
 2. fetch objects across origins through CORS: a simple GET, a preflighted
    GET with custom headers (X-Auth-Token, X-Foo), and one the container does
    not allow (the browser blocks it);
 3. show a TempURL'd PNG in an <img> (it renders: naturalWidth > 0);
 4. browse a static-web container: index page, listing, custom error page.
Every assertion is on what the page shows; one screenshot per step is kept
under the test's tmp dir. Needs the Debian packages chromium and
chromium-driver (`make apt`) and selenium (the test extras); skipped,
saying why, without them."""
import http.server
import json
import struct
import threading
import time
import zlib
from urllib.parse import quote

import pytest

from swiftlike.middleware.formpost_form import sign_form
from swiftlike.middleware.tempurl_sig import sign
from tests.functional.browser import (WAIT, By, WebDriverWait, browser_session,
                                      requires_browser, shows as _shows, text_of)
from tests.functional.proxy_helpers import Api, unique

pytestmark = requires_browser

KEY = 'browser-form-key'


def png(width, height, rgb=(200, 30, 30)):
    """A small valid PNG (8-bit RGB)."""
    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + \
            struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)
    row = b'\x00' + bytes(rgb) * width
    return (b'\x89PNG\r\n\x1a\n'
            + chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0))
            + chunk(b'IDAT', zlib.compress(row * height))
            + chunk(b'IEND', b''))


class PageServer:
    """The page origin: serves the pages the test registers, on its own port."""

    def __init__(self):
        pages = self.pages = {}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                page = pages.get(self.path.split('?', 1)[0])
                if page is None:
                    self.send_error(404)
                    return
                body = page.encode('utf-8')
                self.send_response(200)
                self.send_header('Content-Type', 'text/html; charset=utf-8')
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.port = self.server.server_address[1]
        self.origin = 'http://localhost:%d' % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        # Not shutdown(): it waits for the serving loop without a timeout, and
        # hung a run at this module's teardown. Ask the loop to end (it looks
        # every poll interval), give it a bounded time, then close.
        self.server._BaseServer__shutdown_request = True
        self.thread.join(10)
        self.server.server_close()


@pytest.fixture(scope='module')
def pages():
    server = PageServer()
    yield server
    server.stop()


@pytest.fixture(scope='module')
def driver():
    yield from browser_session(1000, 700)


@pytest.fixture(scope='module')
def api(cluster):
    return Api(cluster)


def _text(driver, element_id):
    return text_of(driver, By.ID, element_id) or ''


def shows(driver, element_id, expected):
    """Assert that the page shows `expected` in the element."""
    _shows(driver, lambda d: _text(d, element_id), expected, what=element_id)


def proxy_base(api):
    return 'http://%s:%d' % (api.host, api.port)


def test_1_formpost_upload_and_redirect(api, pages, driver, tmp_path):
    cont = api.put_container(unique('br-up'), {'X-Container-Meta-Temp-URL-Key': KEY})
    path = '%s/%s/up/' % (api.account_path, cont)
    redirect = pages.origin + '/done.html'
    expires = int(time.time()) + 600
    signature = sign_form(KEY, path, redirect, 1048576, 2, expires)
    pages.pages['/upload.html'] = '''<!doctype html><html><body>
<form id="form" action="%(action)s" method="post" enctype="multipart/form-data">
  <input type="hidden" name="redirect" value="%(redirect)s">
  <input type="hidden" name="max_file_size" value="1048576">
  <input type="hidden" name="max_file_count" value="2">
  <input type="hidden" name="expires" value="%(expires)d">
  <input type="hidden" name="signature" value="%(signature)s">
  <input type="file" id="file" name="file1">
  <input type="submit" id="submit" value="Upload">
</form></body></html>''' % {'action': proxy_base(api) + path, 'redirect': redirect,
                            'expires': expires, 'signature': signature}
    pages.pages['/done.html'] = '''<!doctype html><html><body>
<p>Status: <span id="status"></span></p><p>Message: <span id="message"></span></p>
<script>
  const q = new URLSearchParams(location.search);
  document.getElementById('status').textContent = q.get('status');
  document.getElementById('message').textContent = '[' + q.get('message') + ']';
</script></body></html>'''
    content = b'uploaded from a real browser \xe2\x9c\x93\n' * 100
    local = tmp_path / 'hello.txt'
    local.write_bytes(content)

    driver.get(pages.origin + '/upload.html')
    driver.find_element(By.ID, 'file').send_keys(str(local))
    driver.find_element(By.ID, 'submit').click()
    WebDriverWait(driver, WAIT).until(lambda d: d.current_url.startswith(redirect))
    shows(driver, 'status', '201')
    shows(driver, 'message', '[]')
    assert driver.current_url == redirect + '?status=201&message='
    driver.save_screenshot(str(tmp_path / 'step1-formpost.png'))
    status, headers, body = api.request('GET', '/%s/up/hello.txt' % cont)
    assert (status, body) == (200, content)
    assert headers['content-type'] == 'text/plain'


def test_1b_formpost_from_fetch_reads_the_answer_through_cors(api, pages, driver, tmp_path):
    """The same form sent by a script (fetch + FormData, no redirect): the
    page reads FormPost's answer, which needs its CORS headers."""
    cont = api.put_container(unique('br-xhr'), {
        'X-Container-Meta-Temp-URL-Key': KEY,
        'X-Container-Meta-Access-Control-Allow-Origin': pages.origin})
    path = '%s/%s/' % (api.account_path, cont)
    expires = int(time.time()) + 600
    fields = {'redirect': '', 'max_file_size': '1000', 'max_file_count': '1',
              'expires': str(expires), 'signature': sign_form(KEY, path, '', 1000, 1, expires)}
    pages.pages['/script-upload.html'] = '''<!doctype html><html><body>
<input type="file" id="file"><button id="send">Send</button>
<p>answer: <span id="answer"></span></p><p>too big: <span id="big"></span></p>
<script>
const fields = %(fields)s, action = %(action)s;
function form(file) {
  const data = new FormData();
  for (const [k, v] of Object.entries(fields)) data.append(k, v);
  data.append('file1', file);
  return data;
}
async function send(id, file) {
  const el = document.getElementById(id);
  try {
    const resp = await fetch(action, {method: 'POST', body: form(file)});
    el.textContent = resp.status + ' ' + (await resp.text()).replace(/\\r\\n/g, ' | ');
  } catch (err) {
    el.textContent = 'blocked (' + err.name + ')';
  }
}
document.getElementById('send').onclick = async () => {
  await send('answer', document.getElementById('file').files[0]);
  await send('big', new File([new Uint8Array(5000)], 'big.bin'));
};
</script></body></html>''' % {'fields': json.dumps(fields),
                               'action': json.dumps(proxy_base(api) + path)}
    local = tmp_path / 'note.txt'
    local.write_bytes(b'sent by fetch')
    driver.get(pages.origin + '/script-upload.html')
    driver.find_element(By.ID, 'file').send_keys(str(local))
    driver.find_element(By.ID, 'send').click()
    shows(driver, 'answer', '201 201 Created')
    shows(driver, 'big', '400 FormPost: max_file_size exceeded')
    driver.save_screenshot(str(tmp_path / 'step1b-formpost-fetch.png'))
    assert api.request('GET', '/%s/note.txt' % cont)[::2] == (200, b'sent by fetch')
    assert api.request('HEAD', '/%s/big.bin' % cont)[0] == 404


def test_2_fetch_across_origins_with_cors(api, pages, driver, tmp_path, cluster):
    public = api.put_container(unique('br-pub'), {
        'X-Container-Read': '.r:*',
        'X-Container-Meta-Access-Control-Allow-Origin': pages.origin})
    private = api.put_container(unique('br-priv'), {
        'X-Container-Meta-Access-Control-Allow-Origin': pages.origin,
        'X-Container-Meta-Access-Control-Expose-Headers': 'X-Foo-Echo'})
    denied = api.put_container(unique('br-deny'), {
        'X-Container-Read': '.r:*',
        'X-Container-Meta-Access-Control-Allow-Origin': 'http://elsewhere.example'})
    api.put_object(public, 'hello.txt', b'public hello', {'Content-Type': 'text/plain'})
    api.put_object(private, 'secret.txt', b'private hello', {'Content-Type': 'text/plain'})
    api.put_object(denied, 'hidden.txt', b'not for you', {'Content-Type': 'text/plain'})
    base = proxy_base(api) + api.account_path
    pages.pages['/cors.html'] = '''<!doctype html><html><body>
<p>simple: <span id="simple"></span></p>
<p>preflighted: <span id="preflighted"></span></p>
<p>denied: <span id="denied"></span></p>
<p>bad token: <span id="expired"></span></p>
<script>
async function run(id, url, options) {
  const el = document.getElementById(id);
  try {
    const resp = await fetch(url, options);
    el.textContent = resp.status + ' ' + (await resp.text());
  } catch (err) {
    el.textContent = 'blocked (' + err.name + ')';
  }
}
run('simple', %(simple)s, {});
run('preflighted', %(private)s, {headers: {'X-Auth-Token': %(token)s, 'X-Foo': 'bar'}});
run('denied', %(denied)s, {});
run('expired', %(private)s, {headers: {'X-Auth-Token': 'AUTH_tkexpired'}});
</script></body></html>''' % {
        'simple': json.dumps('%s/%s/hello.txt' % (base, public)),
        'private': json.dumps('%s/%s/secret.txt' % (base, private)),
        'denied': json.dumps('%s/%s/hidden.txt' % (base, denied)),
        'token': json.dumps(api.token)}
    driver.get(pages.origin + '/cors.html')
    shows(driver, 'simple', '200 public hello')
    shows(driver, 'preflighted', '200 private hello')
    shows(driver, 'denied', 'blocked (TypeError)')
    # A refused token is a 401 the page can read (so it can log in again).
    shows(driver, 'expired', '401 Invalid or expired token')
    driver.save_screenshot(str(tmp_path / 'step2-cors.png'))
    # The preflighted GET did go through an OPTIONS the proxy allowed.
    log = cluster.proxy.log_path
    wanted = 'OPTIONS %s/%s/secret.txt 200' % (api.account_path, private)

    def preflight_logged(_drv):
        with open(log, errors='replace') as f:
            return wanted in f.read()
    WebDriverWait(driver, WAIT).until(preflight_logged)


def test_3_tempurl_image_renders(api, pages, driver, tmp_path):
    cont = api.put_container(unique('br-img'), {'X-Container-Meta-Temp-URL-Key': KEY})
    api.put_object(cont, 'dot.png', png(7, 5), {'Content-Type': 'image/png'})
    path = '%s/%s/dot.png' % (api.account_path, cont)
    expires = int(time.time()) + 600
    sig = sign(KEY.encode(), 'GET', expires, path.encode(), 'sha256').hex()
    url = '%s%s?temp_url_sig=%s&temp_url_expires=%d&inline' % (proxy_base(api), path, sig,
                                                                expires)
    pages.pages['/image.html'] = '''<!doctype html><html><body>
<img id="img" src="%s" style="width:140px;height:100px;image-rendering:pixelated">
<p>rendered: <span id="result"></span></p>
<script>
  const img = document.getElementById('img'), out = document.getElementById('result');
  function report() { out.textContent = img.naturalWidth + 'x' + img.naturalHeight; }
  img.onload = report;
  img.onerror = () => { out.textContent = 'error'; };
  if (img.complete && img.naturalWidth) report();
</script></body></html>''' % url
    driver.get(pages.origin + '/image.html')
    shows(driver, 'result', '7x5')
    driver.save_screenshot(str(tmp_path / 'step3-tempurl-image.png'))


def test_4_static_web(api, driver, tmp_path):
    web = api.put_container(unique('br-web'), {
        'X-Container-Read': '.r:*,.rlistings',
        'X-Container-Meta-Web-Index': 'index.html',
        'X-Container-Meta-Web-Listings': 'true',
        'X-Container-Meta-Web-Error': 'error.html'})
    html_type = {'Content-Type': 'text/html'}
    api.put_object(web, 'index.html', b'<html><body><h1 id="title">Welcome home</h1>'
                   b'<a id="docs" href="docs/">docs</a></body></html>', html_type)
    api.put_object(web, 'docs/a.txt', b'a', {'Content-Type': 'text/plain'})
    api.put_object(web, 'docs/b.txt', b'b', {'Content-Type': 'text/plain'})
    api.put_object(web, '404error.html', b'<html><body><h1 id="title">Nothing here</h1>'
                   b'</body></html>', html_type)
    site = '%s%s/%s/' % (proxy_base(api), api.account_path, quote(web))

    driver.get(site)
    shows(driver, 'title', 'Welcome home')
    driver.save_screenshot(str(tmp_path / 'step4a-static-index.png'))

    driver.find_element(By.ID, 'docs').click()
    WebDriverWait(driver, WAIT).until(lambda d: d.current_url == site + 'docs/')
    listing = 'Listing of %s/%s/docs/' % (api.account_path, web)
    shows(driver, 'title', listing)
    links = [a.text for a in driver.find_elements(By.CSS_SELECTOR, 'td.colname a')]
    assert links == ['../', 'a.txt', 'b.txt']
    driver.save_screenshot(str(tmp_path / 'step4b-static-listing.png'))

    driver.get(site + 'no-such-page.html')
    shows(driver, 'title', 'Nothing here')
    driver.save_screenshot(str(tmp_path / 'step4c-static-error.png'))
