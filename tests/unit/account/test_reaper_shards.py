"""Each of an account's primaries reaps its own share of the containers."""
import collections

import pytest

from swiftlike.hashing import name_shard


@pytest.mark.parametrize('replicas', [1, 2, 3, 5])
def test_every_container_has_one_reaper_and_shares_are_even(replicas):
    names = ['c%d' % i for i in range(3000)] + ['ünïcode', '']
    shards = [name_shard(name, replicas) for name in names]
    assert all(0 <= s < replicas for s in shards)
    assert shards == [name_shard(name, replicas) for name in names]   # stable
    counts = collections.Counter(shards)
    assert min(counts.values()) > len(names) / replicas * 0.85
