"""Bulk operations (Swift's `bulk`): many deletes, or the files of a tar
archive, in one request.

Bulk delete: `POST` (or `DELETE`, for older clients) to any path of an account
with `?bulk-delete` and a text body of newline-separated, URL-encoded
`/container/object` or `/container` paths (relative to the account; the
container or object in the request's own path is not used). Each becomes a
`DELETE` through the rest of the pipeline carrying the requester's tokens, so
auth and ACLs judge each one as if the client had sent it; objects go before
containers, so a container listed with its objects can be emptied and removed
in one request. The body is read whole before anything is deleted (at most
`max_deletes_per_request` paths, each bounded in length, so memory is bounded);
more paths than that and nothing is deleted (413). Deletes run
`delete_concurrency` at a time; the request stops once `max_failed_deletes`
paths have failed.

Extract archive: `PUT /v1/<account>[/<container>[/<prefix>]]?extract-archive=
tar|tar.gz|tar.bz2` (bulk_extract.py).

Both answer `200 OK` at once and report the outcome in the body, in the format
the Accept header picks (text/plain by default, application/json,
application/xml or text/xml): `Response Status` (what a single request doing
it all would have answered: 200/201 when everything went well, else 400, or
502 when a subrequest failed on the server side, or 401 ...), `Response Body`,
`Errors` (`[path, status]` per failure) and the counters. While the work goes
on, a space is sent every `yield_frequency` seconds so that clients and load
balancers do not time the request out; the XML declaration is left out after
such whitespace (XML allows whitespace before the root element, not before a
declaration). Each request is bounded in work by the limits above and the
proxy's own timeouts per subrequest.
"""
import dataclasses
import json
import time
from urllib.parse import parse_qs, quote, unquote_to_bytes
from xml.sax.saxutils import escape as xml_escape

from swiftlike import concurrency
from swiftlike.constraints import MAX_CONTAINER_NAME_LENGTH, MAX_OBJECT_NAME_LENGTH
from swiftlike.db.listing import choose_format
from swiftlike.exceptions import SwiftlikeError
from swiftlike.http import status_line
from swiftlike.logs import get_logger
from swiftlike.middleware import info
from swiftlike.middleware.filters import make_filter_factory
from swiftlike.middleware.toolkit import (AUTHORIZE_KEY, RESELLER_REQUEST_KEY, call_app,
                                          mark_feature, split_account_path, subrequest_env)

DELETE_SOURCE = 'BD'
EXTRACT_SOURCE = 'EA'
# '/' + container + '/' + object, decoded.
MAX_PATH_LENGTH = MAX_CONTAINER_NAME_LENGTH + MAX_OBJECT_NAME_LENGTH + 2
# A line of the delete list may be URL-encoded (3 bytes a byte) and padded.
MAX_LINE_LENGTH = 3 * MAX_PATH_LENGTH + 256
READ_SIZE = 65536
CONTENT_TYPES = {'json': 'application/json', 'xml': 'application/xml', 'plain': 'text/plain'}
# What a subrequest inherits from the client's request: its credentials (and,
# when this filter runs after auth, the identity auth found, which the proxy
# judges afresh for each subrequest's path).
AUTH_ENV_KEYS = ('HTTP_X_AUTH_TOKEN', 'HTTP_X_STORAGE_TOKEN', 'HTTP_X_SERVICE_TOKEN',
                 'REMOTE_USER', AUTHORIZE_KEY, RESELLER_REQUEST_KEY)


@dataclasses.dataclass
class Conf:
    max_containers_per_extraction: int = 10000
    max_failed_extractions: int = 1000
    max_deletes_per_request: int = 10000
    max_failed_deletes: int = 1000
    yield_frequency: float = 10.0
    delete_concurrency: int = 2

    def validate(self):
        for name in ('max_containers_per_extraction', 'max_failed_extractions',
                     'max_deletes_per_request', 'max_failed_deletes'):
            if getattr(self, name) < 1:
                raise ValueError('%s must be at least 1' % name)
        if self.yield_frequency < 0:
            raise ValueError('yield_frequency must not be negative')
        if not 1 <= self.delete_concurrency <= 32:
            raise ValueError('delete_concurrency must be between 1 and 32')


class Abort(Exception):
    """Ends a bulk request early: the summary's Response Status and Body."""

    def __init__(self, status, body=''):
        super().__init__(status, body)
        self.status = status
        self.body = body


