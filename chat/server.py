"""The ChatKit server: the protocol is the library's; answers come from the assistant engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from chatkit.server import ChatKitServer
from chatkit.types import Action, FeedbackKind, ThreadMetadata, ThreadStreamEvent, UserMessageItem, WidgetItem

from chat.context import ChatContext
from chat.engine.guided import GuidedEngine
from chat.models import Feedback
from chat.store import CosmosChatStore


class ReturnsChatServer(ChatKitServer[ChatContext]):
    def __init__(self, store: CosmosChatStore) -> None:
        super().__init__(store)
        self.engine = GuidedEngine(store)

    async def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: ChatContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        async for event in self.engine.respond(thread, input_user_message, context):
            yield event

    async def action(
        self, thread: ThreadMetadata, action: Action[str, Any], sender: WidgetItem | None, context: ChatContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        payload = action.payload if isinstance(action.payload, dict) else {}
        async for event in self.engine.action(thread, action.type, payload, context):
            yield event

    async def add_feedback(
        self, thread_id: str, item_ids: list[str], feedback: FeedbackKind, context: ChatContext
    ) -> None:
        await Feedback.objects.acreate(
            customer_id=context.customer_id, thread_id=thread_id, item_ids=item_ids, kind=str(feedback)
        )
