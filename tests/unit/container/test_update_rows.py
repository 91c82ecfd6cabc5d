"""The container server's UPDATE: several object rows in one request
(swiftlike/row_batch.py), every row checked before any is queued."""
import json

import pytest

from swiftlike import row_batch
from swiftlike.container import server
from tests.unit.db.helpers import call, make_conf


@pytest.fixture
def app(tmp_path):
    app = server.App(make_conf(server.Conf, str(tmp_path)))
    assert call(app, 'PUT', '/sda/1/a/c', {'X-Timestamp': ts(1)})[0] == 201
    return app


def ts(n):
    return '%010d.00000' % n


def row(name, t=2, size=10, ctype='text/plain', etag='abc', deleted=0):
    return {'name': name, 'timestamp': ts(t), 'size': size, 'content_type': ctype,
            'etag': etag, 'deleted': deleted}


def update(app, rows, path='/sda/1/a/c', raw=None):
    body = raw if raw is not None else json.dumps(rows).encode('utf-8')
    return call(app, 'UPDATE', path, {'Content-Type': 'application/json'}, body=body)


def listing(app, path='/sda/1/a/c'):
    status, headers, body = call(app, 'GET', path, {'Accept': 'application/json'})
    if status == 204:
        return {}, headers
    assert status == 200
    return {o['name']: (o['bytes'], o['content_type'], o['hash'])
            for o in json.loads(body)}, headers


def test_rows_land_together_and_the_newest_wins(app):
    assert update(app, [row('a', size=1), row('b', size=2), row('\u00e9t\u00e9', size=3,
                                                                   ctype='text/\u00e9')])[0] == 202
    assert update(app, [row('a', t=3, size=5), row('b', t=1, size=99),
                        row('\u00e9t\u00e9', t=4, deleted=1, size=0, ctype='', etag='')])[0] == 202
    objects, headers = listing(app)
    assert objects == {'a': (5, 'text/plain', 'abc'), 'b': (2, 'text/plain', 'abc')}
    assert headers['X-Container-Object-Count'] == '2'
    assert headers['X-Container-Bytes-Used'] == '7'


def test_single_updates_and_batches_mix(app):
    assert call(app, 'PUT', '/sda/1/a/c/one', {'X-Timestamp': ts(2), 'X-Size': '4',
                                                'X-Content-Type': 'a/b', 'X-Etag': 'e'})[0] == 201
    assert update(app, [row('one', t=3, deleted=1, size=0), row('two')])[0] == 202
    assert listing(app)[0] == {'two': (10, 'text/plain', 'abc')}


def test_the_expirer_queue_account_is_created_on_first_use(app):
    assert update(app, [row('1700000000-a/c/o')], path='/sda/1/.expiring_objects/1700000000')[0] \
        == 202
    assert list(listing(app, '/sda/1/.expiring_objects/1700000000')[0]) == ['1700000000-a/c/o']


def test_a_missing_container_is_404(app):
    assert update(app, [row('o')], path='/sda/1/a/nope')[0] == 404


GOOD = row('good')


@pytest.mark.parametrize('body,status', [
    (b'not json', 400),
    (b'\xff\xfe', 400),
    (b'{"name": "o"}', 400),                 # not a list
    (b'[]', 400),                            # nothing to do
    (b'["o"]', 400),                         # a row that is not an object
    (json.dumps([GOOD, dict(GOOD, name='')]), 400),
    (json.dumps([GOOD, dict(GOOD, name=None)]), 400),
    (json.dumps([GOOD, dict(GOOD, name=7)]), 400),
    (json.dumps([GOOD, dict(GOOD, name='x' * 1025)]), 400),
    (json.dumps([GOOD, dict(GOOD, name='\udcff')]), 400),   # a lone surrogate
    (json.dumps([GOOD, dict(GOOD, timestamp='yesterday')]), 400),
    (json.dumps([GOOD, dict(GOOD, timestamp=None)]), 400),
    (json.dumps([GOOD, dict(GOOD, timestamp='-1')]), 400),
    (json.dumps([GOOD, dict(GOOD, size=-1)]), 400),
    (json.dumps([GOOD, dict(GOOD, size=1.5)]), 400),
    (json.dumps([GOOD, dict(GOOD, size='10')]), 400),
    (json.dumps([GOOD, dict(GOOD, size=True)]), 400),
    (json.dumps([GOOD, dict(GOOD, size=1 << 63)]), 400),
    (json.dumps([GOOD, dict(GOOD, deleted=2)]), 400),
    (json.dumps([GOOD, dict(GOOD, deleted=1.0)]), 400),
    (json.dumps([GOOD, dict(GOOD, deleted='1')]), 400),
    (json.dumps([GOOD, dict(GOOD, content_type=['a'])]), 400),
    (json.dumps([GOOD, dict(GOOD, content_type='t' * 1025)]), 400),
    (json.dumps([GOOD, dict(GOOD, etag='e' * 257)]), 400),
    (json.dumps([GOOD, dict(GOOD, etag=None)]), 400),
    (json.dumps([GOOD] * (row_batch.MAX_ROWS + 1)), 413),
])
def test_a_bad_body_is_refused_and_nothing_is_queued(app, body, status):
    if isinstance(body, str):
        body = body.encode('utf-8', 'surrogatepass')
    got, _headers, reason = update(app, None, raw=body)
    assert got == status, reason
    if body.startswith(b'[{') and status == 400:
        assert reason.endswith(b'(row 1)')     # the good row first, then the bad one
    assert listing(app)[0] == {}


def test_bodies_past_the_limit_or_without_a_length_are_refused(app):
    status, _h, _b = call(app, 'UPDATE', '/sda/1/a/c',
                          {'Content-Length': str(row_batch.MAX_BODY_BYTES + 1)})
    assert status == 413
    assert call(app, 'UPDATE', '/sda/1/a/c')[0] == 411
    assert listing(app)[0] == {}


@pytest.mark.parametrize('path', ['/sda/1/a', '/sda/1/a/c/o', '/sda/x/a/c', '/../1/a/c'])
def test_an_update_needs_a_container_path(app, path):
    assert update(app, [GOOD], path=path)[0] == 400
    assert listing(app)[0] == {}


def test_a_large_batch_lands_whole(app):
    rows = [row('o%04d' % i, size=i) for i in range(row_batch.MAX_ROWS)]
    assert update(app, rows)[0] == 202
    objects, headers = listing(app)
    assert headers['X-Container-Object-Count'] == str(row_batch.MAX_ROWS)
    assert headers['X-Container-Bytes-Used'] == str(sum(range(row_batch.MAX_ROWS)))
