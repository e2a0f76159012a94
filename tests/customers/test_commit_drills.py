"""The drills of issue 11: approvals are committed exactly once whatever happens to the worker or to Redis.

Real processes throughout: Celery workers on a queue of their own (SIGKILLed and started again), Redis, the
Cosmos emulator, and approvals made by the app's own services (``file_proposal``, then ``decisions.approve``, which
queues the commit) in a child process on the workers' database. Whatever the drill did, the end state is the same:

- every approval is committed, and recorded as committed once;
- Cosmos holds one return per approval and none extra;
- each order line's returned quantity is the sum of its returns' quantities plus what came back outside the console;
- there is one ledger entry per store-credit return, of its amount, and no other;
- ``manage.py reconcile`` finds no difference between the console's records and Cosmos.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from typing import Any

import pytest
import redis

from customers.clock import store_today, store_zone
from customers.cosmos import documents as docs
from customers.cosmos.repository import CosmosRepository
from customers.demo import DemoData, seed_demo_data
from customers.domain import Order, OrderLine, Resolution
from customers.policy import DEFAULT_POLICY
from customers.services.commit import ledger_entry_id_for, return_id_for
from customers.services.eligibility import check_eligibility
from returns_console import devstack
from tests.customers.seeded import demo_data
from tests.processes import app_env, manage, migrate, run_in_app, spawn_worker, start_in_app

pytestmark = pytest.mark.broker

RESEND_AFTER_SECONDS = 2  # an approval not picked up this long after it was decided is sent again...
SWEEP_INTERVAL_SECONDS = 1  # ...by the sweep every worker runs at start and this often
SWEEP = {
    "COMMIT_RESEND_AFTER_SECONDS": str(RESEND_AFTER_SECONDS),
    "COMMIT_SWEEP_INTERVAL_SECONDS": str(SWEEP_INTERVAL_SECONDS),
}
HERE = __name__  # the child processes import this module for the functions they run


# --- what the drills return: one unit of distinct order lines ------------------------------------------------


@dataclass(frozen=True)
class Pick:
    """One unit of one order line, to be returned through a proposal."""

    customer_id: str
    order_id: str
    sku: str
    resolution: str

    def as_json(self) -> dict[str, str]:
        return {
            "customer_id": self.customer_id,
            "order_id": self.order_id,
            "sku": self.sku,
            "resolution": self.resolution,
        }


def more_orders(data: DemoData) -> tuple[Order, ...]:
    """One recent order more per demo customer (the demo has fewer than 100 returnable lines): two lines, the
    second with one of its two units already back outside the console."""
    today = store_today()
    regular = [product for product in data.products if not product.final_sale]
    orders = []
    for index, customer in enumerate(data.customers):
        order_id = f"ORD-{88001 + index}"
        first, second = regular[index % len(regular)], regular[(index + 7) % len(regular)]
        delivered = today - timedelta(days=3)
        orders.append(
            Order(
                order_id=order_id,
                customer_id=customer.customer_id,
                ordered_at=datetime.combine(delivered - timedelta(days=4), time_of_day(10, 30), tzinfo=store_zone()),
                delivered_on=delivered,
                lines=(
                    OrderLine(f"{order_id}-L1", first.sku, first.name, first.price_cents, 1),
                    OrderLine(f"{order_id}-L2", second.sku, second.name, second.price_cents, 2, 1, 1),
                ),
            )
        )
    return tuple(orders)


async def seed_drill_data(repo: CosmosRepository) -> DemoData:
    """The demo data plus ``more_orders``, in this test's own Cosmos database; returns what was written."""
    data = demo_data()
    data = replace(data, orders=(*data.orders, *more_orders(data)))
    await seed_demo_data(repo, data)
    return data


def returnable_picks(data: DemoData, count: int, rng: random.Random) -> list[Pick]:
    """``count`` distinct order lines, each with a unit that may be returned today and tomorrow (so no window
    closes during the drill), in random order; every other one for store credit (which writes a ledger entry),
    the rest for a refund."""
    products = {product.sku: product for product in data.products}
    lines = []
    for order in data.orders:
        for line in order.lines:
            eligibility = check_eligibility(order, line, products.get(line.sku), store_today(), DEFAULT_POLICY)
            if eligibility.eligible and eligibility.returnable_quantity >= 1 and (eligibility.days_left or 0) >= 1:
                lines.append((order, line))
    assert len(lines) >= count, f"only {len(lines)} returnable lines in the drill data"
    resolutions = (Resolution.STORE_CREDIT, Resolution.FULL_REFUND)
    return [
        Pick(order.customer_id, order.order_id, line.sku, str(resolutions[index % 2]))
        for index, (order, line) in enumerate(rng.sample(lines, count))
    ]


