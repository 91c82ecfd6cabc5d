"""Container ACLs for tempauth (pure): X-Container-Read / X-Container-Write.

An ACL is a comma-separated list of:
  .r:<referrer>   anyone whose Referer matches ('*' = anyone, '.example.com' =
                  that domain and its subdomains, '-' prefix denies); reads only
  .rlistings      referrer-allowed users may also list the container
  <account>       any user of that account
  <account>:<user> that user
"""


def parse_acl(acl):
    """(referrers, groups) from an ACL header value."""
    referrers = []
    groups = []
    for item in (acl or '').split(','):
        item = item.strip()
        if not item:
            continue
        if item.startswith('.r:') or item.startswith('.ref:') or item.startswith('.referrer:'):
            value = item.split(':', 1)[1].strip()
            if value:
                referrers.append(value)
        elif item == '.rlistings':
            groups.append('.rlistings')
        else:
            groups.append(item)
    return referrers, groups


def referrer_allowed(referrer, allowed):
    """Is a Referer header value allowed by the .r: entries (last match wins)?"""
    host = ''
    if referrer:
        rest = referrer.split('//', 1)[-1]
        host = rest.split('/', 1)[0].split(':', 1)[0].lower()
    result = False
    for entry in allowed:
        deny = entry.startswith('-')
        pattern = entry[1:] if deny else entry
        pattern = pattern.lower()
        if pattern.startswith('*.'):
            pattern = pattern[1:]   # '*.example.com' means '.example.com', as in Swift
        if pattern in ('*', '.*'):
            match = True
        elif pattern.startswith('.'):
            match = host.endswith(pattern) or host == pattern[1:]
        else:
            match = host == pattern
        if match:
            result = not deny
    return result


def acl_allows(parsed, groups, referrer, listing=False, referrers=True):
    acl_referrers, acl_groups = parsed
    if any(g in acl_groups for g in groups):
        return True
    if referrers and acl_referrers and referrer_allowed(referrer, acl_referrers):
        return not listing or '.rlistings' in acl_groups
    return False
