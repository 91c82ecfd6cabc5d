"""Pure parts of the client: error text, progress rendering, request bodies, upload/download/copy planning."""
import io
import os

import pytest

from swiftlike.client.commands import copy, download, listing, post, stat, upload
from swiftlike.client.commands.common import UsageError, build_headers
from swiftlike.client.exceptions import ClientException
from swiftlike.client.progress import Progress, format_eta, human_size
from swiftlike.client.transport import BodySource


# -- ClientException -------------------------------------------------------------------------------------------

def make_error(status=404, reason='Not Found', body=b'<html><h1>Not Found</h1><p>Gone away.</p></html>',
               headers=None):
    headers = {'x-trans-id': 'tx123'} if headers is None else headers
    return ClientException.from_response('Object', 'GET', ('http', 'h', 8080, '/v1/AUTH_t/c/o', 'a=1'),
                                         status, reason, headers, body)


def test_exception_carries_status_reason_body_and_txn():
    err = make_error()
    assert (err.http_status, err.reason, err.http_reason, err.transaction_id) == (404, 'Not Found', 'Not Found',
                                                                                   'tx123')
    assert err.body == err.http_response_content == b'<html><h1>Not Found</h1><p>Gone away.</p></html>'
    assert str(err) == 'Object GET failed http://h:8080/v1/AUTH_t/c/o?a=1: 404 Not Found: Gone away. (txn: tx123)'
    assert err.short() == '404 Not Found: Gone away. (txn: tx123)'


def test_exception_takes_openstack_request_id_too():
    err = make_error(headers={'x-openstack-request-id': 'req-9'})
    assert err.transaction_id == 'req-9'


def test_exception_keeps_only_an_excerpt_of_huge_bodies():
    err = make_error(status=500, reason='Internal Error', body=b'x' * 100000)
    assert len(err.body) == 4096
    assert str(err).endswith('x... (txn: tx123)')
    assert len(str(err)) < 500


def test_exception_without_response():
    err = ClientException('Auth GET failed: connection refused')
    assert str(err) == 'Auth GET failed: connection refused'
    assert err.short() == 'Auth GET failed: connection refused'
    assert err.http_status is None and err.transaction_id is None


# -- progress ----------------------------------------------------------------------------------------------------

class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_human_sizes_and_eta():
    assert [human_size(n) for n in (0, 1023, 1024, 1536, 5 << 20, 3 << 40)] == [
        '0 B', '1023 B', '1.0 KiB', '1.5 KiB', '5.0 MiB', '3.0 TiB']
    assert [format_eta(s) for s in (None, 0, 59.6, 61, 3600 * 2 + 5)] == ['--:--', '0:00', '1:00', '1:01',
                                                                         '2:00:05']


def test_progress_render_with_known_total():
    clock = Clock()
    bar = Progress('upload', total_bytes=100 << 20, total_items=4, stream=io.StringIO(), clock=clock)
    clock.now += 2
    bar.add(50 << 20)
    bar.item_done()
    text = bar.render(100)
    assert text.startswith('upload  50% [')
    assert '50.0 MiB/100.0 MiB  25.0 MiB/s  ETA 0:02  1/4' in text
    assert len(text) < 100
    assert bar.render(30).startswith('upload  50% 50.0 MiB')   # too narrow for a bar: still useful


def test_progress_render_without_total():
    clock = Clock()
    bar = Progress('download', stream=io.StringIO(), clock=clock)
    clock.now += 1
    bar.add(2048)
    assert bar.render(80) == 'download 2.0 KiB  2.0 KiB/s'


def test_progress_eta_comes_as_soon_as_there_is_a_rate():
    clock = Clock()
    bar = Progress('upload', total_bytes=100 << 20, stream=io.StringIO(), clock=clock)
    assert bar.render(100).endswith('0 B/100.0 MiB  0 B/s  ETA --:--')      # nothing moved: no rate yet
    clock.now += 0.2
    bar.add(10 << 20)
    assert bar.render(100).endswith('10.0 MiB/100.0 MiB  50.0 MiB/s  ETA 0:02')
    clock.now += 0.2
    bar.add(90 << 20)
    assert bar.render(100).endswith('100.0 MiB/100.0 MiB  250.0 MiB/s  ETA 0:00')


