"""Django's cached_db sessions, read with an asyncio Redis client.

Django's cache has no async I/O: ``aget`` runs the sync client in the request's own worker thread, and as cache
connections are per thread that opens a new Redis connection on every request (2 ms of every chat turn). Writes
are rare (sign-in, sign-out) and keep Django's path; reads of what Django's Redis cache wrote happen here.
"""

from __future__ import annotations

import pickle
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends import cached_db
from redis.exceptions import RedisError

from customers.redis_client import async_redis


class SessionStore(cached_db.SessionStore):
    async def aload(self) -> dict[str, Any]:
        location = settings.CACHES[settings.SESSION_CACHE_ALIAS]["LOCATION"]
        try:
            key = self._cache.make_and_validate_key(await self.acache_key())
            raw = await async_redis(location).get(key)
        except RedisError:
            raw = None  # the database still has it
        if raw is not None:
            return pickle.loads(raw)  # Django's RedisCache stores pickles (it trusts its own cache the same way)
        return await super().aload()
