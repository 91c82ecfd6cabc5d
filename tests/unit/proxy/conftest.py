"""Fixtures for driving the proxy app over the in-memory cluster."""
import pytest

from tests.unit.proxy.fake_backend import FakeCluster


@pytest.fixture
def cluster(monkeypatch):
    """Three replicas on six object nodes (three handoffs), four container and
    account nodes; container /v1/a/c exists."""
    fake = FakeCluster()
    fake.install(monkeypatch)
    fake.put_container('a', 'c')
    yield fake
    # Every backend answer the proxy opened was read to the end or closed.
    assert fake.open_conns() == []
