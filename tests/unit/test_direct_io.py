"""Reads past the page cache (direct_io.py): the same bytes as a buffered
read at any offset and length, on a real file with a real O_DIRECT
descriptor."""
import os
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swiftlike import direct_io

SIZE = (1 << 20) + 12345
BODY = os.urandom(SIZE)


def is_direct(fd):
    with open('/proc/self/fdinfo/%d' % fd) as f:
        flags = next(line for line in f if line.startswith('flags:')).split()[1]
    return bool(int(flags, 8) & os.O_DIRECT)


@pytest.fixture(scope='module')
def fds(tmp_path_factory):
    path = tmp_path_factory.mktemp('direct') / 'body'
    path.write_bytes(BODY)
    fd = os.open(str(path), os.O_RDONLY)
    direct = direct_io.reopen_direct(fd)
    if direct is None:
        pytest.skip('no direct I/O on the file system of %s' % path)
    yield fd, direct
    os.close(direct)
    os.close(fd)


def test_reopened_descriptor_bypasses_the_cache(fds):
    fd, direct = fds
    assert not is_direct(fd)
    assert is_direct(direct)


@settings(max_examples=100, deadline=None)
@given(offset=st.integers(0, SIZE + 5000), length=st.integers(0, (1 << 20) + 9000))
def test_same_bytes_as_a_buffered_read(fds, offset, length):
    fd, direct = fds
    assert direct_io.fits(offset, length)
    assert direct_io.pread(direct, length, offset) == os.pread(fd, length, offset)


@pytest.mark.parametrize('offset,length,fits', [
    (0, direct_io.BUFFER_SIZE, True),
    (1, direct_io.BUFFER_SIZE, False),
    (4095, direct_io.BUFFER_SIZE - 4096, True),
    (4095, direct_io.BUFFER_SIZE - 4094, False),
    (1 << 40, 1 << 20, True),
    (-1, 10, False),
    (0, -1, False),
])
def test_what_fits_a_buffer(offset, length, fits):
    assert direct_io.fits(offset, length) is fits


def test_a_read_wider_than_a_buffer_is_refused(fds):
    _fd, direct = fds
    with pytest.raises(ValueError):
        direct_io.pread(direct, direct_io.BUFFER_SIZE, 1)


def test_no_direct_io_where_the_file_system_has_none():
    fd = os.open('/proc/self/status', os.O_RDONLY)
    try:
        assert direct_io.reopen_direct(fd) is None
    finally:
        os.close(fd)


def test_an_unlinked_file_is_still_read(tmp_path):
    path = tmp_path / 'gone'
    path.write_bytes(BODY)
    fd = os.open(str(path), os.O_RDONLY)
    path.unlink()
    direct = direct_io.reopen_direct(fd)
    try:
        assert direct is not None and is_direct(direct)
        assert direct_io.pread(direct, 70000, 5000) == BODY[5000:75000]
    finally:
        os.close(direct)
        os.close(fd)


def test_threads_share_the_buffers_and_the_pool_stays_bounded(fds):
    fd, direct = fds
    barrier = threading.Barrier(24)
    errors = []

    def reader(i):
        barrier.wait()
        for k in range(10):
            offset = (i * 7919 + k * 104729) % SIZE
            if direct_io.pread(direct, 300000, offset) != BODY[offset:offset + 300000]:
                errors.append((i, k))

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert 1 <= len(direct_io._free) <= direct_io.KEEP_BUFFERS


def test_file_reader_reads_direct_where_it_can_and_buffered_where_not(fds, tmp_path):
    fd, _direct = fds
    reader = direct_io.FileReader(fd)
    try:
        assert reader.direct_fd is not None and is_direct(reader.direct_fd)
        assert reader.pread(1000, 123) == BODY[123:1123]
        # wider than a buffer: buffered, on the caller's descriptor
        assert reader.pread(direct_io.BUFFER_SIZE, 1) == BODY[1:1 + direct_io.BUFFER_SIZE]
    finally:
        reader.close()
    assert reader.direct_fd is None
    assert direct_io.FileReader(fd, direct=False).direct_fd is None
    proc = os.open('/proc/self/cmdline', os.O_RDONLY)   # no direct I/O there
    try:
        reader = direct_io.FileReader(proc)
        assert reader.direct_fd is None
        assert reader.pread(100, 0) == os.pread(proc, 100, 0) != b''
    finally:
        os.close(proc)


def test_a_forked_child_does_not_share_the_pooled_buffers(fds):
    # The pool's buffers are private mappings: a worker forked after its
    # parent read something reads into its own copy.
    fd, direct = fds
    direct_io.pread(direct, 4096, 0)
    assert direct_io._free
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:   # the child: read other bytes into the (inherited) buffer
        try:
            ok = direct_io.pread(direct, 4096, 8192) == BODY[8192:12288]
            os.write(write_end, b'1' if ok else b'0')
        finally:
            os._exit(0)
    os.close(write_end)
    assert os.read(read_end, 1) == b'1'
    os.waitpid(pid, 0)
    os.close(read_end)
    buf = direct_io._free[-1]
    assert buf[:4096] == BODY[:4096]   # still what the parent read