# --- run in a child process of the app (see tests.processes.start_in_app) ------------------------------------


def file_and_approve(picks: list[dict[str, str]]) -> list[int]:
    """File each pick as the chat files a confirmed return (damaged, prepaid label), then approve each as the
    supervisor through ``decisions.approve``, which queues its commit once the decision is stored."""
    import asyncio
    import uuid

    from django.contrib.auth import get_user_model

    from customers.cosmos.repository import open_repository
    from customers.domain import Reason, Shipping
    from customers.models import ProposalState
    from customers.services import decisions
    from customers.services.assessment import Selection, customer_overview
    from customers.services.proposals import ProposalRequest, file_proposal
    from customers.services.staff import ensure_demo_staff

    async def file_all() -> list[Any]:
        async with open_repository() as repo:
            overviews: dict[str, Any] = {}
            filed = []
            for pick in picks:
                customer = pick["customer_id"]
                if customer not in overviews:
                    overviews[customer] = await customer_overview(repo, customer, DEFAULT_POLICY, store_today())
                request = ProposalRequest(
                    thread_id=f"thr_drill_{uuid.uuid4().hex[:12]}",
                    submission_key=uuid.uuid4().hex,
                    order_id=pick["order_id"],
                    selections=(Selection(pick["sku"], 1),),
                    reason=Reason.DAMAGED,
                    resolution=Resolution(pick["resolution"]),
                    shipping=Shipping.PREPAID_LABEL,
                )
                filed.append(await file_proposal(overviews[customer], request, DEFAULT_POLICY))
            return filed

    ensure_demo_staff("drill-password")
    supervisor = get_user_model().objects.get(username="supervisor")
    proposals = asyncio.run(file_all())
    assert all(proposal.state == ProposalState.PROPOSED for proposal in proposals)
    for proposal in proposals:
        decisions.approve(proposal_id=proposal.pk, user=supervisor, version=proposal.version)
    return [proposal.pk for proposal in proposals]


def console_records() -> dict[str, Any]:
    """The console's side: each proposal's state and return, how often its commit was recorded in the audit
    log, and the commits check of /healthz."""
    import asyncio

    from customers.models import AuditAction, AuditEntry, Proposal
    from returns_console.health import health_report

    recorded = Counter(
        AuditEntry.objects.filter(action=AuditAction.COMMITTED).values_list("proposal__approval_id", flat=True)
    )
    proposals = [
        {"approval_id": approval_id, "state": state, "return_id": return_id, "commits_recorded": recorded[approval_id]}
        for approval_id, state, return_id in Proposal.objects.values_list("approval_id", "state", "return_id")
    ]
    return {"proposals": proposals, "commits_check": asyncio.run(health_report())["checks"]["commits"]}


# --- watching the drill -------------------------------------------------------------------------------------


def proposal_states(database: Path) -> Counter[str]:
    """Proposals by state, read straight from the workers' SQLite database (WAL: readers never block a writer)."""
    with closing(sqlite3.connect(database, timeout=30)) as db:
        return Counter(dict(db.execute("SELECT state, COUNT(*) FROM customers_proposal GROUP BY state").fetchall()))


def failures(database: Path) -> list[tuple[str, str, str]]:
    with closing(sqlite3.connect(database, timeout=30)) as db:
        sql = "SELECT approval_id, failure_code, failure_message FROM customers_proposal WHERE state = 'failed'"
        return db.execute(sql).fetchall()


def wait_until(condition: Callable[[], bool], deadline: float, what: str, database: Path) -> None:
    """Poll ``condition`` until ``deadline`` (monotonic); a commit that failed for good ends the wait at once."""
    while not condition():
        failed = failures(database)
        assert not failed, f"commits failed while waiting until {what}: {failed}"
        assert time.monotonic() < deadline, f"not {what} in time: {dict(proposal_states(database))}"
        time.sleep(0.02)


def committed(database: Path) -> int:
    return proposal_states(database)["committed"]


def queued(redis_url: str, queue: str) -> int:
    """Messages waiting in the queue's Redis list."""
    with closing(redis.Redis.from_url(redis_url)) as client:
        return int(client.llen(queue))


# --- the end state every drill must reach -------------------------------------------------------------------


