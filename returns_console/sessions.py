"""Django's cached_db sessions, read with an asyncio Redis client.

Django's cache has no async I/O: ``aget`` hops to the request's worker thread for a sync call (2 ms of every
chat turn), and ``aexists``, which every new session calls while choosing its key, makes a blocking Redis call
on the event loop itself, holding up every connection of the process. Both are answered here with the asyncio
client; writes (sign-in, sign-out) keep Django's path, in a thread, through the shared pool of ``cache.py``.
"""

from __future__ import annotations

import pickle
from typing import Any

import redis.asyncio as aioredis
from django.conf import settings
from django.contrib.sessions.backends import cached_db, db
from redis.exceptions import RedisError

from customers.redis_client import async_redis


def _redis() -> aioredis.Redis:
    return async_redis(settings.CACHES[settings.SESSION_CACHE_ALIAS]["LOCATION"])


class SessionStore(cached_db.SessionStore):
    async def aload(self) -> dict[str, Any]:
        try:
            raw = await _redis().get(self._cache.make_and_validate_key(await self.acache_key()))
        except RedisError:
            raw = None  # the database still has it
        if raw is not None:
            return pickle.loads(raw)  # Django's RedisCache stores pickles (it trusts its own cache the same way)
        return await super().aload()

    async def aexists(self, session_key: str | None) -> bool:
        if session_key:
            try:
                if await _redis().exists(self._cache.make_and_validate_key(self.cache_key_prefix + session_key)):
                    return True
            except RedisError:
                pass  # the database answers
        return await db.SessionStore.aexists(self, session_key)
