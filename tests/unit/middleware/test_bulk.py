"""Bulk delete over a fake proxy (a WSGI app that records the subrequests
and answers them from a table), hostile delete lists included."""
import io
import json
from xml.dom import minidom

import pytest

from swiftlike.middleware import bulk, info
from swiftlike.middleware.toolkit import FEATURES_KEY, SOURCE_KEY


class FakeProxy:
    """Answers DELETE 204, HEAD 404 and PUT 201 unless `answers` says
    otherwise ({(method, path): status}); PUTs read their body as the proxy
    does and answer 499 when it ends early."""

    def __init__(self, answers=None, read_bodies=True):
        self.answers = answers or {}
        self.read_bodies = read_bodies
        self.calls = []

    def __call__(self, env, start_response):
        method, path = env['REQUEST_METHOD'], env['PATH_INFO']
        body = b''
        status = self.answers.get((method, path))
        if method == 'PUT' and self.read_bodies and status is None:
            length = int(env.get('CONTENT_LENGTH') or 0)
            while len(body) < length:
                data = env['wsgi.input'].read(min(65536, length - len(body)))
                if not data:
                    status = 499
                    break
                body += data
        self.calls.append((method, path, body, dict(env)))
        if status is None:
            status = {'DELETE': 204, 'HEAD': 404, 'PUT': 201}.get(method, 200)
        start_response('%d Whatever' % status, [])
        return [b'']

    def paths(self, method=None):
        return [c[1] for c in self.calls if method in (None, c[0])]


def run(mw, method, path, body=b'', headers=None, query='bulk-delete', env_extra=None):
    env = {'REQUEST_METHOD': method, 'PATH_INFO': path, 'QUERY_STRING': query,
           'wsgi.input': io.BytesIO(body), 'CONTENT_LENGTH': str(len(body))}
    for name, value in (headers or {}).items():
        env['HTTP_' + name.upper().replace('-', '_')] = value
    env.update(env_extra or {})
    out = {}

    def start_response(status, hdrs, exc_info=None):
        out['status'], out['headers'] = int(status.split()[0]), dict(hdrs)
    data = b''.join(mw(env, start_response))
    return out['status'], out['headers'], data, env


def make(answers=None, **conf):
    proxy = FakeProxy(answers)
    conf.setdefault('yield_frequency', 3600.0)
    return bulk.Bulk(proxy, bulk.Conf(**conf)), proxy


def delete(mw, body, accept='application/json', path='/v1/AUTH_a', method='POST', **kw):
    status, headers, data, env = run(mw, method, path, body, dict({'Accept': accept}, **kw))
    assert status == 200
    return json.loads(data) if accept == 'application/json' else data


def test_objects_go_before_containers_and_the_summary_counts():
    mw, proxy = make({('DELETE', '/v1/AUTH_a/c/gone'): 404,
                      ('DELETE', '/v1/AUTH_a/full'): 409})
    result = delete(mw, b'/c\n/c/o1\nc/o%202\n\n  /c/gone  \r\nfull\nc/o3\n')
    assert proxy.paths() == ['/v1/AUTH_a/c/o1', '/v1/AUTH_a/c/o 2', '/v1/AUTH_a/c/gone',
                             '/v1/AUTH_a/c/o3', '/v1/AUTH_a/c', '/v1/AUTH_a/full']
    assert result == {'Number Deleted': 4, 'Number Not Found': 1, 'Response Body': '',
                      'Response Status': '400 Bad Request', 'Errors': [['/full', '409 Conflict']]}


def test_all_well_is_200_and_plain_text_by_default():
    mw, _proxy = make()
    status, headers, data, env = run(mw, 'DELETE', '/v1/AUTH_a', b'c/o\n')
    assert status == 200 and headers['Content-Type'].startswith('text/plain')
    assert data == (b'Number Deleted: 1\nNumber Not Found: 0\nResponse Body: \n'
                    b'Response Status: 200 OK\nErrors:\n')
    assert 'bulk' in env[FEATURES_KEY]


def test_xml_summary():
    mw, _proxy = make({('DELETE', '/v1/AUTH_a/c'): 409})
    data = delete(mw, b'c/o\nc\n', accept='application/xml')
    tree = minidom.parseString(data)
    assert tree.documentElement.tagName == 'delete'
    assert tree.getElementsByTagName('number_deleted')[0].firstChild.data == '1'
    assert tree.getElementsByTagName('response_status')[0].firstChild.data == '400 Bad Request'
    obj = tree.getElementsByTagName('errors')[0].getElementsByTagName('object')[0]
    assert obj.getElementsByTagName('name')[0].firstChild.data == '/c'
    assert obj.getElementsByTagName('status')[0].firstChild.data == '409 Conflict'


def test_unacceptable_accept_is_406_and_deletes_nothing():
    mw, proxy = make()
    status, _h, _d, _e = run(mw, 'POST', '/v1/AUTH_a', b'c/o\n', {'Accept': 'image/png'})
    assert status == 406 and not proxy.calls


