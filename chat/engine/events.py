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


class Emitter:
    """Makes items for one thread with ids from the store, so they are stored under the ids the client saw."""

    def __init__(self, store: Store[ChatContext], thread: ThreadMetadata, context: ChatContext) -> None:
        self.store = store
        self.thread = thread
        self.context = context

    def progress(self, text: str) -> ProgressUpdateEvent:
        return ProgressUpdateEvent(text=text)

    async def say(self, text: str) -> AsyncIterator[ThreadStreamEvent]:
        """Stream text word by word, as a model would, so the page renders it as it arrives."""
        item = AssistantMessageItem(
            id=self.store.generate_item_id("message", self.thread, self.context),
            thread_id=self.thread.id,
            created_at=clock.now(),
            content=[AssistantMessageContent(text="")],
        )
        yield ThreadItemAddedEvent(item=item)
        for chunk in re.findall(r"\S+\s*|\s+", text):
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
