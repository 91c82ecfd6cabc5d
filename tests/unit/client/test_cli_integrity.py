"""The CLI refuses corrupt transfers: a download whose bytes do not match the ETag never lands as a file, and an
upload whose ETag answer does not match the bytes sent is reported (scripted loopback server)."""
import hashlib
import io
import os

from swiftlike.client import cli
from tests.unit.client.test_retries import server  # noqa: F401 - fixture


def run(server, argv, out=None):
    out, err = out or io.StringIO(), io.StringIO()
    status = cli.main(['-A', server.url + '/auth/v1.0', '-U', 't:u', '-K', 'k', '--retries', '0'] + argv,
                      stdout=out, stderr=err, stdin=io.StringIO())
    return status, out.getvalue() if isinstance(out, io.StringIO) else None, err.getvalue()


def test_download_with_wrong_md5_leaves_no_file(server, tmp_path):
    data = b'the real bytes'
    server.script('GET', '/v1/AUTH_t/c/bad', ('status', 200, {'Etag': hashlib.md5(b'other').hexdigest()}, data))
    server.script('GET', '/v1/AUTH_t/c/good', ('status', 200, {'Etag': hashlib.md5(data).hexdigest()}, data))
    status, out, err = run(server, ['download', 'c', 'bad', 'good', '-D', str(tmp_path), '-t', '1'])
    assert status == 1
    assert out == 'c/good\n'
    assert err == 'swiftlike: download c/bad failed: MD5 mismatch: received data has %s, the ETag says %s\n' % (
        hashlib.md5(data).hexdigest(), hashlib.md5(b'other').hexdigest())
    assert sorted(os.listdir(tmp_path)) == ['good']          # no 'bad', no leftover temporary file
    assert (tmp_path / 'good').read_bytes() == data


def test_download_to_stdout_still_reports_a_mismatch(server):
    server.script('GET', '/v1/AUTH_t/c/bad', ('status', 200, {'Etag': 'a' * 32}, b'xyz'))
    stdout = io.TextIOWrapper(io.BytesIO())
    status, _, err = run(server, ['download', 'c', 'bad', '-o', '-'], out=stdout)
    assert status == 1 and 'MD5 mismatch' in err
    assert stdout.buffer.getvalue() == b'xyz'      # already streamed out; the exit status tells it was bad


def test_upload_with_a_wrong_etag_answer_is_a_named_failure(server, tmp_path):
    path = tmp_path / 'f.txt'
    path.write_bytes(b'abc')
    server.script('HEAD', '/v1/AUTH_t/c/f.txt', ('status', 404, {}, b''))
    server.script('PUT', '/v1/AUTH_t/c/f.txt', ('status', 201, {'Etag': 'b' * 32}, b''))
    status, out, err = run(server, ['upload', 'c', str(path), '--object-name', 'f.txt'])
    assert status == 1 and out == ''
    assert err.startswith('swiftlike: upload %s -> c/f.txt failed: Object PUT failed: ETag mismatch: sent %s, '
                          'server stored %s' % (path, hashlib.md5(b'abc').hexdigest(), 'b' * 32))


def test_acl_flags_are_refused_when_info_names_no_acl_aware_auth(server):
    server.script('GET', '/info', ('status', 200, {}, b'{"swift": {"version": "x"}}'))
    status, out, err = run(server, ['post', 'c', '-r', '.r:*'])
    assert status == 1
    assert err == ('swiftlike: post c failed: the cluster does not support container ACLs (its /info names no '
                   'ACL-aware auth); nothing was changed\n')
    assert [r[0] for r in server.requests] == ['GET']          # only /info: no POST was sent


def test_acl_flags_are_sent_when_info_names_tempauth(server):
    server.script('GET', '/info', ('status', 200, {}, b'{"swift": {}, "tempauth": {"account_acls": true}}'))
    server.script('POST', '/v1/AUTH_t/c', ('status', 204, {}, b''))
    status, out, err = run(server, ['post', 'c', '-r', '.r:*', '-w', 'a:b'])
    assert (status, err) == (0, '')
    method, path, headers, _ = server.requests[-1]
    assert (method, path, headers['X-Container-Read'], headers['X-Container-Write']) == (
        'POST', '/v1/AUTH_t/c', '.r:*', 'a:b')
