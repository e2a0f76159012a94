from __future__ import annotations

import pytest
import redis


@pytest.fixture(autouse=True)
def _fresh_rate_limits(redis_url: str) -> None:
    """Sign-in limits live in Redis for minutes; each test starts with none, even on a shared Redis."""
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter("returns:ratelimit:*"))
    if keys:
        client.delete(*keys)
