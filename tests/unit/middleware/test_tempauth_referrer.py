import pytest

from swiftlike.middleware.tempauth_acl import referrer_allowed


@pytest.mark.parametrize('referrer,allowed,expected', [
    ('http://blah.example.com/x', ['*.example.com'], True),
    ('http://example.com', ['*.example.com'], True),
    ('http://blah.example.com', ['.example.com'], True),
    ('http://example.org', ['*.example.com'], False),
    ('http://a.example.com', ['*.example.com', '-*.example.com'], False),
    ('http://anything', ['*'], True),
])
def test_wildcard_domains(referrer, allowed, expected):
    assert referrer_allowed(referrer, allowed) is expected
