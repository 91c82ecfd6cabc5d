"""Requests that rely on a feature this cluster does not run (pure).

Swift's users reach large objects, versioning, symlinks, TempURL, quotas and
static web through headers, metadata and query parameters that a plain object
store would otherwise store as data: a DLO manifest would be a 0-byte object,
an SLO manifest the JSON text itself, a versioned overwrite would lose the old
version. The proxy refuses such a request with 400 and the feature's name
instead, unless a middleware in the pipeline implements the feature; that
middleware says so by adding the feature's name to the environ's
`FEATURES_KEY` set (before the request reaches the proxy app).
"""
from swiftlike.middleware.toolkit import FEATURES_KEY

__all__ = ['FEATURES_KEY', 'FEATURES', 'refused_feature']

# feature -> (what the user is told, [(level, kind, name)]): level is
# 'account', 'container' or 'object' (the request's), kind 'header' (request
# header, case-insensitive), 'meta' (a metadata header's name after
# X-<Level>-Meta-, case-insensitive prefix) or 'query' (a query parameter, or
# 'name=value' for one value of it).
FEATURES = {
    # Without the copy middleware a PUT with X-Copy-From would store its empty
    # body (and the proxy has no COPY verb: 405).
    'copy': ('Server-side copy (X-Copy-From)', [
        ('object', 'header', 'x-copy-from')]),
    'dlo': ('Dynamic large objects (X-Object-Manifest)', [
        ('object', 'header', 'x-object-manifest')]),
    'slo': ('Static large objects (multipart-manifest)', [
        ('object', 'query', 'multipart-manifest=put')]),
    'versioned_writes': ('Object versioning (X-Versions-Location, X-History-Location)', [
        ('container', 'header', 'x-versions-location'),
        ('container', 'header', 'x-history-location')]),
    'object_versioning': ('Object versioning (X-Versions-Enabled, version-id)', [
        ('container', 'header', 'x-versions-enabled'),
        ('container', 'query', 'versions'),
        ('object', 'query', 'version-id')]),
    # (?symlink=get is what `swift delete` sends before every delete: on a
    # plain object it reads the object itself, which is right.)
    'symlink': ('Symlinks (X-Symlink-Target)', [
        ('object', 'header', 'x-symlink-target')]),
    # (Temp-URL-Key metadata is stored: keys are owner-only secrets, kept and
    # hidden as Swift keeps them, and a key without TempURL loses no data.)
    'tempurl': ('Temporary URLs (temp_url_sig)', [
        ('object', 'query', 'temp_url_sig')]),
    'container_quotas': ('Container quotas (X-Container-Meta-Quota-*)', [
        ('container', 'meta', 'quota-')]),
    'account_quotas': ('Account quotas (X-Account-Meta-Quota-Bytes)', [
        ('account', 'meta', 'quota-')]),
    'staticweb': ('Static web sites (X-Container-Meta-Web-*)', [
        ('container', 'meta', 'web-')]),
    # Without the middleware an append would overwrite the object with the
    # body, and append-manifest=get would read it whole.
    'append': ('Appendable objects (X-Append-Offset)', [
        ('object', 'header', 'x-append-offset'),
        ('object', 'query', 'append-manifest')]),
    # Without the middleware a bulk delete would be a plain DELETE of the
    # request's own path (an object, or an account for a reseller admin) and
    # an archive would be stored as one object.
    'bulk': ('Bulk operations (bulk-delete, extract-archive)', [
        (level, 'query', name) for level in ('account', 'container', 'object')
        for name in ('bulk-delete', 'extract-archive')]),
}
WRITE_METHODS = ('PUT', 'POST', 'COPY')


def all_handled(handled):
    """Whether a middleware handles every feature (the usual pipeline)."""
    return FEATURES.keys() <= set(handled)


def refused_feature(method, level, header_items, query, handled=()):
    """The description of the first feature this request relies on that is
    not `handled`, or None.

    header_items: the request's (name, value) headers (names in any case);
    query: its query parameters {name: value}. Headers and metadata only
    count on writes and when not empty (a GET may carry anything; clearing a
    setting, as clients do before deleting a container, is always allowed);
    query parameters count on every method.
    """
    missing = [feature for feature in FEATURES if feature not in handled]
    if not missing:
        return None     # the usual pipeline: every feature has its middleware
    headers = {name.lower() for name, value in header_items if value.strip()}
    meta_prefix = 'x-%s-meta-' % level
    meta = [h[len(meta_prefix):] for h in headers if h.startswith(meta_prefix)]
    for feature in missing:
        description, triggers = FEATURES[feature]
        for trigger_level, kind, name in triggers:
            if trigger_level != level:
                continue
            if kind == 'query':
                key, sep, value = name.partition('=')
                if key in query and (not sep or query[key].strip().lower() == value):
                    return description
            elif method not in WRITE_METHODS:
                continue
            elif kind == 'header' and name in headers:
                return description
            elif kind == 'meta' and any(m.startswith(name) for m in meta):
                return description
    return None
