"""FormPost (Swift's `formpost`): a browser's HTML form uploads files straight
into a container, signed with the container's or the account's Temp-URL key.

A POST of `multipart/form-data` to `/v1/<account>/<container>[/<prefix>]`
carries the fields `redirect` (optional), `max_file_size`, `max_file_count`,
`expires` and `signature` (an HMAC, by one of the account's or container's
Temp-URL keys, of "<path>\\n<redirect>\\n<max_file_size>\\n<max_file_count>\\n
<expires>": hex, whose length names the digest, or `<digest>:<base64>`),
optionally `x_delete_at` / `x_delete_after` and `content-type`, and then the
files. Fields must come before the files (the body is read once, as it
arrives). Each file part becomes the object `<prefix><filename>`, PUT through
the rest of the pipeline as a subrequest authorised by the signature (the
override of the authorisation chain: its own path only, never as the owner);
its body streams from the form to the object servers, and the PUT is cut
off (nothing stored) once it passes max_file_size.

Answers, as Swift's: with a `redirect`, 303 to
`<redirect>?status=<upload status>&message=<why>`; without, the status of the
upload with a short text body ("201 Created", or "400 Bad Request\\r\\n
FormPost: Max File Count Exceeded"). A form that cannot be processed is a
400 'FormPost: <reason>' (max_file_size exceeded, invalid starting boundary,
... ); a bad signature or expiry a 401 ('FormPost: Invalid Signature',
'FormPost: Form Expired'). Files after a failed one are not stored. A
request with an Origin gets the CORS headers the container allows, as the
proxy would give them (asked with a HEAD of the container).
"""
import dataclasses
import html
import time

from swiftlike.http import status_line
from swiftlike.middleware import info, toolkit
from swiftlike.middleware.filters import make_filter_factory
from swiftlike.middleware.formpost_form import (MAX_FIELDS, FormError, FormUnauthorized,
                                                MultipartReader, check_expires,
                                                check_signature, form_boundary, int_field,
                                                redirect_location)
from swiftlike.middleware.tempurl import temp_url_keys
from swiftlike.middleware.tempurl_sig import DEPRECATED_DIGESTS, DIGESTS, allowed_digests

SOURCE = 'FP'
FEATURE = 'formpost'
REMOTE_USER = '.wsgi.formpost'
# What a finished form may still send after its closing boundary (read, so
# the browser is not cut off while writing).
MAX_EPILOGUE = 65536
MAX_OBJECT_PATH = 4096


@dataclasses.dataclass
class Conf:
    # Digests a signature may use (sha1 is accepted but deprecated).
    allowed_digests: str = 'sha1 sha256 sha512'

    def validate(self):
        allowed_digests(self.allowed_digests)

    @property
    def digest_list(self):
        return allowed_digests(self.allowed_digests)


class FileTooBig(ValueError):
    """Raised to the proxy from a file's body: the PUT stops (499), nothing
    is stored."""


class FileBody:
    """The wsgi.input of one file's PUT: the part's bytes, at most `limit`.
    A longer file, or a broken form, ends the PUT with an error (so the
    proxy stores nothing); the reason is kept in .error."""

    def __init__(self, part, limit):
        self.part = part
        self.limit = limit
        self.size = 0
        self.error = None

    def read(self, size=-1):
        if self.error is not None:
            raise FileTooBig(str(self.error))
        if size is None or size < 0:
            size = 65536
        try:
            data = self.part.read(min(size, self.limit + 1 - self.size))
        except FormError as err:
            self.error = err
            raise FileTooBig(str(err))
        self.size += len(data)
        if self.size > self.limit:
            self.error = FormError('max_file_size exceeded')
            raise FileTooBig('max_file_size exceeded')
        return data


class UploadHook:
    """The authorisation of a signed form's subrequests: its own PUTs of
    objects under the signed path; requests other middlewares below make for
    them (versions, segments) within the signed account."""

    def __init__(self, account, container, prefix):
        self.account = account
        self.container = container
        self.prefix = prefix

    def __call__(self, env, read_acl='', write_acl='', is_object=False):
        parts = toolkit.split_account_path(env.get('PATH_INFO', ''))
        if parts is None or parts[0] != self.account:
            return '401 Unauthorized', 'FormPost: Invalid Signature'
        if env.get(toolkit.SOURCE_KEY) != SOURCE:
            return None
        if parts[1] != self.container or env.get('REQUEST_METHOD') != 'PUT':
            return '401 Unauthorized', 'FormPost: Invalid Signature'
        if parts[2] is None and is_object:
            # The proxy asks about an object PUT by its container; the
            # object is the one this middleware named under the prefix.
            return None
        if parts[2] is not None and parts[2].startswith(self.prefix):
            return None
        return '401 Unauthorized', 'FormPost: Invalid Signature'


def _plain(status, body, headers=()):
    data = body.encode('latin-1', 'replace')
    return status, list(headers) + [('Content-Type', 'text/plain; charset=UTF-8'),
                                    ('Content-Length', str(len(data)))], data


