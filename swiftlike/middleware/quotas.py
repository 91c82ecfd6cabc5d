"""What the container and account quota middlewares share (pure parts and the
size of an upload)."""
from swiftlike.constraints import is_decimal
from swiftlike.middleware.toolkit import split_account_path

QUOTA_EXCEEDED = b'Upload exceeds quota.'


def quota_value(value):
    """A quota setting: None for '' (removes it), else its int; ValueError
    unless a non-negative integer."""
    value = value.strip()
    if value == '':
        return None
    if not value.isdigit() or not value.isascii():
        raise ValueError(value)
    return int(value)


def exceeds(quota, used, adding):
    """True when a stored quota (header text; missing or unreadable means
    none) would be passed by `adding` to `used`."""
    if quota is None:
        return False
    try:
        limit = quota_value(quota)
    except ValueError:
        return False
    return limit is not None and used + adding > limit


def reply(start_response, status, body):
    start_response(status, [('Content-Type', 'text/plain; charset=UTF-8'),
                            ('Content-Length', str(len(body)))])
    return [body]


def upload_target(env):
    """(account, container, obj) an object write lands on, as WSGI str, or
    None when the request writes no object data. (A server-side copy reaches
    the quota middlewares as the PUT of its destination: the copy middleware
    is above them.)"""
    parts = split_account_path(env.get('PATH_INFO', ''))
    if parts is None or parts[2] is None or env.get('REQUEST_METHOD') != 'PUT':
        return None
    return parts


def upload_size(env):
    """Bytes an object write adds: its Content-Length (0 when chunked: the
    object servers' size limits still apply)."""
    length = env.get('CONTENT_LENGTH') or '0'
    return int(length) if is_decimal(length) else 0
