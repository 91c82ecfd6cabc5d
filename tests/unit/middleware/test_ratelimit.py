"""The ratelimit middleware in front of a small WSGI app, on a clock the
tests drive (no sleeping: delays are recorded, not waited for)."""
import io
import time

import pytest

from swiftlike.middleware import ratelimit
from swiftlike.middleware.tempauth_tokens import default_secret, sign_token


class Clock:
    def __init__(self, now=1_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


class App:
    """Answers `size` bytes in 64 KiB chunks; container HEADs say `objects`."""

    def __init__(self, size=10, objects=0):
        self.size = size
        self.objects = objects
        self.calls = 0

    def __call__(self, env, start_response):
        self.calls += 1
        if env['REQUEST_METHOD'] == 'HEAD':
            start_response('204 No Content', [('X-Container-Object-Count', str(self.objects))])
            return [b'']
        data = env['wsgi.input'].read()
        start_response('200 OK', [('Content-Length', str(self.size))])
        chunks = [b'x' * min(65536, self.size - i) for i in range(0, self.size, 65536)]
        return chunks if not data else [data]


def make(options, app=None, clock=None):
    clock = clock or Clock()
    app = app or App()
    conf = ratelimit.filter_factory(options, {}).conf
    return ratelimit.RateLimit(app, conf, clock=clock), app, clock


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    slept = []
    monkeypatch.setattr(ratelimit.concurrency, 'sleep', slept.append)
    return slept


def call(mw, path='/v1/AUTH_a/c/o', method='GET', addr='192.0.2.1', headers=None, body=b''):
    env = {'REQUEST_METHOD': method, 'PATH_INFO': path, 'REMOTE_ADDR': addr,
           'QUERY_STRING': '', 'wsgi.input': io.BytesIO(body),
           'CONTENT_LENGTH': str(len(body))}
    for name, value in (headers or {}).items():
        env['HTTP_' + name.upper().replace('-', '_')] = value
    out = {}

    def start_response(status, hdrs, exc_info=None):
        out['status'] = int(status.split()[0])
        out['headers'] = dict(hdrs)
    it = mw(env, start_response)
    data = b''
    try:
        for chunk in it:
            data += chunk
    except ratelimit.BodyCutOff:
        out['cut'] = True
    finally:
        getattr(it, 'close', lambda: None)()
    return out['status'], out['headers'], data, out.get('cut', False)


def test_requests_let_through_are_counted_not_the_refused_ones():
    mw, app, clock, *_ = make({'rules': 'source requests 5/10s reject'})
    assert [call(mw)[0] for _ in range(8)] == [200] * 5 + [429] * 3
    status, headers, body, _ = call(mw)
    assert status == 429 and int(headers['Retry-After']) >= 1 and b'Retry-After' in body
    assert app.calls == 5 and mw.stats.rejected == 4
    # Another source is not affected.
    assert call(mw, addr='192.0.2.2')[0] == 200
    # Two windows later the bucket of the refusals counts nothing.
    clock.now += 20
    assert [call(mw)[0] for _ in range(6)] == [200] * 5 + [429]


def test_refusals_and_marks_are_counted_in_the_metrics():
    from swiftlike import metrics

    def counted(action):
        metrics.flush()
        return metrics.child('proxy_ratelimit_actions', action)._value.get()
    before = {a: counted(a) for a in ('rejected', 'marked', 'marks_set')}
    mw, *_ = make({'rules': 'source requests 2/10s reject'})
    assert [call(mw)[0] for _ in range(5)] == [200] * 2 + [429] * 3
    assert counted('rejected') - before['rejected'] == 3 == mw.stats.rejected
    mw, *_ = make({'rules': 'source requests 2/10s mark 60s'})
    assert [call(mw)[0] for _ in range(4)] == [200] * 2 + [429] * 2
    assert counted('marks_set') - before['marks_set'] == mw.stats.marks_set >= 1
    assert counted('marked') - before['marked'] == mw.stats.marked >= 1


def test_retry_after_is_when_it_fits():
    mw, app, clock, *_ = make({'rules': 'source requests 2/10s reject'})
    clock.now = 1000.0
    call(mw), call(mw)
    status, headers, *_ = call(mw)
    assert status == 429
    retry = int(headers['Retry-After'])
    clock.now += retry
    assert call(mw)[0] == 200


def test_delay_paces_then_rejects_past_max_sleep(no_sleep):
    mw, app, clock, *_ = make({'rules': 'source requests 1/10s delay',
                               'rate_buffer_seconds': '0', 'max_sleep_time_seconds': '25'})
    codes = [call(mw)[0] for _ in range(5)]
    # One per 10 s: waits of 0, 10, 20 s; a 30 s wait is past max_sleep.
    assert codes == [200, 200, 200, 429, 429]
    assert no_sleep == [10.0, 20.0] and mw.stats.throttled == 2 and mw.stats.rejected == 2
    clock.now += 30
    assert call(mw)[0] == 200


def test_mark_outlives_the_rate_and_ends(no_sleep):
    mw, app, clock, *_ = make({'rules': 'source requests 3/1s mark 1m',
                               'mark_body': '<p>go away</p>', 'mark_status': '403'})
    assert [call(mw)[0] for _ in range(5)] == [200] * 3 + [403, 403]
    clock.now += 30
    status, headers, body, _ = call(mw)
    assert (status, body) == (403, b'<p>go away</p>\n')
    assert headers['Content-Type'].startswith('text/html') and headers['Retry-After'] == '30'
    clock.now += 31
    assert call(mw)[0] == 200
    assert mw.stats.marks_set == 1 and mw.stats.marked == 3
    # An admin clears a mark.
    [call(mw) for _ in range(5)]
    assert call(mw)[0] == 403
    assert mw.limiter.clear('source', '192.0.2.1')
    assert call(mw)[0] == 200


def test_bytes_out_cut_off_and_paced(no_sleep):
    app = App(size=300 * 1024)
    mw, app, clock, *_ = make({'rules': 'source bytes_out 1Mi/1h reject'}, app)
    served = 0
    for _ in range(6):
        status, _h, data, cut = call(mw)
        served += len(data)
    assert 1024 * 1024 - 65536 <= served <= 1024 * 1024
    assert mw.stats.cut_off == 1 and call(mw)[0] == 429
    # A first chunk over the limit is a refusal, not a cut connection.
    mw, app, clock, *_ = make({'rules': 'source bytes_out 100k/1h reject'}, App(size=200000))
    assert call(mw)[0] == 200
    assert call(mw)[0] == 429
    # delay paces the body instead.
    mw, app, clock, *_ = make({'rules': 'source bytes_out 1Mi/10s delay'}, App(size=3 << 20))
    status, _h, data, cut = call(mw)
    assert status == 200 and len(data) == 3 << 20 and not cut and no_sleep


def test_concurrent_requests_of_a_key():
    mw, app, clock, *_ = make({'rules': 'source concurrent 2 reject'})
    env = {'REQUEST_METHOD': 'GET', 'PATH_INFO': '/v1/AUTH_a/c/o', 'REMOTE_ADDR': '192.0.2.1',
           'wsgi.input': io.BytesIO(b'')}
    open_bodies = [mw(dict(env), lambda *a: None) for _ in range(2)]
    assert call(mw)[0] == 429
    open_bodies[0].close()
    assert call(mw)[0] == 200


def test_forwarded_for_only_from_trusted_proxies():
    mw, *_ = make({'rules': 'source requests 100/1s reject', 'trusted_proxies': '10.0.0.0/8'})
    env = {'REMOTE_ADDR': '10.1.1.1', 'HTTP_X_FORWARDED_FOR': '6.6.6.6, 203.0.113.5, 10.2.2.2'}
    assert mw.source_of(env) == '203.0.113.5'
    assert mw.source_of(dict(env, REMOTE_ADDR='198.51.100.9')) == '198.51.100.9'
    assert mw.source_of(dict(env, HTTP_X_FORWARDED_FOR='garbage, 10.3.3.3')) == '10.3.3.3'
    assert mw.source_of(dict(env, HTTP_X_FORWARDED_FOR='')) == '10.1.1.1'


def test_allow_lists_and_blacklist():
    mw, app, clock, *_ = make({'rules': 'source requests 1/1m reject\nuser requests 1/1m reject',
                               'source_allowlist': '192.0.2.0/28', 'account_whitelist': 'AUTH_ok',
                               'account_blacklist': 'AUTH_bad', 'user_allowlist': 'a:u'})
    assert [call(mw)[0] for _ in range(5)] == [200] * 5
    assert [call(mw, '/v1/AUTH_ok/c', addr='198.51.100.1')[0] for _ in range(5)] == [200] * 5
    status, _h, body, _ = call(mw, '/v1/AUTH_bad/c', addr='198.51.100.2')
    assert (status, body) == (497, b'Your account has been blacklisted\n')
    token = sign_token(default_secret(), 'AUTH', 'a', 'u', ['a'], time.time() + 60)
    assert [call(mw, addr='198.51.100.3', headers={'X-Auth-Token': token})[0]
            for _ in range(3)] == [200] * 3


def test_user_key_needs_a_valid_token():
    mw, *_ = make({'rules': 'user requests 2/1m reject'})
    token = sign_token(default_secret(), 'AUTH', 'a', 'u', ['a'], time.time() + 60)
    forged = token[:-4] + '0000'
    codes = [call(mw, addr='198.51.100.%d' % i, headers={'X-Auth-Token': token})[0]
             for i in range(4)]
    assert codes == [200, 200, 429, 429]
    assert [call(mw, headers={'X-Auth-Token': forged})[0] for _ in range(4)] == [200] * 4


def test_swift_account_and_container_limits(no_sleep):
    mw, app, clock, *_ = make({'account_ratelimit': '2', 'rate_buffer_seconds': '0',
                               'max_sleep_time_seconds': '1', 'reject_status': '498',
                               'container_ratelimit_10': '1'}, App(objects=50))
    # Container PUTs of one account: paced at 2/s, refused past 1 s of waiting.
    codes = [call(mw, '/v1/AUTH_a/c%d' % i, 'PUT')[0] for i in range(4)]
    assert codes == [200, 200, 200, 498]
    assert no_sleep[:2] == [0.5, 1.0] or no_sleep == [pytest.approx(0.5), pytest.approx(1.0)]
    # Object writes in a container of 50 objects: 1/s; reads are not limited.
    no_sleep.clear()
    assert call(mw, '/v1/AUTH_a/c/o', 'PUT')[0] == 200
    assert call(mw, '/v1/AUTH_a/c/o', 'PUT')[0] == 200 and no_sleep == [pytest.approx(1.0)]
    assert call(mw, '/v1/AUTH_a/c/o', 'PUT')[0] == 498
    assert call(mw, '/v1/AUTH_a/c/o')[0] == 200


def test_table_of_a_million_sources_stays_bounded():
    mw, app, clock, *_ = make({'rules': 'source requests 100/1m reject', 'table_size': '5000'})
    for i in range(200_000):
        call(mw, addr='10.%d.%d.%d' % (i >> 16, (i >> 8) & 255, i & 255))
    assert len(mw.limiter.table) == 5000 and mw.limiter.table.evicted == 195_000
