"""Property: any sequence of writes leaves both backends answering alike."""
import json
import shutil
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.obj.conftest import make_app

_op = st.tuples(st.sampled_from(['PUT', 'POST', 'DELETE']), st.integers(1, 8),
                st.sampled_from(['o1', 'o2', 'o3']), st.binary(max_size=40))


def _apply(harness, ops):
    statuses = []
    for method, second, name, body in ops:
        headers = {'X-Timestamp': '17000000%02d.00000' % second,
                   'Content-Type': 'text/plain', 'X-Object-Meta-Op': method}
        resp = harness.req(method, '/sda/2/a/c/' + name, headers,
                           body if method == 'PUT' else None)
        statuses.append(resp.status_int)
    seen = []
    for name in ('o1', 'o2', 'o3'):
        resp = harness.req('GET', '/sda/2/a/c/' + name)
        seen.append((resp.status_int, resp.body, resp.headers.get('X-Backend-Timestamp'),
                     resp.headers.get('X-Object-Meta-Op')))
    hashes = json.loads(harness.req('REPLICATE', '/sda/2').body)
    return statuses, seen, hashes


@settings(max_examples=20, deadline=None)
@given(st.lists(_op, max_size=10))
def test_backends_agree(ops):
    base = Path(tempfile.mkdtemp())
    try:
        mem = make_app(base / 'm', 'mem')
        fs = make_app(base / 'f', 'fs')
        assert _apply(mem, ops) == _apply(fs, ops)
    finally:
        shutil.rmtree(base, ignore_errors=True)