def test_progress_rate_and_eta_follow_the_recent_pace():
    clock = Clock()
    bar = Progress('upload', total_bytes=1000 << 20, stream=io.StringIO(), clock=clock)
    for _ in range(20):                       # 10 s at 1 MiB/s...
        clock.now += 0.5
        bar.add(512 << 10)
    for _ in range(20):                       # ...then 10 s at 10 MiB/s: the last 5 s are what count
        clock.now += 0.5
        bar.add(5 << 20)
    assert bar.rate() == 10 << 20             # 50 MiB in the last 5 s (the whole run's average: 5.5 MiB/s)
    assert bar.render(120).endswith('110.0 MiB/1000.0 MiB  10.0 MiB/s  ETA 1:29')     # 890 MiB at 10 MiB/s
    clock.now += 100                          # a long stall: the rate falls towards nothing
    assert bar.rate() < 1 << 20


def test_progress_rewound_bytes_never_make_a_negative_rate():
    clock = Clock()
    bar = Progress('upload', total_bytes=10 << 20, stream=io.StringIO(), clock=clock)
    clock.now += 1
    bar.add(4 << 20)
    clock.now += 1
    bar.add(-(4 << 20))                       # a retry rewound the file
    assert bar.rate() == 0.0
    assert bar.render(100).endswith('0 B/s  ETA --:--')


def test_progress_percentage_once_every_size_is_known():
    clock = Clock()
    bar = Progress('download', total_bytes=0, total_items=2, unsized=2, stream=io.StringIO(), clock=clock)
    clock.now += 1
    assert bar.render(80) == 'download 0 B  0 B/s  0/2'
    bar.size_known(1 << 20)
    bar.add(512 << 10)
    assert '%' not in bar.render(80)          # one size still unknown
    bar.size_known(3 << 20)
    text = bar.render(100)
    assert text.startswith('download  12% [') and '512.0 KiB/4.0 MiB' in text and 'ETA 0:07' in text
    bar = Progress('download', total_bytes=5, total_items=2, unsized=1, stream=io.StringIO(), clock=clock)
    bar.size_known(None)                      # no Content-Length: the total can never be known
    bar.size_known(7)
    assert '%' not in bar.render(80)


def test_download_tells_each_size_once():
    told = []

    class Bar:
        def size_known(self, nbytes):
            told.append(nbytes)
    sized = download.SizeOnce(Bar())
    sized(10)
    sized(0)
    download.SizeOnce(Bar(), known=True)(5)   # its size was in the listing already
    assert told == [10]
    assert [download.response_length(h) for h in ({'content-length': '12'}, {}, {'content-length': 'x'},
                                                  {'content-length': '-1'})] == [12, None, None, None]


def test_progress_draws_only_when_enabled_and_log_keeps_lines_whole():
    stream = io.StringIO()
    out = io.StringIO()
    clock = Clock()
    bar = Progress('upload', 10, 1, stream=stream, out=out, enabled=False, clock=clock)
    bar.add(5)
    bar.log('name')
    bar.close()
    assert stream.getvalue() == '' and out.getvalue() == 'name\n'
    bar = Progress('upload', 10, 1, stream=stream, out=stream, enabled=True, clock=clock)
    clock.now += 1
    bar.add(5)
    bar.log('line')
    bar.close()
    text = stream.getvalue()
    assert text.startswith('\r\x1b[Kupload  50%')
    assert '\r\x1b[Kline\n\r\x1b[Kupload  50%' in text     # cleared, printed, redrawn
    assert text.endswith('\n')


# -- request bodies --------------------------------------------------------------------------------------------

def test_body_from_bytes_and_str():
    body = BodySource(b'abc')
    assert (body.length, b''.join(body.chunks())) == (3, b'abc')
    assert body.md5.hexdigest() == '900150983cd24fb0d6963f7d28e17f72'
    assert body.rewind() and body.sent == 0
    assert BodySource('h\u00e9').length == 3


def test_body_from_a_regular_file_has_a_length_and_rewinds(tmp_path):
    path = tmp_path / 'f'
    path.write_bytes(b'0123456789')
    with open(path, 'rb') as f:
        f.read(2)
        body = BodySource(f, chunk_size=3)
        assert body.length == 8 and not body.chunked
        assert list(body.chunks()) == [b'234', b'567', b'89']
        assert body.rewind()
        assert b''.join(body.chunks()) == b'23456789'


def test_body_from_an_iterator_is_chunked_and_cannot_rewind_once_read():
    body = BodySource(iter([b'ab', b'', 'c']))
    assert body.chunked
    assert body.rewind()                  # nothing read yet
    assert list(body.chunks()) == [b'ab', b'c']
    assert not body.rewind()


def test_body_from_a_pipe_is_chunked():
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b'data')
    os.close(write_fd)
    with os.fdopen(read_fd, 'rb') as pipe:
        body = BodySource(pipe)
        assert body.chunked
        assert b''.join(body.chunks()) == b'data'
        assert not body.rewind()


