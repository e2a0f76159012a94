"""What one click of a return costs in round trips, pinned so that a change adding one shows up here.

A turn's CPU is mostly the round trips it makes (bench/load.py --profile: the Cosmos SDK's HTTP stack alone is about
a quarter of it). Today a click is: Cosmos 1 transactional batch that writes the answer, the widget and the
thread's state together, and nothing read: the thread is the copy this web process stored at the end of the turn
before (chat.store, numbered by the rate limit's count), the clicked widget's id is signed, not read, and the
customer, the products and the orders shown are copies read up to REFERENCE_DATA_MAX_AGE_SECONDS ago (the confirm
click reads them afresh, 3 more). The first click after the greeting reads the thread (a new thread's count starts
there). The database 5 statements and 1 write transaction (the conversation; then together what the click
meant for the staff transcript, the turn's record, and the step the return moved to on the conversation's row, which
insights read: SQLite's writers queue for one lock); Redis 4 (session, rate limit, the feed's numbering, its
publish). Filing the proposal (confirm) adds its checks (one: the customer's open requests for the same units), its
row in one transaction, the auto-approval rules read outside any (a write transaction only to approve: three in
all), and its own feed event; for
insights, the proposal's line rows (saved with it in one transaction) and the conversation's row marked as ending
with a return. A new conversation is created with who the customer is, so the dashboards hear of it once.
"""

from __future__ import annotations

from typing import Any

import pytest
from azure.cosmos.aio import _asynchronous_request
from django.db.backends import utils
from redis.asyncio import client as redis_client

from bench.chat import CLICKS
from tests.chat.conversation import Conversation
from tests.customers.seeded import seed

pytestmark = pytest.mark.django_db(transaction=True)

CHOOSING = {"cosmos": 1, "sql": 5, "sql writes": 1, "redis": 4}  # a click that picks an item, reason, resolution...
FIRST_CLICK = {**CHOOSING, "cosmos": 2}  # the thread read: the greeting made it, and its count starts here
FILING = {"cosmos": 4, "sql": 16, "sql writes": 3, "redis": 6}  # the confirm click
WRITES = ("INSERT", "UPDATE", "DELETE")


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Every Cosmos request, SQL statement and Redis command from here on, by kind."""
    seen: dict[str, list[str]] = {"cosmos": [], "sql": [], "sql writes": [], "redis": []}
    cosmos_request, sql_execute, redis_command = (
        _asynchronous_request.AsynchronousRequest,
        utils.CursorWrapper._execute,
        redis_client.Redis.execute_command,
    )

    async def counted_request(*args: Any, **kwargs: Any) -> Any:
        request = kwargs.get("request") or args[4]
        seen["cosmos"].append(f"{request.method} {request.url.rsplit('/colls/', 1)[-1][:50]}")
        return await cosmos_request(*args, **kwargs)

    def counted_sql(self: Any, sql: str, *rest: Any) -> Any:
        seen["sql"].append(sql[:60])
        # A write transaction: one that begins, or a write in autocommit (SQLite writers queue for one lock).
        if sql.startswith("BEGIN") or (sql.startswith(WRITES) and not self.db.in_atomic_block):
            seen["sql writes"].append(sql[:60])
        return sql_execute(self, sql, *rest)

    async def counted_command(self: Any, *args: Any, **options: Any) -> Any:
        seen["redis"].append(str(args[0]))
        return await redis_command(self, *args, **options)

    monkeypatch.setattr(_asynchronous_request, "AsynchronousRequest", counted_request)
    monkeypatch.setattr(utils.CursorWrapper, "_execute", counted_sql)
    monkeypatch.setattr(redis_client.Redis, "execute_command", counted_command)
    return seen


async def test_each_click_of_a_return_stays_within_its_round_trips(repo, services_settings, round_trips):
    await seed(repo)
    chat = await Conversation.sign_in()
    await chat.say("hi")
    for number, (action, payload) in enumerate(CLICKS):
        for calls in round_trips.values():
            calls.clear()
        await chat.click(action, payload)
        budget = FILING if action == "returns.confirm" else FIRST_CLICK if number == 0 else CHOOSING
        made = {kind: len(calls) for kind, calls in round_trips.items()}
        over = {kind: round_trips[kind] for kind in budget if made[kind] > budget[kind]}
        assert not over, f"{action}: {made} over the budget {budget}: {over}"
        assert any(call.startswith("POST") for call in round_trips["cosmos"]), "the counting missed the turn's write"


GREETING = {"cosmos": 4, "sql": 8, "sql writes": 3, "redis": 6}  # a new conversation's first message


async def test_a_new_conversation_stays_within_its_round_trips(repo, services_settings, round_trips):
    """Its first message stored, the conversation created with who the customer is (the dashboards hear of it
    once, named: one row read, one event), the greeting's widget and the turn's record."""
    await seed(repo)
    chat = await Conversation.sign_in()
    await chat.say("hi")  # the first of the process: the SDK reads the containers' metadata once
    chat.thread_id = None
    for calls in round_trips.values():
        calls.clear()
    await chat.say("hi")
    made = {kind: len(calls) for kind, calls in round_trips.items()}
    over = {kind: round_trips[kind] for kind in GREETING if made[kind] > GREETING[kind]}
    assert not over, f"a new conversation: {made} over the budget {GREETING}: {over}"
    announced = [sql for sql in round_trips["sql"] if sql.startswith('SELECT "customers_proposal"')]
    assert len(announced) == 1, "the conversation's row is read once, for one announcement"
