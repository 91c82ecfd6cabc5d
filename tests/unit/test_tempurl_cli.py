"""`swiftlike-tempurl`: its URLs match python-swiftclient's generate_temp_url
(the reference for `swift tempurl`) and the middleware accepts them."""
import time
from urllib.parse import parse_qsl, urlsplit

import pytest

from swiftlike.cli import tempurl as cli
from swiftlike.middleware.tempurl_sig import check_expires, parse_signature, sign

swiftclient_utils = pytest.importorskip('swiftclient.utils')


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out.strip(), err.strip()


@pytest.mark.parametrize('argv,kwargs', [
    (['GET', '1700000000', '/v1/AUTH_a/c/o', 'k', '--absolute'], {}),
    (['PUT', '1700000000', '/v1/AUTH_a/c/o', 'k', '--absolute', '--digest', 'sha1'],
     {'digest': 'sha1'}),
    (['GET', '1700000000', '/v1/AUTH_a/c/o', 'k', '--absolute', '--digest', 'sha512'],
     {'digest': 'sha512'}),
    (['GET', '1700000000', '/v1/AUTH_a/c/pre', 'k', '--absolute', '--prefix-based'],
     {'prefix': True}),
    (['GET', '1700000000', '/v1/AUTH_a/c/', 'k', '--absolute', '--prefix-based'],
     {'prefix': True}),
    (['GET', '1700000000', '/v1/AUTH_a/c/o', 'k', '--absolute', '--iso8601'],
     {'iso8601': True}),
    (['GET', '1700000000', '/v1/AUTH_a/c/o', 'k', '--absolute', '--ip-range', '10.0.0.0/8'],
     {'ip_range': '10.0.0.0/8'}),
    (['get', '2023-11-14T22:13:20Z', '/v1/AUTH_a/c/o', 'k'], {}),
])
def test_same_as_swiftclient(capsys, argv, kwargs):
    code, out, _err = run(capsys, *argv)
    assert code == 0
    expected = swiftclient_utils.generate_temp_url(argv[2], 1700000000, argv[3],
                                                   argv[0].upper(), absolute=True, **kwargs)
    assert out == expected


def test_relative_time_and_url(capsys):
    before = int(time.time())
    code, out, _ = run(capsys, 'GET', '2h', 'http://h:8080/v1/AUTH_a/c/caf\u00e9', 'k')
    assert code == 0
    parts = urlsplit(out)
    assert parts.netloc == 'h:8080' and parts.path == '/v1/AUTH_a/c/caf%C3%A9'
    query = dict(parse_qsl(parts.query))
    expires = check_expires(query['temp_url_expires'])
    assert before + 7200 <= expires <= int(time.time()) + 7200
    digest, raw = parse_signature(query['temp_url_sig'])
    assert raw == sign(b'k', 'GET', expires, '/v1/AUTH_a/c/caf\u00e9'.encode('utf-8'), digest)


@pytest.mark.parametrize('argv,message', [
    (['GET', 'soon', '/v1/a/c/o', 'k'], 'time must be'),
    (['GET', '10m', '/v1/a/c/o', 'k', '--absolute'], 'time must be'),
    (['GET', '60', '/v1/a/c', 'k'], 'path must be'),
    (['GET', '60', '/v1/a/c/', 'k'], 'path must be'),
    (['GET', '60', '/v2/a/c/o', 'k'], 'path must be'),
    (['GET', '60', 'a/c/o', 'k'], 'path must be'),
    (['GET', '60', '/v1/a/c', 'k', '--prefix-based'], 'path must be'),
    (['GET', '60', 'http://h/v1/a/c/o?x=1', 'k'], 'URL'),
    (['GET', '60', '/v1/a/c/o', 'k', '--ip-range', '10.0.0.1/8'], '--ip-range'),
    (['GET', '60', '/v1/a/c/o', 'k', '--ip-range', 'nope'], '--ip-range'),
    (['GE T', '60', '/v1/a/c/o', 'k'], 'method'),
    (['GET', '60', '/v1/a/c/o', ''], 'key'),
])
def test_bad_arguments(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and not out and message in err


def test_bad_digest_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(['GET', '60', '/v1/a/c/o', 'k', '--digest', 'md5'])
    assert exit_info.value.code == 2
