"""Serves `GET /recon/<what>[/<type>]` in front of a storage server.

Every other request goes to the server untouched (so no device may be named
"recon"). Answers are JSON (see swiftlike/recon/endpoints.py for each shape);
an unknown endpoint is a 404 and a bad parameter a 400, each with the reason,
and a verb other than GET or HEAD a 405.
"""
import json
from urllib.parse import parse_qs

from swiftlike import concurrency
from swiftlike.exceptions import NotFound, SwiftlikeError
from swiftlike.http import make_response
from swiftlike.logs import get_logger
from swiftlike.recon.endpoints import ReconEndpoints

PREFIX = '/recon'


def is_recon_path(path):
    return path == PREFIX or path.startswith(PREFIX + '/')


class ReconMiddleware:
    def __init__(self, app, conf, logger=None, endpoints=None):
        self.app = app
        self.logger = logger or getattr(app, 'logger', None) or get_logger('recon')
        self.endpoints = endpoints or ReconEndpoints(
            conf.devices, conf.swift_dir, conf.recon_cache_path, conf.mount_check,
            sleep=concurrency.sleep, server_type=getattr(app, 'server_type', None))

    def __call__(self, environ, start_response):
        path = environ.get('PATH_INFO', '')
        if not is_recon_path(path):
            return self.app(environ, start_response)
        method = environ.get('REQUEST_METHOD')
        if method not in ('GET', 'HEAD'):
            resp = make_response(405, 'Recon answers GET and HEAD only, not %s' % method[:16],
                                 {'Allow': 'GET, HEAD'})
            return resp(environ, start_response)
        parts = path[len(PREFIX):].strip('/').split('/') if path != PREFIX else []
        query = {k: v[-1] for k, v in parse_qs(environ.get('QUERY_STRING', '')).items()}
        try:
            if not parts or not parts[0] or len(parts) > 2:
                raise NotFound('No recon endpoint at %s; try /recon/<what>[/<type>]'
                               % path[:256])
            answer = self.endpoints.answer(parts[0], parts[1] if len(parts) == 2 else None,
                                           query)
            resp = make_response(200, json.dumps(answer).encode('utf-8'),
                                 content_type='application/json')
        except SwiftlikeError as err:
            resp = make_response(err.http_status, err.reason, err.headers)
        except Exception:
            self.logger.exception('ERROR answering %s', path[:256])
            resp = make_response(500, 'Internal error answering %s' % path[:256])
        return resp(environ, start_response)

