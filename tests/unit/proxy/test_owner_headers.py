"""What the proxy passes up to middlewares and what only owners see."""
from swiftlike.backend_http import _Headers
from swiftlike.proxy.controllers.base import client_headers, without_owner_headers


def backend(**headers):
    out = _Headers()
    for key, value in headers.items():
        out[key.replace('_', '-')] = value
    return out


def test_client_headers_keep_sysmeta_only_when_asked():
    h = backend(x_account_meta_color='red', x_account_sysmeta_core_access_control='{}',
                x_backend_timestamp='1', content_length='0', x_timestamp='2')
    plain = dict(client_headers(h))
    assert plain == {'X-Account-Meta-Color': 'red', 'X-Timestamp': '2'}
    with_sysmeta = dict(client_headers(h, sysmeta=True))
    assert with_sysmeta['X-Account-Sysmeta-Core-Access-Control'] == '{}'
    assert 'X-Backend-Timestamp' not in with_sysmeta and 'Content-Length' not in with_sysmeta


def test_owner_only_headers_dropped_for_others():
    headers = [('X-Container-Read', 'a'), ('x-container-write', 'b'),
               ('X-Container-Sync-Key', 'k'), ('X-Container-Meta-Temp-Url-Key', 's'),
               ('X-Account-Meta-Temp-Url-Key-2', 's2'), ('X-Account-Access-Control', '{}'),
               ('X-Container-Meta-Color', 'red'), ('X-Account-Meta-Temp-Url-Keys', 'other')]
    assert without_owner_headers(headers) == [('X-Container-Meta-Color', 'red'),
                                              ('X-Account-Meta-Temp-Url-Keys', 'other')]
