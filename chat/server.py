"""The ChatKit server: the protocol is the library's; answers come from the assistant engine."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import sync_to_async
from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult
from chatkit.store import NotFoundError
from chatkit.types import (
    Action,
    ChatKitReq,
    ErrorEvent,
    FeedbackKind,
    ProgressUpdateEvent,
    ThreadCreatedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemReplacedEvent,
    ThreadMetadata,
    ThreadsCustomActionReq,
    ThreadsDeleteReq,
    ThreadStreamEvent,
    UserMessageItem,
    WidgetItem,
    is_streaming_req,
)
from django.conf import settings
from django.utils.translation import gettext as _
from pydantic import BaseModel, TypeAdapter

from chat.context import ChatContext
from chat.conversations import close_deleted_by_customer, thread_title
from chat.engine.flow import METADATA_KEY, Flow
from chat.engine.guided import GuidedEngine
from chat.engine.llm.engine import LLMEngine
from chat.mirror import TurnMirror
from chat.models import Feedback
from chat.signals import conversation_event
from chat.store import CosmosChatStore
from chat.turns import HeldClick, record_turn, turns_by_item
from chat.widgets import describe_click

logger = logging.getLogger(__name__)

# What staff dashboards mirror. Text deltas are left out: the items they build arrive whole in thread.item.done.
MIRRORED = (
    ThreadCreatedEvent,
    ThreadItemDoneEvent,
    ThreadItemReplacedEvent,
    ThreadItemRemovedEvent,
    ProgressUpdateEvent,
)


async def _reported(
    events: AsyncIterator[ThreadStreamEvent],
    engine: GuidedEngine | LLMEngine,
    thread: ThreadMetadata,
    context: ChatContext,
    mirror: TurnMirror | None,
    click: HeldClick | None = None,
) -> AsyncIterator[ThreadStreamEvent]:
    """Pass a turn's events through, then record which engine answered it (and the model's tool calls) and the
    step the return stands at after it, with the ``click`` that started it."""
    answered: list[str] = []
    before = Flow.load(thread.metadata).step if METADATA_KEY in thread.metadata else None
    async for event in events:
        if isinstance(event, ThreadItemDoneEvent) and event.item.type in ("assistant_message", "widget"):
            answered.append(event.item.id)
        yield event
    if answered:
        step = Flow.load(thread.metadata).step
        turn = await record_turn(
            thread.id, context.customer_id, answered, engine.report, step, moved=step != before, click=click
        )
        if mirror is not None:
            mirror.add(turn)
        else:
            await conversation_event.asend(
                sender=None, thread_id=thread.id, customer_id=context.customer_id, event=turn
            )


def assistant_engine(store: CosmosChatStore) -> GuidedEngine | LLMEngine:
    """ASSISTANT_ENGINE: the model (with the guided engine behind it), or the guided engine alone."""
    guided = GuidedEngine(store)
    return LLMEngine(store, guided) if settings.ASSISTANT_ENGINE == "llm" else guided


# Built once: the library builds this adapter on every call to process(), about 4 ms of CPU per request.
REQUEST_ADAPTER: TypeAdapter[Any] = TypeAdapter(ChatKitReq)


class ReturnsChatServer(ChatKitServer[ChatContext]):
    def __init__(self, store: CosmosChatStore) -> None:
        super().__init__(store)
        self.engine = assistant_engine(store)
        self.mirror: TurnMirror | None = None  # the streaming turn's events for the dashboards
        self.click: HeldClick | None = None  # the click that started this turn, stored with its record

    async def process_parsed(self, request: Any, context: ChatContext) -> StreamingResult | NonStreamingResult:
        """``process()`` for a request already parsed with ``REQUEST_ADAPTER`` (the view parses it to validate).

        Same dispatch as ChatKitServer.process in openai-chatkit 1.6.5 (pinned), without parsing twice.
        """
        if is_streaming_req(request):
            return StreamingResult(self._process_streaming(request, context))
        result = NonStreamingResult(await self._process_non_streaming(request, context))
        if isinstance(request, ThreadsDeleteReq):  # staff see it closed by the customer, and cannot act in it
            await close_deleted_by_customer(request.params.thread_id)
        return result

    def _serialize(self, obj: BaseModel) -> bytes:
        """The library's JSON for the customer; the stored item and the event the dashboards mirror are read back
        from the same bytes rather than dumped again (a widget is the dearest thing a turn serialises)."""
        data = super()._serialize(obj)
        if isinstance(obj, (ThreadItemDoneEvent, ThreadItemReplacedEvent)):
            self.store.serialized(obj.item, data)  # its held write takes these bytes too
        if self.mirror is not None and isinstance(obj, MIRRORED):
            self.mirror.add(json.loads(data))
        return data

    async def _process_streaming_impl(self, request: Any, context: ChatContext) -> AsyncIterator[ThreadStreamEvent]:
        """The library's stream, stored in one write at its end (CosmosChatStore.defer_writes), each event also
        announced for the staff dashboards once it is stored (in bursts: chat.mirror; the library serialises each
        event as it passes: ``_serialize``)."""
        thread_id = getattr(getattr(request, "params", None), "thread_id", None)
        self.store.defer_writes()
        try:
            async for event in self._dispatch(request, context):
                if isinstance(event, ThreadCreatedEvent):
                    thread_id = event.thread.id
                if thread_id and self.mirror is None:
                    self.mirror = TurnMirror(
                        thread_id,
                        context.customer_id,
                        before_announce=self._store_held,
                        live=self.engine.mirrored_live,
                    )
                yield event
            try:
                await self.store.save_deferred()
            except Exception:
                logger.exception("the turn in %s was not stored", thread_id)
                yield ErrorEvent(message=_("We could not save that step. Please try it again."), allow_retry=True)
        finally:
            await self._end_turn(thread_id)

    async def _store_held(self) -> None:
        """What the turn holds back is stored before the dashboards hear of it: its Cosmos writes, then its click
        (a turn that could not be stored leaves no click either: the customer is asked to try it again)."""
        await self.store.save_deferred()
        if self.click is not None:
            await self.click.store()

    async def _end_turn(self, thread_id: str | None) -> None:
        """A turn cut short (the customer left) keeps what it showed; then the dashboards are told what was
        stored, and nothing of a turn whose writes failed."""
        try:
            await self._store_held()
        except Exception:
            logger.warning("the turn in %s was not stored; its events are not mirrored", thread_id, exc_info=True)
            if self.mirror is not None:
                self.mirror.discard()
        if self.mirror is not None:
            await self.mirror.close()

    def _dispatch(self, request: Any, context: ChatContext) -> AsyncIterator[ThreadStreamEvent]:
        if isinstance(request, ThreadsCustomActionReq):
            return self._custom_action(request, context)
        return super()._process_streaming_impl(request, context)

    async def _custom_action(
        self, request: ThreadsCustomActionReq, context: ChatContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        """The library's custom action without reading the clicked widget (one Cosmos read a click): the view
        has checked its id is signed for this thread (chat/ownership.py), and the engine acts on the action's
        payload against the return's state, never on the sender."""
        thread = await self.store.load_thread(request.params.thread_id, context=context)
        async for event in self._process_events(
            thread, context, lambda: self.action(thread, request.params.action, None, context)
        ):
            yield event

    async def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: ChatContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        if thread.title is None and input_user_message is not None:
            # Saved with the turn's other thread changes (the library saves a thread that changed).
            said = " ".join(getattr(part, "text", "") for part in input_user_message.content)
            thread.title = thread_title(said) or None
        async for event in _reported(
            self.engine.respond(thread, input_user_message, context), self.engine, thread, context, self.mirror
        ):
            yield event

    async def action(
        self, thread: ThreadMetadata, action: Action[str, Any], sender: WidgetItem | None, context: ChatContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        payload = action.payload if isinstance(action.payload, dict) else {}
        self.click = HeldClick(thread.id, describe_click(action.type, payload))
        if self.mirror is not None:
            self.mirror.add(self.click.event)  # filled in once stored, before any burst leaves
        async for event in _reported(
            self.engine.action(thread, action.type, payload, context),
            self.engine,
            thread,
            context,
            self.mirror,
            self.click,
        ):
            yield event

    async def add_feedback(
        self, thread_id: str, item_ids: list[str], feedback: FeedbackKind, context: ChatContext
    ) -> None:
        """Stored with the words of the rated message and the engine that wrote them, so a reviewer sees what was
        rated without opening the conversation (the ids are the customer's own: read from their partition)."""
        words: list[str] = []
        for item_id in item_ids[:10]:
            try:
                item = await self.store.load_item(thread_id, item_id, context)
            except NotFoundError:
                continue
            words.extend(part.text for part in getattr(item, "content", []) if getattr(part, "text", None))
        turns = await sync_to_async(turns_by_item)(thread_id)
        engines = sorted({turns[item_id]["engine"] for item_id in item_ids if item_id in turns})
        await Feedback.objects.acreate(
            customer_id=context.customer_id,
            thread_id=thread_id,
            item_ids=item_ids,
            kind=str(feedback),
            message=" ".join(words)[:4000],
            engine=", ".join(engines)[:200],
        )
