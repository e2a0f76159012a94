"""One asyncio Redis client per event loop and URL, shared by everything in the process that talks to Redis
from async code (rate limits, session reads)."""

from __future__ import annotations

import asyncio
import weakref

import redis.asyncio as aioredis

# A redis.asyncio pool belongs to the loop it was made on.
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, aioredis.Redis]] = weakref.WeakKeyDictionary()


def async_redis(url: str) -> aioredis.Redis:
    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    if url not in per_loop:
        # A crowd waits for a free connection instead of failing with "too many connections".
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=64, timeout=5, socket_timeout=2, socket_connect_timeout=2
        )
        per_loop[url] = aioredis.Redis(connection_pool=pool)
    return per_loop[url]
