"""Retries proven the hard way: a proxy worker is SIGKILLed while the client is using it.

The proxy runs with forked workers (an extra proxy on the aio cluster: same rings, same token secret). The test
finds the worker holding our connection through /proc (its socket inodes) and kills it mid-transfer; the client
must finish anyway, through its retry (uploads: rewind and resend; downloads: resume with Range + If-Match).
"""
import concurrent.futures
import hashlib
import os
import threading
import time
import uuid

from swiftlike.client import Connection
from tests.functional.test_client_support import endpoint, empty_and_delete, worker_proxy  # noqa: F401

SIZE = 48 << 20


def make_file(path, size):
    md5 = hashlib.md5()
    with open(path, 'wb') as f:
        for _ in range(size >> 20):
            block = os.urandom(1 << 20)
            md5.update(block)
            f.write(block)
    return md5.hexdigest()


class SlowReader:
    """A file that reads slowly after `after` bytes and sets `reached` there, so a kill lands mid-upload."""

    def __init__(self, f, after):
        self._f = f
        self.after = after
        self.reached = threading.Event()
        self.rewinds = 0

    def read(self, size=-1):
        if self._f.tell() >= self.after:
            self.reached.set()
            time.sleep(0.002)
        return self._f.read(size)

    def tell(self):
        return self._f.tell()

    def seek(self, pos, whence=0):
        self.rewinds += 1
        return self._f.seek(pos, whence)


def proxy_conn(worker_proxy, endpoint):
    return Connection(worker_proxy.auth_url, endpoint.user, endpoint.key, starting_backoff=0.2)


def test_upload_survives_a_killed_proxy_worker(worker_proxy, endpoint, tmp_path):
    worker_proxy.wait_workers(2)
    client = proxy_conn(worker_proxy, endpoint)
    container = 'client-retry-' + uuid.uuid4().hex[:8]
    client.put_container(container)
    md5 = make_file(tmp_path / 'big', SIZE)
    client.close()          # no idle kept-alive socket left: the only connection is the upload's
    with open(tmp_path / 'big', 'rb') as f:
        reader = SlowReader(f, after=8 << 20)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            upload = pool.submit(client.put_object, container, 'big', reader, content_length=SIZE)
            assert reader.reached.wait(60)
            killed = worker_proxy.kill_busy_worker()
            etag = upload.result(timeout=240)
    assert etag == md5
    assert client.resent >= 1
    assert reader.rewinds >= 1                      # the body was sent again from the start
    assert killed not in worker_proxy.workers()
    headers, body = client.get_object(container, 'big', resp_chunk_size=1 << 20)
    assert hashlib.md5(b''.join(body)).hexdigest() == md5
    client.delete_object(container, 'big')
    client.delete_container(container)


def test_download_resumes_after_a_killed_proxy_worker(worker_proxy, endpoint, tmp_path):
    worker_proxy.wait_workers(2)
    client = proxy_conn(worker_proxy, endpoint)
    container = 'client-retry-' + uuid.uuid4().hex[:8]
    client.put_container(container)
    md5 = make_file(tmp_path / 'big', SIZE)
    with open(tmp_path / 'big', 'rb') as f:
        client.put_object(container, 'big', f)
    headers, body = client.get_object(container, 'big', resp_chunk_size=256 << 10)
    got = hashlib.md5()
    received = 0
    killed = None
    for chunk in body:
        got.update(chunk)
        received += len(chunk)
        if killed is None and received >= 4 << 20:
            killed = worker_proxy.kill_busy_worker()
    assert received == SIZE and got.hexdigest() == md5 == headers['etag'].strip('"')
    assert body.resumes >= 1
    client.delete_object(container, 'big')
    client.delete_container(container)


def test_burst_of_requests_survives_a_killed_proxy_worker(worker_proxy, endpoint):
    workers = worker_proxy.wait_workers(2)
    client = proxy_conn(worker_proxy, endpoint)
    container = 'client-retry-' + uuid.uuid4().hex[:8]
    client.put_container(container)
    stop = threading.Event()
    done = []
    errors = []

    def hammer(i):
        n = 0
        while not stop.is_set():
            name = 'o-%d-%d' % (i, n)
            try:
                client.put_object(container, name, name.encode())
                assert client.get_object(container, name)[1] == name.encode()
                client.head_container(container)
                done.append(name)
            except Exception as err:  # noqa: BLE001 - collected and asserted on below
                errors.append(err)
            n += 1

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(hammer, i) for i in range(8)]
        time.sleep(1.0)
        before = client.attempts
        assert client.resent == 0
        killed = worker_proxy.kill_busy_worker()
        time.sleep(2.0)
        stop.set()
        for future in futures:
            future.result()
    assert not errors, errors[:3]
    assert killed in workers and killed not in worker_proxy.workers()
    assert client.attempts > before and len(done) > 0   # the burst went on after the kill...
    assert client.resent >= 1                           # ...because broken requests were sent again
    empty_and_delete(client, container)
