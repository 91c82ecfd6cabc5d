"""The Connection binding against a real cluster: round trips, listings, metadata, copies, errors, threads."""
import concurrent.futures
import hashlib
import io
import json
import os
import subprocess
import sys
import threading
import uuid

import pytest

from swiftlike.client import ClientException
from tests.functional.test_client_support import bulk_container, conn, container, endpoint  # noqa: F401


@pytest.mark.parametrize('size', [0, 1, 1 << 20])
def test_round_trip_bytes(conn, container, size):
    data = os.urandom(size)
    etag = conn.put_object(container, 'obj-%d' % size, data)
    assert etag == hashlib.md5(data).hexdigest()
    headers, body = conn.get_object(container, 'obj-%d' % size)
    assert body == data
    assert headers['etag'].strip('"') == etag and headers['content-length'] == str(size)
    assert conn.head_object(container, 'obj-%d' % size)['etag'].strip('"') == etag


def test_round_trip_file_iterator_and_stream(conn, container, tmp_path):
    path = tmp_path / 'f'
    data = os.urandom(300000)
    path.write_bytes(data)
    with open(path, 'rb') as f:
        assert conn.put_object(container, 'from-file', f) == hashlib.md5(data).hexdigest()
    pieces = [data[i:i + 7000] for i in range(0, len(data), 7000)]
    assert conn.put_object(container, 'from-iter', iter(pieces)) == hashlib.md5(data).hexdigest()
    _, body = conn.get_object(container, 'from-iter', resp_chunk_size=65536)
    chunks = list(body)
    assert b''.join(chunks) == data and max(len(c) for c in chunks) <= 65536


