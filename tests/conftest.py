"""Shared test setup: fixed hash secrets for in-process tests."""
import os

import pytest

from swiftlike import hashing

TEST_HASH_PREFIX = 'test-prefix'
TEST_HASH_SUFFIX = 'test-suffix'


@pytest.fixture(autouse=True, scope='session')
def _hash_secrets():
    hashing.set_hash_secrets(TEST_HASH_PREFIX, TEST_HASH_SUFFIX)
    yield


def is_root():
    return os.geteuid() == 0
