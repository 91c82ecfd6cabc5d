"""The one error type of the client binding."""
import re


class ClientException(Exception):
    """A failed request: what was asked, what the server answered, and its transaction id.

    Attribute names follow python-swiftclient (http_status, http_reason, http_response_content, ...) so code
    written against it keeps working; `reason`, `body` and `transaction_id` are the short forms.
    """

    def __init__(self, msg, http_scheme='', http_host='', http_port='', http_path='', http_query='',
                 http_status=None, http_reason='', http_device='', http_response_content=b'',
                 http_response_headers=None, transaction_id=None, method=''):
        super().__init__(msg)
        self.msg = msg
        self.method = method
        self.http_scheme = http_scheme
        self.http_host = http_host
        self.http_port = http_port
        self.http_path = http_path
        self.http_query = http_query
        self.http_status = http_status
        self.http_reason = http_reason
        self.http_device = http_device
        self.http_response_content = http_response_content
        self.http_response_headers = http_response_headers or {}
        self.transaction_id = transaction_id

    @property
    def reason(self):
        return self.http_reason

    @property
    def body(self):
        return self.http_response_content

    @classmethod
    def from_response(cls, what, method, url_parts, status, reason, headers, body):
        """Build from a finished HTTP response; `headers` is a lower-cased dict."""
        scheme, host, port, path, query = url_parts
        txn = headers.get('x-trans-id') or headers.get('x-openstack-request-id')
        if isinstance(body, bytes) and len(body) > 4096:
            body = body[:4096]   # keep error objects small; a 4 KiB excerpt says enough
        return cls('%s %s failed' % (what, method), http_scheme=scheme, http_host=host, http_port=port,
                   http_path=path, http_query=query, http_status=status, http_reason=reason,
                   http_response_content=body, http_response_headers=headers, transaction_id=txn,
                   method=method)

    def body_text(self):
        """The response body as short plain text (HTML error pages lose their tags)."""
        body = self.http_response_content
        if isinstance(body, bytes):
            body = body.decode('utf-8', 'replace')
        body = re.sub(r'<[^>]*>', ' ', body or '')
        return ' '.join(body.split())

    def url(self):
        if not self.http_path:
            return ''
        url = '%s://%s' % (self.http_scheme, self.http_host) if self.http_host else ''
        if url and self.http_port:
            url += ':%s' % self.http_port
        url += self.http_path
        if self.http_query:
            url += '?' + self.http_query
        return url

    def short(self):
        """'404 Not Found: The resource could not be found. (txn: tx...)' without the request part."""
        text = ''
        if self.http_status is not None and not 200 <= self.http_status < 300:
            text = '%s %s' % (self.http_status, self.http_reason)
            body = self.body_text()
            if body and body.lower() != str(self.http_reason).lower():
                if body.lower().startswith(str(self.http_reason).lower() + ' '):
                    body = body[len(str(self.http_reason)) + 1:]
                text += ': ' + (body if len(body) <= 300 else body[:300] + '...')
        else:
            text = self.msg
        if self.transaction_id:
            text += ' (txn: %s)' % self.transaction_id
        return text

    def __str__(self):
        text = self.msg
        url = self.url()
        if url:
            text += ' ' + url
        if self.http_status is not None and not 200 <= self.http_status < 300:
            text += ': ' + self.short()
        elif self.transaction_id:
            text += ' (txn: %s)' % self.transaction_id
        return text


class InvalidURL(ClientException, ValueError):
    """An auth or storage URL no request can be sent to (not http:// or https://, no host, a bad port).

    Raised before anything is sent. It is a ClientException like every other failure, and a ValueError since it
    is a bad argument (as int('x') would be).
    """
