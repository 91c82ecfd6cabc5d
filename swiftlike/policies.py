"""Storage policies, named in one place.

The cluster has one policy today (every object ring is the same); containers
still say which one they use, and a request naming another is refused, so a
client that asks for a policy never silently gets a different one.
"""
from swiftlike.exceptions import BadRequest

DEFAULT_POLICY_NAME = 'default'
POLICY_HEADER = 'X-Storage-Policy'


def info():
    """The `policies` list of /info."""
    return [{'name': DEFAULT_POLICY_NAME, 'default': True}]


def check_policy_name(value):
    """The policy a container PUT asks for (None or '' = the default); 400
    naming the value when no policy has that name."""
    if value is None or not value.strip():
        return DEFAULT_POLICY_NAME
    if value.strip().lower() == DEFAULT_POLICY_NAME:
        return DEFAULT_POLICY_NAME
    raise BadRequest('Invalid %s %r' % (POLICY_HEADER, value.strip()[:64]))