class FormPost:
    def __init__(self, app, conf):
        self.app = app
        self.conf = conf
        self.digests = conf.digest_list
        self.info_app = toolkit.PreAuthorized(app)
        deprecated = [d for d in self.digests if d in DEPRECATED_DIGESTS]
        details = {'allowed_digests': self.digests}
        if deprecated:
            details['deprecated_digests'] = deprecated
        info.register(FEATURE, **details)

    def __call__(self, env, start_response):
        if env.get('REQUEST_METHOD') != 'POST':
            return self.app(env, start_response)
        parts = toolkit.split_account_path(env.get('PATH_INFO', ''))
        if parts is None:
            return self.app(env, start_response)
        try:
            boundary = form_boundary(env.get('CONTENT_TYPE', ''))
            if boundary is None:
                return self.app(env, start_response)
            status, headers, body = self.translate(env, parts, boundary)
        except FormError as err:
            status, headers, body = _plain('400 Bad Request', 'FormPost: %s' % err)
        except FormUnauthorized as err:
            status, headers, body = _plain('401 Unauthorized',
                                           'FormPost: %s' % str(err).title(),
                                           [('Www-Authenticate', 'Swift realm="%s"'
                                             % parts[0].replace('"', ''))])
        headers.extend(toolkit.cors_headers(env, self.app, parts[0], parts[1], SOURCE))
        start_response(status, headers)
        return [body]

    # -- the form ---------------------------------------------------------------------

    def translate(self, env, parts, boundary):
        """(status line, headers, body) of the whole form."""
        account, container, _obj = parts
        reader = MultipartReader(env['wsgi.input'].read, boundary)
        fields = {}
        status = message = ''
        failure = b''
        file_count = 0
        while True:
            part = reader.next_part()
            if part is None:
                reader.drain(MAX_EPILOGUE)
                break
            if not part.is_file:
                if len(fields) >= MAX_FIELDS:
                    raise FormError('too many form fields')
                value = part.read_value()
                if part.name:
                    fields[part.name.lower()] = value
                continue
            file_count += 1
            max_count = int_field(fields, 'max_file_count', 'max_file_count not an integer')
            if file_count > max_count:
                status, message = '400 Bad Request', 'max file count exceeded'
                break
            status, failure = self.upload(env, account, container, fields, part)
            if not status.startswith('2'):
                break
        if not status:
            status, message = '400 Bad Request', 'no files to process'
        redirect = fields.get('redirect')
        if not redirect:
            body = status
            if message:
                body += '\r\nFormPost: ' + message.title()
            elif failure and not status.startswith('2'):
                body = failure.decode('latin-1')     # the failed PUT's own reason
            return _plain(status, body)
        location = redirect_location(redirect, status.split(' ', 1)[0], message)
        page = ('<html><body><p><a href="%s">Click to continue...</a></p></body></html>'
                % html.escape(location, quote=True)).encode('latin-1', 'replace')
        return '303 See Other', [('Location', location),
                                 ('Content-Type', 'text/html; charset=UTF-8'),
                                 ('Content-Length', str(len(page)))], page

    def check(self, env, account, container, fields):
        """The checks before a file is stored, in Swift's order; returns
        (max_file_size, extra PUT headers)."""
        keys = [key for key, _scope in temp_url_keys(env, self.info_app, account,
                                                     container, SOURCE)] \
            if container else []
        if not keys:
            raise FormUnauthorized('invalid signature')
        max_size = int_field(fields, 'max_file_size', 'max_file_size not an integer')
        headers = {}
        if 'x_delete_at' in fields:
            headers['X-Delete-At'] = str(int_field(
                fields, 'x_delete_at', 'x_delete_at not an integer: Unix timestamp required.',
                default=''))
        if 'x_delete_after' in fields:
            headers['X-Delete-After'] = str(int_field(
                fields, 'x_delete_after',
                'x_delete_after not an integer: Number of seconds required.', default=''))
        check_expires(fields, time.time())
        check_signature(fields, env['PATH_INFO'], keys, self.digests)
        return max_size, headers

    def upload(self, env, account, container, fields, part):
        """PUT one file: (status line, the PUT's answer body)."""
        max_size, headers = self.check(env, account, container, fields)
        path = env['PATH_INFO']
        if path.count('/') < 4 and not path.endswith('/'):
            path += '/'
        prefix = path.split('/', 4)[4]
        path += part.filename
        if len(path) > MAX_OBJECT_PATH:
            raise FormError('file name too long')
        agent = ('%s FormPost' % env.get('HTTP_USER_AGENT', '')).strip()
        sub = toolkit.subrequest_env(env, 'PUT', path, SOURCE, headers)
        sub['HTTP_USER_AGENT'] = agent
        del sub['CONTENT_LENGTH']
        sub['HTTP_TRANSFER_ENCODING'] = 'chunked'
        content_type = fields.get('content-type') or part.headers.get('content-type')
        if content_type:
            sub['CONTENT_TYPE'] = content_type
        encoding = fields.get('content-encoding') or part.headers.get('content-encoding')
        if encoding:
            sub['HTTP_CONTENT_ENCODING'] = encoding
        body = sub['wsgi.input'] = FileBody(part, max_size)
        toolkit.override_authorization(sub, UploadHook(account, container, prefix))
        sub['REMOTE_USER'] = REMOTE_USER
        toolkit.mark_feature(sub, FEATURE)
        status, _headers, answer = toolkit.call_app(self.app, sub)
        if body.error is not None:
            raise body.error
        return status_line(status), answer[:1024]


filter_factory = make_filter_factory(FormPost, Conf)
