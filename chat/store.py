"""ChatKit's Store on Cosmos DB: threads, items and attachment metadata, one partition per customer.

Every read names the signed-in customer's partition, so another customer's thread or item id is simply
not found: isolation does not depend on remembering a check.

A streaming turn writes its items and the thread's state together: ``defer_writes()`` holds them and
``save_deferred()`` stores them as one transactional batch, so a turn costs one write request instead of three
(each Cosmos request is ~0.6 ms of the web process's CPU) and is stored whole or not at all.

A web process keeps each thread as it stored it at the end of a turn (``number_turn``), and the customer's next
turn, when this process serves it, starts from that copy instead of reading it: a click reads nothing before
answering. The copy is taken only for the turn numbered right after it, and that turn writes the thread on
condition of the copy's etag, so a write the numbering missed fails the turn (the customer tries again) instead of
being overwritten.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from azure.cosmos import PartitionKey
from azure.cosmos.aio import DatabaseProxy
from azure.cosmos.exceptions import CosmosResourceExistsError, CosmosResourceNotFoundError
from chatkit.store import NotFoundError, Store, StoreItemType, default_generate_id
from chatkit.types import Attachment, Page, ThreadItem, ThreadMetadata
from pydantic import TypeAdapter

from chat import ownership
from chat.context import ChatContext
from chat.limits import ThreadTurn
from customers import clock

CHAT_CONTAINER = "chat"
THREAD = "thread"
ITEM = "item"
ATTACHMENT = "attachment"

_items: TypeAdapter[Any] = TypeAdapter(ThreadItem)
_last_seq = 0
MAX_PAGE = 1000  # items in one page, whatever a client asks for
MAX_BATCH = 100  # operations in one transactional batch (the service's limit)
SEQ_STEP = 2048  # see _next_seq
_attachments: TypeAdapter[Any] = TypeAdapter(Attachment)
KEPT_THREADS = 1000  # threads a process keeps between their turns (a few KB each), the least recently used go


class _Unwritten:
    """A held item's data, not yet dumped: the stream serialises the item for the customer anyway, and the
    document takes those bytes (``serialized``) instead of walking the item a second time (a widget's dump is
    the dearest thing a turn does in Python: ChatKit drops empty fields at every node of it)."""

    __slots__ = ("item",)

    def __init__(self, item: ThreadItem) -> None:
        self.item = item

    def dumped(self) -> dict[str, Any]:
        return self.item.model_dump(mode="json")


@dataclass(frozen=True)
class _Kept:
    """A thread as this process stored it at the end of ``turn``, with the etag Cosmos gave that write."""

    turn: ThreadTurn
    etag: str
    json: str


_kept: OrderedDict[tuple[str, str], _Kept] = OrderedDict()  # (customer, thread id) -> the thread as stored


def _item_doc_id(thread_id: str, item_id: str) -> str:
    # Item ids are unique within a thread only; Cosmos ids must be unique within the partition.
    return f"{thread_id}:{item_id}"


SERIALIZED_TYPES = frozenset({"assistant_message", "widget"})


def _data(doc: dict[str, Any]) -> Any:
    """A document's data, dumped now if it was held undumped (``_Unwritten``)."""
    if isinstance(doc.get("data"), _Unwritten):
        doc["data"] = doc["data"].dumped()
    return doc["data"]


def _page(rows: list[Any], ids: list[str], after: str | None, limit: int) -> tuple[list[Any], bool, str | None]:
    """Rows after the one with id ``after`` (all when it is absent), at most ``limit``."""
    start = ids.index(after) + 1 if after in ids else 0
    window = rows[start : start + limit]
    has_more = start + limit < len(rows)
    return window, has_more, (ids[start + len(window) - 1] if window and has_more else None)


