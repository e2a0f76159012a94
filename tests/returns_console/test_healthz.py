"""GET /healthz reports each dependency; a dead one degrades the status, never crashes the endpoint."""

from __future__ import annotations

import pytest

from returns_console.worker_heartbeat import Heartbeat

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def heartbeat(services_settings):  # type: ignore[no-untyped-def]
    beat = Heartbeat("test-worker")
    beat.start()
    yield beat
    beat.stop()


async def _wait_for_worker(async_client, attempts: int = 50) -> dict:  # type: ignore[no-untyped-def]
    import asyncio

    for _ in range(attempts):
        body = (await async_client.get("/healthz")).json()
        if body["checks"]["worker"]["status"] == "ok":
            return body
        await asyncio.sleep(0.1)
    return body


async def test_all_ok_with_a_live_worker(async_client, repo, heartbeat):
    body = await _wait_for_worker(async_client)
    assert body["status"] == "ok", body
    assert set(body["checks"]) == {"database", "redis", "cosmos", "worker"}
    assert all(check["status"] == "ok" for check in body["checks"].values())


async def test_no_worker_is_degraded(async_client, repo, services_settings):
    services_settings.REDIS_URL = services_settings.REDIS_URL.rsplit("/", 1)[0] + "/9"  # a db no worker writes to
    response = await async_client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["worker"]["status"] == "down"
    assert body["checks"]["redis"]["status"] == "ok"


async def test_dead_redis_and_cosmos_are_reported_not_raised(async_client, services_settings):
    services_settings.REDIS_URL = "redis://127.0.0.1:1/0"
    services_settings.COSMOS_ENDPOINT = "http://127.0.0.1:1"
    response = await async_client.get("/healthz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["redis"]["status"] == "down" and "Error" in checks["redis"]["detail"]
    assert checks["cosmos"]["status"] == "down"
    assert checks["database"]["status"] == "ok"


async def test_only_get(async_client):
    assert (await async_client.post("/healthz")).status_code == 405
