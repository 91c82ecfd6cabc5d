import pytest

from swiftlike.exceptions import (BadRequest, ConfigError, NotFound, PreconditionFailed,
                                  RequestEntityTooLarge)
from swiftlike.proxy.controllers.base import (client_headers, name_path, node_path,
                                              response_timestamp)
from swiftlike.http import client_content_type
from swiftlike.middleware.copy_rules import split_copy_path as _split_copy_path
from swiftlike.proxy.controllers.params import (listing_format, listing_query,
                                                metadata_headers, parse_query)
from swiftlike.proxy.info_cache import InfoCache
from swiftlike.proxy.server import Conf, load, parse_path


def wsgi(text):
    return text.encode('utf-8').decode('latin-1')


@pytest.mark.parametrize('path,expected', [
    ('/v1/AUTH_a', ('AUTH_a', None, None)),
    ('/v1/AUTH_a/', ('AUTH_a', None, None)),
    ('/v1/AUTH_a/c', ('AUTH_a', 'c', None)),
    ('/v1/AUTH_a/c/', ('AUTH_a', 'c', None)),
    ('/v1/AUTH_a/c/o', ('AUTH_a', 'c', 'o')),
    ('/v1/AUTH_a/c/a/b//c/', ('AUTH_a', 'c', 'a/b//c/')),
    ('/v1/AUTH_a/c/..', ('AUTH_a', 'c', '..')),
    ('/v1.0/AUTH_a/c/o', ('AUTH_a', 'c', 'o')),
    (wsgi('/v1/AUTH_a/\u00e9/\u65e5'), ('AUTH_a', '\u00e9', '\u65e5')),
])
def test_parse_path(path, expected):
    assert parse_path(path) == expected


@pytest.mark.parametrize('path,error', [
    # As Swift answers them: no account is 412 'Bad URL', an empty segment
    # before a name 404, bad UTF-8 or NUL 412, another version 400.
    ('', BadRequest), ('v1/a', BadRequest), ('/v2/a', BadRequest),
    ('/v1', PreconditionFailed), ('/v1/', PreconditionFailed), ('/info asdf', PreconditionFailed),
    ('/', NotFound), ('//v1/a', NotFound), ('/v1//c', NotFound), ('/v1/a//o', NotFound),
    ('/v1/a/c\x00', PreconditionFailed), ('/v1/a/\xff\xfe', PreconditionFailed),
    ('/v1/a/c/' + 'o' * 1025, BadRequest), ('/v1/a/' + 'c' * 257, BadRequest),
    ('/v1/' + 'a' * 257, BadRequest),
])
def test_parse_path_rejects(path, error):
    with pytest.raises(error):
        parse_path(path)


def test_object_name_limit_is_bytes():
    parse_path(wsgi('/v1/a/c/' + '\u20ac' * 341))
    with pytest.raises(BadRequest):
        parse_path(wsgi('/v1/a/c/' + '\u20ac' * 342))


def test_metadata_headers_validates_and_maps_removals():
    meta = metadata_headers({'X-Object-Meta-Color': 'red', 'X-Remove-Object-Meta-Old': 'x',
                             'Content-Type': 'text/plain'}, 'object')
    assert meta == {'X-Object-Meta-Color': 'red', 'X-Object-Meta-Old': ''}
    for bad in ({'X-Object-Meta-' + 'n' * 129: 'v'}, {'X-Object-Meta-V': 'v' * 257},
                {'X-Object-Meta-%d' % i: 'v' for i in range(91)},
                {'X-Object-Meta-%d' % i: 'v' * 250 for i in range(17)},
                {'X-Object-Meta-': 'v'}, {'X-Container-Meta-Bad': '\xff\xfe'},
                {'X-Object-Meta-Nul': 'a\x00b'}):
        with pytest.raises(BadRequest):
            metadata_headers(bad, 'container' if 'X-Container-Meta-Bad' in bad else 'object')
    assert metadata_headers({'X-Container-Meta-A': '1'}, 'container') == {'X-Container-Meta-A': '1'}
    # Object values are kept as sent, even when not UTF-8 (as Swift keeps them).
    assert metadata_headers({'X-Object-Meta-Cut': '\xe2\x82'}, 'object') == \
        {'X-Object-Meta-Cut': '\xe2\x82'}
    assert metadata_headers({'X-Container-Meta-A': '1'}, 'object') == {}


