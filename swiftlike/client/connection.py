"""Connection: one method per Swift v1 API call, shaped like python-swiftclient's so code can switch.

Headers come back as dicts with lower-cased names; listings as parsed JSON lists; put_object returns the
ETag. Every method raises ClientException on failure.
"""
import json
from urllib.parse import quote

from swiftlike.client.body import ObjectBody
from swiftlike.client.core import BaseConnection, body_source
from swiftlike.client.exceptions import ClientException


class Connection(BaseConnection):
    """A Swift v1 client. Share one instance between threads freely (see doc/client.md)."""

    # -- account -----------------------------------------------------------------------------------------------

    def head_account(self, headers=None):
        resp, _ = self.request('Account', 'HEAD', headers=headers)
        return resp.headers

    def get_account(self, marker=None, limit=None, prefix=None, end_marker=None, full_listing=False,
                    headers=None, delimiter=None, reverse=None, query_string=None):
        """(headers, [container dicts]); full_listing pages through all of them with markers."""
        return self._listing('Account', None, marker, limit, prefix, end_marker, full_listing, headers,
                             delimiter, reverse, None, query_string)

    def post_account(self, headers, response_dict=None, query_string=None, data=None):
        """Set account metadata; returns (headers, body) like python-swiftclient."""
        query = self.make_query({}, query_string)
        body = body_source(data) if data is not None else None
        resp, text = self.request('Account', 'POST', query=query, headers=headers, body=body,
                                  response_dict=response_dict)
        return resp.headers, text

    # -- container ---------------------------------------------------------------------------------------------

    def put_container(self, container, headers=None, response_dict=None, query_string=None):
        self.request('Container', 'PUT', container, query=self.make_query({}, query_string),
                     headers=headers, response_dict=response_dict)

    def head_container(self, container, headers=None):
        resp, _ = self.request('Container', 'HEAD', container, headers=headers)
        return resp.headers

    def get_container(self, container, marker=None, limit=None, prefix=None, delimiter=None, end_marker=None,
                      path=None, full_listing=False, headers=None, query_string=None, reverse=None):
        """(headers, [object dicts]); full_listing pages through all of them with markers."""
        return self._listing('Container', container, marker, limit, prefix, end_marker, full_listing,
                             headers, delimiter, reverse, path, query_string)

    def post_container(self, container, headers, response_dict=None):
        self.request('Container', 'POST', container, headers=headers, response_dict=response_dict)

    def delete_container(self, container, response_dict=None, query_string=None, headers=None):
        self.request('Container', 'DELETE', container, query=self.make_query({}, query_string),
                     headers=headers, response_dict=response_dict, deleting=True)

    def _listing(self, what, container, marker, limit, prefix, end_marker, full_listing, headers, delimiter,
                 reverse, path, query_string):
        listing = []
        while True:
            params = {'format': 'json', 'marker': marker or None, 'limit': limit, 'prefix': prefix,
                      'end_marker': end_marker, 'delimiter': delimiter, 'path': path,
                      'reverse': 'true' if reverse else None}
            query = self.make_query(params, query_string)
            resp, data = self.request(what, 'GET', container, query=query, headers=headers)
            page = _parse_listing(what, resp, data)
            if not full_listing:
                return resp.headers, page
            if not page:
                return resp.headers, listing
            listing.extend(page)
            last = page[-1]
            marker = last.get('name', last.get('subdir'))

    # -- object ------------------------------------------------------------------------------------------------

    def put_object(self, container, obj, contents, content_length=None, etag=None, chunk_size=None,
                   content_type=None, headers=None, query_string=None, response_dict=None):
        """Upload `contents` (bytes, str, a file-like object or an iterable of bytes); returns the ETag.

        Without a known length (an iterator, a pipe) the body is sent chunked. `etag`, if given, is sent so
        the server refuses a corrupted upload (422). The MD5 of what was actually sent is always compared
        with the ETag the server answers, so a mismatch raises even without `etag`.
        Seekable bodies are re-sent on retry; an iterator cannot be, so a failure after it began raises.
        """
        hdrs = dict(headers or {})
        if content_type is not None:
            hdrs['Content-Type'] = content_type   # without one the server guesses from the name
        if etag is not None:
            hdrs['ETag'] = etag.strip('"')
        if content_length is not None:
            hdrs['Content-Length'] = str(int(content_length))
        body = body_source(contents, content_length, chunk_size)
        query = self.make_query({}, query_string)
        resp, _ = self.request('Object', 'PUT', container, obj, query=query, headers=hdrs, body=body,
                               response_dict=response_dict)
        got = (resp.headers.get('etag') or '').strip('"')
        sent = body.md5.hexdigest()
        if got and got != sent and not _is_manifest_put(hdrs, query):
            raise ClientException('Object PUT failed: ETag mismatch: sent %s, server stored %s' % (sent, got),
                                  http_path='/%s/%s' % (container, obj), http_status=resp.status,
                                  http_reason=resp.reason, http_response_headers=resp.headers,
                                  transaction_id=resp.headers.get('x-trans-id'), method='PUT')
        return got

    def get_object(self, container, obj, resp_chunk_size=None, query_string=None, response_dict=None,
                   headers=None):
        """(headers, body): body is bytes, or with resp_chunk_size an iterable ObjectBody (also .read(n)).

        Pass {'Range': 'bytes=0-99'} in headers for ranges. Whole-object reads resume after a broken
        connection from the byte where they stopped (see ObjectBody).
        """
        hdrs = dict(headers or {})
        query = self.make_query({}, query_string)
        resp, _ = self.request('Object', 'GET', container, obj, query=query, headers=hdrs, read=False,
                               response_dict=response_dict)
        body = ObjectBody(self, resp, container, obj, query, hdrs, resp_chunk_size)
        if resp_chunk_size:
            return resp.headers, body
        return resp.headers, body.read()

    def head_object(self, container, obj, headers=None, query_string=None):
        resp, _ = self.request('Object', 'HEAD', container, obj, query=self.make_query({}, query_string),
                               headers=headers)
        return resp.headers

    def post_object(self, container, obj, headers, response_dict=None, query_string=None):
        self.request('Object', 'POST', container, obj, query=self.make_query({}, query_string),
                     headers=headers, response_dict=response_dict)

    def copy_object(self, container, obj, destination=None, headers=None, fresh_metadata=None,
                    response_dict=None):
        """Server-side copy to `destination` ('/container/object'; default: onto itself).

        Uses the COPY verb; a server without it (405/501) gets the equivalent PUT with X-Copy-From.
        """
        hdrs = dict(headers or {})
        if destination is None:
            destination = '/%s/%s' % (container, obj)
        if not destination.startswith('/'):
            raise ValueError('destination must look like /container/object, got %r' % (destination,))
        if fresh_metadata is not None:
            hdrs['X-Fresh-Metadata'] = 'true' if fresh_metadata else 'false'
        copy_headers = dict(hdrs, Destination=quote(destination, safe='/'))
        try:
            self.request('Object', 'COPY', container, obj, headers=copy_headers, response_dict=response_dict)
            return
        except ClientException as err:
            if err.http_status not in (405, 501):
                raise
        dest_container, _, dest_obj = destination[1:].partition('/')
        if not dest_container or not dest_obj:
            raise ValueError('destination must look like /container/object, got %r' % (destination,))
        put_headers = dict(hdrs, **{'X-Copy-From': quote('/%s/%s' % (container, obj), safe='/')})
        put_headers['Content-Length'] = '0'
        self.request('Object', 'PUT', dest_container, dest_obj, headers=put_headers, response_dict=response_dict)

    def delete_object(self, container, obj, query_string=None, response_dict=None, headers=None):
        """Delete; a 404 after a retry whose first attempt broke off counts as done."""
        self.request('Object', 'DELETE', container, obj, query=self.make_query({}, query_string),
                     headers=headers, response_dict=response_dict, deleting=True)


def _parse_listing(what, resp, data):
    if resp.status == 204 or not data:
        return []
    try:
        listing = json.loads(data)
    except ValueError:
        raise ClientException('%s GET failed: the listing is not JSON' % what, http_status=resp.status,
                              http_reason=resp.reason, http_response_content=data[:200]) from None
    if not isinstance(listing, list):
        raise ClientException('%s GET failed: the listing is not a JSON list' % what, http_status=resp.status)
    return listing


def _is_manifest_put(headers, query):
    lower = {k.lower() for k in headers}
    return 'x-object-manifest' in lower or 'multipart-manifest=put' in (query or '')
