"""Outermost middleware: a transaction id for every request, and no tracebacks.

Sets env['swiftlike.txn_id'] (the proxy passes it to backends as X-Trans-Id),
adds X-Trans-Id / X-Openstack-Request-Id to every response, and turns any
exception escaping the pipeline into a 500 that names the transaction id.
"""
import dataclasses

from swiftlike.constraints import MAX_HEADER_COUNT
from swiftlike.exceptions import SwiftlikeError
from swiftlike.logs import get_logger, new_txn_id, set_txn_id
from swiftlike.middleware.filters import make_filter_factory
from swiftlike.middleware.toolkit import TXN_KEY


@dataclasses.dataclass
class Conf:
    log_level: str = 'INFO'
    log_file: str = ''
    # Appended to every transaction id (e.g. a proxy's name) to tell proxies apart.
    trans_id_suffix: str = ''


def _error_body(status, reason, txn_id):
    return ('%s\n\nTransaction id: %s\n' % (reason, txn_id)).encode('utf-8')


class CatchErrors:
    def __init__(self, app, conf):
        self.app = app
        self.conf = conf
        self.logger = get_logger('proxy-server', conf.log_level, conf.log_file or None)

    def __call__(self, environ, start_response):
        txn_id = new_txn_id(self.conf.trans_id_suffix)
        environ[TXN_KEY] = txn_id
        set_txn_id(txn_id)
        started = []

        def txn_start_response(status, headers, exc_info=None):
            started.append(status)
            headers = list(headers)
            headers.append(('X-Trans-Id', txn_id))
            headers.append(('X-Openstack-Request-Id', txn_id))
            return start_response(status, headers, exc_info)

        header_count = sum(1 for k in environ if k.startswith('HTTP_'))
        if header_count > MAX_HEADER_COUNT:
            return self._reply(txn_start_response, '400 Bad Request',
                               'Too many headers (limit %d)' % MAX_HEADER_COUNT, txn_id)
        try:
            body = self.app(environ, txn_start_response)
        except Exception:
            self.logger.exception('ERROR unhandled exception in %s %s',
                                  environ.get('REQUEST_METHOD'), environ.get('PATH_INFO', '')[:256])
            if started:
                raise
            return self._reply(txn_start_response, '500 Internal Server Error',
                               'An error occurred', txn_id)
        return _GuardedIter(body, self.logger)

    @staticmethod
    def _reply(start_response, status, reason, txn_id):
        body = _error_body(status, reason, txn_id)
        start_response(status, [('Content-Type', 'text/plain; charset=UTF-8'),
                                ('Content-Length', str(len(body)))])
        return [body]


class _GuardedIter:
    """Logs an exception raised while streaming a body (headers are gone by
    then, so the connection is simply cut)."""

    def __init__(self, body, logger):
        self.body = body
        self.logger = logger
        self.iter = None

    def __iter__(self):
        self.iter = iter(self.body)
        return self

    def __next__(self):
        try:
            return next(self.iter)
        except StopIteration:
            raise
        except SwiftlikeError as err:
            # A body a middleware ended on purpose (a bytes_out limit, a
            # segment that cannot be read): one line, no traceback.
            self.logger.warning('response body ended early (%s): %s',
                                getattr(err, 'http_status', '-'), err)
            raise
        except Exception:
            self.logger.exception('ERROR while sending a response body')
            raise

    def close(self):
        close = getattr(self.body, 'close', None)
        if close:
            close()


filter_factory = make_filter_factory(CatchErrors, Conf)
