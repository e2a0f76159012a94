"""A long conversation opens on its newest page; earlier pages come on request, each item exactly once, in order.

A 3,000-item thread took 13 s to open when the console read all of it."""

from __future__ import annotations

import asyncio

import pytest
from chatkit.types import AssistantMessageContent, AssistantMessageItem, ThreadMetadata

from chat.context import ChatContext
from chat.store import CosmosChatStore
from customers import clock
from tests.chat.conversation import Conversation as Chat
from tests.returns_console.console.conftest import staff_client

pytestmark = pytest.mark.django_db(transaction=True)

ITEMS = 3000


async def _long_thread(repo, thread_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    store = CosmosChatStore(repo.database)
    context = ChatContext(customer_id="CUST-1001", order_id="ORD-79001")
    await store.load_thread(thread_id, context)  # the thread exists (made by the chat below)
    ids = [f"msg_long_{n:05d}" for n in range(ITEMS)]
    semaphore = asyncio.Semaphore(32)
    positions = [store._next_seq() for _ in ids]  # after everything said so far, in this order

    async def write(n: int, item_id: str) -> None:
        async with semaphore:
            item = AssistantMessageItem(
                id=item_id,
                thread_id=thread_id,
                created_at=clock.now(),
                content=[AssistantMessageContent(text=f"line {n}")],
            )
            await store._write_item(thread_id, item, positions[n], context)

    await asyncio.gather(*(write(n, item_id) for n, item_id in enumerate(ids)))
    assert isinstance(await store.load_thread(thread_id, context), ThreadMetadata)
    return ids


async def test_a_three_thousand_item_conversation_opens_on_its_newest_page_and_pages_back(seeded):
    chat = await Chat.sign_in()
    await chat.say("I want to return some items")
    spoken = [item.id for item in chat.done_items()]
    ids = await _long_thread(seeded, chat.thread_id)
    agent = await staff_client("agent")

    detail = (await agent.get(f"/console/api/conversations/{chat.thread_id}")).json()
    assert [item["id"] for item in detail["items"]] == ids[-50:]  # newest page, oldest first
    assert detail["earlier"]

    seen = [item["id"] for item in detail["items"]]
    cursor = detail["earlier"]
    pages = 1
    while cursor:
        page = (await agent.get(f"/console/api/conversations/{chat.thread_id}/items?before={cursor}")).json()
        seen = [item["id"] for item in page["items"]] + seen
        cursor = page["earlier"]
        pages += 1
    assert len(seen) == len(set(seen)) == ITEMS + len(spoken)  # each item once
    assert seen[-ITEMS:] == ids and pages == -(-len(seen) // 50)


async def test_paging_needs_a_cursor_and_a_known_conversation(seeded):
    agent = await staff_client("agent")
    chat = await Chat.sign_in()
    await chat.say("hello")
    missing = await agent.get(f"/console/api/conversations/{chat.thread_id}/items")
    assert missing.status_code == 400 and "before" in missing.json()["message"]
    unknown = await agent.get("/console/api/conversations/thr_nope/items?before=x")
    assert unknown.status_code == 404
    anonymous = await Chat.sign_in()
    refused = await anonymous.client.get(f"/console/api/conversations/{chat.thread_id}/items?before=x")
    assert refused.status_code in (302, 401, 403)
