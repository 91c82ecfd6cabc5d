"""GET /healthcheck answers 200 OK without touching any backend."""
import dataclasses

from swiftlike.middleware.filters import make_filter_factory


@dataclasses.dataclass
class Conf:
    pass


class HealthCheck:
    def __init__(self, app, conf):
        self.app = app

    def __call__(self, environ, start_response):
        if environ.get('PATH_INFO') == '/healthcheck' and \
                environ.get('REQUEST_METHOD') in ('GET', 'HEAD'):
            body = b'OK' if environ['REQUEST_METHOD'] == 'GET' else b''
            start_response('200 OK', [('Content-Type', 'text/plain'),
                                      ('Content-Length', '2')])
            return [body]
        return self.app(environ, start_response)


filter_factory = make_filter_factory(HealthCheck, Conf)