def test_object_path_delete_as_swifts_functional_test_sends_it():
    # DELETE /v1/a/c/o?bulk-delete with body 'c/o': the paths are the account's
    mw, proxy = make()
    result = delete(mw, b'c/o', path='/v1/AUTH_a/c/o', method='DELETE')
    assert result['Number Deleted'] == 1 and result['Response Status'] == '200 OK'
    assert proxy.paths() == ['/v1/AUTH_a/c/o']


def test_subrequests_carry_the_tokens_and_the_source_tag_only():
    mw, proxy = make()
    delete(mw, b'c/o\n', **{'X-Auth-Token': 'AUTH_tk1', 'X-Service-Token': 'AUTH_tk2',
                            'X-Object-Meta-Foo': 'bar', 'X-Backend-Thing': 'x'})
    env = proxy.calls[0][3]
    assert env['HTTP_X_AUTH_TOKEN'] == 'AUTH_tk1' and env['HTTP_X_SERVICE_TOKEN'] == 'AUTH_tk2'
    assert env[SOURCE_KEY] == 'BD' and env['CONTENT_LENGTH'] == '0'
    assert 'HTTP_X_OBJECT_META_FOO' not in env and 'HTTP_X_BACKEND_THING' not in env


@pytest.mark.parametrize('body', [b'', b'\n\n  \r\n'])
def test_empty_list(body):
    mw, proxy = make()
    result = delete(mw, body)
    assert (result['Response Status'], result['Response Body']) == \
        ('400 Bad Request', 'Invalid bulk delete.')
    assert not proxy.calls


def test_too_many_paths_deletes_nothing():
    mw, proxy = make()
    body = b''.join(b'c/o%d\n' % i for i in range(10001))
    result = delete(mw, body)
    assert result['Response Status'] == '413 Request Entity Too Large'
    assert result['Response Body'] == 'Maximum Bulk Deletes: 10000 per request'
    assert not proxy.calls
    mw, proxy = make(max_deletes_per_request=3)
    assert delete(mw, b'a\nb\nc\n')['Number Deleted'] == 3
    assert delete(mw, b'a\nb\nc\n' + b'x' * 100000)['Response Status'].startswith('413')
    # a body longer than the paths it may hold could be is not read to its end
    result = delete(mw, b'a\n' + b'\n' * (5 * 1024 * 1024))
    assert result['Response Status'].startswith('413') and not proxy.calls[3:]


@pytest.mark.parametrize('line,status', [
    (b'c/%FF', '412 Precondition Failed'),        # not UTF-8 once decoded
    (b'c/a%00b', '412 Precondition Failed'),      # NUL
    (b'c/a\x00b', '412 Precondition Failed'),
    (b'/', '400 Bad Request'),                    # no container
    (b'%2F%2F', '400 Bad Request'),
    (b'c' * 257, '400 Bad Request'),              # container name too long
    (b'c/' + b'o' * 1025, '400 Bad Request'),     # object name too long
    (b'c/' + b'%41' * 1025, '400 Bad Request'),
])
def test_bad_paths_are_error_entries_and_the_rest_goes_on(line, status):
    mw, proxy = make()
    result = delete(mw, b'c/first\n' + line + b'\nc/last\n')
    assert proxy.paths() == ['/v1/AUTH_a/c/first', '/v1/AUTH_a/c/last']
    assert result['Number Deleted'] == 2
    assert len(result['Errors']) == 1 and result['Errors'][0][1] == status
    assert len(result['Errors'][0][0]) <= 3 * bulk.MAX_PATH_LENGTH


def test_bad_quoting_is_taken_literally():
    mw, proxy = make()
    delete(mw, b'c/100%\nc/%zz%4\n')
    assert proxy.paths() == ['/v1/AUTH_a/c/100%', '/v1/AUTH_a/c/%zz%4']


def test_a_huge_line_is_one_error_and_never_held_whole():
    mw, proxy = make()
    huge = b'c/' + b'x' * (5 * 1024 * 1024)
    result = delete(mw, b'c/a\n' + huge + b'\nc/b\n' + huge)
    assert proxy.paths() == ['/v1/AUTH_a/c/a', '/v1/AUTH_a/c/b']
    assert [e[1] for e in result['Errors']] == ['400 Bad Request'] * 2
    assert all(len(e[0]) <= bulk.MAX_PATH_LENGTH + 1 for e in result['Errors'])


