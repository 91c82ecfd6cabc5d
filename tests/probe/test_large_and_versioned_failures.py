"""Probe: an object server killed in the middle of a static large object upload
or of a versioned overwrite loses nothing the cluster acknowledged.

The kill happens while a client's chunked PUT is in flight (half of its body
sent, the rest sent after the kill), so the moment is arranged, not hoped for.
Afterwards every acknowledged byte reads back: with the killed node back, with
another node down, and after replication has put every replica in place.
"""
import hashlib
import http.client
import json
import os
import urllib.parse

MIB = 1024 * 1024


def _chunked_put(probe, path, first, rest, during, query=''):
    """PUT `first` + `rest` as a chunked body, calling during() between them."""
    url = urllib.parse.urlsplit(probe.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    try:
        target = url.path + urllib.parse.quote(path) + ('?' + query if query else '')
        conn.putrequest('PUT', target, skip_accept_encoding=True)
        conn.putheader('X-Auth-Token', probe.token)
        conn.putheader('Transfer-Encoding', 'chunked')
        conn.endheaders()
        conn.send(b'%x\r\n%s\r\n' % (len(first), first))
        during()
        conn.send(b'%x\r\n%s\r\n0\r\n\r\n' % (len(rest), rest))
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _primary(probe, container, obj, which=0):
    _part, nodes = probe.rings['object'].get_nodes(probe.account, container, obj)
    return probe.node_index('object', nodes[which]['device'])


def _other(probe, container, obj, not_this):
    _part, nodes = probe.rings['object'].get_nodes(probe.account, container, obj)
    for node in nodes:
        index = probe.node_index('object', node['device'])
        if index != not_this:
            return index
    raise AssertionError('no other primary')


def test_object_server_killed_during_slo_upload(probe):
    c = probe.new_container('slo-kill')
    segments = [os.urandom(MIB), os.urandom(MIB), os.urandom(MIB // 2)]
    victim = _primary(probe, c, 'seg/1')

    assert probe.put(c, 'seg/0', segments[0]) == 201
    # The second segment's PUT is in flight when one of its primaries dies.
    status, body = _chunked_put(probe, '/%s/seg/1' % c, segments[1][:MIB // 2],
                                segments[1][MIB // 2:],
                                lambda: probe.cluster.kill_server('object', victim))
    assert status == 201, body
    assert probe.put(c, 'seg/2', segments[2]) == 201
    manifest = [{'path': '/%s/seg/%d' % (c, i), 'etag': hashlib.md5(data).hexdigest(),
                 'size_bytes': len(data)} for i, data in enumerate(segments)]
    status, _h, body = probe.request('PUT', '/%s/big?multipart-manifest=put' % c,
                                     body=json.dumps(manifest).encode())
    assert status == 201, body
    whole = b''.join(segments)

    def check():
        status, body = probe.get(c, 'big')
        assert status == 200 and body == whole

    check()
    probe.cluster.start_server('object', victim)
    probe.settle()
    check()
    # Another node down: still every byte.
    other = _other(probe, c, 'big', victim)
    probe.cluster.kill_server('object', other)
    try:
        check()
    finally:
        probe.cluster.start_server('object', other)
    probe.settle()
    probe.replicate()
    for name in ('seg/0', 'seg/1', 'seg/2', 'big'):
        primaries, holders = probe.object_locations(c, name)
        assert set(primaries) <= set(holders), (name, primaries, holders)
    check()


def test_object_server_killed_during_versioned_overwrite(probe):
    c = probe.new_container('ver-kill')
    status, _h, body = probe.request('POST', '/' + c, {'X-Versions-Enabled': 'true'})
    assert status == 204, body
    first, second = os.urandom(300000), os.urandom(300000)
    status, headers, _b = probe.request('PUT', '/%s/doc' % c, body=first)
    assert status == 201
    first_id = {k.lower(): v for k, v in headers.items()}.get('x-object-version-id')
    assert first_id
    victim = _primary(probe, c, 'doc')
    status, body = _chunked_put(probe, '/%s/doc' % c, second[:150000], second[150000:],
                                lambda: probe.cluster.kill_server('object', victim))
    assert status == 201, body

    def check():
        status, body = probe.get(c, 'doc')
        assert status == 200 and body == second
        status, _h, body = probe.request('GET', '/%s/doc?version-id=%s' % (c, first_id))
        assert status == 200 and body == first
        status, _h, body = probe.request('GET', '/%s?versions&format=json' % c)
        assert status == 200
        listed = [item for item in json.loads(body) if item['name'] == 'doc']
        assert len(listed) == 2 and listed[0]['is_latest'], listed

    check()
    probe.cluster.start_server('object', victim)
    probe.settle()
    check()
    other = _other(probe, c, 'doc', victim)
    probe.cluster.kill_server('object', other)
    try:
        check()
    finally:
        probe.cluster.start_server('object', other)
    probe.settle()
    probe.replicate()
    check()
