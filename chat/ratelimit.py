"""Failed-attempt limits in Redis, shared by every web process (fixed windows)."""

from __future__ import annotations

import redis.asyncio as aioredis
from django.conf import settings

from customers.redis_client import async_redis

PREFIX = "returns:ratelimit:"


def _client() -> aioredis.Redis:
    return async_redis(settings.REDIS_URL)


async def blocked(buckets: list[str], limit: int) -> bool:
    """Whether any bucket already holds ``limit`` failures in its current window."""
    counts = await _client().mget([PREFIX + bucket for bucket in buckets])
    return any(int(count or 0) >= limit for count in counts)


async def record_failure(buckets: list[str], window_seconds: int) -> None:
    async with _client().pipeline(transaction=True) as pipe:
        for bucket in buckets:
            pipe.incr(PREFIX + bucket)
            pipe.expire(PREFIX + bucket, window_seconds, nx=True)
        await pipe.execute()
