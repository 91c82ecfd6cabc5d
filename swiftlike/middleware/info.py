"""GET /info: the cluster's capabilities and constraints as JSON.

Middlewares and the proxy register what they really implement with
register(); nothing is advertised that does not work.
"""
import dataclasses
import json

from swiftlike import constraints
from swiftlike.middleware.filters import make_filter_factory

_capabilities = {}


def register(name, **details):
    _capabilities[name] = dict(details)


def capabilities():
    swift = dict(constraints.as_dict())
    swift.update(_capabilities.get('swift', {}))
    result = {'swift': swift}
    for name, details in _capabilities.items():
        if name != 'swift':
            result[name] = details
    return result


@dataclasses.dataclass
class Conf:
    pass


class Info:
    def __init__(self, app, conf):
        self.app = app

    def __call__(self, environ, start_response):
        if environ.get('PATH_INFO') != '/info':
            return self.app(environ, start_response)
        method = environ.get('REQUEST_METHOD')
        if method not in ('GET', 'HEAD', 'OPTIONS'):
            start_response('405 Method Not Allowed', [('Allow', 'GET, HEAD'),
                                                      ('Content-Length', '0')])
            return [b'']
        body = json.dumps(capabilities(), sort_keys=True).encode('utf-8')
        start_response('200 OK', [('Content-Type', 'application/json; charset=utf-8'),
                                  ('Content-Length', str(len(body)))])
        return [body if method == 'GET' else b'']


filter_factory = make_filter_factory(Info, Conf)