def test_body_shorter_than_its_declared_length_is_an_error():
    body = BodySource(io.BytesIO(b'abc'), content_length=5)
    with pytest.raises(ValueError, match='2 bytes short'):
        list(body.chunks())


# -- upload planning -------------------------------------------------------------------------------------------

def test_object_names_from_paths():
    assert upload.object_name_for('/tmp/x/a.txt') == 'tmp/x/a.txt'
    assert upload.object_name_for('./a/../b//c') == 'b/c'
    assert upload.object_name_for('../../etc/passwd') == 'etc/passwd'


def test_plan_walks_directories_keeps_empty_ones_and_reports_missing(tmp_path, monkeypatch):
    (tmp_path / 'd' / 'sub').mkdir(parents=True)
    (tmp_path / 'd' / 'empty').mkdir()
    (tmp_path / 'd' / 'a').write_bytes(b'1')
    (tmp_path / 'd' / 'sub' / 'b').write_bytes(b'22')
    monkeypatch.chdir(tmp_path)
    items, problems = upload.plan(['d', 'missing'])
    assert [(i.name, i.size, i.is_dir_marker) for i in items] == [
        ('d/a', 1, False), ('d/empty', 0, True), ('d/sub/b', 2, False)]
    assert problems == [('missing', 'No such file or directory')]
    items, _ = upload.plan(['d'], object_name='x/')
    assert [i.name for i in items] == ['x/a', 'x/empty', 'x/sub/b']
    items, _ = upload.plan(['d/a'], object_name='renamed')
    assert [i.name for i in items] == ['renamed']


@pytest.mark.parametrize('text,expected', [
    ('c', ('c', '')), ('c/', ('c', '')), ('c/a', ('c', 'a/')), ('c/a/b/', ('c', 'a/b/')),
    ('c//x', ('c', '/x/')), ('c/a//', ('c', 'a//')), ('c/\u00e9t\u00e9', ('c', '\u00e9t\u00e9/')),
    ('c/..', ('c', '../')), ('c/a b', ('c', 'a b/'))])
def test_container_argument_may_carry_an_object_name_prefix(text, expected):
    assert upload.split_container(text) == expected


@pytest.mark.parametrize('text', ['', '/', '/x', '//x/y'])
def test_container_argument_needs_a_container(text):
    with pytest.raises(UsageError, match='CONTAINER is empty'):
        upload.split_container(text)


def test_requests_refuse_names_that_would_address_something_else():
    from swiftlike.client import Connection
    conn = Connection(preauthurl='http://127.0.0.1:1/v1/AUTH_t', preauthtoken='t', retries=0)
    cases = [(lambda: conn.put_container('c/o'), "Container PUT failed: container name 'c/o' contains '/'"),
             (lambda: conn.delete_container(''), 'Container DELETE failed: the container name is empty'),
             (lambda: conn.get_container(b''), 'Container GET failed: the container name is empty'),
             (lambda: conn.delete_object('c', ''), 'Object DELETE failed: the object name is empty'),
             (lambda: conn.put_object('', 'o', b'x'), 'Object PUT failed: the container name is empty'),
             (lambda: conn.head_object('c/d', 'o'), "Object HEAD failed: container name 'c/d' contains '/'")]
    for call, message in cases:
        with pytest.raises(ClientException) as info:
            call()                      # refused before any connection (port 1 would be refused anyway)
        assert str(info.value).startswith(message)
    assert conn.attempts == 0


def test_plan_usage_errors():
    with pytest.raises(UsageError, match='needs exactly one PATH'):
        upload.plan(['a', 'b'], object_name='x')
    with pytest.raises(UsageError, match='needs --object-name'):
        upload.plan(['-'])


def test_file_md5(tmp_path):
    path = tmp_path / 'f'
    path.write_bytes(b'abc' * 1000000)
    import hashlib
    assert upload.file_md5(str(path)) == hashlib.md5(b'abc' * 1000000).hexdigest()


def test_progress_reader_unreports_bytes_on_rewind():
    bar = Progress('x', stream=io.StringIO(), enabled=False)
    reader = upload.ProgressReader(io.BytesIO(b'abcdef'), bar)
    reader.read(4)
    assert bar.done_bytes == 4
    reader.seek(0)
    assert bar.done_bytes == 0 and reader.tell() == 0


# -- download naming -------------------------------------------------------------------------------------------