async def assert_committed_exactly_once(
    repo: CosmosRepository, env: dict[str, str], data: DemoData, picks: list[Pick], logs: Path
) -> None:
    reading = start_in_app(env, f"{HERE}:console_records", log=logs / "records.log")
    reconciled = manage(env, "reconcile", check=False)  # meanwhile (both only read)
    records = reading.result()
    proposals = records["proposals"]
    approval_ids = sorted(proposal["approval_id"] for proposal in proposals)

    # The console: every approval committed, as the return its id derives from, and recorded so once.
    assert len(proposals) == len(picks)
    assert Counter(proposal["state"] for proposal in proposals) == {"committed": len(picks)}
    assert all(proposal["return_id"] == return_id_for(proposal["approval_id"]) for proposal in proposals)
    assert Counter(proposal["commits_recorded"] for proposal in proposals) == {1: len(picks)}
    assert records["commits_check"]["status"] == "ok"
    assert records["commits_check"]["stalled_approvals"] == 0

    # Cosmos: one return per approval, none extra, each of one unit of the line picked for it.
    returns = [docs.return_from_document(doc) for doc in await repo.all_of_type(docs.RETURN)]
    assert sorted(record.approval_id for record in returns) == approval_ids
    assert sorted(record.return_id for record in returns) == sorted(return_id_for(a) for a in approval_ids)
    returned = Counter((r.customer_id, r.order_id, line.sku) for r in returns for line in r.lines)
    assert returned == Counter((pick.customer_id, pick.order_id, pick.sku) for pick in picks)
    assert all(line.quantity == 1 for record in returns for line in record.lines)

    # Orders: each line's returned quantity is its returns' plus what came back outside the console; only the
    # picked lines moved, by one unit each.
    by_line: Counter[tuple[str, str]] = Counter()
    for record in returns:
        for line in record.lines:
            by_line[(record.order_id, line.line_id)] += line.quantity
    seeded = {(order.order_id, line.line_id): line for order in data.orders for line in order.lines}
    orders = [docs.order_from_document(doc) for doc in await repo.all_of_type(docs.ORDER)]
    assert len(orders) == len(data.orders)
    for order in orders:
        assert sorted(order.return_ids) == sorted(r.return_id for r in returns if r.order_id == order.order_id)
        for line in order.lines:
            key = (order.order_id, line.line_id)
            assert line.returned_quantity == line.returned_outside + by_line[key], key
            assert line.returned_quantity == seeded[key].returned_quantity + by_line[key], key

    # The ledger: one entry per store-credit return, of its credit, and nothing else.
    ledger = {doc["id"]: int(doc["amount_cents"]) for doc in await repo.all_of_type(docs.LEDGER_ENTRY)}
    credits = {ledger_entry_id_for(r.approval_id): r.store_credit_cents for r in returns if r.store_credit_cents > 0}
    assert ledger == credits
    assert len(credits) == sum(pick.resolution == Resolution.STORE_CREDIT for pick in picks)

    # And the reconciler agrees.
    assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
    assert "agree" in reconciled.stdout


# --- drill 1 ------------------------------------------------------------------------------------------------

COMMITS = 100
KILLS = 6
DRILL_SEED = 1101


