"""`swiftlike-tempurl METHOD SECONDS PATH KEY`: make a temporary URL (as
Swift's `swift tempurl` / `swift-temp-url`).

PATH is the object's path from /v1/ on, unquoted (/v1/AUTH_a/c/o), or a
whole URL (http://host:8080/v1/AUTH_a/c/o); with --prefix-based it ends in a
name prefix instead (/v1/AUTH_a/c/pre, or /v1/AUTH_a/c/ for the whole
container). SECONDS is how long the URL stays valid (a number, optionally
with s, m/min, h/hr or d), or with --absolute the expiry as epoch seconds;
an ISO 8601 UTC time (2030-01-02T03:04:05Z) is always an absolute expiry.
KEY is one of the account's or container's Temp-URL keys. The URL (path
quoted, signature in the query) is printed; exit status 2 for bad arguments.
"""
import argparse
import base64
import calendar
import re
import sys
import time
from urllib.parse import quote, urlsplit

from swiftlike.middleware.tempurl_sig import (DIGESTS, ISO8601_FORMAT, ip_allowed,
                                              prefix_path, sign)

EXIT_OK, EXIT_ERROR = 0, 2
_DURATION = re.compile(r'\A([0-9]+)(s|m|min|h|hr|d)?\Z')
_SCALE = {None: 1, 's': 1, 'm': 60, 'min': 60, 'h': 3600, 'hr': 3600, 'd': 86400}


def parse_time(value, absolute=False, now=None):
    """SECONDS -> expiry as epoch seconds; ValueError with the reason."""
    now = time.time() if now is None else now
    text = value.strip()
    try:
        return calendar.timegm(time.strptime(text, ISO8601_FORMAT))
    except ValueError:
        pass
    match = _DURATION.match(text)
    if not match or (absolute and match.group(2)):
        raise ValueError('time must be a whole number of seconds (optionally with s, m, h '
                         'or d), or an ISO 8601 UTC time like 2030-01-02T03:04:05Z, not %r'
                         % value)
    number = int(match.group(1))
    if absolute:
        return number
    return int(now + number * _SCALE[match.group(2)])


def split_target(target, prefix_based):
    """PATH or URL -> (URL start or '', path); ValueError when it is not an
    object path (or a container path with a prefix, for prefix-based URLs)."""
    base = ''
    if '://' in target:
        parts = urlsplit(target)
        if not parts.netloc or parts.query or parts.fragment:
            raise ValueError('a URL must be scheme://host[:port]/v1/<account>/... '
                             'without a query')
        base = '%s://%s' % (parts.scheme, parts.netloc)
        target = parts.path
    pieces = target.split('/', 4)
    need = 4 if prefix_based else 5
    if len(pieces) != 5 or pieces[0] or pieces[1] != 'v1' or not all(pieces[2:need]):
        raise ValueError('path must be /v1/<account>/<container>/%s, not %r'
                         % ('<prefix>' if prefix_based else '<object>', target))
    return base, target


def make_url(method, expires, path, key, digest='sha256', prefix_based=False,
             ip_range=None, iso8601=False, base=''):
    """The temporary URL (str). `path` and `key` are real (unicode) str."""
    pieces = path.split('/', 4)
    signed = prefix_path(*pieces[2:5]) if prefix_based else path
    raw = sign(key.encode('utf-8'), method.upper(), expires, signed.encode('utf-8'),
               digest, ip_range.encode('utf-8') if ip_range else None)
    if digest == 'sha512':
        sig = 'sha512:' + base64.urlsafe_b64encode(raw).decode('ascii').rstrip('=')
    else:
        sig = raw.hex()
    shown = time.strftime(ISO8601_FORMAT, time.gmtime(expires)) if iso8601 else str(expires)
    query = [('temp_url_sig', sig), ('temp_url_expires', shown)]
    if ip_range:
        query.append(('temp_url_ip_range', ip_range))
    if prefix_based:
        query.append(('temp_url_prefix', pieces[4]))
    return base + quote(path) + '?' + '&'.join(
        '%s=%s' % (name, quote(value, safe='/:')) for name, value in query)


def build_parser():
    p = argparse.ArgumentParser(
        prog='swiftlike-tempurl', description=__doc__.split('\n\n', 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('method', help='GET, HEAD, PUT, POST or DELETE')
    p.add_argument('seconds', help='validity in seconds (or s/m/h/d), or an ISO 8601 UTC time')
    p.add_argument('path', help='/v1/<account>/<container>/<object> (or a whole URL)')
    p.add_argument('key', help="the account's or container's Temp-URL key")
    p.add_argument('--absolute', action='store_true',
                   help='SECONDS is the expiry as epoch seconds')
    p.add_argument('--prefix-based', action='store_true',
                   help='sign every object under the name prefix PATH ends with')
    p.add_argument('--iso8601', action='store_true',
                   help='show the expiry as an ISO 8601 UTC time in the URL')
    p.add_argument('--ip-range', help='only clients in this address or CIDR network')
    p.add_argument('--digest', choices=sorted(DIGESTS), default='sha256',
                   help='HMAC digest (default sha256; sha1 is deprecated)')
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        method = args.method.upper()
        if not method.isalpha():
            raise ValueError('method must be an HTTP method, not %r' % args.method)
        expires = parse_time(args.seconds, args.absolute)
        base, path = split_target(args.path, args.prefix_based)
        if args.ip_range is not None and not ip_allowed(args.ip_range, args.ip_range.split('/')[0]):
            raise ValueError('--ip-range must be an address or a network without host bits, '
                             'not %r' % args.ip_range)
        if not args.key:
            raise ValueError('the key is empty')
        url = make_url(method, expires, path, args.key, args.digest, args.prefix_based,
                       args.ip_range, args.iso8601, base)
    except ValueError as err:
        print('swiftlike-tempurl: %s' % err, file=sys.stderr)
        return EXIT_ERROR
    print(url)
    return EXIT_OK


if __name__ == '__main__':
    sys.exit(main())
