"""What the container and account quota middlewares share (pure parts and the
size of an upload)."""
from urllib.parse import unquote

from swiftlike.middleware import subrequest
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
    None when the request writes no object data. A COPY lands on its
    Destination (and Destination-Account)."""
    method = env.get('REQUEST_METHOD')
    parts = split_account_path(env.get('PATH_INFO', ''))
    if parts is None or parts[2] is None or method not in ('PUT', 'COPY'):
        return None
    if method == 'PUT':
        return parts
    dest = env.get('HTTP_DESTINATION', '')
    container, _, obj = dest.lstrip('/').partition('/')
    if not container or not obj:
        return None     # the proxy refuses it
    account = env.get('HTTP_DESTINATION_ACCOUNT') or parts[0]
    return (unquote(account, encoding='latin-1'), unquote(container, encoding='latin-1'),
            unquote(obj, encoding='latin-1'))


def upload_size(env, app, source):
    """Bytes an object write adds: its Content-Length, or for a server-side
    copy the source object's size (a HEAD through `app`)."""
    method = env.get('REQUEST_METHOD')
    parts = split_account_path(env.get('PATH_INFO', ''))
    copy_from = env.get('HTTP_X_COPY_FROM')
    if method == 'COPY':
        path = env['PATH_INFO']
    elif copy_from:
        account = unquote(env.get('HTTP_X_COPY_FROM_ACCOUNT') or parts[0], encoding='latin-1')
        path = '/v1/%s/%s' % (account, unquote(copy_from, encoding='latin-1').lstrip('/'))
    else:
        length = env.get('CONTENT_LENGTH') or '0'
        return int(length) if length.isdigit() else 0
    # With the requester's identity (and no owner verdict for another account).
    resp = subrequest.call(app, subrequest.make_environ(env, 'HEAD', path, source=source))
    resp.discard()
    if resp.status // 100 != 2:
        return 0    # the copy itself will answer 404/403
    length = resp.headers.get('content-length', '')
    return int(length) if length.isdigit() else 0
