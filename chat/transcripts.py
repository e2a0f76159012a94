"""A conversation read a page at a time, newest first, for staff: opening a long thread reads one page."""

from __future__ import annotations

from dataclasses import dataclass

from chatkit.store import NotFoundError as StoreNotFound
from chatkit.types import ThreadItem

from chat.context import ChatContext
from chat.store import CosmosChatStore
from customers.cosmos.runner import loop_repository

PAGE_ITEMS = 50


@dataclass(frozen=True)
class TranscriptPage:
    items: list[ThreadItem]  # oldest first, as they are shown
    earlier: str | None  # cursor for the page before these, None at the start of the conversation


async def latest_items(
    customer_id: str, thread_id: str, *, before: str | None = None, limit: int = PAGE_ITEMS
) -> TranscriptPage:
    """The ``limit`` items before the item ``before`` (the newest when None). A conversation the customer
    deleted reads as empty: what they said went with it."""
    repo = await loop_repository()
    store = CosmosChatStore(repo.database)
    try:
        page = await store.load_thread_items(
            thread_id, before, limit, "desc", ChatContext(customer_id=customer_id, order_id="")
        )
    except StoreNotFound:
        return TranscriptPage([], None)
    return TranscriptPage(list(reversed(page.data)), page.after)
