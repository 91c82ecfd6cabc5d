"""The environ keys proxy middlewares (and the proxy) agree on: the one place
each is named. toolkit re-exports them.
"""

# Set by catch_errors: the transaction id every log line and backend request carries.
TXN_KEY = 'swiftlike.txn_id'
# Set by an auth middleware for requests it could not settle on its own:
# hook(environ, read_acl, write_acl, is_object) -> None (allowed) or
# (status line, reason). The proxy calls it once it knows the container's ACLs.
AUTHORIZE_KEY = 'swiftlike.authorize'
# Set (True) with AUTHORIZE_KEY by a middleware placed before auth that settles
# a request's authorization by its own rule (a signed URL, a form signature):
# the auth middleware then leaves both alone. See override_authorization().
AUTHORIZE_OVERRIDE_KEY = 'swiftlike.authorize_override'
# Set by the auth middleware on every request it passes on: hook(token) ->
# the token's groups (a list; '.reseller_admin' for reseller admins), or None
# when it is not a valid token. Lets a later middleware that serves its own
# pages (the console) judge a token carried another way (a cookie).
IDENTIFY_KEY = 'swiftlike.identify'
# True when the requester may do what the account's owner may (see and set
# owner-only headers such as container ACLs); set by the auth middleware.
OWNER_KEY = 'swiftlike.owner'
# True for a reseller admin's request (any account of the cluster's prefixes).
RESELLER_REQUEST_KEY = 'swiftlike.reseller_request'
# Features a middleware in the pipeline implements (see swiftlike/proxy/unsupported.py).
FEATURES_KEY = 'swiftlike.features'
# The name of the middleware that made a subrequest (for the access log).
SOURCE_KEY = 'swiftlike.source'
# Per-request cache of account_info answers: {account (WSGI str): info dict}.
INFO_CACHE_KEY = 'swiftlike.info_cache'
# Marks a HEAD subrequest made by account_info: the proxy may answer it from
# its own per-worker cache instead of asking the account servers.
INFO_REQUEST_KEY = 'swiftlike.info_request'

# The REMOTE_USER of a request a temp URL (or a form signature) authorised:
# it has no user, and static web serves it as an anonymous reader, with the
# temp URL's parameters on the links of its listings.
TEMPURL_USER = '.wsgi.tempurl'
# Response header on pages a middleware made itself ('staticweb'); it is an
# X-Backend-* header, so the gatekeeper keeps it from clients.
GENERATOR_HEADER = 'X-Backend-Content-Generator'
# Set (True) by a middleware on its own subrequests that name reserved
# (NUL-holding) containers or objects, such as object versioning's hidden
# versions containers: the proxy accepts such names only then. No client can
# set an environ key; the gatekeeper drops it all the same.
RESERVED_NAMES_KEY = 'swiftlike.allow_reserved_names'
# Set (True) by a middleware on a subrequest that reads an object written once
# under a unique name and never overwritten (an appendable object's pieces):
# the proxy reads one replica instead of asking `object_read_fanout` of them
# for their versions, since no replica can hold an older version of it. A
# replica without it still sends the read on to the others.
WRITE_ONCE_READ_KEY = 'swiftlike.write_once_read'
