"""Auth and storage URLs: hostile and mistyped ones get one clear line (binding: InvalidURL; CLI: exit 2)."""
import http.server
import io
import threading

import pytest

from swiftlike.client import ClientException, Connection, InvalidURL, cli
from swiftlike.client.transport import Transport
from swiftlike.client.urls import check_url


@pytest.fixture(autouse=True)
def _no_credentials_from_env(monkeypatch):
    for name in ('ST_AUTH', 'ST_USER', 'ST_KEY', 'OS_STORAGE_URL', 'OS_AUTH_TOKEN'):
        monkeypatch.delenv(name, raising=False)


GOOD = ['http://127.0.0.1:8080/auth/v1.0', 'https://swift.example.com/auth/v1.0', 'HTTP://h/auth',
        'http://[::1]:8080/v1/AUTH_test', 'http://user:pw@h:1/x?y=1', 'http://h']

BAD = [
    ('127.0.0.1:8080/auth/v1.0', "must start with http:// or https://, got '127.0.0.1:8080/auth/v1.0' "
                                 "(did you mean 'http://127.0.0.1:8080/auth/v1.0'?)"),
    ('localhost/auth/v1.0', "(did you mean 'http://localhost/auth/v1.0'?)"),
    ('ftp://h/auth/v1.0', "must start with http:// or https://, got 'ftp://h/auth/v1.0'"),
    ('file:///etc/passwd', 'must start with http:// or https://'),
    ('javascript://h/x', 'must start with http:// or https://'),
    ('/v1/AUTH_test', "must start with http:// or https://, got '/v1/AUTH_test'"),
    ('//h/auth', 'must start with http:// or https://'),
    ('http:/h/auth', 'must start with http:// or https://'),
    ('http://', "has no host name: 'http://'"),
    ('http:///auth/v1.0', 'has no host name'),
    ('http://:8080/auth', 'has no host name'),
    ('http://[::1/auth', 'is not a valid URL (Invalid IPv6 URL)'),
    ('http://h:99999/auth', 'is not a valid URL (Port out of range 0-65535)'),
    ('http://h:-1/auth', 'is not a valid URL'),
    ('http://h:abc/auth', 'is not a valid URL'),
    ('http://h:0/auth', 'has port 0'),
    ('http://h/a b', 'must not contain spaces or control characters'),
    ('http://h/auth\r\nX-Evil: 1', 'must not contain spaces or control characters'),
    ('http://h/\x00', 'must not contain spaces or control characters'),
    (' http://h/auth', 'must not contain spaces or control characters'),
    ('http://h/\u00e9', 'must be ASCII'),
    ('', 'is empty'),
    (b'http://h/auth', 'must be text (str), got bytes'),
    (8080, 'must be a string, got int'),
    (['http://h'], 'must be a string, got list'),
]


@pytest.mark.parametrize('url', GOOD)
def test_usable_urls_pass(url):
    assert check_url(url) == url


@pytest.mark.parametrize('url,message', BAD)
def test_unusable_urls_say_why_in_one_line(url, message):
    with pytest.raises(InvalidURL) as info:
        check_url(url, 'auth URL')
    text = str(info.value)
    assert text.startswith('auth URL ') and message in text
    assert '\n' not in text and '\r' not in text
    assert isinstance(info.value, ClientException) and isinstance(info.value, ValueError)


@pytest.mark.parametrize('url,message', [(u, m) for u, m in BAD if u != ''])   # '' means "none given"
def test_connection_refuses_them_before_any_request(url, message):
    with pytest.raises(InvalidURL, match='auth URL'):
        Connection(url, 'u', 'k')
    with pytest.raises(InvalidURL, match='storage URL'):
        Connection(preauthurl=url, preauthtoken='t')
    with pytest.raises(InvalidURL, match='storage URL'):
        Connection(os_options={'object_storage_url': url, 'auth_token': 't'})


def test_connection_without_urls_is_still_allowed():
    conn = Connection()               # as in python-swiftclient: URLs may be set later
    assert conn.authurl is None and conn.url is None


def test_a_url_set_later_is_checked_when_used():
    conn = Connection(preauthurl='http://127.0.0.1:1/v1/AUTH_t', preauthtoken='t', retries=0)
    conn.url = '127.0.0.1:1/v1/AUTH_t'
    with pytest.raises(InvalidURL, match="must start with http:// or https://"):
        conn.head_account()
    with pytest.raises(InvalidURL, match='URL has no host name'):
        conn.get_capabilities('http:///info')
    with pytest.raises(InvalidURL):
        Transport().request('GET', 'http://h:99999/x', {})


class AuthHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    storage_url = None

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header('X-Storage-Url', self.server.storage_url)
        self.send_header('X-Auth-Token', 'tok')
        self.send_header('Content-Length', '0')
        self.end_headers()


@pytest.mark.parametrize('storage_url', ['ftp://h/v1/AUTH_t', '/v1/AUTH_t', 'h:8080/v1/AUTH_t', 'http://'])
def test_an_unusable_storage_url_from_the_auth_server_is_a_clear_error(storage_url):
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), AuthHandler)
    server.daemon_threads = True
    server.storage_url = storage_url
    thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.02}, daemon=True)
    thread.start()
    try:
        conn = Connection('http://127.0.0.1:%d/auth/v1.0' % server.server_address[1], 'u', 'k', retries=0)
        with pytest.raises(ClientException) as info:
            conn.head_account()
        assert str(info.value).startswith('Auth GET failed: the X-Storage-Url it answered ')
        assert repr(storage_url) in str(info.value)
        conn.close()
    finally:
        server.shutdown()
        server.server_close()


# -- the CLI: a usage error (exit 2) naming the option ---------------------------------------------------------

def run(argv, env=None):
    out, err = io.StringIO(), io.StringIO()
    status = cli.main(argv, stdout=out, stderr=err, stdin=io.StringIO())
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize('url,message', [(u, m) for u, m in BAD if isinstance(u, str) and u])
def test_cli_auth_url_is_a_usage_error(url, message):
    status, out, err = run(['-A', url, '-U', 'u:v', '-K', 'k', 'list'])
    assert status == 2 and out == ''
    assert err.startswith('swiftlike list: error: -A/--auth (or ST_AUTH): auth URL ')
    assert message in err
    assert len(err.splitlines()) == 1 and 'Traceback' not in err


def test_cli_storage_url_is_a_usage_error():
    status, out, err = run(['stat', '--os-storage-url', '127.0.0.1:8080/v1/AUTH_test', '--os-auth-token', 't'])
    assert status == 2
    assert err == ("swiftlike stat: error: --os-storage-url (or OS_STORAGE_URL): storage URL must start with "
                   "http:// or https://, got '127.0.0.1:8080/v1/AUTH_test' "
                   "(did you mean 'http://127.0.0.1:8080/v1/AUTH_test'?)\n")


def test_cli_url_from_the_environment_too(monkeypatch):
    monkeypatch.setenv('ST_AUTH', 'ftp://h/auth/v1.0')
    status, _, err = run(['-U', 'u:v', '-K', 'k', 'upload', 'c', 'f'])
    assert status == 2
    assert err == ("swiftlike upload: error: -A/--auth (or ST_AUTH): auth URL must start with http:// or "
                   "https://, got 'ftp://h/auth/v1.0'\n")
    status, _, err = run(['auth', '--credentials', '-U', 'u:v', '-K', 'k'])
    assert status == 2 and 'auth URL must start with http://' in err