def test_listing_query():
    assert listing_query('', None, 10000) is None
    assert listing_query('format=json&limit=5&bogus=1', None, 10000) == 'format=json&limit=5'
    assert 'prefix=%C3%A9' in listing_query('prefix=%C3%A9', None, 10000)
    # The same rules as the container and account servers (one check).
    assert listing_query('delimiter=ab', None, 10000) == 'delimiter=ab'
    assert listing_query('limit=x', None, 10000) == 'limit=10000'
    with pytest.raises(PreconditionFailed):
        listing_query('limit=10001', None, 10000)
    with pytest.raises(PreconditionFailed):
        listing_query('delimiter=' + 'x' * 257, None, 10000)
    with pytest.raises(BadRequest):
        listing_query('format=yaml', None, 10000)
    with pytest.raises(BadRequest):
        listing_query('prefix=%FF', None, 10000)
    with pytest.raises(BadRequest):
        listing_query('prefix=%00', None, 10000)


def test_parse_query_and_format():
    assert parse_query('a=1&b=&c') == {'a': '1', 'b': '', 'c': ''}
    assert listing_format({'format': 'XML'}, '') == 'xml'
    assert listing_format({}, 'application/json') == 'json'
    assert listing_format({}, 'text/xml') == 'xml'
    assert listing_format({}, '*/*') == 'plain'


def test_copy_path():
    assert _split_copy_path('/c/o', 'X') == ('c', 'o')
    assert _split_copy_path('c/a%20b/c', 'X') == ('c', 'a b/c')
    assert _split_copy_path(wsgi('/c/\u00e9'), 'X') == ('c', '\u00e9')
    for bad in ('c', '/c/', '//o', ''):
        with pytest.raises(PreconditionFailed):
            _split_copy_path(bad, 'X')
    with pytest.raises(BadRequest):
        _split_copy_path('/c/%FF', 'X')


def test_client_content_type():
    assert client_content_type({'headers_raw': (), 'CONTENT_TYPE': 'text/plain'}) is None
    assert client_content_type({'headers_raw': (('content-type', 'a/b'),),
                                'CONTENT_TYPE': 'a/b'}) == 'a/b'
    assert client_content_type({'CONTENT_TYPE': 'a/b'}) == 'a/b'


def test_paths_and_headers():
    assert name_path('AUTH_a', 'c c', 'o/\u00e9') == '/AUTH_a/c%20c/o/%C3%A9'
    assert node_path({'device': 'sd a'}, 7, '/AUTH_a') == '/sd%20a/7/AUTH_a'
    headers = {'x-backend-timestamp': '2.00000', 'x-timestamp': '1.00000',
               'x-object-sysmeta-x': '1', 'content-length': '5', 'etag': 'e',
               'connection': 'keep-alive', 'x-object-meta-a': 'b'}
    assert str(response_timestamp(headers)) == '0000000002.00000'
    assert response_timestamp({'x-timestamp': 'junk'}) is None
    assert client_headers(headers) == [('X-Timestamp', '1.00000'), ('Etag', 'e'),
                                       ('X-Object-Meta-A', 'b')]


def test_info_cache_caches_only_success():
    clock = [0.0]
    cache = InfoCache(ttl=3.0, clock=lambda: clock[0])
    calls = []

    def fetch(status):
        def f():
            calls.append(status)
            return {'status': status}
        return f
    assert cache.get('k', fetch(204))['status'] == 204
    assert cache.get('k', fetch(500))['status'] == 204
    clock[0] = 3.5
    assert cache.get('k', fetch(404))['status'] == 404
    assert cache.get('k', fetch(404))['status'] == 404
    assert calls == [204, 404, 404]
    cache.get('j', fetch(200))
    cache.pop('j')
    cache.get('j', fetch(201))
    assert calls[-1] == 201