def test_max_failed_deletes_stops_the_request():
    answers = {('DELETE', '/v1/AUTH_a/c/o%d' % i): 409 for i in range(100)}
    mw, proxy = make(answers, max_failed_deletes=5, delete_concurrency=1)
    result = delete(mw, b''.join(b'c/o%d\n' % i for i in range(100)) + b'c\n')
    assert len(proxy.calls) == 5 and len(result['Errors']) == 5
    assert (result['Response Status'], result['Response Body']) == \
        ('400 Bad Request', 'Max delete failures exceeded')
    # invalid paths count as failures too: nothing is sent
    mw, proxy = make(max_failed_deletes=2)
    result = delete(mw, b'/\n//\nc/o\n')
    assert not proxy.calls and result['Response Body'] == 'Max delete failures exceeded'
    # the last path failing is no reason to say the request stopped
    mw, proxy = make({('DELETE', '/v1/AUTH_a/c'): 409}, max_failed_deletes=1)
    assert delete(mw, b'c\n')['Response Body'] == ''


def test_concurrent_deletes_report_in_order():
    answers = {('DELETE', '/v1/AUTH_a/c/o%d' % i): 409 for i in range(0, 40, 3)}
    mw, proxy = make(answers, delete_concurrency=8)
    result = delete(mw, b''.join(b'c/o%d\n' % i for i in range(40)))
    assert result['Number Deleted'] == 40 - len(answers)
    assert [e[0] for e in result['Errors']] == ['/c/o%d' % i for i in range(0, 40, 3)]
    assert sorted(proxy.paths()) == sorted('/v1/AUTH_a/c/o%d' % i for i in range(40))


def test_server_errors_make_it_502_and_401_stops():
    mw, _proxy = make({('DELETE', '/v1/AUTH_a/c/a'): 503, ('DELETE', '/v1/AUTH_a/c/b'): 403})
    assert delete(mw, b'c/a\nc/b\n')['Response Status'] == '502 Bad Gateway'
    answers = {('DELETE', '/v1/AUTH_a/c/o%d' % i): 401 for i in range(10)}
    mw, proxy = make(answers, delete_concurrency=1)
    result = delete(mw, b''.join(b'c/o%d\n' % i for i in range(10)))
    assert result['Response Status'] == '401 Unauthorized' and len(proxy.calls) == 1


def test_whitespace_while_working_and_xml_stays_parseable():
    mw, _proxy = make(yield_frequency=0)
    _s, _h, data, env = run(mw, 'POST', '/v1/AUTH_a', b'c/a\nc/b\n', {'Accept': 'text/xml'})
    assert data.startswith(b'  ') and b'<?xml' not in data
    assert minidom.parseString(data).getElementsByTagName('number_deleted')[0] \
        .firstChild.data == '2'
    assert env['eventlet.minimum_write_chunk_size'] == 0   # each space goes out at once
    _s, _h, data, _e = run(mw, 'POST', '/v1/AUTH_a', b'c/a\n', {'Accept': 'application/json'})
    assert json.loads(data)['Number Deleted'] == 1


class BrokenInput:
    def __init__(self, exc):
        self.exc = exc

    def read(self, size=-1):
        raise self.exc


@pytest.mark.parametrize('exc,status', [(OSError('reset'), '499 Client Disconnect'),
                                        (ValueError('closed'), '499 Client Disconnect'),
                                        (TimeoutError(), '408 Request Timeout')])
def test_client_gone_while_sending_the_list(exc, status):
    mw, proxy = make()
    _s, _h, data, _e = run(mw, 'POST', '/v1/AUTH_a', headers={'Accept': 'application/json'},
                           env_extra={'wsgi.input': BrokenInput(exc)})
    assert json.loads(data)['Response Status'] == status and not proxy.calls


@pytest.mark.parametrize('method,path,query', [
    ('GET', '/v1/AUTH_a', 'bulk-delete'),           # only POST/DELETE delete
    ('PUT', '/v1/AUTH_a/c/o', 'bulk-delete'),
    ('POST', '/v1/AUTH_a/c/o', 'extract-archive=tar'),
    ('DELETE', '/v1/AUTH_a/c/o', ''),
    ('POST', '/info', 'bulk-delete'),
])
def test_other_requests_pass_through(method, path, query):
    mw, proxy = make()
    status, _h, _d, env = run(mw, method, path, b'', query=query)
    assert proxy.calls == [(method, path, b'', env)] or proxy.paths() == [path]
    assert 'bulk' in env[FEATURES_KEY]


def test_info_and_conf():
    make(max_deletes_per_request=7)
    caps = info.capabilities()
    assert caps['bulk_delete'] == {'max_deletes_per_request': 7, 'max_failed_deletes': 1000}
    assert caps['bulk_upload'] == {'max_containers_per_extraction': 10000,
                                   'max_failed_extractions': 1000}
    factory = bulk.filter_factory({'max_failed_deletes': '3', 'delete_concurrency': '4'})
    assert factory.conf.max_failed_deletes == 3 and factory.conf.delete_concurrency == 4
    from swiftlike.exceptions import ConfigError
    for bad in ({'delete_concurrency': '0'}, {'max_deletes_per_request': '0'},
                {'yield_frequency': '-1'}, {'nonsense': '1'}):
        with pytest.raises(ConfigError):
            bulk.filter_factory(bad)
