"""A streamed turn is stored whole, in one write at its end, or not at all; the customer hears when it was not."""

from __future__ import annotations

from typing import Any

import pytest
from azure.cosmos.aio import ContainerProxy
from azure.cosmos.exceptions import CosmosHttpResponseError

from bench.chat import CLICKS
from chat.context import ChatContext
from chat.signals import conversation_events
from chat.store import CHAT_CONTAINER, CosmosChatStore, _Unwritten
from tests.chat.conversation import Conversation
from tests.customers.seeded import seed

pytestmark = pytest.mark.django_db(transaction=True)

ROBERT = ChatContext(customer_id="CUST-1001", order_id="ORD-79001")


@pytest.fixture
def announced() -> Any:
    bursts: list[list[dict[str, Any]]] = []

    async def receiver(sender: Any, events: list[dict[str, Any]], **_: Any) -> None:
        bursts.append(events)

    conversation_events.connect(receiver, dispatch_uid="test.server")
    yield bursts
    conversation_events.disconnect(dispatch_uid="test.server")


async def _stored(repo: Any, thread_id: str) -> tuple[dict[str, Any], list[str]]:
    """The thread's state and item ids as a new request reads them."""
    store = CosmosChatStore(repo.database)
    thread = await store.load_thread(thread_id, ROBERT)
    page = await store.load_thread_items(thread_id, None, 100, "asc", ROBERT)
    return thread.metadata, [item.id for item in page.data]


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """From here on, each transactional batch written to the chat container: its number of operations."""
    written: list[int] = []
    execute = ContainerProxy.execute_item_batch

    async def counted(self: ContainerProxy, **kwargs: Any) -> Any:
        if self.id == CHAT_CONTAINER:
            written.append(len(kwargs["batch_operations"]))
        return await execute(self, **kwargs)

    monkeypatch.setattr(ContainerProxy, "execute_item_batch", counted)
    return written


async def test_a_click_is_stored_in_one_write_and_reads_back_as_the_customer_saw_it(repo, services_settings, writes):
    await seed(repo)
    chat = await Conversation.sign_in()
    await chat.say("hi")
    writes.clear()
    action, payload = CLICKS[0]
    await chat.click(action, payload)
    assert len(writes) == 1 and writes[0] >= 2  # the answer's items and the thread's state, together
    _, item_ids = await _stored(repo, chat.thread_id)
    assert [item.id for item in chat.done_items()] == item_ids[-len(chat.done_items()) :]


async def test_a_guided_click_is_one_burst_and_one_write_however_long_it_waits(
    repo, services_settings, writes, announced
):
    """A model's turn is watched live (a burst every MIRROR_WINDOW_SECONDS); a guided one is heard of at its end:
    on a busy machine, timed bursts split most clicks in two, each half with its own write and frames."""
    services_settings.MIRROR_WINDOW_SECONDS = 0.001  # every click outlasts this
    await seed(repo)
    chat = await Conversation.sign_in()
    await chat.say("hi")
    for action, payload in CLICKS[:3]:
        announced.clear()
        writes.clear()
        await chat.click(action, payload)
        assert len(writes) == 1 and len(announced) == 1, (action, writes, announced)
        assert any(event.get("type") == "customer.click" for event in announced[0])


async def test_every_answer_is_stored_from_the_bytes_the_customer_got_and_reads_back_the_same(
    repo, services_settings, monkeypatch
):
    """A widget is dumped once a turn, for the customer; its document is read back from those bytes. What is
    stored must read back as exactly the item the customer was shown, for every answer of a whole return."""
    await seed(repo)
    dumped_again: list[str] = []
    dumped = _Unwritten.dumped

    def counted(self: _Unwritten) -> dict[str, Any]:
        dumped_again.append(self.item.type)
        return dumped(self)

    monkeypatch.setattr(_Unwritten, "dumped", counted)
    chat = await Conversation.sign_in()
    shown = {}
    await chat.say("hi")
    shown.update({item.id: item for item in chat.done_items()})
    for action, payload in CLICKS:
        await chat.click(action, payload)
        shown.update({item.id: item for item in chat.done_items()})
    answers = {item_id: item for item_id, item in shown.items() if item.type in ("assistant_message", "widget")}
    assert len(answers) >= 2 * len(CLICKS) and any(item.type == "widget" for item in answers.values())
    assert [kind for kind in dumped_again if kind in ("assistant_message", "widget")] == []
    store = CosmosChatStore(repo.database)
    for item_id, item in answers.items():
        assert await store.load_item(chat.thread_id, item_id, ROBERT) == item


async def test_a_click_whose_write_fails_tells_the_customer_and_changes_nothing(
    repo, services_settings, monkeypatch, announced
):
    await seed(repo)
    chat = await Conversation.sign_in()
    await chat.say("hi")
    before = await _stored(repo, chat.thread_id)
    announced.clear()
    execute = ContainerProxy.execute_item_batch

    async def unavailable(self: ContainerProxy, **kwargs: Any) -> Any:
        if self.id == CHAT_CONTAINER:
            raise CosmosHttpResponseError(status_code=503, message="Service unavailable")
        return await execute(self, **kwargs)

    monkeypatch.setattr(ContainerProxy, "execute_item_batch", unavailable)
    action, payload = CLICKS[0]
    events = await chat.click(action, payload)
    assert events[-1].type == "error" and events[-1].allow_retry
    assert "could not save that step" in events[-1].message
    assert await _stored(repo, chat.thread_id) == before  # neither the answer nor the return's new step
    assert not [event for burst in announced for event in burst if event.get("type") == "thread.item.done"]

    monkeypatch.undo()
    events = await chat.click(action, payload)  # trying again works, from the same step
    assert all(event.type != "error" for event in events)
    state, item_ids = await _stored(repo, chat.thread_id)
    assert state != before[0] and set(before[1]) < set(item_ids)


async def test_a_turn_cut_short_keeps_what_the_customer_was_shown(repo, services_settings):
    """The customer closes the page mid-answer: the items they saw are stored when the stream is torn down."""
    from chat.server import REQUEST_ADAPTER, ReturnsChatServer
    from chat.views import chat_store
    from tests.chat import protocol

    await seed(repo)
    chat = await Conversation.sign_in()
    await chat.say("hi")
    action, payload = CLICKS[0]
    request = REQUEST_ADAPTER.validate_json(
        protocol.body(protocol.custom_action(chat.thread_id, chat.newest_widget.id, action, payload))
    )
    result = await ReturnsChatServer(await chat_store()).process_parsed(request, ROBERT)
    shown: list[str] = []
    async for chunk in result.json_events:
        if b'"thread.item.done"' in chunk:
            shown.append(protocol.parse_sse(chunk)[0].item.id)
            break  # the page goes away after the first answer
    await result.json_events.aclose()
    _, item_ids = await _stored(repo, chat.thread_id)
    assert shown and shown[0] in item_ids
