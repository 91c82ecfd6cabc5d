"""Requests that rely on a feature the cluster does not run are refused (pure)."""
import pytest

from swiftlike.proxy.unsupported import refused_feature


@pytest.mark.parametrize('method,level,headers,query,feature', [
    ('PUT', 'object', ['X-Object-Manifest'], {}, 'Dynamic large objects'),
    ('POST', 'object', ['x-object-manifest'], {}, 'Dynamic large objects'),
    ('COPY', 'object', ['X-Object-Manifest'], {}, 'Dynamic large objects'),
    ('PUT', 'object', [], {'multipart-manifest': 'put'}, 'Static large objects'),
    ('PUT', 'object', ['X-Copy-From'], {}, 'Server-side copy'),
    ('PUT', 'object', [], {'multipart-manifest': ' PUT '}, 'Static large objects'),
    ('PUT', 'container', ['X-Versions-Location'], {}, 'Object versioning'),
    ('POST', 'container', ['X-History-Location'], {}, 'Object versioning'),
    ('POST', 'container', ['X-Versions-Enabled'], {}, 'Object versioning'),
    ('GET', 'container', [], {'versions': ''}, 'Object versioning'),
    ('DELETE', 'object', [], {'version-id': 'null'}, 'Object versioning'),
    ('PUT', 'object', ['X-Symlink-Target'], {}, 'Symlinks'),
    ('GET', 'object', [], {'temp_url_sig': 'x', 'temp_url_expires': '1'}, 'Temporary URLs'),
    ('PUT', 'container', ['X-Container-Meta-Quota-Bytes'], {}, 'Container quotas'),
    ('POST', 'account', ['X-Account-Meta-Quota-Bytes'], {}, 'Account quotas'),
    ('POST', 'container', ['X-Container-Meta-Web-Index'], {}, 'Static web'),
    ('DELETE', 'object', [], {'bulk-delete': ''}, 'Bulk operations'),
    ('DELETE', 'account', [], {'bulk-delete': ''}, 'Bulk operations'),
    ('POST', 'container', [], {'bulk-delete': ''}, 'Bulk operations'),
    ('PUT', 'account', [], {'extract-archive': 'tar'}, 'Bulk operations'),
    ('PUT', 'object', [], {'extract-archive': 'tar.gz'}, 'Bulk operations'),
])
def test_refused(method, level, headers, query, feature):
    items = [(name, 'x') for name in headers]
    assert refused_feature(method, level, items, query).startswith(feature)


@pytest.mark.parametrize('method,level,headers,query', [
    ('GET', 'object', ['X-Object-Manifest'], {}),           # reads may carry anything
    ('GET', 'object', [], {'multipart-manifest': 'get'}),   # the object itself
    ('HEAD', 'object', [], {'symlink': 'get'}),             # as `swift delete` asks
    ('DELETE', 'object', [], {'multipart-manifest': 'delete'}),
    ('PUT', 'object', ['X-Object-Meta-Quota-Bytes'], {}),   # plain object metadata
    ('POST', 'container', ['X-Remove-Container-Meta-Web-Index'], {}),
    ('POST', 'container', ['X-Container-Meta-Webby'], {}),
    ('PUT', 'container', ['X-Container-Read'], {'format': 'json'}),
    ('POST', 'account', ['X-Account-Meta-Temp-URL-Key'], {}),   # a stored secret
])
def test_allowed(method, level, headers, query):
    items = [(name, 'x') for name in headers]
    assert refused_feature(method, level, items, query) is None


def test_clearing_a_setting_is_allowed():
    # swift's clients send X-Versions-Location: '' before deleting a container
    for name in ('X-Versions-Location', 'X-Container-Meta-Quota-Bytes', 'X-Versions-Enabled'):
        assert refused_feature('POST', 'container', [(name, '')], {}) is None
        assert refused_feature('POST', 'container', [(name, ' ')], {}) is None


def test_a_middleware_that_implements_it_lets_it_through():
    assert refused_feature('PUT', 'object', [('X-Object-Manifest', 'c/p')], {}, {'dlo'}) is None
    assert refused_feature('PUT', 'object', [('X-Object-Manifest', 'c/p'),
                                             ('X-Symlink-Target', 'c/o')], {},
                           {'dlo'}).startswith('Symlinks')
