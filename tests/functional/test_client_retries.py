"""Retries proven the hard way: a proxy worker is SIGKILLed while the client is using it.

The proxy runs with forked workers (an extra proxy on the aio cluster: same rings, same token secret). The test
finds the worker holding our connection through /proc (its socket inodes) and kills it mid-transfer; the client
must finish anyway, through its retry (uploads: rewind and resend; downloads: resume with Range + If-Match).

No test hopes that a kill lands mid-request: each one arranges it. An upload's body stops at a gate part-way
(headers and some bytes sent, the rest not) until the kill is done; a download stops reading after its first
chunk, and the object is bigger than what the kernel's socket buffers can hold, so the dead worker cannot have
handed over the whole body. Waits are for events with generous deadlines, never sleeps that hope.
"""
import concurrent.futures
import hashlib
import io
import os
import threading
import uuid

from swiftlike.client import Connection
from tests.functional.test_client_support import endpoint, empty_and_delete, worker_proxy  # noqa: F401

SIZE = 48 << 20
WAIT = 60           # seconds: a deadline for things that happen in milliseconds, so a loaded machine still passes


def make_file(path, size):
    md5 = hashlib.md5()
    with open(path, 'wb') as f:
        for _ in range(size >> 20):
            block = os.urandom(1 << 20)
            md5.update(block)
            f.write(block)
    return md5.hexdigest()


class GatedReader:
    """A seekable file whose reads stop at byte `gate` the first time they get there.

    At the gate it sets `at_gate` and blocks until `release` is set. The request sending it is then provably in
    flight: its headers and `gate` body bytes are sent, the rest is not, so the server cannot have answered.
    Later passes (a resend after a rewind) read straight through. `rewinds` counts seeks.
    """

    def __init__(self, f, gate):
        self._f = f
        self.gate = gate
        self.at_gate = threading.Event()
        self.release = threading.Event()
        self.rewinds = 0

    def read(self, size=-1):
        pos = self._f.tell()
        if not self.at_gate.is_set():
            if pos >= self.gate:
                self.at_gate.set()
                if not self.release.wait(4 * WAIT):
                    raise AssertionError('the gate was never released')
            elif size is None or size < 0 or pos + size > self.gate:
                size = self.gate - pos              # stop exactly at the gate
        return self._f.read(size)

    def tell(self):
        return self._f.tell()

    def seek(self, pos, whence=0):
        self.rewinds += 1
        return self._f.seek(pos, whence)


def proxy_conn(worker_proxy, endpoint):
    return Connection(worker_proxy.auth_url, endpoint.user, endpoint.key, starting_backoff=0.2)


def socket_buffer_ceiling():
    """The most bytes the kernel can hold between a server's send() and a client's recv() on one TCP connection:
    the sender's send buffer plus the receiver's receive buffer, each at its largest (autotuned or set)."""
    def largest(name, core):
        with open('/proc/sys/net/ipv4/' + name) as f:
            tuned = int(f.read().split()[2])
        with open('/proc/sys/net/core/' + core) as f:
            fixed = 2 * int(f.read())               # setsockopt doubles what it is given, up to this max
        return max(tuned, fixed)
    return largest('tcp_wmem', 'wmem_max') + largest('tcp_rmem', 'rmem_max')


def test_upload_survives_a_killed_proxy_worker(worker_proxy, endpoint, tmp_path):
    worker_proxy.wait_workers(2)
    client = proxy_conn(worker_proxy, endpoint)
    container = 'client-retry-' + uuid.uuid4().hex[:8]
    client.put_container(container)
    md5 = make_file(tmp_path / 'big', SIZE)
    client.close()          # no idle kept-alive socket left: the only connection is the upload's
    try:
        with open(tmp_path / 'big', 'rb') as f:
            reader = GatedReader(f, gate=8 << 20)
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                upload = pool.submit(client.put_object, container, 'big', reader, content_length=SIZE)
                try:
                    assert reader.at_gate.wait(WAIT), upload.exception(0) if upload.done() else 'no gate'
                    assert not upload.done()                     # in flight: 8 of 48 MiB sent
                    killed, broken = worker_proxy.kill_busy_worker()
                finally:
                    reader.release.set()
                etag = upload.result(timeout=4 * WAIT)
        assert broken == 1                                       # the upload's connection, and only it
        assert etag == md5
        assert client.resent >= 1                                # the broken PUT was sent again...
        assert reader.rewinds >= 1                               # ...with its body from the start
        worker_proxy.wait_gone(killed)
        headers, body = client.get_object(container, 'big', resp_chunk_size=1 << 20)
        assert hashlib.md5(b''.join(body)).hexdigest() == md5
        client.delete_object(container, 'big')
        client.delete_container(container)
    finally:
        client.close()