def write(tmp_path, text):
    path = tmp_path / 'proxy-server.conf'
    path.write_text(text)
    return str(path)


def test_load_builds_pipeline(tmp_path):
    conf, factory = load(write(tmp_path, '[DEFAULT]\nswift_dir = %s\n[proxy-server]\n'
                                         'bind_port = 1234\nobject_read_fanout = 1\n' % tmp_path))
    assert isinstance(conf, Conf) and conf.bind_port == 1234 and conf.object_read_fanout == 1
    app = factory()
    names = []
    while hasattr(app, 'app'):
        names.append(type(app).__name__)
        app = app.app
    assert names == ['CatchErrors', 'GateKeeper', 'HealthCheck', 'ProxyLogging', 'Metrics', 'Info',
                     'DomainRemap', 'Bulk', 'TempURL', 'RateLimit', 'FormPost', 'TempAuth',
                     'Console', 'StaticWeb',
                     'ServerSideCopy', 'ContainerQuotas', 'AccountQuotas', 'StaticLargeObject',
                     'DynamicLargeObject', 'VersionedWrites', 'Symlink',
                     'ObjectVersioningMiddleware', 'AppendableObjects']
    assert type(app).__name__ == 'App'


@pytest.mark.parametrize('text,message', [
    ('[DEFAULT]\n', 'missing section'),
    ('[proxy-server]\nbogus = 1\n', 'bogus'),
    ('[proxy-server]\nnode_timeout = soon\n', 'node_timeout'),
    ('[proxy-server]\nobject_read_fanout = 0\n', 'object_read_fanout'),
    ('[proxy-server]\n[pipeline:main]\npipeline = catch_errors\n', 'must end with proxy-server'),
    ('[proxy-server]\n[pipeline:main]\npipeline = x proxy-server\n[filter:x]\n'
     'use = no.such.module\n', 'cannot import'),
    ('[proxy-server]\n[pipeline:main]\npipeline = tempauth proxy-server\n[filter:tempauth]\n'
     'token_life = -1\n', 'token_life'),
    ('[proxy-server]\n[pipeline:main]\npipeline = tempauth proxy-server\n[filter:tempauth]\n'
     'user_bad = x\n', 'user_bad'),
    ('[proxy-server]\n[pipeline:main]\npipeline = gatekeeper proxy-server\n[filter:gatekeeper]\n'
     'typo = 1\n', 'typo'),
])
def test_load_config_errors(tmp_path, text, message):
    with pytest.raises(ConfigError) as err:
        load(write(tmp_path, text))
    assert message in str(err.value)


def test_max_file_size_constant_is_enforced():
    from swiftlike.constraints import check_content_length
    with pytest.raises(RequestEntityTooLarge):
        check_content_length({'Content-Length': str(5 * 1024 ** 3 + 1)})


def test_sample_config_loads_and_documents_every_option():
    import dataclasses
    import os
    import re
    import importlib
    from swiftlike.config import read_ini
    from swiftlike.proxy import pipeline
    path = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'etc', 'proxy-server.conf')
    conf, factory = load(path)
    assert conf.bind_port == 8080
    # The one pipeline definition, written out in the sample.
    assert read_ini(path)['pipeline:main']['pipeline'] == pipeline.default_line()
    text = open(path).read()
    classes = [Conf] + [getattr(importlib.import_module(pipeline.module_name(name)), 'Conf')
                        for name in pipeline.DEFAULT]
    for cls in classes:
        for field in dataclasses.fields(cls):
            assert re.search(r'^# %s =' % field.name, text, re.M), (cls, field.name)


def test_missing_rings_answer_503(tmp_path):
    import io
    conf, factory = load(write(tmp_path, '[DEFAULT]\nswift_dir = %s\n[proxy-server]\n'
                                         '[pipeline:main]\npipeline = proxy-server\n' % tmp_path))
    app = factory()
    out = {}

    def start_response(status, headers, exc_info=None):
        out['status'] = status
    body = b''.join(app({'REQUEST_METHOD': 'GET', 'PATH_INFO': '/v1/AUTH_a/c/o',
                         'wsgi.input': io.BytesIO(b''), 'SERVER_NAME': 'x',
                         'SERVER_PORT': '1', 'wsgi.url_scheme': 'http'}, start_response))
    assert out['status'].startswith('503') and b'ring' in body


