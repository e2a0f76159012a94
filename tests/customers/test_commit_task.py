"""The commit task run by a real Celery worker process over a real Redis broker and the Cosmos emulator.

A worker killed with SIGKILL in the middle of a commit, then restarted, leaves exactly one return: whether
the kill came before the batch reached the database or after it was applied but before the task was acked.
"""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest
import redis
from celery import Celery
from kombu.transport.redis import Channel

from customers.cosmos.repository import CosmosRepository
from customers.services.commit import return_id_for
from returns_console.celery import broker_transport_options
from returns_console.devstack import free_port, stop_process
from tests.customers.seeded import approval, seed
from tests.faultproxy import FaultProxy
from tests.processes import app_env, start_worker, wait_for_log

pytestmark = pytest.mark.broker

TASK = "customers.commit_return"


@pytest.fixture
def queue() -> str:
    return f"test-commits-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def client(redis_url: str):  # type: ignore[no-untyped-def]
    app = Celery("test-client", broker=redis_url, backend=redis_url)
    yield app
    app.close()


@pytest.fixture
def env(tmp_path: Path, redis_url: str, cosmos_service: dict[str, str], cosmos_database: str) -> dict[str, str]:
    return app_env(tmp_path, redis_url, cosmos_service, cosmos_database)


async def _state(repo: CosmosRepository) -> tuple[int, int, int]:
    order = await repo.get_order("CUST-1001", "ORD-79001")
    hub = next(line for line in order.lines if line.sku == "HUB-SMART-2")
    return len(await repo.list_returns("CUST-1001")), hub.returned_quantity, len(await repo.list_ledger("CUST-1001"))


async def test_worker_commits_and_a_repeat_is_idempotent(repo, env, queue, client, tmp_path):
    await seed(repo)
    worker = start_worker(env, queue, tmp_path / "worker.log")
    try:
        payload = approval("task-1").to_payload()
        first = client.send_task(TASK, args=[payload], queue=queue).get(timeout=60)
        again = client.send_task(TASK, args=[payload], queue=queue).get(timeout=60)
    finally:
        stop_process(worker)
    assert first == {"status": "committed", "return_id": return_id_for("task-1"), "created": True}
    assert again == {"status": "committed", "return_id": return_id_for("task-1"), "created": False}
    assert await _state(repo) == (1, 1, 1)


async def test_bad_payloads_fail_clearly_without_retrying_or_writing(repo, env, queue, client, tmp_path):
    await seed(repo)
    worker = start_worker(env, queue, tmp_path / "worker.log")
    try:
        bad_quantity = {**approval("task-bad").to_payload(), "lines": [{"sku": "HUB-SMART-2", "quantity": -1}]}
        unknown_sku = {**approval("task-sku").to_payload(), "lines": [{"sku": "NOPE-404", "quantity": 1}]}
        too_many = approval("task-many", quantity=5).to_payload()
        results = [
            client.send_task(TASK, args=[p], queue=queue).get(timeout=60) for p in (bad_quantity, unknown_sku, too_many)
        ]
    finally:
        stop_process(worker)
    assert [(r["status"], r["code"]) for r in results] == [
        ("failed", "invalid_request"),
        ("failed", "invalid_request"),
        ("failed", "not_returnable"),
    ]
    assert "at least 1" in results[0]["message"] and "NOPE-404" in results[1]["message"]
    assert await _state(repo) == (0, 0, 0)


@pytest.mark.parametrize("hold", ["request", "response"])
async def test_worker_killed_mid_commit_leaves_exactly_one_return(repo, env, queue, client, tmp_path, hold):
    await seed(repo)
    emulator_port = urlparse(env["COSMOS_ENDPOINT"]).port
    if urlparse(env["COSMOS_ENDPOINT"]).scheme != "http":
        pytest.fail("the fault proxy needs the plain-HTTP local emulator (unset COSMOS_ENDPOINT)")
    proxy = FaultProxy(emulator_port, hold=hold)
    doomed = start_worker({**env, "COSMOS_ENDPOINT": f"http://127.0.0.1:{proxy.port}"}, queue, tmp_path / "doomed.log")
    try:
        result = client.send_task(TASK, args=[approval("task-kill").to_payload()], queue=queue)
        assert proxy.batch_seen.wait(60), "the worker never sent its batch"
        if hold == "response":
            assert proxy.response_held.wait(30), "the emulator never answered the batch"
            assert await _state(repo) == (1, 1, 1)  # applied, but the worker never heard
        else:
            assert await _state(repo) == (0, 0, 0)
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait(10)
    finally:
        stop_process(doomed)
        proxy.close()
    assert not result.ready()
    # Killed during its sweep for unacknowledged tasks, a worker leaves the sweep's lock behind, set to expire
    # as the transport is configured (kombu's default is 300 s: nothing was redelivered for that long).
    options = broker_transport_options(int(env["CELERY_VISIBILITY_TIMEOUT"]))
    held = options.get("unacked_mutex_expire", Channel.unacked_mutex_expire)
    redis.Redis.from_url(env["REDIS_URL"]).set(Channel.unacked_mutex_key, "the doomed worker", ex=held)
    survivor = start_worker(env, queue, tmp_path / "survivor.log")
    try:
        outcome = result.get(timeout=90)  # redelivered after the visibility timeout
    finally:
        stop_process(survivor)
    assert outcome == {"status": "committed", "return_id": return_id_for("task-kill"), "created": hold == "request"}
    assert await _state(repo) == (1, 1, 1)


async def test_cosmos_outage_is_retried_with_backoff_until_it_commits(repo, env, queue, client, tmp_path):
    await seed(repo)
    emulator_port = urlparse(env["COSMOS_ENDPOINT"]).port
    if urlparse(env["COSMOS_ENDPOINT"]).scheme != "http":
        pytest.fail("the fault proxy needs the plain-HTTP local emulator (unset COSMOS_ENDPOINT)")
    outage_port = free_port()  # nothing listens here yet: Cosmos is "down"
    log = tmp_path / "worker.log"
    worker = start_worker({**env, "COSMOS_ENDPOINT": f"http://127.0.0.1:{outage_port}"}, queue, log)
    proxy = None
    try:
        result = client.send_task(TASK, args=[approval("task-outage").to_payload()], queue=queue)
        wait_for_log(log, "transient error, retrying", worker)
        proxy = FaultProxy(emulator_port, hold=None, port=outage_port)  # Cosmos is back
        outcome = result.get(timeout=90)
    finally:
        stop_process(worker)
        if proxy:
            proxy.close()
    assert outcome == {"status": "committed", "return_id": return_id_for("task-outage"), "created": True}
    assert "Retry in" in log.read_text()
    assert await _state(repo) == (1, 1, 1)
