"""A web process keeps a customer's thread between turns (chat.store): a click reads nothing before answering.

The copy is used only for the turn right after the one that stored it (the rate limit numbers a thread's turns in
Redis, chat.limits), and the turn's write of the thread is conditional on the copy's etag: a write the numbering
missed makes the turn ask the customer to try again instead of overwriting it, and a rename or a deletion starts a
new numbering generation, so a copy kept by another process is never taken for the thread as it is now.
"""

from __future__ import annotations

from typing import Any

import pytest
from chatkit.types import ErrorEvent

from bench.chat import CLICKS
from chat import store as chat_store
from chat.store import CHAT_CONTAINER
from tests.chat import protocol
from tests.chat.conversation import Conversation
from tests.customers.seeded import seed

pytestmark = pytest.mark.django_db(transaction=True)
CUSTOMER = "CUST-1001"  # rjohnson@company.com, Conversation.sign_in()'s default


async def _started(repo: Any) -> Conversation:
    """Signed in, greeted, and two clicks into a return: the process keeps the thread as the second stored it."""
    await seed(repo)
    chat = await Conversation.sign_in()
    await chat.say("hi")
    for action, payload in CLICKS[:2]:
        await chat.click(action, payload)
    assert (CUSTOMER, chat.thread_id) in chat_store._kept
    return chat


async def _stored_thread(repo: Any, thread_id: str) -> dict[str, Any]:
    return await repo.database.get_container_client(CHAT_CONTAINER).read_item(thread_id, partition_key=CUSTOMER)


async def _item_count(chat: Conversation) -> int:
    response = await chat.post(protocol.list_items(chat.thread_id, limit=1000))
    assert response.status_code == 200
    return len(response.json()["data"])


async def test_a_write_the_numbering_missed_is_never_overwritten(repo, services_settings):
    """Another process stored the thread in a turn it could not number (Redis was away): this process's copy is
    stale, so the next click here fails as a whole, is offered again, and then goes on from the stored thread."""
    chat = await _started(repo)
    elsewhere = await _stored_thread(repo, chat.thread_id)
    elsewhere["data"]["title"] = "Renamed in another process"
    await repo.database.get_container_client(CHAT_CONTAINER).upsert_item(elsewhere)
    items = await _item_count(chat)

    action, payload = CLICKS[2]
    events = await chat.click(action, payload)
    assert any(isinstance(event, ErrorEvent) and event.allow_retry for event in events)
    assert await _item_count(chat) == items  # nothing of the failed turn was stored
    assert (await _stored_thread(repo, chat.thread_id))["data"]["title"] == "Renamed in another process"
    assert (CUSTOMER, chat.thread_id) not in chat_store._kept

    events = await chat.click(action, payload)  # the customer tries again: the thread is read afresh
    assert not any(isinstance(event, ErrorEvent) for event in events)
    assert await _item_count(chat) > items
    assert (await _stored_thread(repo, chat.thread_id))["data"]["title"] == "Renamed in another process"


async def test_a_rename_starts_a_new_generation_so_no_kept_copy_outlives_it(repo, services_settings):
    chat = await _started(repo)
    kept_elsewhere = chat_store._kept[(CUSTOMER, chat.thread_id)]  # as another web process would still hold it
    response = await chat.post(protocol.update_thread(chat.thread_id, "My hub return"))
    assert response.status_code == 200, response.content
    chat_store._kept[(CUSTOMER, chat.thread_id)] = kept_elsewhere

    action, payload = CLICKS[2]
    events = await chat.click(action, payload)
    assert not any(isinstance(event, ErrorEvent) for event in events)
    assert (await _stored_thread(repo, chat.thread_id))["data"]["title"] == "My hub return"
    assert chat_store._kept[(CUSTOMER, chat.thread_id)].turn.generation != kept_elsewhere.turn.generation


async def test_a_deleted_thread_is_not_brought_back_by_a_kept_copy(repo, services_settings):
    chat = await _started(repo)
    kept_elsewhere = chat_store._kept[(CUSTOMER, chat.thread_id)]
    response = await chat.post(protocol.delete_thread(chat.thread_id))
    assert response.status_code == 200, response.content
    chat_store._kept[(CUSTOMER, chat.thread_id)] = kept_elsewhere

    action, payload = CLICKS[2]
    response = await chat.post(protocol.custom_action(chat.thread_id, chat.newest_widget.id, action, payload))
    raw = b"".join([chunk async for chunk in response.streaming_content]) if response.status_code == 200 else b""
    assert response.status_code == 404 or b"no longer exists" in raw
    container = repo.database.get_container_client(CHAT_CONTAINER)
    assert [doc async for doc in container.query_items("SELECT c.id FROM c", partition_key=CUSTOMER)] == []


async def test_a_rename_while_redis_is_away_is_refused_and_changes_nothing(repo, services_settings, settings):
    chat = await _started(repo)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there: the new generation cannot be started
    response = await chat.post(protocol.update_thread(chat.thread_id, "My hub return"))
    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"
    assert (await _stored_thread(repo, chat.thread_id))["data"]["title"] != "My hub return"
