"""Extract archive over a fake proxy: well-formed archives in each
compression, and hostile ones (corrupt, truncated, traversal names, header
and compression bombs, sparse files)."""
import base64
import bz2
import gzip
import io
import json
import lzma
import tarfile

import pytest

from swiftlike.middleware import bulk, bulk_extract
from swiftlike.middleware.toolkit import SOURCE_KEY
from tests.unit.middleware.test_bulk import FakeProxy, run


def make(answers=None, read_bodies=True, **conf):
    proxy = FakeProxy(answers, read_bodies)
    conf.setdefault('yield_frequency', 3600.0)
    return bulk.Bulk(proxy, bulk.Conf(**conf)), proxy


class Kind:
    """A member that is not a regular file (tarfile's types are bytes too)."""

    def __init__(self, type_):
        self.type = type_


def archive(entries, fmt=tarfile.PAX_FORMAT, **open_kw):
    """Tar bytes of [(name, data bytes | Kind, pax dict)]."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w', format=fmt, **open_kw) as tar:
        for entry in entries:
            name, data = entry[0], entry[1]
            info = tarfile.TarInfo(name)
            if len(entry) > 2:
                info.pax_headers = entry[2]
            if isinstance(data, bytes):
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                info.type = data.type
                if data.type in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                    info.linkname = 'target'
                tar.addfile(info)
    return buf.getvalue()


def extract(mw, path, body, kind='tar', headers=None, env_extra=None):
    hdrs = {'Accept': 'application/json'}
    hdrs.update(headers or {})
    status, _h, data, _env = run(mw, 'PUT', path, body, hdrs,
                                 query='extract-archive=' + kind, env_extra=env_extra)
    assert status == 200
    return json.loads(data)


def puts(proxy):
    return {c[1]: c[2] for c in proxy.calls if c[0] == 'PUT'}


FILES = [('c1/a.txt', b'hello'), ('c1/deep/er/b', b'x' * 200000), ('top.txt', b'ignored'),
         ('c2/dir', Kind(tarfile.DIRTYPE)), ('c2/link', Kind(tarfile.SYMTYPE)), ('c2/hard', Kind(tarfile.LNKTYPE)),
         ('c2/c', b'')]


@pytest.mark.parametrize('compress,kind', [
    (lambda b: b, 'tar'), (gzip.compress, 'tar.gz'), (bz2.compress, 'tar.bz2'),
    (lzma.compress, 'tar'),     # recognised from the data, whatever the name says
    (gzip.compress, 'tar'),
    (lambda b: gzip.compress(b[:3000]) + gzip.compress(b[3000:]), 'tar.gz'),  # multi-stream
    (lambda b: gzip.compress(b) + b'\0' * 2048, 'tar.gz'),   # padded after the stream
], ids=['tar', 'gz', 'bz2', 'xz-named-tar', 'gz-named-tar', 'gz-two-streams', 'gz-padded'])
def test_account_level_archive_creates_containers(compress, kind):
    mw, proxy = make()
    result = extract(mw, '/v1/AUTH_a', compress(archive(FILES)), kind)
    assert result == {'Number Files Created': 3, 'Response Status': '201 Created',
                      'Response Body': '', 'Errors': []}
    assert puts(proxy) == {'/v1/AUTH_a/c1': b'', '/v1/AUTH_a/c1/a.txt': b'hello',
                           '/v1/AUTH_a/c1/deep/er/b': b'x' * 200000, '/v1/AUTH_a/c2': b'',
                           '/v1/AUTH_a/c2/c': b''}
    assert proxy.paths('HEAD') == ['/v1/AUTH_a/c1', '/v1/AUTH_a/c2']   # once each
    assert all(c[3][SOURCE_KEY] == 'EA' for c in proxy.calls)


def test_container_and_prefix_level():
    mw, proxy = make()
    result = extract(mw, '/v1/AUTH_a/cont/pre/fix/', archive(FILES))
    assert result['Number Files Created'] == 4
    assert sorted(puts(proxy)) == ['/v1/AUTH_a/cont/pre/fix/c1/a.txt',
                                   '/v1/AUTH_a/cont/pre/fix/c1/deep/er/b',
                                   '/v1/AUTH_a/cont/pre/fix/c2/c',
                                   '/v1/AUTH_a/cont/pre/fix/top.txt']
    assert not proxy.paths('HEAD')      # the container is the client's business


def test_traversal_and_absolute_names_stay_opaque_names():
    names = [('../up', b'1'), ('/etc/passwd', b'2'), ('./c/a', b'3'), ('a/../../b', b'4'),
             ('.././x', b'5')]
    mw, proxy = make()
    result = extract(mw, '/v1/AUTH_a/c', archive(names))
    assert result['Number Files Created'] == 5
    assert sorted(puts(proxy)) == sorted(['/v1/AUTH_a/c/../up', '/v1/AUTH_a/c/etc/passwd',
                                          '/v1/AUTH_a/c/c/a', '/v1/AUTH_a/c/a/../../b',
                                          '/v1/AUTH_a/c/.././x'])
    # at account level '.' and '..' cannot be containers
    mw, proxy = make()
    result = extract(mw, '/v1/AUTH_a', archive(names))
    assert result['Response Status'] == '400 Bad Request'
    assert result['Errors'] == [['/../up', '400 Bad Request'], ['/.././x', '400 Bad Request']]
    assert sorted(p for p in puts(proxy) if p.count('/') > 3) == \
        ['/v1/AUTH_a/a/../../b', '/v1/AUTH_a/c/a', '/v1/AUTH_a/etc/passwd']


def test_bad_names_and_sizes_are_error_entries(monkeypatch):
    entries = [('c/' + 'o' * 1100, b'long'), ('c' * 300 + '/o', b'long container'),
               ('c/bad\udcff', b'not utf-8'), ('c/big', b'x' * 11), ('c/ok', b'fine')]
    body = archive(entries, fmt=tarfile.GNU_FORMAT, encoding='utf-8', errors='surrogateescape')
    monkeypatch.setattr(bulk_extract, 'MAX_FILE_SIZE', 10)
    mw, proxy = make()
    result = extract(mw, '/v1/AUTH_a', body)
    assert [e[1] for e in result['Errors']] == ['400 Bad Request', '400 Bad Request',
                                                '412 Precondition Failed',
                                                '413 Request Entity Too Large']
    assert result['Errors'][2][0] == '/c/bad%FF'
    assert all(len(e[0]) < 3 * bulk.MAX_PATH_LENGTH for e in result['Errors'])
    assert result['Number Files Created'] == 1 and '/v1/AUTH_a/c/ok' in puts(proxy)


def test_headers_and_extended_attributes():
    pax = {'SCHILY.xattr.user.mime_type': 'text/x-special',
           'SCHILY.xattr.user.meta.lunch': 'burger and fries',
           'LIBARCHIVE.xattr.user.meta.dinner': base64.b64encode(b'baked ziti').decode(),
           'SCHILY.xattr.user.meta.evil': 'x\r\nX-Object-Meta-Injected: 1',
           'SCHILY.xattr.user.meta.bad name': 'x',
           'SCHILY.xattr.user.other': 'ignored'}
    body = archive([('c/a', b'1', pax), ('c/b', b'2')])
    mw, proxy = make()
    extract(mw, '/v1/AUTH_a', body,
            headers={'X-Auth-Token': 'AUTH_tk', 'X-Delete-After': '60',
                     'X-Object-Meta-Color': 'red', 'X-Copy-From': 'c/x', 'ETag': 'abc'},
            env_extra={'CONTENT_TYPE': 'text/x-mine'})
    env_a = next(c[3] for c in proxy.calls if c[1] == '/v1/AUTH_a/c/a')
    env_b = next(c[3] for c in proxy.calls if c[1] == '/v1/AUTH_a/c/b')
    assert env_a['CONTENT_TYPE'] == 'text/x-special' and env_b['CONTENT_TYPE'] == 'text/x-mine'
    assert env_a['HTTP_X_OBJECT_META_LUNCH'] == 'burger and fries'
    assert env_a['HTTP_X_OBJECT_META_DINNER'] == 'baked ziti'
    meta = sorted(k for k in env_a if k.startswith('HTTP_X_OBJECT_META_'))
    assert meta == ['HTTP_X_OBJECT_META_COLOR', 'HTTP_X_OBJECT_META_DINNER',
                    'HTTP_X_OBJECT_META_LUNCH']
    for env in (env_a, env_b):
        assert env['HTTP_X_AUTH_TOKEN'] == 'AUTH_tk' and env['HTTP_X_DELETE_AFTER'] == '60'
        assert 'HTTP_X_COPY_FROM' not in env and 'HTTP_ETAG' not in env
        assert env['HTTP_X_OBJECT_META_COLOR'] == 'red'


def test_containers_that_exist_fail_or_are_unreadable():
    answers = {('HEAD', '/v1/AUTH_a/here'): 204, ('HEAD', '/v1/AUTH_a/nosee'): 403,
               ('PUT', '/v1/AUTH_a/denied'): 403}
    body = archive([('here/1', b'1'), ('nosee/2', b'2'), ('denied/3', b'3'),
                    ('denied/4', b'4')])
    mw, proxy = make(answers)
    result = extract(mw, '/v1/AUTH_a', body)
    assert result['Number Files Created'] == 2
    assert result['Errors'] == [['/denied/3', '403 Forbidden'], ['/denied/4', '403 Forbidden']]
    assert proxy.paths('PUT') == ['/v1/AUTH_a/here/1', '/v1/AUTH_a/nosee/2',
                                  '/v1/AUTH_a/denied']


def test_refused_files_do_not_upset_the_stream():
    # the proxy answers without reading the body: the next file still lines up
    answers = {('PUT', '/v1/AUTH_a/c/a'): 403, ('PUT', '/v1/AUTH_a/c/b'): 507}
    body = archive([('c/a', b'a' * 70000), ('c/b', b'b' * 3000), ('c/c', b'c' * 5)])
    mw, proxy = make(answers)
    result = extract(mw, '/v1/AUTH_a', body)
    assert result['Number Files Created'] == 1 and puts(proxy)['/v1/AUTH_a/c/c'] == b'c' * 5
    assert result['Response Status'] == '502 Bad Gateway'
    assert result['Errors'] == [['/c/a', '403 Forbidden'], ['/c/b', '507 Insufficient Storage']]


def test_unauthorized_stops_at_once():
    answers = {('PUT', '/v1/AUTH_a/c/o%d' % i): 401 for i in range(5)}
    mw, proxy = make(answers)
    result = extract(mw, '/v1/AUTH_a/c', archive([('o%d' % i, b'x') for i in range(5)]))
    assert result['Response Status'] == '401 Unauthorized' and len(proxy.calls) == 1


def test_limits_on_containers_and_failures():
    body = archive([('c%d/o' % i, b'x') for i in range(5)])
    mw, proxy = make(max_containers_per_extraction=2)
    result = extract(mw, '/v1/AUTH_a', body)
    assert result['Response Status'] == '400 Bad Request'
    assert result['Response Body'] == 'More than 2 containers to create from tar.'
    assert result['Number Files Created'] == 2
    body = archive([('c/' + 'o' * 2000 + str(i), b'x') for i in range(10)] + [('c/ok', b'1')])
    mw, proxy = make(max_failed_extractions=3)
    result = extract(mw, '/v1/AUTH_a', body)
    assert len(result['Errors']) == 3 and result['Response Body'].startswith('Max')
    assert not puts(proxy)


@pytest.mark.parametrize('body,reason', [
    (b'', 'empty file'),
    (b'this is not a tar archive at all' * 40, ''),
    (gzip.compress(b'not a tar either' * 100, mtime=0), ''),
    (b'\x1f\x8b\x08' + b'garbage' * 100, ''),                 # broken gzip
    (b'BZh91AY&SY' + b'garbage' * 100, ''),                     # broken bzip2
    (gzip.compress(archive(FILES), mtime=0)[:300], 'truncated compressed data'),
], ids=['empty', 'text', 'gzip-text', 'bad-gzip', 'bad-bzip2', 'cut-gzip'])
def test_corrupt_archives_are_400(body, reason):
    mw, _proxy = make()
    result = extract(mw, '/v1/AUTH_a', body)
    assert result['Response Status'] == '400 Bad Request'
    assert result['Response Body'].startswith('Invalid Tar File: ' + reason)


def test_no_valid_files():
    mw, proxy = make()
    for body in (archive([]), archive([('top', b'1'), ('d', Kind(tarfile.DIRTYPE))])):
        result = extract(mw, '/v1/AUTH_a', body)
        assert (result['Response Status'], result['Response Body']) == \
            ('400 Bad Request', 'Invalid Tar File: No Valid Files')
    assert not puts(proxy)


def test_truncated_in_a_file_keeps_what_came_before():
    body = archive([('c/a', b'a' * 10), ('c/b', b'b' * 100000), ('c/c', b'c')])
    mw, proxy = make()
    result = extract(mw, '/v1/AUTH_a', body[:60000])
    assert result['Number Files Created'] == 1
    assert result['Response Status'] == '400 Bad Request'
    assert result['Response Body'].startswith('Invalid Tar File: ')
    assert sorted(puts(proxy)) == ['/v1/AUTH_a/c', '/v1/AUTH_a/c/a', '/v1/AUTH_a/c/b']


def checksum(header):
    header = bytearray(header)
    header[148:156] = b' ' * 8
    header[148:156] = b'%06o\0 ' % sum(header)
    return bytes(header)


def test_a_damaged_header_after_the_first_file():
    body = bytearray(archive([('c/a', b'a'), ('c/b', b'b')], fmt=tarfile.USTAR_FORMAT))
    body[1024 + 150] ^= 1       # one bit of the second header's checksum
    mw, _proxy = make()
    result = extract(mw, '/v1/AUTH_a', bytes(body))
    assert result['Number Files Created'] == 1
    assert result['Response Body'] == 'Invalid Tar File: bad checksum'


def header(name, size, kind=tarfile.REGTYPE):
    info = tarfile.TarInfo(name)
    info.size, info.type = size, kind
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def pax_record(key, value):
    text = ' %s=%s\n' % (key, value)
    length = len(text) + 1
    length = len(text) + len(str(length))
    return b'%d%s' % (length, text.encode())


@pytest.mark.parametrize('body,reason', [
    # an extended header claiming 100 MB: refused before it is read
    (header('././@PaxHeader', 100 * 1024 * 1024, tarfile.XHDTYPE) + b'\0' * 4096,
     'extended header too large'),
    (header('././@LongLink', 50 * 1024 * 1024, tarfile.GNUTYPE_LONGNAME) + b'\0' * 4096,
     'extended header too large'),
    # a member claiming 2**80 bytes (base-256 size field)
    (checksum(header('c/o', 0)[:124] + b'\x80' + (2 ** 80).to_bytes(11, 'big')
              + header('c/o', 0)[136:]) + b'\0' * 1024, 'member size out of range'),
    # sparse files (old GNU and pax 1.0)
    (checksum(header('c/o', 0)[:156] + b'S' + header('c/o', 0)[157:]) + b'\0' * 1024,
     'sparse files are not supported'),
    (archive([('c/o', b'x', {'GNU.sparse.major': '1', 'GNU.sparse.minor': '0',
                             'GNU.sparse.name': 'c/o', 'GNU.sparse.realsize': '99999999'})]),
     'sparse files are not supported'),
    (archive([('c/o', b'x', {'GNU.sparse.size': '9999999999', 'GNU.sparse.offset': '0',
                             'GNU.sparse.numbytes': '1'})]),
     'sparse files are not supported'),
    # a pax record giving a size beyond any file
    (archive([('c/o', b'x', {'size': str(2 ** 70)})]), 'member size out of range'),
    # a chain of extended headers
    (b''.join(header('././@PaxHeader', 512, tarfile.XHDTYPE)
              + pax_record('comment', 'x' * 490).ljust(512, b'\n') for _ in range(20))
     + archive([('c/o', b'x')]), 'too many extended headers in a row'),
    # global headers adding up past the bound
    (b''.join(header('././@PaxHeader', 600 * 1024, tarfile.XGLTYPE)
              + pax_record('comment', 'y' * (600 * 1024 - 20)).ljust(600 * 1024, b'\n')
              for _ in range(2)) + archive([('c/o', b'x')]),
     'global extended headers too large'),
], ids=['pax-100MB', 'longname-50MB', 'size-2**80', 'gnu-sparse', 'pax-sparse-1.0',
        'pax-sparse-0.0', 'pax-size-2**70', 'pax-chain', 'global-pax-1.2MB'])
def test_hostile_headers_are_refused(body, reason):
    mw, proxy = make()
    result = extract(mw, '/v1/AUTH_a', body)
    assert (result['Response Status'], result['Response Body']) == \
        ('400 Bad Request', 'Invalid Tar File: ' + reason)
    assert not [p for p in puts(proxy) if p.count('/') > 3]


@pytest.mark.parametrize('compress', [gzip.compress, bz2.compress, lzma.compress])
def test_compression_bombs_inflate_a_bounded_piece_at_a_time(compress):
    data = b'\0' * (20 * 1024 * 1024)
    stream = bulk_extract.ArchiveStream(io.BytesIO(compress(data)))
    total = 0
    while True:
        piece = stream.read(1 << 30)
        assert len(piece) <= bulk.READ_SIZE
        if not piece:
            break
        total += len(piece)
    assert total == len(data)


def test_chunked_length_required_and_unsupported_formats():
    body = archive([('c/o', b'x')])
    mw, proxy = make()
    env = {'HTTP_TRANSFER_ENCODING': 'chunked'}
    status, _h, data, _e = run(mw, 'PUT', '/v1/AUTH_a', body, query='extract-archive=tar',
                               env_extra=dict(env, CONTENT_LENGTH=''))
    assert b'201 Created' in data
    status, _h, data, _e = run(mw, 'PUT', '/v1/AUTH_a', body, query='extract-archive=tar',
                               env_extra={'CONTENT_LENGTH': ''})
    assert b'Response Status: 411 Length Required' in data
    for kind in ('zip', '', 'tar.xz'):
        status, _h, data, _e = run(mw, 'PUT', '/v1/AUTH_a', body,
                                   query='extract-archive=' + kind)
        assert (status, data) == (400, b'Unsupported archive format')
    status, _h, data, _e = run(mw, 'PUT', '/v1/AUTH_a', body, query='extract-archive=.TAR.')
    assert status == 200 and b'201 Created' in data


class Disconnecting(io.BytesIO):
    def read(self, size=-1):
        data = super().read(size)
        if not data:
            raise OSError('connection reset')
        return data


def test_client_gone_in_the_middle():
    body = archive([('c/a', b'a'), ('c/b', b'b' * 100000)])[:50000]
    mw, _proxy = make()
    result = extract(mw, '/v1/AUTH_a', body, env_extra={'wsgi.input': Disconnecting(body)})
    assert result['Response Status'] == '499 Client Disconnect'
    assert result['Number Files Created'] == 1
