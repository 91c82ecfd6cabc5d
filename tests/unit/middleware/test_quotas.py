"""Container and account quotas over a fake proxy (a WSGI app that answers
the info subrequests and records what reaches it)."""
import io

import pytest

from swiftlike.middleware import account_quotas, container_quotas, copy, quotas
from swiftlike.middleware.toolkit import FEATURES_KEY, RESELLER_REQUEST_KEY


class FakeProxy:
    def __init__(self, container=None, account=None, sizes=None):
        self.container = container or {}
        self.account = account or {}
        self.sizes = sizes or {}
        self.calls = []

    def __call__(self, env, start_response):
        self.calls.append((env['REQUEST_METHOD'], env['PATH_INFO'], dict(env)))
        path = env['PATH_INFO']
        if env['REQUEST_METHOD'] == 'HEAD' and env.get('swiftlike.info_request'):
            info = self.account if path.count('/') == 2 else self.container
            start_response('204 No Content', list(info.items()))
            return [b'']
        if env['REQUEST_METHOD'] in ('GET', 'HEAD') and path in self.sizes:
            start_response('200 OK', [('Content-Length', str(self.sizes[path]))])
            return [b'x' * self.sizes[path] if env['REQUEST_METHOD'] == 'GET' else b'']
        start_response('201 Created', [('X-Account-Sysmeta-Quota-Bytes', '7')])
        return [b'']


def run(mw, method, path, headers=None, length=None, env_extra=None):
    env = {'REQUEST_METHOD': method, 'PATH_INFO': path, 'wsgi.input': io.BytesIO(b'')}
    if length is not None:
        env['CONTENT_LENGTH'] = str(length)
    for name, value in (headers or {}).items():
        env['HTTP_' + name.upper().replace('-', '_')] = value
    env.update(env_extra or {})
    out = {}

    def start_response(status, hdrs, exc_info=None):
        out['status'], out['headers'] = int(status.split()[0]), hdrs
    body = b''.join(mw(env, start_response))
    return out['status'], dict(out['headers']), body, env


@pytest.mark.parametrize('value,ok', [('0', True), ('12', True), ('', True), (' 5 ', True),
                                      ('-1', False), ('1.5', False), ('x', False),
                                      ('\uff11', False)])
def test_quota_value(value, ok):
    if ok:
        quotas.quota_value(value)
    else:
        with pytest.raises(ValueError):
            quotas.quota_value(value)


def container_mw(meta, used=0, count=0, sizes=None):
    info = {'X-Container-Bytes-Used': str(used), 'X-Container-Object-Count': str(count)}
    info.update(('X-Container-Meta-' + k, v) for k, v in meta.items())
    proxy = FakeProxy(container=info, sizes=sizes)
    return container_quotas.ContainerQuotas(proxy, container_quotas.Conf()), proxy


def test_container_bytes_and_count_quotas():
    mw, _proxy = container_mw({'Quota-Bytes': '10'}, used=6)
    assert run(mw, 'PUT', '/v1/a/c/o', length=4)[0] == 201
    status, _h, body, _env = run(mw, 'PUT', '/v1/a/c/o', length=5)
    assert (status, body) == (413, b'Upload exceeds quota.')
    mw, _proxy = container_mw({'Quota-Count': '2'}, count=2)
    assert run(mw, 'PUT', '/v1/a/c/o', length=0)[0] == 413
    mw, _proxy = container_mw({}, used=10 ** 12)
    assert run(mw, 'PUT', '/v1/a/c/o', length=1)[0] == 201
    # unreadable stored quota: no quota (the write goes on)
    mw, _proxy = container_mw({'Quota-Bytes': 'lots'})
    assert run(mw, 'PUT', '/v1/a/c/o', length=1)[0] == 201


def test_container_quota_counts_copies_by_source_size():
    # The copy middleware (above the quotas) turns a copy into a PUT of the
    # source's size.
    mw, proxy = container_mw({'Quota-Bytes': '10'}, used=0, sizes={'/v1/a/src/big': 11})
    mw = copy.ServerSideCopy(mw, copy.Conf())
    status, *_ = run(mw, 'PUT', '/v1/a/c/o', {'X-Copy-From': 'src/big'}, length=0)
    assert status == 413
    status, *_ = run(mw, 'COPY', '/v1/a/src/big', {'Destination': 'c/o2'})
    assert status == 413
    assert not [c for c in proxy.calls if c[0] in ('PUT', 'COPY')]


