"""What one customer may send: bounded messages and titles, a per-customer turn rate, and turns per thread.

Each refusal is a 4xx with a reason the page shows, and a refused request changes nothing."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis

from chat import limits
from tests.chat import protocol
from tests.chat.conversation import Conversation
from tests.customers.seeded import seed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.rate_limits]


@pytest.fixture
def fresh_limits(redis_url: str, settings) -> None:  # type: ignore[no-untyped-def]
    """The limits start empty: buckets are per customer id, and the demo customers are shared by every test."""
    settings.REDIS_URL = redis_url
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{limits.PREFIX}*"):
        client.delete(key)


async def _item_count(chat: Conversation) -> int:
    response = await chat.post(protocol.list_items(chat.thread_id, limit=1000))
    assert response.status_code == 200
    return len(response.json()["data"])


async def test_a_message_over_the_bound_is_refused_with_the_limit_and_stores_nothing(repo, services_settings):
    await seed(repo)
    chat = await Conversation.sign_in()
    await chat.say("I want to return some items")
    before = await _item_count(chat)
    response = await chat.post(protocol.add_message(chat.thread_id, "a" * 4001))
    assert response.status_code == 413
    assert response.json() == {
        "error": "message_too_long",
        "message": "Messages are limited to 4,000 characters. Please shorten it or send it in parts.",
    }
    assert await _item_count(chat) == before
    refused_new = await chat.client.post(
        "/chatkit", data=protocol.body(protocol.create("b" * 5000)), content_type="application/json"
    )
    assert refused_new.status_code == 413
    events = await chat.say("a" * 4000)  # the bound itself is fine
    assert not [event for event in events if event.type == "error"]


async def test_a_thread_title_over_the_bound_is_refused(repo, services_settings):
    await seed(repo)
    chat = await Conversation.sign_in()
    await chat.say("hello")
    update = protocol.update_thread(chat.thread_id, "t" * 121)
    response = await chat.post(update)
    assert response.status_code == 400 and response.json()["error"] == "title_too_long"
    fine = await chat.post(protocol.update_thread(chat.thread_id, "My hub"))
    assert fine.status_code == 200


async def test_a_burst_past_the_bucket_gets_429_with_retry_after_and_is_not_answered(
    repo, services_settings, fresh_limits, settings
):
    await seed(repo)
    settings.CHAT_RATE_BURST, settings.CHAT_RATE_PER_MINUTE = 3, 6  # a token every 10 s
    chat = await Conversation.sign_in()
    for text in ("hello", "I want to return some items", "the hub"):
        await chat.say(text)
    before = await _item_count(chat)
    refused = await chat.post(protocol.add_message(chat.thread_id, "one more"))
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 10
    body = refused.json()
    assert body["error"] == "rate_limited" and "Please wait" in body["message"]
    assert await _item_count(chat) == before  # reading the thread is not a turn, and nothing was stored
    # Another customer is not held back by this one.
    other = await Conversation.sign_in("maria.garcia@example.com", "ORD-79104")
    await other.say("hello")


async def test_the_bucket_refills_over_time(fresh_limits, settings):
    settings.CHAT_RATE_BURST, settings.CHAT_RATE_PER_MINUTE = 2, 600  # a token every 100 ms
    assert (await limits.admit_turn("CUST-T1", None)).refusal is None
    assert (await limits.admit_turn("CUST-T1", None)).refusal is None
    refused = (await limits.admit_turn("CUST-T1", None)).refusal
    assert refused is not None and refused.status == 429 and refused.retry_after_seconds == 1
    await asyncio.sleep(0.25)
    assert (await limits.admit_turn("CUST-T1", None)).refusal is None


async def test_parallel_turns_never_take_more_than_the_bucket_holds(fresh_limits, settings):
    settings.CHAT_RATE_BURST, settings.CHAT_RATE_PER_MINUTE = 20, 1
    results = [
        admission.refusal
        for admission in await asyncio.gather(*(limits.admit_turn("CUST-T2", "thr_x") for _ in range(60)))
    ]
    assert sum(result is None for result in results) == 20
    assert {result.code for result in results if result is not None} == {"rate_limited"}


async def test_a_thread_holds_a_bounded_number_of_turns(fresh_limits, settings):
    settings.CHAT_THREAD_MAX_TURNS = 10
    admitted = [await limits.admit_turn("CUST-T3", "thr_long") for _ in range(10)]
    assert [admission.refusal for admission in admitted] == [None] * 10
    assert [admission.turn.number for admission in admitted] == list(range(1, 11))  # numbered, in one generation
    assert len({admission.turn.generation for admission in admitted}) == 1
    full = (await limits.admit_turn("CUST-T3", "thr_long")).refusal
    assert full is not None and full.status == 409 and full.code == "thread_full"
    assert "start a new conversation" in full.message
    assert (await limits.admit_turn("CUST-T3", "thr_other")).refusal is None  # a new conversation goes on


async def test_redis_away_lets_turns_through(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    started = time.perf_counter()
    assert await limits.admit_turn("CUST-T4", "thr_y") == limits.Admission()  # let through, unnumbered
    assert time.perf_counter() - started < 5
