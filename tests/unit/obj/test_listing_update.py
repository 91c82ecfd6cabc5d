"""What a container update says about an object: its own size, type and
etag, or a middleware's listing override (table)."""
import pytest

from swiftlike.container.backend import listing_item
from swiftlike.obj.updates import listing_update
from swiftlike.timestamp import Timestamp

TS = Timestamp('1700000000.00000')
BASE = {'Content-Type': 'text/plain', 'Content-Length': '8', 'ETag': 'e' * 32}
OV = 'X-Object-Sysmeta-Container-Update-Override-'


@pytest.mark.parametrize('extra,new_type,expected', [
    ({}, False, ('8', 'text/plain', 'e' * 32)),
    ({OV + 'Size': '5000'}, False, ('5000', 'text/plain', 'e' * 32)),
    ({OV + 'Size': '-3'}, False, ('8', 'text/plain', 'e' * 32)),
    ({OV + 'Size': ''}, False, ('8', 'text/plain', 'e' * 32)),
    ({OV + 'Etag': 'm; slo_etag=x'}, False, ('8', 'text/plain', 'm; slo_etag=x')),
    ({OV + 'Etag': ''}, False, ('8', 'text/plain', 'e' * 32)),
    ({OV + 'Content-Type': 'a/b;swift_bytes=9'}, False, ('8', 'a/b;swift_bytes=9', 'e' * 32)),
    # a POST's new type keeps the override's parameters
    ({OV + 'Content-Type': 'a/b;swift_bytes=9'}, True, ('8', 'text/plain;swift_bytes=9', 'e' * 32)),
    ({OV + 'Content-Type': 'a/b'}, True, ('8', 'text/plain', 'e' * 32)),
    ({OV.lower() + 'size': '7'}, False, ('7', 'text/plain', 'e' * 32)),
])
def test_listing_update(extra, new_type, expected):
    headers = listing_update(dict(BASE, **extra), TS, 'tx1', new_type)
    assert (headers['X-Size'], headers['X-Content-Type'], headers['X-Etag']) == expected
    assert headers['X-Timestamp'] == TS.internal and headers['X-Trans-Id'] == 'tx1'


@pytest.mark.parametrize('ctype,size,expected', [
    ('text/plain', 3, ('text/plain', 3)),
    ('text/plain;swift_bytes=100', 3, ('text/plain', 100)),
    ('a/b;x=1;swift_bytes=100;y=2', 3, ('a/b;x=1;y=2', 100)),
    ('a/b; swift_bytes=100', 3, ('a/b', 100)),
    ('a/b;swift_bytes=', 3, ('a/b;swift_bytes=', 3)),
    ('a/b;swift_bytes=1e3', 3, ('a/b;swift_bytes=1e3', 3)),
])
def test_swift_bytes_in_listings(ctype, size, expected):
    item = listing_item(('o', TS.internal, size, ctype, 'h'))
    assert (item['content_type'], item['bytes']) == expected