@pytest.mark.parametrize('given,expected', [
    # nothing left out
    ('catch_errors gatekeeper tempauth dlo', 'catch_errors gatekeeper tempauth dlo'),
    # an operator's minimal pipeline gets the safety filters, in their place
    ('tempauth', 'catch_errors gatekeeper tempauth dlo'),
    ('', 'catch_errors gatekeeper dlo'),
    ('healthcheck tempauth', 'catch_errors gatekeeper healthcheck tempauth dlo'),
    ('catch_errors tempauth', 'catch_errors gatekeeper tempauth dlo'),
    # order kept where the operator chose it; unknown filters stay put
    ('mine tempauth', 'catch_errors gatekeeper mine tempauth dlo'),
    ('tempauth dlo mine', 'catch_errors gatekeeper tempauth dlo mine'),
    ('gatekeeper catch_errors', 'gatekeeper catch_errors dlo'),
])
def test_pipeline_completion(given, expected):
    from swiftlike.proxy import pipeline
    exists = {'catch_errors', 'gatekeeper', 'dlo'}.__contains__
    names, inserted = pipeline.complete(given.split(), exists)
    assert ' '.join(names) == expected
    assert set(inserted) == set(names) - set(given.split())


def test_pipeline_order_knows_every_default_and_required_filter():
    from swiftlike.proxy import pipeline
    assert set(pipeline.DEFAULT) <= set(pipeline.ORDER)
    assert set(pipeline.REQUIRED) <= set(pipeline.ORDER)
    assert [n for n in pipeline.ORDER if n in pipeline.DEFAULT] == list(pipeline.DEFAULT)


def test_pipeline_without_gatekeeper_still_keeps_backend_headers_out(tmp_path):
    import io
    conf, factory = load(write(tmp_path, '[DEFAULT]\nswift_dir = %s\n[proxy-server]\n'
                                         '[pipeline:main]\npipeline = proxy-server\n' % tmp_path))
    app = factory()
    names = []
    while hasattr(app, 'app'):
        names.append(type(app).__name__)
        app = app.app
    assert names[:2] == ['CatchErrors', 'GateKeeper']


@pytest.mark.parametrize('path', ['/v1/a/\x00versions\x00c', '/v1/a/c/o\x00123',
                                  '/v1/\x00a', '/v1/a/c\x00/o'])
def test_reserved_names_only_for_middleware_subrequests(path):
    with pytest.raises(PreconditionFailed):
        parse_path(path)
    names = parse_path(path, allow_reserved=True)
    assert '\x00' in ''.join(n for n in names if n)


def test_reserved_names_get_a_little_more_length():
    long_container = 'c' * 256
    assert parse_path('/v1/a/\x00versions\x00' + long_container, True)[1].endswith('c')
    with pytest.raises(BadRequest):
        parse_path('/v1/a/\x00' + 'c' * 400, True)
    with pytest.raises(BadRequest):
        parse_path('/v1/a/' + 'c' * 257, True)


def test_gatekeeper_drops_the_reserved_names_flag():
    from swiftlike.middleware.gatekeeper import GateKeeper
    from swiftlike.middleware.toolkit import RESERVED_NAMES_KEY
    seen = {}

    def app(env, start_response):
        seen.update(env)
        start_response('200 OK', [('X-Backend-Allow-Reserved-Names', 'true')])
        return [b'']
    out = {}
    GateKeeper(app, None)({RESERVED_NAMES_KEY: True, 'PATH_INFO': '/v1/a',
                           'HTTP_X_BACKEND_ALLOW_RESERVED_NAMES': 'true'},
                          lambda s, h, e=None: out.update(headers=h))
    assert RESERVED_NAMES_KEY not in seen
    assert 'HTTP_X_BACKEND_ALLOW_RESERVED_NAMES' not in seen
    assert out['headers'] == []
