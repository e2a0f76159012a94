"""GET /healthz reports each dependency; a dead one degrades the status, never crashes the endpoint. Anyone
gets the status; the checks only monitors with HEALTHZ_TOKEN and signed-in staff."""

from __future__ import annotations

import pytest

from returns_console.worker_heartbeat import Heartbeat

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "t" * 20 + "0123456789abcdef"


@pytest.fixture(autouse=True)
def monitor(settings) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The headers of a monitor holding the health token."""
    settings.HEALTHZ_TOKEN = TOKEN
    return {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def heartbeat(services_settings):  # type: ignore[no-untyped-def]
    beat = Heartbeat("test-worker")
    beat.start()
    yield beat
    beat.stop()


async def _wait_for_worker(async_client, attempts: int = 50) -> dict:  # type: ignore[no-untyped-def]
    import asyncio

    for _ in range(attempts):
        body = (await async_client.get("/healthz", headers={"Authorization": f"Bearer {TOKEN}"})).json()
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


async def test_approvals_waiting_past_the_bound_are_counted(async_client, repo, heartbeat, settings, monitor):
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
    response = await async_client.get("/healthz", headers=monitor)
    commits = response.json()["checks"]["commits"]
    assert response.status_code == 503 and commits["status"] == "stalled"
    assert commits["stalled_approvals"] == 1 and "1 approval(s) waiting longer than" in commits["detail"]


async def test_no_worker_is_degraded(async_client, repo, services_settings, monitor):
    services_settings.REDIS_URL = services_settings.REDIS_URL.rsplit("/", 1)[0] + "/9"  # a db no worker writes to
    response = await async_client.get("/healthz", headers=monitor)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["worker"]["status"] == "down"
    assert body["checks"]["redis"]["status"] == "ok"


async def test_dead_redis_and_cosmos_are_reported_not_raised(async_client, services_settings, monitor):
    services_settings.REDIS_URL = "redis://127.0.0.1:1/0"
    services_settings.COSMOS_ENDPOINT = "http://127.0.0.1:1"
    response = await async_client.get("/healthz", headers=monitor)
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["redis"]["status"] == "down" and "Error" in checks["redis"]["detail"]
    assert checks["cosmos"]["status"] == "down"
    assert checks["database"]["status"] == "ok"


async def test_only_get(async_client):
    assert (await async_client.post("/healthz")).status_code == 405


# --- who sees the checks -------------------------------------------------------------------------------------------


async def test_anyone_gets_the_status_and_nothing_else(async_client, repo, heartbeat):
    await _wait_for_worker(async_client)
    response = await async_client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert "no-store" in response["Cache-Control"]  # the answer depends on who asks


async def test_anyone_still_sees_a_degraded_status_as_503(async_client, services_settings):
    services_settings.REDIS_URL = "redis://127.0.0.1:1/0"  # sessions are unreachable too: still answered
    response = await async_client.get("/healthz", headers={"Cookie": "sessionid=abc"})
    assert response.status_code == 503 and response.json() == {"status": "degraded"}


@pytest.mark.parametrize(
    "authorization",
    ["Bearer wrong-token-of-the-same-length-000000", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer", ""],
)
async def test_a_wrong_token_sees_only_the_status(async_client, services_settings, authorization: str):
    response = await async_client.get("/healthz", headers={"Authorization": authorization})
    assert set(response.json()) == {"status"}


async def test_without_a_configured_token_no_bearer_works(async_client, services_settings, settings):
    settings.HEALTHZ_TOKEN = ""
    response = await async_client.get("/healthz", headers={"Authorization": "Bearer "})
    assert set(response.json()) == {"status"}


async def test_the_token_shows_the_checks(async_client, services_settings, monitor):
    body = (await async_client.get("/healthz", headers=monitor)).json()
    assert set(body["checks"]) == {"database", "redis", "cosmos", "worker", "commits"}


async def test_signed_in_staff_see_the_checks_and_customers_do_not(async_client, services_settings):
    from django.contrib.auth.models import User

    await User.objects.acreate_user("someone", password="pw-someone-1")
    await User.objects.acreate_user("staffer", password="pw-staffer-1", is_staff=True)
    await async_client.alogin(username="someone", password="pw-someone-1")
    assert set((await async_client.get("/healthz")).json()) == {"status"}
    await async_client.alogin(username="staffer", password="pw-staffer-1")
    assert "checks" in (await async_client.get("/healthz")).json()