class Summary:
    """The outcome of a bulk request, rendered as its response body."""

    def __init__(self, root, counters, success):
        self.root = root            # 'delete' or 'extract' (the XML root)
        self.counts = dict.fromkeys(counters, 0)
        self.success = success      # 200 or 201
        self.errors = []            # [display path, status line]
        self.server_error = False
        self.unauthorized = False
        self.aborted = None         # (status, body)

    def fail(self, display, status):
        self.errors.append([display, status_line(status)])
        if status >= 500:
            self.server_error = True
        elif status == 401:
            self.unauthorized = True

    def abort(self, status, body):
        if self.aborted is None:
            self.aborted = (status, body)

    def outcome(self):
        """(Response Status, Response Body)."""
        if self.aborted is not None:
            status, body = self.aborted
        elif self.unauthorized:
            status, body = 401, ''
        elif self.server_error:
            status, body = 502, ''
        elif self.errors:
            status, body = 400, ''
        else:
            status, body = self.success, ''
        return status_line(status), body

    def fields(self):
        status, body = self.outcome()
        out = dict(self.counts)
        out.update({'Response Status': status, 'Response Body': body})
        return out

    def render(self, fmt, declaration=True):
        fields = self.fields()
        if fmt == 'json':
            fields['Errors'] = self.errors
            return json.dumps(fields, sort_keys=True).encode('utf-8')
        if fmt == 'xml':
            parts = ['<?xml version="1.0" encoding="UTF-8"?>\n'] if declaration else []
            parts.append('<%s>' % self.root)
            for key in sorted(fields):
                tag = key.lower().replace(' ', '_')
                parts.append('<%s>%s</%s>' % (tag, xml_escape(str(fields[key])), tag))
            parts.append('<errors>')
            for name, status in self.errors:
                parts.append('<object><name>%s</name><status>%s</status></object>'
                             % (xml_escape(name), xml_escape(status)))
            parts.append('</errors></%s>\n' % self.root)
            return ''.join(parts).encode('utf-8')
        lines = ['%s: %s' % (key, fields[key]) for key in sorted(fields)]
        lines.append('Errors:')
        lines.extend('%s, %s' % (name, status) for name, status in self.errors)
        return ('\n'.join(lines) + '\n').encode('utf-8')


def display_path(raw):
    """How a path (bytes, relative to the account) is named in Errors:
    URL-encoded, with one leading '/', cut to a sane length."""
    return quote(b'/' + raw.lstrip(b'/')[:MAX_PATH_LENGTH], safe='/')


def check_name(container, obj):
    """None when container/obj (bytes; obj may be b'') may be named in a
    subrequest, else the status a request for it would get."""
    for part in (container, obj):
        if b'\x00' in part:
            return 412
        try:
            part.decode('utf-8')
        except UnicodeDecodeError:
            return 412
    if not container or len(container) > MAX_CONTAINER_NAME_LENGTH or \
            len(obj) > MAX_OBJECT_NAME_LENGTH:
        return 400
    return None


def parse_delete_line(line):
    """(container, obj or b'') of a stripped, non-empty line of a delete
    list, and None or the status it fails with by itself."""
    path = unquote_to_bytes(line).lstrip(b'/')
    container, _, obj = path.partition(b'/')
    return (container, obj), check_name(container, obj)


def target_path(target):
    container, obj = target
    return container + b'/' + obj if obj else container


def read_delete_list(wsgi_input, max_paths, max_failed):
    """([(container, obj)], [(display, status)], whether paths were left out)
    from a delete list body, in order. Raises Abort for more than max_paths paths (or a body longer than
    they can be) or none, and when the client goes away. Lines longer than
    any valid path are failures of their own (read past, never held whole).
    Once max_failed lines have failed, the rest is only counted (the request
    stops there anyway), so memory stays bounded by the limits."""
    targets, errors = [], []
    count = 0
    pending = b''
    skipping = False    # inside an over-long line
    size = 0
    too_many = Abort(413, 'Maximum Bulk Deletes: %d per request' % max_paths)
    left_out = False

    def take(line, overlong=False):
        nonlocal count, left_out
        line = line.strip()
        if not line:
            return
        count += 1
        if count > max_paths:
            raise too_many
        if len(errors) >= max_failed:
            left_out = True
            return
        if overlong:
            errors.append((display_path(unquote_to_bytes(line)), 400))
            return
        target, failed = parse_delete_line(line)
        if failed:
            errors.append((display_path(target_path(target)), failed))
        else:
            targets.append(target)

    while True:
        chunk = read_client(wsgi_input, READ_SIZE)
        if not chunk:
            break
        size += len(chunk)
        if size > max_paths * (MAX_LINE_LENGTH + 2):
            raise too_many
        lines = (pending + chunk).split(b'\n')
        pending = lines.pop()
        for line in lines:
            if skipping:
                skipping = False
                continue
            take(line)
        if len(pending) > MAX_LINE_LENGTH:
            if not skipping:
                take(pending, overlong=True)
                skipping = True
            pending = b''
    if not skipping:
        take(pending)
    if not count:
        raise Abort(400, 'Invalid bulk delete.')
    return targets, errors, left_out


def read_client(wsgi_input, size):
    """A read of the request body; Abort when the client is gone or slow."""
    try:
        return wsgi_input.read(size)
    except (TimeoutError, concurrency.Timeout):
        raise Abort(408, 'Timed out reading the request body')
    except (OSError, ValueError, SwiftlikeError):
        raise Abort(499, 'Client disconnected while sending the body')


