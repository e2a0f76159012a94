"""Django's cached_db sessions, read with an asyncio Redis client.

Django's cache has no async I/O: ``aget`` hops to the request's worker thread for a sync call (2 ms of every
chat turn), and ``aexists``, which every new session calls while choosing its key, makes a blocking Redis call
on the event loop itself, holding up every connection of the process. Both are answered here with the asyncio
client; writes (sign-in, sign-out) keep Django's path, in a thread, through the shared pool of ``cache.py``.
"""

from __future__ import annotations

import logging
import pickle
from typing import Any

import redis.asyncio as aioredis
from django.conf import settings
from django.contrib.sessions.backends import cached_db, db
from redis.exceptions import RedisError

from customers.redis_client import async_redis

logger = logging.getLogger(__name__)


def _redis() -> aioredis.Redis:
    return async_redis(settings.CACHES[settings.SESSION_CACHE_ALIAS]["LOCATION"])


# A session cached in Redis lives there at most this long, so one deleted while Redis was unreachable (its cache
# entry could not be removed) cannot come back for longer than this once Redis is back.
CACHE_SECONDS = 300


class _TolerantCache:
    """The session cache, where Redis being away is a cache miss and a skipped write, never an error: sessions
    are in the database, and signed-in customers and staff keep working from there."""

    def __init__(self, cache: Any) -> None:
        self._cache = cache

    def make_and_validate_key(self, key: str) -> str:
        return self._cache.make_and_validate_key(key)

    def __contains__(self, key: str) -> bool:
        try:
            return key in self._cache
        except (RedisError, OSError):
            return False

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self._cache.get(key, default)
        except (RedisError, OSError):
            return default

    async def aget(self, key: str, default: Any = None) -> Any:
        try:
            return await self._cache.aget(key, default)
        except (RedisError, OSError):
            return default

    def set(self, key: str, value: Any, timeout: float | None = None) -> None:
        try:
            self._cache.set(key, value, _capped(timeout))
        except (RedisError, OSError):
            logger.warning("session cache unavailable: served from the database")

    async def aset(self, key: str, value: Any, timeout: float | None = None) -> None:
        try:
            await self._cache.aset(key, value, _capped(timeout))
        except (RedisError, OSError):
            logger.warning("session cache unavailable: served from the database")

    def delete(self, key: str) -> None:
        try:
            self._cache.delete(key)
        except (RedisError, OSError):
            logger.warning("session cache unavailable: a cached session expires within %s s", CACHE_SECONDS)

    async def adelete(self, key: str) -> None:
        try:
            await self._cache.adelete(key)
        except (RedisError, OSError):
            logger.warning("session cache unavailable: a cached session expires within %s s", CACHE_SECONDS)


def _capped(timeout: float | None) -> float:
    return CACHE_SECONDS if timeout is None else min(timeout, CACHE_SECONDS)


class SessionStore(cached_db.SessionStore):
    def __init__(self, session_key: str | None = None) -> None:
        super().__init__(session_key)
        self._cache = _TolerantCache(self._cache)

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