async def test_worker_sigkilled_at_random_moments_during_100_commits_commits_each_exactly_once(
    repo: CosmosRepository, redis_url: str, cosmos_service: dict[str, str], cosmos_database: str, tmp_path: Path
) -> None:
    """100 approvals stream in while the worker is SIGKILLed (its whole process group) at seeded random moments,
    six times, and started again each time: each approval is still committed exactly once."""
    rng = random.Random(DRILL_SEED)
    data = await seed_drill_data(repo)
    picks = returnable_picks(data, COMMITS, rng)
    env = {**app_env(tmp_path, redis_url, cosmos_service, cosmos_database), **SWEEP}
    queue, database = env["CELERY_QUEUE"], tmp_path / "app.sqlite3"
    migrate(env)
    # Kill when this many commits are done, then a moment later (so anywhere in the next task), several times.
    kill_at = sorted(rng.sample(range(1, COMMITS - 5), KILLS))
    started = time.monotonic()
    deadline = started + 80
    approving = start_in_app(
        env, f"{HERE}:file_and_approve", [p.as_json() for p in picks], log=tmp_path / "approve.log"
    )
    worker = spawn_worker(env, queue, tmp_path / "worker-0.log")
    kills: list[tuple[int, float]] = []  # (commits done when killed, seconds into the drill)
    try:
        for threshold in kill_at:
            wait_until(lambda t=threshold: committed(database) >= t, deadline, f"{threshold} committed", database)
            time.sleep(rng.uniform(0, 0.3))
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)
            kills.append((committed(database), round(time.monotonic() - started, 1)))
            worker = spawn_worker(env, queue, tmp_path / f"worker-{len(kills)}.log")
        assert len(approving.result(timeout=max(1, deadline - time.monotonic()))) == COMMITS
        wait_until(lambda: committed(database) == COMMITS, deadline, f"all {COMMITS} committed", database)
        all_committed_after = time.monotonic() - started
        # Meanwhile the sweep re-sent approvals that waited behind others: the last worker runs every duplicate.
        wait_until(lambda: queued(redis_url, queue) == 0, deadline, "the queue drained", database)
        drained_after = time.monotonic() - started
    finally:
        devstack.stop_process(worker)  # a warm shutdown: the task in hand is finished first
        devstack.stop_process(approving.process)
    resent = sum(log.read_text().count("sweep: re-sent the commit of") for log in tmp_path.glob("worker-*.log"))
    print(
        f"\n{KILLS} SIGKILLs at (commits done, s into the drill): {kills}; all {COMMITS} committed after "
        f"{all_committed_after:.1f} s; {resent} commits re-sent by the sweep, all run by {drained_after:.1f} s"
    )

    assert len(kills) == KILLS
    assert any(done < COMMITS for done, _ in kills), "the kills all came after the work was done"
    await assert_committed_exactly_once(repo, env, data, picks, tmp_path)


# --- drill 2 ------------------------------------------------------------------------------------------------

STUCK = 20
# A lost commit is sent again by the first sweep after it has waited RESEND_AFTER_SECONDS: at most one interval
# later while a worker runs, at once when a worker starts; allow 5 s more for the commits on a busy machine.
SWEEP_BOUND_SECONDS = RESEND_AFTER_SECONDS + SWEEP_INTERVAL_SECONDS + 5


async def test_redis_restarted_with_commits_queued_nothing_is_stuck_past_the_sweep_bound(
    repo: CosmosRepository, cosmos_service: dict[str, str], cosmos_database: str, tmp_path: Path
) -> None:
    """Redis restarts (keeping nothing) while 20 approved commits wait in it for a worker: /healthz reports them
    stalled, and once a worker runs its sweep commits every one, exactly once, within the sweep bound."""
    own_redis = devstack.start_redis(tmp_path / "redis", port=devstack.free_port())  # restarted: never the shared one
    worker = None
    try:
        env = {**app_env(tmp_path, own_redis.url, cosmos_service, cosmos_database), **SWEEP}
        queue, database = env["CELERY_QUEUE"], tmp_path / "app.sqlite3"
        data = await seed_drill_data(repo)
        picks = returnable_picks(data, STUCK, random.Random(DRILL_SEED))
        migrate(env)

        # Approved while no worker runs: the commits wait in Redis...
        approved = run_in_app(env, f"{HERE}:file_and_approve", [p.as_json() for p in picks], log=tmp_path / "a.log")
        assert len(approved) == STUCK
        assert queued(own_redis.url, queue) >= STUCK
        approved_at = time.monotonic()

        # ...and Redis restarts, keeping nothing: the messages are gone.
        own_redis.stop()
        own_redis.restart()
        assert queued(own_redis.url, queue) == 0
        assert proposal_states(database) == {"approved": STUCK}

        # Past the re-send bound, /healthz's commits check reports them stalled.
        time.sleep(max(0.0, approved_at + RESEND_AFTER_SECONDS - time.monotonic()))
        health = run_in_app(env, f"{HERE}:console_records", log=tmp_path / "stuck.log")["commits_check"]
        assert (health["status"], health["stalled_approvals"]) == ("stalled", STUCK)

        # A worker starts: its sweep sends them again, and every one is committed within the bound.
        worker = spawn_worker(env, queue, tmp_path / "worker.log")
        ready = time.monotonic()
        wait_until(
            lambda: committed(database) == STUCK, ready + SWEEP_BOUND_SECONDS, f"all {STUCK} committed", database
        )
        print(f"\nall {STUCK} stuck approvals committed {time.monotonic() - ready:.1f} s after the worker was ready")
        assert "sweep: re-sent the commit of" in (tmp_path / "worker.log").read_text()
        await assert_committed_exactly_once(repo, env, data, picks, tmp_path)
    finally:
        if worker is not None:
            devstack.stop_process(worker)
        own_redis.stop()