class CosmosChatStore(Store[ChatContext]):
    def __init__(self, database: DatabaseProxy) -> None:
        """Made per request: threads and items it has already read are remembered for that request only."""
        self.database = database
        self.container = database.get_container_client(CHAT_CONTAINER)
        self._seen: dict[tuple[str, str], str] = {}  # (customer, thread id) -> the thread as JSON
        self._seen_items: dict[tuple[str, str], dict[str, Any]] = {}  # (customer, document id) -> document
        self._deferred: dict[str, dict[str, Any]] | None = None  # document id -> document, while deferring
        self._deferred_failure: Exception | None = None
        self._held_json: dict[str, str] = {}  # thread id -> the held thread document's state as JSON
        self._saving = asyncio.Lock()  # a turn's saves land in the order they were made
        self._turn: tuple[str, ThreadTurn] | None = None  # (thread id, which of its turns this request is)
        self._guarded: dict[tuple[str, str], str] = {}  # (customer, thread id) -> etag its next write must match

    # --- a thread kept between its turns ----------------------------------------------------------
    def number_turn(self, thread_id: str, turn: ThreadTurn) -> None:
        """This request is ``turn`` of the thread (``chat.limits.admit_turn`` counts them in Redis).

        A copy this process stored at the end of the turn before is the thread as stored, and is used instead of
        reading it (one Cosmos read a click fewer). The turn's write of the thread is then made on condition that
        nobody wrote it since that copy (its etag): a writer the count missed (a turn let through while Redis was
        away) makes this turn fail and be tried again rather than be overwritten.
        """
        self._turn = (thread_id, turn)

    def _kept_copy(self, key: tuple[str, str]) -> _Kept | None:
        if self._turn is None or self._turn[0] != key[1]:
            return None
        kept = _kept.get(key)
        if kept is None or kept.turn != self._turn[1].previous():
            return None
        _kept.move_to_end(key)
        return kept

    def _stored(self, customer_id: str, thread_id: str, etag: str | None, json_text: str | None) -> None:
        """After a write of the thread (``etag``: the one Cosmos gave it; ``json_text``: its state as written): the
        etag its next write in this request must match, and the copy kept for the next turn."""
        key = (customer_id, thread_id)
        if key in self._guarded:
            if etag:
                self._guarded[key] = etag
            else:  # no new etag: a later write on the old one could only fail
                del self._guarded[key]
        if self._turn is not None and self._turn[0] == thread_id and etag and json_text is not None:
            _kept[key] = _Kept(self._turn[1], etag, json_text)
            _kept.move_to_end(key)
            while len(_kept) > KEPT_THREADS:
                _kept.popitem(last=False)
        else:
            _kept.pop(key, None)  # written outside a numbered turn: what this process kept is no longer the thread

    # --- one write for a turn -------------------------------------------------------------------
    def defer_writes(self) -> None:
        """From now on writes are held until ``save_deferred()``; reads see them (queries store them first)."""
        if self._deferred is None:
            self._deferred = {}

    async def save_deferred(self) -> None:
        """Store what is held, in batches of up to MAX_BATCH per customer's partition (a turn writes a handful).

        A failed save drops what was held and is raised again by every later call, so the end of the turn
        reports it even when an earlier save (a mirror's burst) met it first."""
        async with self._saving:
            if self._deferred_failure is not None:
                raise self._deferred_failure
            held = self._deferred or {}
            if self._deferred is not None:
                self._deferred = {}  # still deferring: what the turn writes next is held again
            # The threads' states as held now: the turn may save a thread again while this batch is on its way.
            states = {doc["id"]: self._held_json.get(doc["id"]) for doc in held.values() if doc["type"] == THREAD}
            by_partition: dict[str, list[dict[str, Any]]] = {}
            for doc in held.values():
                _data(doc)  # an item the stream did not hand its bytes for is dumped now
                by_partition.setdefault(doc["customer_id"], []).append(doc)
            try:
                for partition, docs in by_partition.items():
                    for start in range(0, len(docs), MAX_BATCH):
                        await self._batch(partition, docs[start : start + MAX_BATCH], states)
            except Exception as error:
                for doc in held.values():
                    if doc["type"] == THREAD:  # stored or not, a kept copy can no longer be trusted
                        _kept.pop((doc["customer_id"], doc["id"]), None)
                self._deferred_failure = error
                raise

    async def _batch(self, partition: str, docs: list[dict[str, Any]], states: dict[str, str | None]) -> None:
        """One transactional batch. A thread written on condition (``number_turn``) goes first: the local
        emulator applies the operations before a failing one (Cosmos DB applies none), so nothing is stored."""
        docs = sorted(docs, key=lambda doc: doc["type"] != THREAD or (partition, doc["id"]) not in self._guarded)
        operations: list[Any] = []
        for doc in docs:
            etag = self._guarded.get((partition, doc["id"])) if doc["type"] == THREAD else None
            operations.append(("upsert", (doc,), {"if_match_etag": etag}) if etag else ("upsert", (doc,)))
        results = await self.container.execute_item_batch(batch_operations=operations, partition_key=partition)
        for doc, result in zip(docs, results, strict=False):
            if doc["type"] == THREAD:
                etag = result.get("eTag") or (result.get("resourceBody") or {}).get("_etag")
                self._stored(partition, doc["id"], etag, states.get(doc["id"]))

    async def _upsert(self, doc: dict[str, Any]) -> None:
        if self._deferred is None:
            stored = await self.container.upsert_item(doc)
            if doc["type"] == THREAD:
                self._stored(doc["customer_id"], doc["id"], stored.get("_etag"), self._held_json.get(doc["id"]))
        else:
            self._deferred[doc["id"]] = doc

    async def _store_held(self) -> None:
        """Before a query or a delete: what the turn holds must be in the database for it to see or remove."""
        if self._deferred:
            await self.save_deferred()

    def generate_thread_id(self, context: ChatContext) -> str:
        return ownership.new_thread_id(context.customer_id)

    def generate_item_id(self, item_type: StoreItemType, thread: ThreadMetadata, context: ChatContext) -> str:
        prefix = default_generate_id(item_type).partition("_")[0]  # the library's prefixes: msg, wf, tsk...
        return ownership.new_item_id(prefix, thread.id)

    async def ensure_container(self) -> None:
        # Another process may create it between the SDK's read and its create.
        with contextlib.suppress(CosmosResourceExistsError):
            await self.database.create_container_if_not_exists(
                id=CHAT_CONTAINER, partition_key=PartitionKey(path="/customer_id")
            )

    async def _read(self, doc_id: str, context: ChatContext, doc_type: str) -> dict[str, Any]:
        try:
            doc = await self.container.read_item(item=doc_id, partition_key=context.customer_id)
        except CosmosResourceNotFoundError:
            raise NotFoundError(f"{doc_type} {doc_id} not found") from None
        if doc.get("type") != doc_type:
            raise NotFoundError(f"{doc_type} {doc_id} not found")
        return doc

    async def _query(self, query: str, context: ChatContext, **parameters: Any) -> list[dict[str, Any]]:
        await self._store_held()
        rows = self.container.query_items(
            query=query,
            parameters=[{"name": f"@{name}", "value": value} for name, value in parameters.items()],
            partition_key=context.customer_id,
        )
        return [row async for row in rows]

    async def _ordered_page(
        self,
        context: ChatContext,
        key: str,
        order_by: str,
        order: str,
        after: str | None,
        limit: int,
        where: str,
        **parameters: Any,
    ) -> tuple[list[dict[str, Any]], bool, str | None]:
        """One page of the customer's documents matching ``where``, in ``order_by`` order, after the one whose
        ``key`` is ``after``. Paged here because the local emulator has no OFFSET/LIMIT."""
        direction = "DESC" if order == "desc" else "ASC"
        rows = await self._query(
            f"SELECT c.{key}, c.data FROM c WHERE c.customer_id = @customer AND {where} "
            f"ORDER BY c.{order_by} {direction}",
            context,
            customer=context.customer_id,
            **parameters,
        )
        return _page(rows, [row[key] for row in rows], after, limit)

    # --- threads --------------------------------------------------------------------------------
    async def load_thread(self, thread_id: str, context: ChatContext) -> ThreadMetadata:
        key = (context.customer_id, thread_id)
        if key not in self._seen:
            kept = self._kept_copy(key)
            if kept is not None:
                self._seen[key] = kept.json
                self._guarded[key] = kept.etag
            else:
                doc = await self._read(thread_id, context, THREAD)
                self._seen[key] = json.dumps(doc["data"])
        # Each caller gets a thread of its own to change: parsed from JSON (pydantic-core) rather than deep-copied
        # (Python's copy module walking the return's state), several times cheaper.
        return ThreadMetadata.model_validate_json(self._seen[key])

    async def save_thread(self, thread: ThreadMetadata, context: ChatContext) -> None:
        state = thread.model_dump_json()
        self._held_json[thread.id] = state
        await self._upsert(
            {
                "id": thread.id,
                "type": THREAD,
                "customer_id": context.customer_id,
                "created_at": thread.created_at.isoformat(),
                "updated_at": clock.now().isoformat(),
                "data": thread.model_dump(mode="json"),
            }
        )
        self._seen[(context.customer_id, thread.id)] = state

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: ChatContext
    ) -> Page[ThreadMetadata]:
        window, has_more, next_after = await self._ordered_page(
            context, "id", "created_at", order, after, limit, "c.type = @type", type=THREAD
        )
        return Page(
            data=[ThreadMetadata.model_validate(row["data"]) for row in window], has_more=has_more, after=next_after
        )

    async def delete_thread(self, thread_id: str, context: ChatContext) -> None:
        await self._store_held()
        await self._read(thread_id, context, THREAD)
        rows = await self._query(
            "SELECT c.id FROM c WHERE c.customer_id = @customer AND c.thread_id = @thread",
            context,
            customer=context.customer_id,
            thread=thread_id,
        )
        for row in rows:
            await self.container.delete_item(row["id"], partition_key=context.customer_id)
        await self.container.delete_item(thread_id, partition_key=context.customer_id)
        self._seen.pop((context.customer_id, thread_id), None)
        _kept.pop((context.customer_id, thread_id), None)
        self._seen_items = {k: v for k, v in self._seen_items.items() if v.get("thread_id") != thread_id}

    # --- items ----------------------------------------------------------------------------------
    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: ChatContext
    ) -> Page[ThreadItem]:
        """One page of a thread's items, read with TOP from the position of ``after``: opening a long thread
        reads a page, not the whole thread (3,000 items took 13 s to open when every page read them all)."""
        await self.load_thread(thread_id, context)
        limit = max(1, min(int(limit), MAX_PAGE))
        descending = order == "desc"
        where = "c.customer_id = @customer AND c.type = @type AND c.thread_id = @thread"
        parameters: dict[str, Any] = {"customer": context.customer_id, "type": ITEM, "thread": thread_id}
        if after:
            try:
                parameters["seq"] = int((await self._item_document(thread_id, after, context))["seq"])
                where += f" AND c.seq {'<' if descending else '>'} @seq"
            except NotFoundError:
                pass  # an unknown cursor starts from the first page, as the library's memory store does
        rows = await self._query(
            f"SELECT TOP {limit + 1} c.item_id, c.data FROM c WHERE {where} "
            f"ORDER BY c.seq {'DESC' if descending else 'ASC'}",
            context,
            **parameters,
        )
        window, has_more = rows[:limit], len(rows) > limit
        return Page(
            data=[_items.validate_python(row["data"]) for row in window],
            has_more=has_more,
            after=window[-1]["item_id"] if window and has_more else None,
        )

    def _next_seq(self) -> int:
        """Nanoseconds since the epoch on a grid of SEQ_STEP, strictly increasing within this process.

        Cheaper than asking the database for the thread's last position (a query per item), and items of one
        thread are added by one request at a time, so clocks of different processes never interleave them.
        Cosmos keeps numbers as doubles, exact only to 256 ns at today's count of nanoseconds: on the grid, two
        positions never round to the same stored number (pages are cut at a position, so they must differ).
        """
        global _last_seq
        _last_seq = max(time.time_ns() // SEQ_STEP * SEQ_STEP, _last_seq + SEQ_STEP)
        return _last_seq

    async def _item_document(self, thread_id: str, item_id: str, context: ChatContext) -> dict[str, Any]:
        key = (context.customer_id, _item_doc_id(thread_id, item_id))
        if key not in self._seen_items:
            self._seen_items[key] = await self._read(key[1], context, ITEM)
        return self._seen_items[key]

    def serialized(self, item: ThreadItem, event_json: bytes) -> None:
        """``event_json``: a stream event carrying ``item``, as the customer is sent it. A held write of that very
        item takes its data from there. The customer's form leaves out empty fields (and attachments' metadata:
        only the assistant's messages and widgets are taken), which read back as the same item."""
        if self._deferred is None or item.type not in SERIALIZED_TYPES:
            return
        doc = self._deferred.get(_item_doc_id(item.thread_id, item.id))
        if doc is not None and isinstance(doc["data"], _Unwritten) and doc["data"].item is item:
            doc["data"] = json.loads(event_json)["item"]

    async def _write_item(self, thread_id: str, item: ThreadItem, seq: int, context: ChatContext) -> None:
        doc = {
            "id": _item_doc_id(thread_id, item.id),
            "type": ITEM,
            "customer_id": context.customer_id,
            "thread_id": thread_id,
            "item_id": item.id,
            "created_at": item.created_at.isoformat(),
            "seq": seq,
            "data": _Unwritten(item) if self._deferred is not None else item.model_dump(mode="json"),
        }
        await self._upsert(doc)
        self._seen_items[(context.customer_id, doc["id"])] = doc

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: ChatContext) -> None:
        await self.load_thread(thread_id, context)
        await self._write_item(thread_id, item, self._next_seq(), context)

    async def save_item(self, thread_id: str, item: ThreadItem, context: ChatContext) -> None:
        """Upsert: an existing item keeps its place in the thread."""
        await self.load_thread(thread_id, context)
        try:
            seq = int((await self._item_document(thread_id, item.id, context))["seq"])
        except NotFoundError:
            seq = self._next_seq()
        await self._write_item(thread_id, item, seq, context)

    async def load_item(self, thread_id: str, item_id: str, context: ChatContext) -> ThreadItem:
        return _items.validate_python(_data(await self._item_document(thread_id, item_id, context)))

    async def delete_thread_item(self, thread_id: str, item_id: str, context: ChatContext) -> None:
        await self._store_held()
        await self._item_document(thread_id, item_id, context)
        await self.container.delete_item(_item_doc_id(thread_id, item_id), partition_key=context.customer_id)
        self._seen_items.pop((context.customer_id, _item_doc_id(thread_id, item_id)), None)

    # --- attachments ----------------------------------------------------------------------------
    async def save_attachment(self, attachment: Attachment, context: ChatContext) -> None:
        await self._upsert(
            {
                "id": f"attachment:{attachment.id}",
                "type": ATTACHMENT,
                "customer_id": context.customer_id,
                "data": attachment.model_dump(mode="json"),
            }
        )

    async def load_attachment(self, attachment_id: str, context: ChatContext) -> Attachment:
        doc = await self._read(f"attachment:{attachment_id}", context, ATTACHMENT)
        return _attachments.validate_python(doc["data"])

    async def delete_attachment(self, attachment_id: str, context: ChatContext) -> None:
        await self._store_held()
        await self._read(f"attachment:{attachment_id}", context, ATTACHMENT)
        await self.container.delete_item(f"attachment:{attachment_id}", partition_key=context.customer_id)
