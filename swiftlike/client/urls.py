"""Checking the URLs a client is given (auth URL, storage URL) before any request is made with them."""
from urllib.parse import urlsplit

from swiftlike.client.exceptions import InvalidURL

SCHEMES = ('http', 'https')


def check_url(url, what='URL'):
    """Return `url` if a request can be sent to it: an absolute http:// or https:// URL with a host.

    Otherwise raise InvalidURL with one line saying what is wrong, e.g. "auth URL must start with http:// or
    https://, got '127.0.0.1:8080/auth/v1.0' (did you mean 'http://127.0.0.1:8080/auth/v1.0'?)". `what` names
    the URL in the message.
    """
    if isinstance(url, bytes):
        raise InvalidURL('%s must be text (str), got bytes %r' % (what, url))
    if not isinstance(url, str):
        raise InvalidURL('%s must be a string, got %s' % (what, type(url).__name__))
    if not url:
        raise InvalidURL('%s is empty' % what)
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise InvalidURL('%s must not contain spaces or control characters, got %r' % (what, url))
    if not url.isascii():
        raise InvalidURL('%s must be ASCII (percent-encode other characters), got %r' % (what, url))
    scheme, sep, _rest = url.partition('://')
    if not sep or scheme.lower() not in SCHEMES:
        hint = '' if sep or url.startswith('/') else " (did you mean 'http://%s'?)" % url
        raise InvalidURL('%s must start with http:// or https://, got %r%s' % (what, url, hint))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise InvalidURL('%s is not a valid URL (%s): %r' % (what, err, url)) from None
    if not parts.hostname:
        raise InvalidURL('%s has no host name: %r' % (what, url))
    if port == 0:
        raise InvalidURL('%s has port 0, which cannot be connected to: %r' % (what, url))
    return url
