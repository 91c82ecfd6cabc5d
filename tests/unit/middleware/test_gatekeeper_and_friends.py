import io
import json
import logging

from swiftlike.middleware import catch_errors, gatekeeper, healthcheck, info, proxy_logging


def call(app, environ):
    base = {'PATH_INFO': '/v1/a', 'REQUEST_METHOD': 'GET', 'wsgi.input': io.BytesIO(b'abc'),
            'REMOTE_ADDR': '1.2.3.4'}
    base.update(environ)
    out = {}

    def start_response(status, headers, exc_info=None):
        out['status'] = status
        out['headers'] = headers
    body_iter = app(base, start_response)
    try:
        body = b''.join(body_iter)
    finally:
        close = getattr(body_iter, 'close', None)
        if close:
            close()
    return out['status'], out['headers'], body, base


def test_gatekeeper_environ_filter():
    internal = ['HTTP_X_BACKEND_FOO', 'HTTP_X_OBJECT_SYSMETA_A', 'HTTP_X_CONTAINER_SYSMETA_B',
                'HTTP_X_ACCOUNT_SYSMETA_C', 'HTTP_X_OBJECT_TRANSIENT_SYSMETA_D', 'HTTP_X_TIMESTAMP',
                'HTTP_X_CONTAINER_HOST', 'HTTP_X_DELETE_AT_HOST', 'HTTP_X_ACCOUNT_PARTITION']
    # X-If-Delete-At is a client's precondition on DELETE, as in Swift.
    public = ['HTTP_X_OBJECT_META_A', 'HTTP_X_AUTH_TOKEN', 'HTTP_X_DELETE_AT', 'HTTP_X_IF_DELETE_AT',
              'HTTP_X_CONTAINER_READ', 'HTTP_CONTENT_TYPE', 'HTTP_X_COPY_FROM']
    for key in internal:
        assert gatekeeper.is_internal_environ_key(key), key
    for key in public:
        assert not gatekeeper.is_internal_environ_key(key), key


def test_gatekeeper_middleware_both_ways():
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        start_response('200 OK', [('X-Backend-Timestamp', '1'), ('X-Object-Sysmeta-A', 'b'),
                                  ('X-Object-Meta-A', 'b'), ('ETag', 'e')])
        return [b'ok']
    mw = gatekeeper.filter_factory({})(app)
    status, headers, body, _env = call(mw, {'HTTP_X_BACKEND_X': '1', 'HTTP_X_OBJECT_META_Y': '2',
                                           'HTTP_X_OBJECT_SYSMETA_Z': '3'})
    assert 'HTTP_X_BACKEND_X' not in seen and 'HTTP_X_OBJECT_SYSMETA_Z' not in seen
    assert seen['HTTP_X_OBJECT_META_Y'] == '2'
    assert dict(headers) == {'X-Object-Meta-A': 'b', 'ETag': 'e'}


def test_catch_errors_500_has_txn_id_and_no_traceback():
    def broken(environ, start_response):
        raise RuntimeError('secret internals')
    mw = catch_errors.filter_factory({})(broken)
    logging.getLogger('swiftlike.proxy-server').disabled = True
    try:
        status, headers, body, env = call(mw, {})
    finally:
        logging.getLogger('swiftlike.proxy-server').disabled = False
    txn = dict(headers)['X-Trans-Id']
    assert status.startswith('500')
    assert txn.startswith('tx') and txn.encode() in body
    assert b'secret' not in body and b'Traceback' not in body
    assert env['swiftlike.txn_id'] == txn


def test_catch_errors_adds_txn_id_and_limits_header_count():
    def ok(environ, start_response):
        start_response('200 OK', [])
        return [b'x']
    mw = catch_errors.filter_factory({'trans_id_suffix': '-p1'})(ok)
    status, headers, body, _env = call(mw, {})
    assert status.startswith('200') and dict(headers)['X-Trans-Id'].endswith('-p1')
    many = {'HTTP_X_H%d' % i: 'v' for i in range(150)}
    status, _headers, body, _env = call(mw, many)
    assert status.startswith('400') and b'Too many headers' in body


def test_catch_errors_a_body_ended_on_purpose_is_one_line(caplog):
    from swiftlike.exceptions import SwiftlikeError

    class Limited(SwiftlikeError):
        http_status = 429

    def cut(environ, start_response):
        start_response('200 OK', [])

        def body():
            yield b'x'
            raise Limited('over its bytes_out limit')
        return body()

    def broken(environ, start_response):
        start_response('200 OK', [])

        def body():
            yield b'x'
            raise RuntimeError('a bug')
        return body()
    for app, level, traceback in ((cut, logging.WARNING, False), (broken, logging.ERROR, True)):
        caplog.clear()
        it = catch_errors.filter_factory({})(app)({}, lambda *a: None)
        with caplog.at_level(logging.INFO, logger='swiftlike.proxy-server'):
            got = []
            try:
                for chunk in it:
                    got.append(chunk)
            except Exception:
                pass
        assert got == [b'x']
        records = [r for r in caplog.records if r.name == 'swiftlike.proxy-server']
        assert [r.levelno for r in records] == [level]
        assert (records[0].exc_info is not None) == traceback


def test_healthcheck():
    def never(environ, start_response):
        raise AssertionError('healthcheck must not reach the app')
    mw = healthcheck.filter_factory({})(never)
    status, _h, body, _e = call(mw, {'PATH_INFO': '/healthcheck'})
    assert status.startswith('200') and body == b'OK'


def test_info_lists_constraints_and_registered():
    info.register('example_feature', level=3)
    mw = info.filter_factory({})(None)
    status, headers, body, _e = call(mw, {'PATH_INFO': '/info'})
    data = json.loads(body)
    assert status.startswith('200')
    assert data['swift']['max_file_size'] == 5 * 1024 ** 3
    assert data['example_feature'] == {'level': 3}
    assert call(mw, {'PATH_INFO': '/info', 'REQUEST_METHOD': 'PUT'})[0].startswith('405')


def test_proxy_logging_line(caplog):
    def app(environ, start_response):
        environ['wsgi.input'].read()
        start_response('201 Created', [])
        return [b'hello', b'!']
    mw = proxy_logging.filter_factory({})(app)
    mw.logger.propagate = True
    try:
        with caplog.at_level(logging.INFO, logger='swiftlike.proxy-access'):
            call(mw, {'REQUEST_METHOD': 'PUT', 'PATH_INFO': '/v1/a/c/\xc3\xa9 x',
                      'swiftlike.txn_id': 'txabc'})
    finally:
        mw.logger.propagate = False
    line = caplog.records[-1].getMessage()
    parts = line.split()
    assert parts[:6] == ['1.2.3.4', 'PUT', '/v1/a/c/%C3%A9%20x', '201', '3', '6']
    assert parts[-1] == 'txabc'
