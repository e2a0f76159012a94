"""Django's cache on Redis keeps one connection pool per process, whichever thread or request uses it.

Django makes a cache object per thread and per request context; with its stock Redis backend each makes a pool
and so a new Redis connection for every request that touches the cache."""

from __future__ import annotations

import threading
import uuid

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache


def _in_thread(function):  # type: ignore[no-untyped-def]
    result: list = []
    worker = threading.Thread(target=lambda: result.append(function()))
    worker.start()
    worker.join(10)
    return result[0]


def _pool():  # type: ignore[no-untyped-def]
    return caches["default"]._cache._get_connection_pool(write=True)


def test_threads_share_one_pool_and_see_each_others_writes():
    key = f"shared-{uuid.uuid4().hex}"
    caches["default"].set(key, {"answer": 42}, 30)
    assert _in_thread(lambda: caches["default"].get(key)) == {"answer": 42}
    pools = {id(_in_thread(_pool)) for _ in range(20)} | {id(_pool())}
    assert len(pools) == 1


def test_the_stock_backend_would_make_a_pool_per_thread(redis_url: str):
    """What the shared pool is for: Django's own backend, same settings, one pool per thread."""
    params = {"LOCATION": redis_url}
    pools = {id(_in_thread(lambda: RedisCache(redis_url, params)._cache._get_connection_pool(True))) for _ in range(3)}
    assert len(pools) == 3


def test_different_servers_get_different_pools(settings, redis_url: str):
    settings.CACHES = {
        "default": {"BACKEND": "returns_console.cache.SharedPoolRedisCache", "LOCATION": redis_url},
        "other": {"BACKEND": "returns_console.cache.SharedPoolRedisCache", "LOCATION": redis_url + "?db=1"},
    }
    assert caches["default"]._cache._get_connection_pool(True) is not caches["other"]._cache._get_connection_pool(True)
