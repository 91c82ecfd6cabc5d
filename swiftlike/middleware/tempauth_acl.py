"""Container ACLs for tempauth (pure): X-Container-Read / X-Container-Write.

An ACL is a comma-separated list of:
  .r:<referrer>   anyone whose Referer matches ('*' = anyone, '.example.com' =
                  that domain and its subdomains, '-' prefix denies); reads only
  .rlistings      referrer-allowed users may also list the container
  <account>       any user of that account
  <account>:<user> that user

and account ACLs (X-Account-Access-Control, JSON; see parse_account_acl).
"""
import json


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


# -- account ACLs: X-Account-Access-Control --------------------------------------------
# A JSON object whose keys are access levels and whose values are lists of
# grantees (an account name for all its users, or <account>:<user>):
#   {"admin": [...], "read-write": [...], "read-only": [...]}
# admin: what the account's owners may do (see and set ACLs, account metadata);
# read-write: list the account, and everything on its containers and objects
# except owner-only headers; read-only: GET/HEAD at every level.
ACCOUNT_ACL_LEVELS = ('admin', 'read-write', 'read-only')


def parse_account_acl(text):
    """{level: [grantee, ...]} of an X-Account-Access-Control value (str);
    ValueError with a reason a client can act on when it is not valid."""
    if text is None or not text.strip():
        return {}
    try:
        acl = json.loads(text)
    except RecursionError:
        raise ValueError('JSON nested too deeply')
    except ValueError as err:
        raise ValueError('not valid JSON (%s)' % err)
    if not isinstance(acl, dict):
        raise ValueError('must be a JSON object, not %s' % _json_type(acl))
    for level, grantees in acl.items():
        if level not in ACCOUNT_ACL_LEVELS:
            raise ValueError('key %s not recognized (use %s)'
                             % (json.dumps(level[:64]), ', '.join(ACCOUNT_ACL_LEVELS)))
        if not isinstance(grantees, list):
            raise ValueError('value for key %s must be a list of strings, not %s'
                             % (json.dumps(level), _json_type(grantees)))
        for grantee in grantees:
            if not isinstance(grantee, str):
                raise ValueError('elements of %s must be strings, not %s'
                                 % (json.dumps(level), _json_type(grantee)))
    return acl


def format_account_acl(acl):
    """The canonical text of a parsed account ACL (compact JSON, sorted keys)."""
    return json.dumps(acl, ensure_ascii=True, separators=(',', ':'), sort_keys=True)


def account_acl_level(acl, groups):
    """The highest level the ACL grants to any of `groups`, or None."""
    wanted = set(g for g in groups if g)
    for level in ACCOUNT_ACL_LEVELS:
        if wanted.intersection(acl.get(level, ())):
            return level
    return None


def _json_type(value):
    if isinstance(value, bool):
        return 'a boolean'
    for kind, name in ((dict, 'an object'), (list, 'a list'), (str, 'a string'),
                       (int, 'a number'), (float, 'a number')):
        if isinstance(value, kind):
            return name
    return 'null'