@pytest.mark.parametrize('name,unsafe', [('a/b', False), ('/a', False), ('a/../../b', True), ('..', True),
                                        ('/', True), ('./x', False)])
def test_unsafe_download_names(name, unsafe):
    assert download.unsafe_name(name) is unsafe


def test_expected_md5_skips_manifests():
    assert download.expected_md5({'etag': '"%s"' % ('a' * 32)}) == 'a' * 32
    assert download.expected_md5({'etag': 'a' * 32, 'x-object-manifest': 'c/p'}) is None
    assert download.expected_md5({'etag': 'a' * 32, 'x-static-large-object': 'True'}) is None
    assert download.expected_md5({}) is None


# -- copy, post, headers ---------------------------------------------------------------------------------------

def test_copy_destinations():
    assert copy.destinations('c', ['a', 'b'], None) == [('a', '/c/a'), ('b', '/c/b')]
    assert copy.destinations('c', ['a', 'b'], '/d') == [('a', '/d/a'), ('b', '/d/b')]
    assert copy.destinations('c', ['a'], '/d/x/y') == [('a', '/d/x/y')]
    for bad in ('/', 'd/x', '//x'):
        with pytest.raises(UsageError):
            copy.destinations('c', ['a'], bad)


def test_acl_support_is_read_from_info():
    assert post.supports_acls({'tempauth': {'account_acls': False}})
    assert post.supports_acls({'keystoneauth': {}})
    assert post.supports_acls({'swift': {'container_acls': True}})
    assert not post.supports_acls({'swift': {'version': '1'}})
    assert not post.supports_acls([])


def test_object_metadata_merge():
    current = {'x-object-meta-keep': '1', 'x-object-meta-drop': '2', 'x-object-meta-change': '3',
               'content-type': 'text/plain'}
    wanted = {'X-Object-Meta-Drop': '', 'X-Object-Meta-Change': 'new', 'X-Object-Meta-Add': '4'}
    assert post._merged_object_headers(current, wanted) == {
        'x-object-meta-keep': '1', 'X-Object-Meta-Change': 'new', 'X-Object-Meta-Add': '4'}


def test_build_headers_meta_and_removal():
    class Args:
        header = ['Content-Type: text/plain', 'X-Delete-After:60']
        meta = ['color:blue', 'old:']
    assert build_headers(Args, 'X-Container-Meta-') == {
        'Content-Type': 'text/plain', 'X-Delete-After': '60', 'X-Container-Meta-color': 'blue',
        'X-Remove-Container-Meta-old': 'x'}
    assert build_headers(Args, 'X-Object-Meta-')['X-Object-Meta-old'] == ''


# -- output formats --------------------------------------------------------------------------------------------

OBJECTS = [{'name': 'a', 'bytes': 1536, 'last_modified': '2024-01-02T03:04:05.123456',
            'content_type': 'text/plain', 'hash': 'h'}, {'subdir': 'dir/'},
           {'name': 'b', 'bytes': 10, 'last_modified': '2024-01-03T00:00:00.000000',
            'content_type': 'image/png', 'hash': 'h2'}]


def test_short_and_long_listings():
    assert listing.format_listing(OBJECTS, is_account=False) == 'a\ndir/\nb\n'
    long = listing.format_listing(OBJECTS, is_account=False, long=True, human=True).splitlines()
    assert long[0] == '     1.5 KiB 2024-01-02 03:04:05               text/plain a'
    assert long[1].strip() == 'dir/'
    assert long[-1] == '     1.5 KiB (2 objects)'
    assert listing.format_listing(OBJECTS, is_account=False, totals_only=True) == '        1546 (2 objects)\n'
    containers = [{'name': 'c1', 'count': 3, 'bytes': 30, 'last_modified': '2024-01-02T03:04:05.1'}]
    assert listing.format_listing(containers, is_account=True, long=True).splitlines() == [
        '         3           30 2024-01-02 03:04:05 c1', '         3           30 (1 containers)']


def test_stat_format_aligns_labels_and_shows_metadata():
    text = stat.format_stat([('Account', 'AUTH_t'), ('Container', 'c')], stat.CONTAINER_FIELDS, {
        'x-container-object-count': '2', 'x-container-bytes-used': '9', 'x-container-meta-color': 'blue',
        'x-trans-id': 'tx', 'x-timestamp': '1.0', 'x-container-read': '.r:*'})
    assert text.splitlines() == ['    Account: AUTH_t', '  Container: c', '    Objects: 2', '      Bytes: 9',
                                 '   Read ACL: .r:*', ' Meta Color: blue', 'X-Timestamp: 1.0']
