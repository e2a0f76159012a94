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
    assert set(body["checks"]) == {"database", "redis", "cosmos", "worker", "commits"}
    assert all(check["status"] == "ok" for check in body["checks"].values())
    assert body["checks"]["commits"]["stalled_approvals"] == 0


async def test_approvals_waiting_past_the_bound_are_counted(async_client, repo, heartbeat, settings):
    """A commit message lost with Redis leaves an approval waiting: /healthz says how many, and degrades."""
    from datetime import timedelta

    from customers import clock
    from customers.models import Proposal, ProposalState
    from tests.customers.seeded import file_seed_proposal, seed

    await seed(repo)
    stuck, fresh = await file_seed_proposal(repo), await file_seed_proposal(repo, sku="CBL-USBC-6FT-3PK")
    long_ago = clock.now() - timedelta(seconds=settings.COMMIT_RESEND_AFTER_SECONDS + 5)
    await Proposal.objects.filter(pk=stuck.pk).aupdate(
        state=ProposalState.APPROVED, approval_id="proposal-x", updated_at=long_ago
    )
    await Proposal.objects.filter(pk=fresh.pk).aupdate(state=ProposalState.APPROVED, approval_id="proposal-y")
    await _wait_for_worker(async_client)
    response = await async_client.get("/healthz")
    commits = response.json()["checks"]["commits"]
    assert response.status_code == 503 and commits["status"] == "stalled"
    assert commits["stalled_approvals"] == 1 and "1 approval(s) waiting longer than" in commits["detail"]


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
