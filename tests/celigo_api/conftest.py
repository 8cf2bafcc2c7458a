"""Fixtures for the Celigo client tests: a real Redis when one is reachable."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_url() -> str:
    """TEST_REDIS_URL or REDIS_URL from the environment, else db 15 on the local Redis."""
    return os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL


def require_redis(url: str) -> redis.Redis:
    """Connect to Redis; skip the test when it is unreachable, except under CI=true where it fails."""
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required under CI=true but unreachable at {url}: {exc}")
        pytest.skip(f"Redis unreachable at {url}")
    return client


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A Redis connection (see :func:`require_redis`)."""
    client = require_redis(redis_url)
    yield client
    client.close()


@pytest.fixture
def redis_prefix(redis_client: redis.Redis) -> Iterator[str]:
    """A key prefix unique to the test; its keys are removed afterwards."""
    prefix = f"test:celigo:{uuid.uuid4().hex}:"
    yield prefix
    for key in redis_client.scan_iter(match=prefix + "*"):
        redis_client.delete(key)