def in_order(func, items, width, stop, halted):
    """func(item) for each item, up to `width` at once; yields the results in
    the items' order. Once stop() is true no new call starts (and `halted`
    gets True appended); the running ones are waited for and yielded."""
    pile = concurrency.GreenPile(width)
    running = 0
    for item in items:
        if running >= width:
            running -= 1
            yield next(pile)
        if stop():
            halted.append(True)
            break
        pile.spawn(func, item)
        running += 1
    while running:
        running -= 1
        yield next(pile)


def inherit_auth(env, sub):
    for key in AUTH_ENV_KEYS:
        if key in env:
            sub[key] = env[key]
    return sub


class Bulk:
    def __init__(self, app, conf):
        self.app = app
        self.conf = conf
        self.logger = get_logger('proxy-server')
        info.register('bulk_delete', max_deletes_per_request=conf.max_deletes_per_request,
                      max_failed_deletes=conf.max_failed_deletes)
        info.register('bulk_upload',
                      max_containers_per_extraction=conf.max_containers_per_extraction,
                      max_failed_extractions=conf.max_failed_extractions)

    def __call__(self, env, start_response):
        mark_feature(env, 'bulk')
        method = env.get('REQUEST_METHOD')
        parts = split_account_path(env.get('PATH_INFO', ''))
        query = parse_qs(env.get('QUERY_STRING', ''), keep_blank_values=True)
        if parts is None:
            return self.app(env, start_response)
        if method == 'PUT' and 'extract-archive' in query:
            # (Imported here: bulk_extract builds on this module.)
            from swiftlike.middleware import bulk_extract
            kind = query['extract-archive'][0].strip().lower().strip('.')
            if kind not in bulk_extract.ARCHIVE_TYPES:
                return self.reply(start_response, 400, 'Unsupported archive format')
            work, summary = bulk_extract.extraction(self, env, parts)
        elif method in ('POST', 'DELETE') and 'bulk-delete' in query:
            summary = Summary('delete', ('Number Deleted', 'Number Not Found'), 200)
            work = self.delete_work(env, parts[0], summary)
        else:
            return self.app(env, start_response)
        try:
            fmt = choose_format(None, env.get('HTTP_ACCEPT'))
        except SwiftlikeError as err:
            return self.reply(start_response, err.http_status, err.reason)
        concurrency.send_chunks_at_once(env)
        start_response('200 OK', [('Content-Type', CONTENT_TYPES[fmt] + '; charset=utf-8')])
        return self.respond(work, summary, fmt)

    @staticmethod
    def reply(start_response, status, body):
        body = body.encode('utf-8')
        start_response(status_line(status), [('Content-Type', 'text/plain; charset=utf-8'),
                                             ('Content-Length', str(len(body)))])
        return [body]

    def respond(self, work, summary, fmt):
        """The response body: a space every yield_frequency seconds while
        `work` (a generator stepping through the subrequests) runs, then the
        summary."""
        last = time.monotonic()
        spaced = False
        try:
            for _step in work:
                now = time.monotonic()
                if now - last >= self.conf.yield_frequency:
                    last = now
                    spaced = True
                    yield b' '
        except Abort as err:
            summary.abort(err.status, err.body)
        except Exception:
            self.logger.exception('ERROR bulk request failed')
            summary.abort(500, 'An error occurred')
        finally:
            work.close()
        yield summary.render(fmt, declaration=not spaced)

    # -- bulk delete -------------------------------------------------------------------

    def delete_work(self, env, account, summary):
        conf = self.conf
        targets, errors, left_out = read_delete_list(
            env['wsgi.input'], conf.max_deletes_per_request, conf.max_failed_deletes)
        for display, status in errors:
            summary.fail(display, status)

        def too_many():
            return len(summary.errors) >= conf.max_failed_deletes

        def delete(target):
            container, obj = target
            path = '/v1/%s/%s' % (account, container.decode('latin-1'))
            if obj:
                path += '/' + obj.decode('latin-1')
            sub = inherit_auth(env, subrequest_env(env, 'DELETE', path, DELETE_SOURCE))
            return target, call_app(self.app, sub)[0]

        def stop():
            return too_many() or summary.unauthorized

        halted = [True] if left_out else []
        phases = ([t for t in targets if t[1]], [t for t in targets if not t[1]])
        for phase in phases:
            if halted:
                break
            for target, status in in_order(delete, phase, conf.delete_concurrency, stop,
                                           halted):
                if 200 <= status < 300:
                    summary.counts['Number Deleted'] += 1
                elif status == 404:
                    summary.counts['Number Not Found'] += 1
                else:
                    summary.fail(display_path(target_path(target)), status)
                yield
        if halted and summary.unauthorized:
            raise Abort(401, 'Unauthorized')
        if halted:
            raise Abort(400, 'Max delete failures exceeded')


filter_factory = make_filter_factory(Bulk, Conf)