def test_round_trip_100_mib_streamed_in_little_memory(endpoint, tmp_path):
    """Upload a 100 MiB file and stream it back in a separate process; its peak RSS shows no copy was held."""
    script = r'''
import hashlib, json, os, resource, sys, uuid
from swiftlike.client import Connection
path, auth, user, key = sys.argv[1:5]
md5 = hashlib.md5()
with open(path, 'wb') as f:
    for _ in range(100):
        block = os.urandom(1 << 20)
        md5.update(block)
        f.write(block)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
conn = Connection(auth, user, key, starting_backoff=0.2)
container = 'client-big-' + uuid.uuid4().hex[:8]
conn.put_container(container)
with open(path, 'rb') as f:
    etag = conn.put_object(container, 'big', f)
headers, body = conn.get_object(container, 'big', resp_chunk_size=1 << 20)
down = hashlib.md5()
size = 0
for chunk in body:
    down.update(chunk)
    size += len(chunk)
conn.delete_object(container, 'big')
conn.delete_container(container)
print(json.dumps({'local': md5.hexdigest(), 'etag': etag, 'down': down.hexdigest(), 'size': size,
                  'header_etag': headers['etag'].strip('"'),
                  'before_mib': before,
                  'maxrss_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))
'''
    done = subprocess.run([sys.executable, '-c', script, str(tmp_path / 'big'), endpoint.auth_url, endpoint.user,
                           endpoint.key], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result['size'] == 100 << 20
    assert result['local'] == result['etag'] == result['down'] == result['header_etag']
    # What the round trip added to the peak (the interpreter and imports
    # before it vary with the machine): a held copy of the object alone
    # would be 100 MiB.
    assert result['maxrss_mib'] - result['before_mib'] < 64, result


def test_ranges(conn, container):
    data = bytes(range(256)) * 4
    conn.put_object(container, 'r', data)
    headers, body = conn.get_object(container, 'r', headers={'Range': 'bytes=10-19'})
    assert body == data[10:20] and headers['content-range'] == 'bytes 10-19/1024'
    _, body = conn.get_object(container, 'r', headers={'Range': 'bytes=-5'})
    assert body == data[-5:]


def test_put_with_wrong_etag_is_refused_and_nothing_is_stored(conn, container):
    with pytest.raises(ClientException) as info:
        conn.put_object(container, 'bad', b'data', etag='0' * 32)
    assert info.value.http_status == 422
    with pytest.raises(ClientException) as info:
        conn.head_object(container, 'bad')
    assert info.value.http_status == 404


def test_errors_carry_status_reason_body_and_transaction_id(conn, container):
    with pytest.raises(ClientException) as info:
        conn.get_object(container, 'missing')
    err = info.value
    assert err.http_status == 404 and err.http_reason == 'Not Found'
    assert err.transaction_id and err.transaction_id.startswith('tx')
    assert err.http_path.endswith('/%s/missing' % container)
    assert '404 Not Found' in str(err) and err.transaction_id in str(err)


def test_bad_credentials(endpoint):
    bad = endpoint.connect(retries=0)
    bad.key = 'wrong'
    with pytest.raises(ClientException) as info:
        bad.head_account()
    assert info.value.http_status == 401 and 'Auth GET failed' in str(info.value)


def test_metadata_on_account_container_object(conn, container):
    conn.post_account({'X-Account-Meta-Client-Test': 'yes'})
    assert conn.head_account()['x-account-meta-client-test'] == 'yes'
    conn.post_account({'X-Remove-Account-Meta-Client-Test': 'x'})
    assert 'x-account-meta-client-test' not in conn.head_account()
    conn.post_container(container, {'X-Container-Meta-Color': 'blue'})
    assert conn.head_container(container)['x-container-meta-color'] == 'blue'
    conn.put_object(container, 'o', b'x', headers={'X-Object-Meta-A': '1'}, content_type='text/x-test')
    head = conn.head_object(container, 'o')
    assert head['x-object-meta-a'] == '1' and head['content-type'] == 'text/x-test'
    conn.post_object(container, 'o', {'X-Object-Meta-B': '2'})
    head = conn.head_object(container, 'o')
    assert head['x-object-meta-b'] == '2' and 'x-object-meta-a' not in head   # POST replaces, as in Swift


def test_copy_object(conn, container):
    conn.put_object(container, 'src', b'copy me', headers={'X-Object-Meta-Old': 'o'})
    conn.copy_object(container, 'src', '/%s/dst' % container, headers={'X-Object-Meta-New': 'n'})
    headers, body = conn.get_object(container, 'dst')
    assert body == b'copy me'
    assert headers['x-object-meta-old'] == 'o' and headers['x-object-meta-new'] == 'n'
    conn.copy_object(container, 'src', '/%s/fresh' % container, headers={'X-Object-Meta-New': 'n'},
                     fresh_metadata=True)
    head = conn.head_object(container, 'fresh')
    assert 'x-object-meta-old' not in head and head['x-object-meta-new'] == 'n'


def test_delete_object_and_container(conn):
    name = 'client-del-' + uuid.uuid4().hex[:8]
    conn.put_container(name)
    conn.put_object(name, 'o', b'x')
    with pytest.raises(ClientException) as info:
        conn.delete_container(name)
    assert info.value.http_status == 409
    conn.delete_object(name, 'o')
    with pytest.raises(ClientException) as info:
        conn.delete_object(name, 'o')
    assert info.value.http_status == 404
    conn.delete_container(name)
    with pytest.raises(ClientException) as info:
        conn.head_container(name)
    assert info.value.http_status == 404


def test_listings_with_prefix_delimiter_marker_and_account(conn, container):
    for name in ('a/1', 'a/2', 'b/1', 'c', 'unicode-\u00e9\u6f22'):
        conn.put_object(container, name, b'x')
    _, listing = conn.get_container(container, delimiter='/')
    assert [o.get('name', o.get('subdir')) for o in listing] == ['a/', 'b/', 'c', 'unicode-\u00e9\u6f22']
    _, listing = conn.get_container(container, prefix='a/')
    assert [o['name'] for o in listing] == ['a/1', 'a/2']
    assert listing[0]['hash'] == hashlib.md5(b'x').hexdigest() and listing[0]['bytes'] == 1
    _, listing = conn.get_container(container, marker='a/2', limit=2)
    assert [o['name'] for o in listing] == ['b/1', 'c']
    _, paged = conn.get_container(container, limit=2, full_listing=True)
    assert len(paged) == 5
    headers, containers = conn.get_account(prefix=container)
    assert [c['name'] for c in containers] == [container]
    assert int(headers['x-account-container-count']) >= 1


def test_full_listing_of_more_than_10000_objects_made_by_32_threads(conn, bulk_container):
    """32 threads share one Connection to create 10,050 objects; full_listing pages past the 10,000 limit."""
    container = bulk_container
    count = 10050
    names = ['obj-%05d' % i for i in range(count)]
    failures = []
    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        for future in [pool.submit(conn.put_object, container, name, b'') for name in names]:
            try:
                future.result()
            except ClientException as err:
                failures.append(err)
    assert not failures
    headers, listing = conn.get_container(container, full_listing=True)
    assert [o['name'] for o in listing] == names
    assert int(headers['x-container-object-count']) == count
    _, first_page = conn.get_container(container)
    assert len(first_page) == 10000                 # one request alone stops at the server's limit


def test_one_connection_shared_by_threads_reauthenticates_once(endpoint, container):
    conn = endpoint.connect()
    conn.head_account()
    assert conn.auth_count == 1
    conn.token = 'AUTH_tk' + 'bogus' * 6          # as if the token expired: every thread gets a 401
    errors = []
    barrier = threading.Barrier(12)

    def work(i):
        barrier.wait()
        try:
            for j in range(5):
                name = 't%d-%d' % (i, j)
                conn.put_object(container, name, name.encode())
                assert conn.get_object(container, name)[1] == name.encode()
        except Exception as err:  # noqa: BLE001
            errors.append(err)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert conn.auth_count == 2
    conn.close()


def test_capabilities(conn):
    info = conn.get_capabilities()
    assert info['swift']['container_listing_limit'] >= 1


def test_put_object_from_bytesio_retries_keep_position(conn, container):
    buf = io.BytesIO(b'headerBODY')
    buf.read(6)
    conn.put_object(container, 'tail', buf)
    assert conn.get_object(container, 'tail')[1] == b'BODY'


def test_same_return_shapes_as_python_swiftclient(endpoint, conn, container):
    """Code written for python-swiftclient's Connection gets the same shapes from ours."""
    import swiftclient
    theirs = swiftclient.Connection(endpoint.auth_url, endpoint.user, endpoint.key, retries=1)
    mine_etag = conn.put_object(container, 'mine', b'abc', headers={'X-Object-Meta-K': 'v'},
                                content_type='text/plain')
    their_etag = theirs.put_object(container, 'theirs', b'abc', headers={'X-Object-Meta-K': 'v'},
                                   content_type='text/plain')
    assert mine_etag == their_etag
    volatile = {'date', 'x-trans-id', 'x-openstack-request-id', 'last-modified', 'x-timestamp'}

    def same(a, b):
        if isinstance(a, dict):
            assert set(a) == set(b)
            return all(same(a[k], b[k]) for k in a if k not in volatile)
        return type(a) is type(b)
    for mine, their in [
            (conn.head_object(container, 'mine'), theirs.head_object(container, 'theirs')),
            (conn.get_object(container, 'mine'), theirs.get_object(container, 'theirs')),
            (conn.head_container(container), theirs.head_container(container)),
            (conn.head_account(), theirs.head_account())]:
        if isinstance(mine, tuple):
            assert same(mine[0], their[0]) and mine[1] == their[1]
        else:
            assert same(mine, their)
    mine_headers, mine_listing = conn.get_container(container)
    their_headers, their_listing = theirs.get_container(container)
    assert mine_listing == their_listing and set(mine_headers) == set(their_headers)
    _, body = conn.get_object(container, 'mine', resp_chunk_size=2)
    _, their_body = theirs.get_object(container, 'theirs', resp_chunk_size=2)
    assert list(body) == list(their_body) == [b'ab', b'c']
    with pytest.raises(ClientException) as mine_err:
        conn.get_object(container, 'nope')
    with pytest.raises(swiftclient.ClientException) as their_err:
        theirs.get_object(container, 'nope')
    for attr in ('http_status', 'http_reason', 'http_response_content'):
        assert getattr(mine_err.value, attr) == getattr(their_err.value, attr)
    theirs.close()
