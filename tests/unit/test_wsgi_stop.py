"""An idle server stops promptly on SIGTERM instead of waiting out graceful_timeout."""
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest

from swiftlike.aio.layout import free_ports

SERVER = textwrap.dedent('''
    import sys
    from swiftlike.wsgi import WsgiConf, run_wsgi

    def app(environ, start_response):
        start_response('200 OK', [('Content-Length', '2')])
        return [b'ok']

    run_wsgi(lambda: app, WsgiConf(bind_port=int(sys.argv[1]), workers=int(sys.argv[2]),
                                   graceful_timeout=60))
''')


@pytest.mark.parametrize('workers', [0, 1])
def test_sigterm_stops_idle_server_long_before_graceful_timeout(workers):
    port = free_ports(1)[0]
    proc = subprocess.Popen([sys.executable, '-c', SERVER, str(port), str(workers)])
    try:
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen('http://127.0.0.1:%d/' % port, timeout=2) as resp:
                    assert resp.read() == b'ok'
                break
            except OSError:
                assert time.time() < deadline and proc.poll() is None
                time.sleep(0.1)
        time.sleep(2)  # let the hub settle into a long idle wait
        proc.send_signal(signal.SIGTERM)
        # graceful_timeout is 60 s; an idle server must not wait for it.
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
