"""Failed-attempt limits in Redis, shared by every web process (fixed windows)."""

from __future__ import annotations

import asyncio
import weakref

import redis.asyncio as aioredis
from django.conf import settings

PREFIX = "returns:ratelimit:"
# A redis.asyncio pool belongs to the loop it was made on.
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, aioredis.Redis]] = weakref.WeakKeyDictionary()


def _client() -> aioredis.Redis:
    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    url = settings.REDIS_URL
    if url not in per_loop:
        # A crowd of sign-ins waits for a free connection instead of failing with "too many connections".
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=64, timeout=5, socket_timeout=2, socket_connect_timeout=2
        )
        per_loop[url] = aioredis.Redis(connection_pool=pool)
    return per_loop[url]


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