def test_download_resumes_after_a_killed_proxy_worker(worker_proxy, endpoint, tmp_path):
    worker_proxy.wait_workers(2)
    client = proxy_conn(worker_proxy, endpoint)
    chunk = 256 << 10
    # Bigger than what can sit in socket buffers when the worker dies, so part of the body is lost with it.
    size = max(SIZE, (socket_buffer_ceiling() + chunk + (8 << 20)) >> 20 << 20)
    container = 'client-retry-' + uuid.uuid4().hex[:8]
    try:
        client.put_container(container)
        md5 = make_file(tmp_path / 'big', size)
        with open(tmp_path / 'big', 'rb') as f:
            client.put_object(container, 'big', f)
        # One thread, one kept-alive socket: auth, the PUT and this GET all went over it.
        headers, body = client.get_object(container, 'big', resp_chunk_size=chunk)
        got = hashlib.md5()
        received = 0
        killed = None
        for data in body:
            got.update(data)
            received += len(data)
            if killed is None:
                # We stop reading while we kill, so the worker is at most a socket buffer's worth ahead of us.
                assert received + socket_buffer_ceiling() < size
                killed, broken = worker_proxy.kill_busy_worker()
                assert broken == 1
        assert received == size and got.hexdigest() == md5 == headers['etag'].strip('"')
        assert body.resumes >= 1
        assert client.resent >= 1
        worker_proxy.wait_gone(killed)
        client.delete_object(container, 'big')
        client.delete_container(container)
    finally:
        client.close()


def test_burst_of_requests_survives_a_killed_proxy_worker(worker_proxy, endpoint):
    """8 threads share one Connection. Each does a few rounds of PUT/GET/HEAD, then an upload that stops at a
    gate half-way; when all 8 are held there, every client connection carries a request in flight. The worker
    holding the most of them is killed, the gates open, and the threads go on with more rounds."""
    threads, rounds_before, rounds_after = 8, 5, 5
    workers = worker_proxy.wait_workers(2)
    client = proxy_conn(worker_proxy, endpoint)
    container = 'client-retry-' + uuid.uuid4().hex[:8]
    client.put_container(container)
    client.close()          # the main thread's idle socket goes: from here on every socket is a thread's own
    payloads = [os.urandom(256 << 10) for _ in range(threads)]
    gates = [GatedReader(io.BytesIO(p), gate=len(p) // 2) for p in payloads]
    done = []
    errors = []

    def one_round(i, n):
        name = 'o-%d-%d' % (i, n)
        client.put_object(container, name, name.encode())
        assert client.get_object(container, name)[1] == name.encode()
        client.head_container(container)
        done.append(name)

    def hammer(i):
        try:
            for n in range(rounds_before):
                one_round(i, n)
            client.put_object(container, 'gated-%d' % i, gates[i], content_length=len(payloads[i]))
            done.append('gated-%d' % i)
            for n in range(rounds_before, rounds_before + rounds_after):
                one_round(i, n)
        except Exception as err:  # noqa: BLE001 - collected and asserted on below
            errors.append(err)
        finally:
            gates[i].at_gate.set()          # a thread that failed early must not hold up the others' wait

    try:
        with concurrent.futures.ThreadPoolExecutor(threads) as pool:
            futures = [pool.submit(hammer, i) for i in range(threads)]
            try:
                for gate in gates:
                    assert gate.at_gate.wait(WAIT)
                assert not errors, errors[:3]
                assert not any(f.done() for f in futures)   # all 8 held mid-upload
                before_attempts, before_resent = client.attempts, client.resent
                killed, broken = worker_proxy.kill_busy_worker()
            finally:
                for gate in gates:
                    gate.release.set()
            for future in futures:
                future.result(timeout=4 * WAIT)
        assert not errors, errors[:3]
        assert killed in workers
        worker_proxy.wait_gone(killed)
        assert 1 <= broken <= threads
        # Every upload the dead worker was reading was sent again (a kill mid-request is never an error)...
        assert client.resent - before_resent >= broken
        # ...and the burst went on after the kill.
        assert client.attempts - before_attempts >= broken + threads * 3 * rounds_after
        assert len(done) == threads * (rounds_before + 1 + rounds_after)
        for i, payload in enumerate(payloads):
            assert client.get_object(container, 'gated-%d' % i)[1] == payload
        empty_and_delete(client, container)
    finally:
        client.close()
