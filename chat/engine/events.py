"""Building ChatKit thread events: streamed assistant text, widgets, progress."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from chatkit.store import Store
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    ProgressUpdateEvent,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    WidgetItem,
)
from chatkit.widgets import WidgetRoot

from chat.context import ChatContext
from customers import clock

DELTA_CHARS = 16  # a delta ends at the first word boundary past this many characters


def phrases(text: str) -> list[str]:
    """``text`` in pieces of a few words, joined back exactly. Word by word, a guided answer was ~15 events, each
    built, checked by the library against the thread, serialised, mirrored and parsed by the page (chat.streaming
    has them leave in one write; this has fewer to make at all)."""
    pieces: list[str] = []
    current = ""
    for word in re.findall(r"\S+\s*|\s+", text):
        current += word
        if len(current) >= DELTA_CHARS:
            pieces.append(current)
            current = ""
    if current:
        pieces.append(current)
    return pieces


class Emitter:
    """Makes items for one thread with ids from the store, so they are stored under the ids the client saw."""

    def __init__(self, store: Store[ChatContext], thread: ThreadMetadata, context: ChatContext) -> None:
        self.store = store
        self.thread = thread
        self.context = context

    def progress(self, text: str) -> ProgressUpdateEvent:
        return ProgressUpdateEvent(text=text)

    async def say(self, text: str) -> AsyncIterator[ThreadStreamEvent]:
        """Stream text in pieces of a few words, as a model streams tokens, so the page renders it as it arrives."""
        item = AssistantMessageItem(
            id=self.store.generate_item_id("message", self.thread, self.context),
            thread_id=self.thread.id,
            created_at=clock.now(),
            content=[AssistantMessageContent(text="")],
        )
        yield ThreadItemAddedEvent(item=item)
        for chunk in phrases(text):
            yield ThreadItemUpdatedEvent(
                item_id=item.id, update=AssistantMessageContentPartTextDelta(content_index=0, delta=chunk)
            )
        done = item.model_copy(update={"content": [AssistantMessageContent(text=text)]})
        yield ThreadItemDoneEvent(item=done)

    def widget(self, widget: WidgetRoot, copy_text: str) -> ThreadItemDoneEvent:
        item = WidgetItem(
            id=self.store.generate_item_id("message", self.thread, self.context),
            thread_id=self.thread.id,
            created_at=clock.now(),
            widget=widget,
            copy_text=copy_text,
        )
        return ThreadItemDoneEvent(item=item)
