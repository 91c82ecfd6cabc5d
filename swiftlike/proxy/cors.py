"""Cross-origin resource sharing for browsers (pure; no I/O).

A container allows other web origins with its metadata:
`X-Container-Meta-Access-Control-Allow-Origin` (space-separated origins, or
`*`), `-Max-Age` (seconds a preflight may be cached) and `-Expose-Headers`
(more response headers a page may read). The proxy's `cors_allow_origin`
allows origins for every container.

- Preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`):
  200 with the allow headers when the origin and method are allowed, else 401.
  An `OPTIONS` with an `Origin` but no requested method is no valid preflight
  (401). Account-level `OPTIONS` has no container to ask: plain 200.
- Actual requests with an `Origin`: the response gets
  `Access-Control-Allow-Origin` (`*` when the container allows any origin,
  else the origin itself) and `Access-Control-Expose-Headers` (the standard
  set, the proxy's `cors_expose_headers`, the container's list and every
  `X-Object-Meta-*` / `X-Container-Meta-*` header of the response). With
  `strict_cors_mode` (the default) only allowed origins get them; without it,
  every origin does (the browser then applies its own rules).
"""
from swiftlike.constraints import is_decimal

EXPOSE_ALWAYS = ('cache-control', 'content-language', 'content-type', 'expires',
                 'last-modified', 'pragma', 'etag', 'x-timestamp', 'x-trans-id',
                 'x-openstack-request-id')
META = 'access-control-'


def container_cors(meta):
    """The CORS settings among a container's user metadata ({name: value},
    names lower-case without 'x-container-meta-')."""
    return {'allow_origin': meta.get(META + 'allow-origin', '').strip(),
            'max_age': meta.get(META + 'max-age', '').strip(),
            'expose_headers': meta.get(META + 'expose-headers', '').strip()}


def _words(text):
    return [w for w in text.replace(',', ' ').split() if w]


def origin_allowed(origin, cors, proxy_origins):
    if not origin:
        return False
    allowed = _words(cors.get('allow_origin', ''))
    return '*' in allowed or origin in allowed or origin in proxy_origins


def preflight(origin, method, request_headers, cors, proxy_origins, allowed_methods):
    """(status, headers) of a preflight OPTIONS on a container or object."""
    headers = [('Allow', ', '.join(allowed_methods))]
    if not method or method not in allowed_methods or \
            not origin_allowed(origin, cors, proxy_origins):
        return 401, headers
    star = '*' in _words(cors.get('allow_origin', ''))
    headers += [('Access-Control-Allow-Origin', '*' if star else origin),
                ('Access-Control-Allow-Methods', ', '.join(allowed_methods)),
                ('Vary', 'Origin')]
    if is_decimal(cors.get('max_age', '')):
        headers.append(('Access-Control-Max-Age', cors['max_age']))
    asked = []
    for name in (request_headers or '').split(','):
        name = name.strip()
        if name and name.lower() not in [a.lower() for a in asked]:
            asked.append(name)
    if asked:
        headers.append(('Access-Control-Allow-Headers', ', '.join(asked)))
    return 200, headers


def response_headers(origin, cors, proxy_origins, strict, expose, response):
    """Headers to add to an actual response (`response`: its (name, value)
    list) for a request with `origin`; [] when it gets none."""
    if not origin or (strict and not origin_allowed(origin, cors, proxy_origins)):
        return []
    star = '*' in _words(cors.get('allow_origin', ''))
    names = list(EXPOSE_ALWAYS) + [h.lower() for h in expose]
    names += [h.lower() for h in _words(cors.get('expose_headers', ''))]
    names += [k.lower() for k, _v in response
              if k.lower().startswith(('x-object-meta-', 'x-container-meta-'))]
    seen = []
    for name in names:
        if name not in seen:
            seen.append(name)
    return [('Access-Control-Allow-Origin', '*' if star else origin),
            ('Access-Control-Expose-Headers', ', '.join(seen))]
