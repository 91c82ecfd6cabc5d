"""`swiftlike-ratelimit`: the ratelimit middleware's table, for reseller
admins (as `show table` / `clear table` on HAProxy's stats socket).

    swiftlike-ratelimit -A http://proxy:8080/auth/v1.0 -U admin:admin -K admin list [--kind K]
    swiftlike-ratelimit ... show KIND KEY
    swiftlike-ratelimit ... clear KIND KEY

It authenticates at the auth URL (or takes --token and --url), then asks the
proxy's admin path (default /ratelimit). `list` prints the counts of the
answering proxy process and one line per tracked key; `show` prints one
entry as JSON. Exit status: 0 done, 1 not found or refused, 2 bad arguments
or no answer.
"""
import argparse
import http.client
import json
import sys
from urllib.parse import quote, urlsplit

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2
KINDS = ('source', 'account', 'container', 'user')


def request(method, url, headers=None, timeout=30):
    parts = urlsplit(url)
    conn_cls = http.client.HTTPSConnection if parts.scheme == 'https' else \
        http.client.HTTPConnection
    conn = conn_cls(parts.hostname, parts.port, timeout=timeout)
    try:
        path = parts.path + ('?' + parts.query if parts.query else '')
        conn.request(method, path or '/', headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def authenticate(auth_url, user, key):
    """(proxy base URL, token) from a v1 auth URL."""
    status, headers, body = request('GET', auth_url, {'X-Auth-User': user, 'X-Auth-Key': key})
    if status // 100 != 2 or 'x-auth-token' not in headers:
        raise RuntimeError('auth failed: %d %s' % (status, body.decode('utf-8', 'replace')))
    parts = urlsplit(auth_url)
    return '%s://%s' % (parts.scheme, parts.netloc), headers['x-auth-token']


def format_entry(entry):
    rates = ' '.join('%s=%s' % item for item in sorted(entry['rates'].items()))
    mark = ' MARKED %ds' % entry['marked_for'] if entry['marked_for'] else ''
    return '%-9s %-40s conn=%d %s%s' % (entry['kind'], entry['key'], entry['concurrent'],
                                        rates, mark)


def main(argv=None, out=sys.stdout, err=sys.stderr):
    parser = argparse.ArgumentParser(prog='swiftlike-ratelimit', description=__doc__.split(
        '\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-A', '--auth', help='v1 auth URL (http://host:port/auth/v1.0)')
    parser.add_argument('-U', '--user', help='a reseller admin, account:user')
    parser.add_argument('-K', '--key')
    parser.add_argument('--url', help='the proxy (http://host:port), with --token')
    parser.add_argument('--token')
    parser.add_argument('--admin-path', default='/ratelimit')
    sub = parser.add_subparsers(dest='command', required=True)
    listing = sub.add_parser('list', help='the tracked keys and the counts')
    listing.add_argument('--kind', choices=KINDS)
    listing.add_argument('--limit', type=int, default=1000)
    listing.add_argument('--json', action='store_true')
    for name, text in (('show', 'one entry'), ('clear', 'clear a mark and its counts')):
        one = sub.add_parser(name, help=text)
        one.add_argument('kind', choices=KINDS)
        one.add_argument('entry', metavar='KEY')
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_ERROR if exc.code else EXIT_OK
    try:
        if args.token and args.url:
            base, token = args.url.rstrip('/'), args.token
        elif args.auth and args.user and args.key is not None:
            base, token = authenticate(args.auth, args.user, args.key)
        else:
            err.write('give -A/-U/-K, or --url and --token\n')
            return EXIT_ERROR
        path = base + args.admin_path.rstrip('/')
        headers = {'X-Auth-Token': token}
        if args.command == 'list':
            query = 'limit=%d' % args.limit + ('&kind=%s' % args.kind if args.kind else '')
            status, _h, body = request('GET', path + '?' + query, headers)
        else:
            url = '%s/%s/%s' % (path, args.kind, quote(args.entry, safe=''))
            status, _h, body = request('GET' if args.command == 'show' else 'DELETE', url,
                                       headers)
    except (OSError, RuntimeError, http.client.HTTPException) as exc:
        err.write('%s\n' % exc)
        return EXIT_ERROR
    if status // 100 != 2:
        err.write('%d %s' % (status, body.decode('utf-8', 'replace')))
        return EXIT_FAILED
    if args.command == 'clear':
        out.write('cleared %s %s\n' % (args.kind, args.entry))
        return EXIT_OK
    data = json.loads(body)
    if args.command == 'show' or args.json:
        out.write(json.dumps(data, indent=2, sort_keys=True) + '\n')
        return EXIT_OK
    out.write('tracked=%d evicted=%d shared=%s %s\n' % (
        data['tracked'], data['evicted'], data['shared'],
        ' '.join('%s=%d' % item for item in sorted(data['stats'].items()))))
    for entry in data['entries']:
        out.write(format_entry(entry) + '\n')
    return EXIT_OK


if __name__ == '__main__':
    sys.exit(main())
