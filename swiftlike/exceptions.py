"""Domain errors. Each carries the HTTP status it maps to; one place per
server (server_base / the proxy's catch_errors) turns them into responses."""


class SwiftlikeError(Exception):
    http_status = 500

    def __init__(self, reason='', headers=None):
        super().__init__(reason)
        self.reason = reason
        self.headers = dict(headers or {})


class HTTPError(SwiftlikeError):
    """An error answered directly with its status and reason."""


def _http(name, status):
    return type(name, (HTTPError,), {'http_status': status})


NotModified = _http('NotModified', 304)
BadRequest = _http('BadRequest', 400)
Unauthorized = _http('Unauthorized', 401)
Forbidden = _http('Forbidden', 403)
NotFound = _http('NotFound', 404)
MethodNotAllowed = _http('MethodNotAllowed', 405)
NotAcceptable = _http('NotAcceptable', 406)
RequestTimeout = _http('RequestTimeout', 408)
Conflict = _http('Conflict', 409)
LengthRequired = _http('LengthRequired', 411)
PreconditionFailed = _http('PreconditionFailed', 412)
RequestEntityTooLarge = _http('RequestEntityTooLarge', 413)
RequestURITooLong = _http('RequestURITooLong', 414)
RangeNotSatisfiable = _http('RangeNotSatisfiable', 416)
UnprocessableEntity = _http('UnprocessableEntity', 422)
TooManyRequests = _http('TooManyRequests', 429)
ClientDisconnect = _http('ClientDisconnect', 499)
InternalServerError = _http('InternalServerError', 500)
NotImplemented_ = _http('NotImplemented', 501)
ServiceUnavailable = _http('ServiceUnavailable', 503)
InsufficientStorage = _http('InsufficientStorage', 507)


class ConfigError(SwiftlikeError):
    """A config file is missing, unreadable, or has an unknown/invalid key."""


class RingError(SwiftlikeError):
    """A ring or builder file is missing, malformed, or an operation is invalid."""


class ConnectionTimeout(SwiftlikeError):
    http_status = 503


class ChunkReadTimeout(SwiftlikeError):
    http_status = 408


class ChunkWriteTimeout(SwiftlikeError):
    http_status = 503
