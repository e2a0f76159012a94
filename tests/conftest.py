"""Shared fixtures: real Redis and a real Cosmos DB emulator, started on free ports and stopped by pid.

When ``REDIS_URL`` or ``COSMOS_ENDPOINT`` (+ ``COSMOS_KEY``) are set, the tests use those services instead.
Each test that writes to Cosmos gets a database of its own, so tests never see each other's documents.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from customers import clock
from customers.cosmos.client import CosmosConfig
from customers.cosmos.repository import CosmosRepository, open_repository
from returns_console import devstack
from tests.clock import CALENDAR, PinnedDay, StoreDay, pin

OUTPUT_DIR = Path(__file__).resolve().parent.parent / "test-output"


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT_DIR.mkdir(exist_ok=True)
    return OUTPUT_DIR


@pytest.fixture(scope="session")
def redis_url(output_dir: Path) -> Iterator[str]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    service = devstack.start_redis(output_dir / "logs")
    yield service.url
    service.stop()


@pytest.fixture(scope="session")
def cosmos_service(output_dir: Path) -> Iterator[dict[str, str]]:
    """Environment variables that point a process at the test Cosmos DB."""
    if os.environ.get("COSMOS_ENDPOINT"):
        yield {
            "COSMOS_ENDPOINT": os.environ["COSMOS_ENDPOINT"],
            "COSMOS_KEY": os.environ.get("COSMOS_KEY", ""),
            "COSMOS_VERIFY_TLS": os.environ.get("COSMOS_VERIFY_TLS", "true"),
        }
        return
    (output_dir / "logs").mkdir(parents=True, exist_ok=True)
    service = devstack.start_cosmos_emulator(output_dir / "logs")
    yield service.env
    service.stop()


def cosmos_config_for(env: dict[str, str], database: str) -> CosmosConfig:
    return CosmosConfig(
        endpoint=env["COSMOS_ENDPOINT"],
        key=env["COSMOS_KEY"],
        database=database,
        verify_tls=env.get("COSMOS_VERIFY_TLS", "true").lower() in {"1", "true", "yes", "on"},
    )


@pytest.fixture
def cosmos_database() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def cosmos_config(cosmos_service: dict[str, str], cosmos_database: str) -> CosmosConfig:
    return cosmos_config_for(cosmos_service, cosmos_database)


@pytest.fixture
async def repo(cosmos_config: CosmosConfig) -> AsyncIterator[CosmosRepository]:
    async with open_repository(cosmos_config) as repository:
        await repository.ensure_schema()
        yield repository
        await repository.client.delete_database(cosmos_config.database)


@pytest.fixture(scope="session")
def inprocess_celery_queue(redis_url: str) -> str:
    """Tasks enqueued by code under test in this process go to the test Redis, on a queue of their own that no
    test worker reads (worker tests use their own queues), so they can be counted and never run by accident."""
    from returns_console.celery import app

    queue = f"inprocess-{uuid.uuid4().hex[:8]}"
    app.conf.broker_url = redis_url
    app.conf.task_default_queue = queue
    return queue


@pytest.fixture
def services_settings(settings, redis_url: str, cosmos_config: CosmosConfig, inprocess_celery_queue: str):  # type: ignore[no-untyped-def]
    """Django settings pointed at the test Redis and this test's Cosmos database."""
    settings.REDIS_URL = redis_url
    settings.CELERY_BROKER_URL = redis_url
    settings.COSMOS_ENDPOINT = cosmos_config.endpoint
    settings.COSMOS_KEY = cosmos_config.key
    settings.COSMOS_DATABASE = cosmos_config.database
    settings.COSMOS_VERIFY_TLS = cosmos_config.verify_tls
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": {"hosts": [redis_url]}}
    }
    from channels.layers import channel_layers

    channel_layers.backends.clear()  # layers are made once per alias: make the next one from these settings
    yield settings
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def _close_thread_connections(request: pytest.FixtureRequest) -> Iterator[None]:
    """Async tests reach the database from asgiref's single worker thread; close that connection too, or
    PostgreSQL refuses to drop the test database at the end. (Sync, so browser tests' loops are left alone.)"""
    yield
    if request.node.get_closest_marker("django_db"):
        from asgiref.sync import SyncToAsync
        from django.db import connections

        SyncToAsync.single_thread_executor.submit(connections.close_all).result()


@pytest.fixture(autouse=True)
def _cache_on_test_redis(settings, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    """Sessions live in the cache (Redis) with the database behind it: point it at the test Redis."""
    settings.CACHES = {
        "default": {"BACKEND": "returns_console.cache.SharedPoolRedisCache", "LOCATION": redis_url, "KEY_PREFIX": "t"}
    }


@pytest.fixture(autouse=True)
def _fresh_policy_cache() -> None:
    """Each test's database holds its own policy rows and catalog; never let one test see another's cached
    policy, customers or products."""
    from customers.cosmos.repository import forget_reference_data
    from customers.selectors.policy import forget_cached_policy

    forget_cached_policy()
    forget_reference_data()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``@pytest.mark.any_day``: the test runs once on each day of ``tests.clock.CALENDAR``."""
    if metafunc.definition.get_closest_marker("any_day"):
        metafunc.parametrize("store_day", CALENDAR, ids=[day.name for day in CALENDAR], indirect=True)


@pytest.fixture(autouse=True)
def store_day(request: pytest.FixtureRequest) -> PinnedDay | None:
    """One calendar for a test and the app: the app's clock and the store's time zone set for the day, here and
    (through the environment) in every process the test starts. Autouse, so it is set before any fixture seeds
    data; unmarked tests run on the clock as it is."""
    day: StoreDay | None = getattr(request, "param", None)
    if day is None:
        return None
    settings = request.getfixturevalue("settings")
    monkeypatch = request.getfixturevalue("monkeypatch")
    pinned = pin(day)
    offset = clock.offset_to(pinned.moment)
    settings.CLOCK_OFFSET_SECONDS = offset
    settings.STORE_TIMEZONE = day.zone
    monkeypatch.setenv("CLOCK_OFFSET_SECONDS", repr(offset))
    monkeypatch.setenv("STORE_TIMEZONE", day.zone)
    return pinned


@pytest.fixture(autouse=True)
def customer_rate_limit(request: pytest.FixtureRequest) -> None:
    """Tests drive one demo customer through many turns a second, far faster than a person: the per-customer
    rate limit (chat/limits.py) is opened wide here and in every process a test starts, except in tests marked
    ``@pytest.mark.rate_limits``, which meet it as configured."""
    if request.node.get_closest_marker("rate_limits"):
        return
    settings = request.getfixturevalue("settings")
    monkeypatch = request.getfixturevalue("monkeypatch")
    settings.CHAT_RATE_BURST = 1_000_000
    monkeypatch.setenv("CHAT_RATE_BURST", "1000000")
