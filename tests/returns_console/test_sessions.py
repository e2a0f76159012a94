"""Sessions live in Redis with the database behind them, and async code asks Redis without blocking the loop.

Django's cached_db ``aexists`` (called while a new session picks its key) asks the cache synchronously, a
blocking Redis call on the event loop; ours asks with the asyncio client and falls back to the database."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.core.cache import caches

from returns_console.devstack import free_port
from returns_console.sessions import SessionStore

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def no_sync_cache_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the sync cache was asked from async code")

    monkeypatch.setattr("returns_console.cache.SharedPoolRedisCache.has_key", refuse)
    monkeypatch.setattr("returns_console.cache.SharedPoolRedisCache.get", refuse)


async def _saved_session() -> SessionStore:
    session = SessionStore()
    await session.aset("customer_id", "CUST-1001")
    await session.asave()
    return session


async def test_a_saved_session_exists_and_loads_from_redis(no_sync_cache_reads):
    session = await _saved_session()
    assert await SessionStore().aexists(session.session_key)
    assert await SessionStore(session.session_key).aget("customer_id") == "CUST-1001"


async def test_a_session_only_in_redis_exists(no_sync_cache_reads):
    session = await _saved_session()
    await Session.objects.filter(session_key=session.session_key).adelete()
    assert await SessionStore().aexists(session.session_key)


async def test_a_session_only_in_the_database_exists():
    session = await _saved_session()
    caches["default"].delete(session.cache_key)
    assert await SessionStore().aexists(session.session_key)


async def test_unknown_and_empty_keys_do_not_exist(no_sync_cache_reads):
    assert not await SessionStore().aexists("nosuchsessionkey0123456789abcdef")
    assert not await SessionStore().aexists(None)


async def test_with_redis_away_the_database_answers(settings):
    session = await _saved_session()
    settings.CACHES = {
        "default": {
            "BACKEND": "returns_console.cache.SharedPoolRedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        }
    }
    assert await SessionStore().aexists(session.session_key)
    assert not await SessionStore().aexists("nosuchsessionkey0123456789abcdef")


async def test_new_sessions_get_keys_without_the_sync_cache(no_sync_cache_reads):
    """``acreate`` picks a key that ``aexists`` says is free: the path every sign-in takes."""
    session = SessionStore()
    await session.acreate()
    assert session.session_key and await Session.objects.filter(session_key=session.session_key).aexists()
