"""Timestamp parsing: which forms are accepted, and what they mean."""
import pytest

from swiftlike.timestamp import Timestamp


@pytest.mark.parametrize('text, internal', [
    ('1700000000.12345', '1700000000.12345'),
    ('1700000000.123450000', '1700000000.12345'),
    (' 1700000000.5 ', '1700000000.50000'),
    ('5.', '0000000005.00000'),
    ('.5', '0000000000.50000'),
    ('.', '0000000000.00000'),
    ('0000000001.5', '0000000001.50000'),
    ('1700000000.12345_000000000000000a', '1700000000.12345_000000000000000a'),
    ('1.5_A', '0000000001.50000_000000000000000a'),
    ('1.5_0', '0000000001.50000'),
    (b'1.5', '0000000001.50000'),
    (1.5, '0000000001.50000'),
])
def test_accepted(text, internal):
    assert Timestamp(text).internal == internal


@pytest.mark.parametrize('text', [
    '', ' ', '_a', '1_', '1__a', '1.5_g', '1.5_00000000000000001', '1.2.3', '12345678901',
    '1700000000.123451', '-1', '+1', '1e5', '١٢٣', '1.5 _a', 'abc', '1,5',
])
def test_rejected(text):
    with pytest.raises(ValueError):
        Timestamp(text)


def test_rejected_types():
    with pytest.raises(TypeError):
        Timestamp(['1.5'])


@pytest.mark.parametrize('seconds', [0, 1, 59, 784111777, 951782400, 1700000000.0, 4102444799])
def test_http_date_matches_email_utils(seconds):
    import email.utils
    from swiftlike.timestamp import http_date
    assert http_date(seconds) == email.utils.formatdate(seconds, usegmt=True)


def test_http_date_now_is_formatted_once_a_second(monkeypatch):
    import email.utils
    from swiftlike import timestamp
    calls = []
    real = timestamp.http_date
    monkeypatch.setattr(timestamp, 'http_date', lambda s: calls.append(s) or real(s))
    for now in (1700000000.1, 1700000000.9, 1700000001.0, 1700000001.5, 1700000000.2):
        monkeypatch.setattr(timestamp.time, 'time', lambda: now)
        assert timestamp.http_date_now() == email.utils.formatdate(int(now), usegmt=True)
    assert calls == [1700000000, 1700000001, 1700000000]
