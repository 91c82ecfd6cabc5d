"""The proxy's middleware pipeline: the one definition of its order, the
default an operator gets, and the filters that safety or correctness depend on,
put back in their place when an operator's pipeline leaves them out.

`ORDER` is every filter we know, outermost first, in Swift's order (so a Swift
operator's pipeline reads the same here). `DEFAULT` is the pipeline of
etc/proxy-server.conf (a test keeps the two equal) and of the aio; a proxy
config without [pipeline:main] gets it too. `complete()` inserts each filter of
`REQUIRED` that a pipeline lacks right after the last filter before it in
`ORDER` (filters we do not know stay where the operator put them), as Swift's
proxy does for catch_errors, gatekeeper, copy, dlo and versioned_writes: a
pipeline without the gatekeeper would let clients send X-Backend-* headers and
system metadata; one without copy or dlo would store a large object's manifest
where a copy of its content was asked for.
"""
import importlib.util

ORDER = ('catch_errors', 'gatekeeper', 'healthcheck', 'proxy_logging', 'metrics', 'info', 'domain_remap',
         'listing_formats', 'bulk', 'tempurl', 'ratelimit', 'formpost', 'tempauth',
         'console', 'staticweb', 'copy', 'container_quotas', 'account_quotas', 'slo', 'dlo',
         'versioned_writes', 'symlink', 'object_versioning', 'append')
# (object_versioning after symlink, unlike Swift, where versioning's pointers
# are symlinks: ours are its own, so it must see the reads symlink makes of a
# link's target.)

DEFAULT = ('catch_errors', 'gatekeeper', 'healthcheck', 'proxy_logging', 'metrics', 'info',
           'domain_remap', 'bulk', 'tempurl', 'ratelimit', 'formpost', 'tempauth', 'console',
           'staticweb', 'copy', 'container_quotas',
           'account_quotas', 'slo', 'dlo', 'versioned_writes', 'symlink', 'object_versioning',
           'append')

# Inserted when missing (each only once its module exists in this build).
REQUIRED = ('catch_errors', 'gatekeeper', 'copy', 'dlo', 'versioned_writes')

APP = 'proxy-server'


def module_name(name):
    """Our middleware module for a filter name."""
    return 'swiftlike.middleware.%s' % name


def _exists(name):
    try:
        return importlib.util.find_spec(module_name(name)) is not None
    except (ImportError, ValueError):
        return False


def complete(names, exists=_exists):
    """`names` (filters, outermost first, without the app) with the required
    filters it lacks inserted in their place. Returns (names, inserted)."""
    out = list(names)
    inserted = []
    for name in REQUIRED:
        if name in out or not exists(name):
            continue
        before = ORDER[:ORDER.index(name)]
        positions = [i for i, have in enumerate(out) if have in before]
        out.insert(positions[-1] + 1 if positions else 0, name)
        inserted.append(name)
    return out, inserted


def default_line():
    return ' '.join(DEFAULT + (APP,))
