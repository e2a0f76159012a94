"""Fixed-window rate limits in Redis, shared by every web process."""

from __future__ import annotations

import asyncio
import weakref

import redis.asyncio as aioredis
from django.conf import settings

# A redis.asyncio pool belongs to the loop it was made on.
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, aioredis.Redis]] = weakref.WeakKeyDictionary()


def _client() -> aioredis.Redis:
    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    url = settings.REDIS_URL
    if url not in per_loop:
        per_loop[url] = aioredis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    return per_loop[url]


async def hit(bucket: str, limit: int, window_seconds: int) -> bool:
    """Count one attempt; True while the bucket is within ``limit`` attempts per window."""
    key = f"returns:ratelimit:{bucket}"
    async with _client().pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, window_seconds, nx=True)
        count, _ = await pipe.execute()
    return int(count) <= limit
