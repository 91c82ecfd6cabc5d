"""The object replication wire format: what is wanted, what is rejected."""
import json

import pytest

from swiftlike.obj.replication_protocol import (ProtocolError, encode_header, parse_check_body,
                                                parse_header, wanted_files)

H = 'a' * 29 + 'abc'
T1, T2, T3 = '1700000001.00000', '1700000002.00000', '1700000003.00000'


@pytest.mark.parametrize('offered,present,wanted', [
    ([T2 + '.data'], [], [T2 + '.data']),
    ([T2 + '.data'], [T1 + '.data'], [T2 + '.data']),
    ([T1 + '.data'], [T2 + '.data'], []),                  # ours is older: never taken
    ([T1 + '.data'], [T2 + '.ts'], []),                    # a newer delete wins
    ([T3 + '.ts'], [T2 + '.data'], [T3 + '.ts']),
    ([T2 + '.data'], [T2 + '.data'], []),                  # already here
    ([T1 + '.data', T3 + '.meta'], [T1 + '.data'], [T3 + '.meta']),
    # A POST at T3 came after the PUT at T2: it applies to whatever data is current.
    ([T1 + '.data', T3 + '.meta'], [T2 + '.data'], [T3 + '.meta']),
    ([T1 + '.data', T2 + '.meta'], [T3 + '.data'], []),
    ([T2 + '.ts'], [T2 + '.data'], [T2 + '.ts']),          # equal times: the tombstone wins
    (['junk', '../../etc/passwd', T2 + '.data'], [], [T2 + '.data']),
])
def test_wanted_files(offered, present, wanted):
    assert wanted_files(offered, present) == wanted


def test_parse_check_body_accepts_offers():
    body = json.dumps({H: [T1 + '.data', T2 + '.meta']}).encode()
    assert parse_check_body(body) == {H: [T1 + '.data', T2 + '.meta']}


@pytest.mark.parametrize('raw', [
    b'not json', b'\xff\xfe', b'[1, 2]', b'"x"',
    json.dumps({'nothex' * 5 + 'zz': []}).encode(),
    json.dumps({H: 'x.data'}).encode(),
    json.dumps({H: [1]}).encode(),
    json.dumps({H: ['../x.data']}).encode(),
    json.dumps({H: [T1 + '.data'] * 4}).encode(),
    json.dumps({H.upper(): [T1 + '.data']}).encode(),
])
def test_parse_check_body_rejects_garbage(raw):
    with pytest.raises(ProtocolError):
        parse_check_body(raw)


def test_header_round_trip_and_end_record():
    meta = {'X-Timestamp': T1, 'ETag': 'e', 'Content-Length': '3'}
    header = parse_header(encode_header(H, T1 + '.data', 3, meta), 100)
    assert (header['hash'], header['name'], header['size'], header['metadata'],
            header['ext']) == (H, T1 + '.data', 3, meta, '.data')
    assert parse_header(b'{"end": true}\n', 100) is None


def _line(**fields):
    base = {'hash': H, 'name': T1 + '.data', 'size': 3, 'metadata': {'X-Timestamp': T1}}
    base.update(fields)
    return json.dumps(base).encode() + b'\n'


@pytest.mark.parametrize('line', [
    b'{"hash": "' + H.encode() + b'"',                 # no newline: truncated
    b'not json\n',
    b'[1]\n',
    _line(hash='g' * 32),
    _line(hash=H[:-1]),
    _line(name='x/' + T1 + '.data'),
    _line(name='../' + T1 + '.data'),
    _line(name='1700000001.data.exe'),
    _line(size=-1),
    _line(size=True),
    _line(size='3'),
    _line(size=10 ** 12),
    _line(metadata=['a']),
    _line(metadata={'a': 1}),
    _line(name=T1 + '.ts', size=5),                    # only .data files carry bytes
    _line(metadata={'X-Timestamp': T2}),               # names a different instant
    _line(metadata={'X-Timestamp': 'garbage'}),
])
def test_parse_header_rejects_hostile_records(line):
    with pytest.raises(ProtocolError):
        parse_header(line, 10 ** 9)