@pytest.mark.parametrize('header,value,status', [
    ('X-Container-Meta-Quota-Bytes', '100', 201), ('X-Container-Meta-Quota-Bytes', '', 201),
    ('X-Container-Meta-Quota-Bytes', 'abc', 400), ('X-Container-Meta-Quota-Count', '-1', 400),
])
def test_container_quota_values_checked(header, value, status):
    mw, _proxy = container_mw({})
    assert run(mw, 'POST', '/v1/a/c', {header: value})[0] == status
    _s, _h, _b, env = run(mw, 'PUT', '/v1/a/c', {header: value})
    assert 'container_quotas' in env[FEATURES_KEY]


def account_mw(meta=None, sysmeta=None, used=0, count=0):
    info = {'X-Account-Bytes-Used': str(used), 'X-Account-Object-Count': str(count)}
    info.update(('X-Account-Meta-' + k, v) for k, v in (meta or {}).items())
    info.update(('X-Account-Sysmeta-' + k, v) for k, v in (sysmeta or {}).items())
    proxy = FakeProxy(account=info)
    return account_quotas.AccountQuotas(proxy, account_quotas.Conf()), proxy


RESELLER = {RESELLER_REQUEST_KEY: True}


@pytest.mark.parametrize('headers', [
    {'X-Account-Meta-Quota-Bytes': '0'}, {'X-Account-Quota-Bytes': '0'},
    {'X-Account-Quota-Count': '5'}, {'X-Account-Quota-Bytes-Policy-Default': '0'},
    {'X-Remove-Account-Quota-Bytes': 't'}, {'X-Remove-Account-Meta-Quota-Bytes': 't'},
])
def test_only_reseller_admins_change_account_quotas(headers):
    mw, proxy = account_mw()
    assert run(mw, 'POST', '/v1/AUTH_a', headers)[0] == 403
    assert not proxy.calls
    assert run(mw, 'POST', '/v1/AUTH_a', headers, env_extra=RESELLER)[0] == 201


def test_account_quota_headers_become_sysmeta():
    mw, proxy = account_mw()
    run(mw, 'POST', '/v1/AUTH_a', {'X-Account-Quota-Bytes': '123',
                                   'X-Remove-Account-Quota-Count': 'x'}, env_extra=RESELLER)
    env = proxy.calls[-1][2]
    assert env['HTTP_X_ACCOUNT_SYSMETA_QUOTA_BYTES'] == '123'
    assert env['HTTP_X_ACCOUNT_SYSMETA_QUOTA_COUNT'] == ''
    assert 'HTTP_X_ACCOUNT_QUOTA_BYTES' not in env
    _s, headers, _b, _e = run(mw, 'HEAD', '/v1/AUTH_a')
    assert headers['X-Account-Quota-Bytes'] == '7'


@pytest.mark.parametrize('headers', [
    {'X-Account-Quota-Bytes': 'lots'}, {'X-Account-Meta-Quota-Bytes': '-3'},
    {'X-Account-Quota-Bytes-Policy-Gold': '1'}, {'X-Account-Quota-Sideways': '1'},
])
def test_bad_account_quota_values(headers):
    mw, proxy = account_mw()
    assert run(mw, 'POST', '/v1/AUTH_a', headers, env_extra=RESELLER)[0] == 400
    assert not proxy.calls


@pytest.mark.parametrize('meta,sysmeta,used,count,length,status', [
    ({'Quota-Bytes': '10'}, {}, 5, 0, 5, 201), ({'Quota-Bytes': '10'}, {}, 5, 0, 6, 413),
    ({}, {'Quota-Bytes': '10'}, 9, 0, 2, 413), ({}, {'Quota-Count': '3'}, 0, 3, 0, 413),
    ({}, {'Quota-Bytes-Policy-default': '4'}, 0, 0, 5, 413), ({}, {}, 10 ** 9, 9, 1, 201),
])
def test_account_quota_enforced(meta, sysmeta, used, count, length, status):
    mw, _proxy = account_mw(meta, sysmeta, used, count)
    assert run(mw, 'PUT', '/v1/AUTH_a/c/o', length=length)[0] == status
