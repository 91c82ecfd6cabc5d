"""One access-log line per request, written when the response body is done:

client_ip method path status bytes_in bytes_out duration txn_id
"""
import dataclasses
import logging
import time
from urllib.parse import quote

from swiftlike.logs import get_logger, log_line
from swiftlike.middleware.filters import make_filter_factory
from swiftlike.middleware.toolkit import TXN_KEY


@dataclasses.dataclass
class Conf:
    access_log_level: str = 'INFO'
    access_log_file: str = ''
    # Log lines are skipped for these paths (health probes are noise).
    skip_paths: str = '/healthcheck'


class _InputCounter:
    def __init__(self, wsgi_input):
        self.input = wsgi_input
        self.bytes = 0

    def read(self, *args):
        data = self.input.read(*args)
        self.bytes += len(data)
        return data

    def readline(self, *args):
        data = self.input.readline(*args)
        self.bytes += len(data)
        return data

    def __iter__(self):
        return iter(self.readline, b'')


class ProxyLogging:
    def __init__(self, app, conf):
        self.app = app
        self.conf = conf
        self.logger = get_logger('proxy-access', conf.access_log_level,
                                 conf.access_log_file or None)
        self.skip = set(conf.skip_paths.split())

    def __call__(self, environ, start_response):
        if environ.get('PATH_INFO') in self.skip:
            return self.app(environ, start_response)
        start = time.time()
        counter = _InputCounter(environ['wsgi.input'])
        environ['wsgi.input'] = counter
        status = ['-']

        def logging_start_response(st, headers, exc_info=None):
            status[0] = st.split(' ', 1)[0]
            return start_response(st, headers, exc_info)

        body = self.app(environ, logging_start_response)
        return _LoggedBody(body, self, environ, status, counter, start)

    def log(self, environ, status, bytes_in, bytes_out, start):
        log_line(self.logger, logging.INFO, '%s %s %s %s %d %d %.4f %s',
                 environ.get('HTTP_X_FORWARDED_FOR') or environ.get('REMOTE_ADDR', '-'),
                 environ.get('REQUEST_METHOD', '-'),
                 quote(environ.get('PATH_INFO', '').encode('latin-1', 'replace'), safe='/:@')[:2048],
                 status, bytes_in, bytes_out, time.time() - start,
                 environ.get(TXN_KEY, '-'))


class _LoggedBody:
    def __init__(self, body, middleware, environ, status, counter, start):
        self.body = body
        self.middleware = middleware
        self.environ = environ
        self.status = status
        self.counter = counter
        self.start = start
        self.bytes_out = 0
        self.logged = False

    def __iter__(self):
        try:
            for chunk in self.body:
                self.bytes_out += len(chunk)
                yield chunk
        except Exception:
            self.status[0] = '499' if self.status[0] == '-' else self.status[0]
            raise

    def close(self):
        close = getattr(self.body, 'close', None)
        try:
            if close:
                close()
        finally:
            if not self.logged:
                self.logged = True
                self.middleware.log(self.environ, self.status[0], self.counter.bytes,
                                    self.bytes_out, self.start)


filter_factory = make_filter_factory(ProxyLogging, Conf)
