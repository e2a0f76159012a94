"""Contract of the ChatKit Store on Cosmos DB: every method, ordering, paging, and one customer per partition."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from chatkit.store import NotFoundError
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    CustomTask,
    EndOfTurnItem,
    FileAttachment,
    InferenceOptions,
    TaskItem,
    ThreadMetadata,
    UserMessageItem,
    UserMessageTextContent,
    WidgetItem,
)
from chatkit.widgets import Card, Text

from chat.context import ChatContext
from chat.store import CosmosChatStore

A = ChatContext(customer_id="CUST-A", order_id="ORD-10001")
B = ChatContext(customer_id="CUST-B", order_id="ORD-20002")


@pytest.fixture
async def store(repo) -> CosmosChatStore:  # type: ignore[no-untyped-def]
    chat_store = CosmosChatStore(repo.database)
    await chat_store.ensure_container()
    await chat_store.ensure_container()  # idempotent
    return chat_store


def _thread(thread_id: str, minute: int = 0) -> ThreadMetadata:
    return ThreadMetadata(id=thread_id, created_at=datetime(2026, 11, 25, 10, minute, tzinfo=UTC), title=thread_id)


def _message(thread_id: str, n: int) -> AssistantMessageItem:
    return AssistantMessageItem(
        id=f"msg_{n:03d}",
        thread_id=thread_id,
        created_at=datetime.now(UTC),
        content=[AssistantMessageContent(text=f"m{n}")],
    )


async def _ids(
    store: CosmosChatStore, thread_id: str, order: str, limit: int, context: ChatContext = A
) -> list[list[str]]:
    pages, after = [], None
    while True:
        page = await store.load_thread_items(thread_id, after, limit, order, context)
        pages.append([item.id for item in page.data])
        if not page.has_more:
            assert page.after is None
            return pages
        assert page.after == page.data[-1].id
        after = page.after


async def _all_ids(store: CosmosChatStore, thread_id: str, order: str, limit: int) -> list[str]:
    return [item_id for page in await _ids(store, thread_id, order, limit) for item_id in page]


async def test_thread_round_trip_and_update(store):
    thread = _thread("thr_1")
    await store.save_thread(thread, A)
    assert await store.load_thread("thr_1", A) == thread
    thread.title = "Renamed"
    thread.metadata["return_flow"] = {"order_id": "ORD-10001"}
    await store.save_thread(thread, A)
    loaded = await store.load_thread("thr_1", A)
    assert loaded.title == "Renamed" and loaded.metadata == {"return_flow": {"order_id": "ORD-10001"}}


async def test_items_keep_insertion_order_and_page_both_ways(store):
    await store.save_thread(_thread("thr_1"), A)
    for n in range(12):
        await store.add_thread_item("thr_1", _message("thr_1", n), A)
    expected = [f"msg_{n:03d}" for n in range(12)]
    asc = await _ids(store, "thr_1", "asc", 5)
    assert asc == [expected[0:5], expected[5:10], expected[10:12]]
    desc = await _ids(store, "thr_1", "desc", 5)
    assert [i for page in desc for i in page] == expected[::-1] and [len(page) for page in desc] == [5, 5, 2]
    assert await _ids(store, "thr_1", "asc", 12) == [expected]


async def test_concurrent_adds_all_land_with_distinct_positions(store):
    await store.save_thread(_thread("thr_1"), A)
    await asyncio.gather(*(store.add_thread_item("thr_1", _message("thr_1", n), A) for n in range(25)))
    ids = await _all_ids(store, "thr_1", "asc", 100)
    assert sorted(ids) == [f"msg_{n:03d}" for n in range(25)]


async def test_save_item_updates_in_place(store):
    await store.save_thread(_thread("thr_1"), A)
    for n in range(3):
        await store.add_thread_item("thr_1", _message("thr_1", n), A)
    changed = _message("thr_1", 0).model_copy(update={"content": [AssistantMessageContent(text="edited")]})
    await store.save_item("thr_1", changed, A)
    assert await _all_ids(store, "thr_1", "asc", 10) == ["msg_000", "msg_001", "msg_002"]
    assert (await store.load_item("thr_1", "msg_000", A)).content[0].text == "edited"
    await store.save_item("thr_1", _message("thr_1", 9), A)  # upsert of a new item appends it
    assert (await _all_ids(store, "thr_1", "asc", 10))[-1] == "msg_009"


async def test_every_item_type_round_trips(store):
    await store.save_thread(_thread("thr_1"), A)
    now = datetime.now(UTC)
    items = [
        UserMessageItem(
            id="msg_u",
            thread_id="thr_1",
            created_at=now,
            content=[UserMessageTextContent(text="hi")],
            inference_options=InferenceOptions(),
        ),
        _message("thr_1", 1),
        WidgetItem(
            id="msg_w",
            thread_id="thr_1",
            created_at=now,
            widget=Card(key="k", children=[Text(value="x")]),
            copy_text="x",
        ),
        TaskItem(id="tsk_1", thread_id="thr_1", created_at=now, task=CustomTask(title="Checking eligibility")),
        EndOfTurnItem(id="eot_1", thread_id="thr_1", created_at=now),
    ]
    for item in items:
        await store.add_thread_item("thr_1", item, A)
    page = await store.load_thread_items("thr_1", None, 10, "asc", A)
    assert [item.model_dump() for item in page.data] == [item.model_dump() for item in items]


async def test_deletes(store):
    await store.save_thread(_thread("thr_1"), A)
    await store.save_thread(_thread("thr_2"), A)
    for n in range(3):
        await store.add_thread_item("thr_1", _message("thr_1", n), A)
        await store.add_thread_item("thr_2", _message("thr_2", n), A)
    await store.delete_thread_item("thr_1", "msg_001", A)
    assert await _all_ids(store, "thr_1", "asc", 10) == ["msg_000", "msg_002"]
    with pytest.raises(NotFoundError):
        await store.load_item("thr_1", "msg_001", A)
    await store.delete_thread("thr_1", A)
    with pytest.raises(NotFoundError):
        await store.load_thread("thr_1", A)
    with pytest.raises(NotFoundError):
        await store.load_item("thr_1", "msg_000", A)
    assert await _all_ids(store, "thr_2", "asc", 10) == [
        "msg_000",
        "msg_001",
        "msg_002",
    ]  # same item ids, other thread


async def test_threads_list_and_page(store):
    for minute in range(7):
        await store.save_thread(_thread(f"thr_{minute}", minute), A)
    page = await store.load_threads(3, None, "desc", A)
    assert [t.id for t in page.data] == ["thr_6", "thr_5", "thr_4"] and page.has_more and page.after == "thr_4"
    page = await store.load_threads(3, page.after, "desc", A)
    assert [t.id for t in page.data] == ["thr_3", "thr_2", "thr_1"]
    page = await store.load_threads(3, page.after, "desc", A)
    assert [t.id for t in page.data] == ["thr_0"] and not page.has_more and page.after is None
    assert [t.id for t in (await store.load_threads(10, None, "asc", A)).data] == [f"thr_{m}" for m in range(7)]


async def test_attachments(store):
    attachment = FileAttachment(id="atc_1", name="receipt.pdf", mime_type="application/pdf")
    await store.save_attachment(attachment, A)
    assert await store.load_attachment("atc_1", A) == attachment
    with pytest.raises(NotFoundError):
        await store.load_attachment("atc_1", B)
    await store.delete_attachment("atc_1", A)
    with pytest.raises(NotFoundError):
        await store.load_attachment("atc_1", A)


async def test_missing_things_are_not_found(store):
    with pytest.raises(NotFoundError):
        await store.load_thread("thr_nope", A)
    with pytest.raises(NotFoundError):
        await store.load_thread_items("thr_nope", None, 10, "asc", A)
    with pytest.raises(NotFoundError):
        await store.add_thread_item("thr_nope", _message("thr_nope", 1), A)
    with pytest.raises(NotFoundError):
        await store.delete_thread("thr_nope", A)


async def test_another_customers_thread_does_not_exist_for_you(store):
    await store.save_thread(_thread("thr_a"), A)
    await store.add_thread_item("thr_a", _message("thr_a", 1), A)
    attempts = [
        store.load_thread("thr_a", B),
        store.load_thread_items("thr_a", None, 10, "asc", B),
        store.load_item("thr_a", "msg_001", B),
        store.add_thread_item("thr_a", _message("thr_a", 2), B),
        store.save_item("thr_a", _message("thr_a", 1), B),
        store.delete_thread_item("thr_a", "msg_001", B),
        store.delete_thread("thr_a", B),
    ]
    for attempt in attempts:
        with pytest.raises(NotFoundError):
            await attempt
    assert (await store.load_threads(10, None, "asc", B)).data == []
    assert await _all_ids(store, "thr_a", "asc", 10) == ["msg_001"]


# --- a turn's writes, held and stored together -------------------------------------------------


async def test_held_writes_are_stored_in_one_batch_and_read_back_before(store, monkeypatch):
    batches: list[int] = []
    execute = store.container.execute_item_batch

    async def counted(*, batch_operations, partition_key):  # type: ignore[no-untyped-def]
        batches.append(len(batch_operations))
        return await execute(batch_operations=batch_operations, partition_key=partition_key)

    monkeypatch.setattr(store.container, "execute_item_batch", counted)
    store.defer_writes()
    thread = _thread("thr_1")
    await store.save_thread(thread, A)
    await store.add_thread_item("thr_1", _message("thr_1", 1), A)
    thread.title = "Renamed"
    await store.save_thread(thread, A)  # the same document twice: written once, as last saved
    assert (await store.load_item("thr_1", "msg_001", A)).content[0].text == "m1"  # this turn sees its own
    reader = CosmosChatStore(store.database)  # another request does not, yet
    with pytest.raises(NotFoundError):
        await reader.load_thread("thr_1", A)
    await store.save_deferred()
    assert batches == [2]
    assert (await reader.load_thread("thr_1", A)).title == "Renamed"
    assert await _all_ids(reader, "thr_1", "asc", 10) == ["msg_001"]


async def test_a_query_stores_what_is_held_first_so_the_turn_reads_its_own_writes(store):
    store.defer_writes()
    await store.save_thread(_thread("thr_1"), A)
    await store.add_thread_item("thr_1", _message("thr_1", 1), A)
    assert await _all_ids(store, "thr_1", "asc", 10) == ["msg_001"]  # a model reading the history sees it
    await store.add_thread_item("thr_1", _message("thr_1", 2), A)
    await store.delete_thread_item("thr_1", "msg_002", A)  # a delete also sees what was held
    await store.save_deferred()
    assert await _all_ids(CosmosChatStore(store.database), "thr_1", "asc", 10) == ["msg_001"]


async def test_a_failed_batch_stores_nothing_and_is_reported_again_at_the_end(store, monkeypatch):
    from azure.cosmos.exceptions import CosmosHttpResponseError

    async def unavailable(**_):  # type: ignore[no-untyped-def]
        raise CosmosHttpResponseError(status_code=503, message="Service unavailable")

    store.defer_writes()
    await store.save_thread(_thread("thr_1"), A)
    await store.add_thread_item("thr_1", _message("thr_1", 1), A)
    monkeypatch.setattr(store.container, "execute_item_batch", unavailable)
    with pytest.raises(CosmosHttpResponseError):
        await store.save_deferred()  # a mirror's burst meets it first, say
    monkeypatch.undo()
    with pytest.raises(CosmosHttpResponseError):
        await store.save_deferred()  # the end of the turn still hears of it, and writes nothing
    with pytest.raises(NotFoundError):
        await CosmosChatStore(store.database).load_thread("thr_1", A)


async def test_without_deferring_every_write_is_stored_at_once(store):
    await store.save_thread(_thread("thr_1"), A)
    await store.add_thread_item("thr_1", _message("thr_1", 1), A)
    await store.save_deferred()  # nothing held: nothing to do
    assert await _all_ids(CosmosChatStore(store.database), "thr_1", "asc", 10) == ["msg_001"]
