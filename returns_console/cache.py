"""Django's Redis cache, with one connection pool per process instead of one per request.

Django keeps a cache object per request context under ASGI (and per thread), and each makes its own pool, so
every request that touched the cache opened a fresh Redis connection: a TCP handshake, HELLO and CLIENT SETINFO
(redis-py reads its own package metadata from disk for that), 1-2 ms each time, at every sign-in. redis-py's
pools are thread-safe and reset themselves after a fork, so one per server and options serves the process.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class SharedPoolRedisCacheClient(RedisCacheClient):
    _pools_by_server: ClassVar[dict[str, Any]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def _get_connection_pool(self, write: bool) -> Any:
        server = self._servers[self._get_connection_pool_index(write)]
        key = f"{server} {sorted(self._pool_options.items(), key=lambda item: item[0])!r}"
        with self._lock:
            pool = self._pools_by_server.get(key)
            if pool is None:
                pool = self._pools_by_server[key] = self._pool_class.from_url(server, **self._pool_options)
        return pool


class SharedPoolRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = SharedPoolRedisCacheClient
