"""Which engine answered each turn, and the tools the model called: recorded for staff, shown on the messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django.db import transaction

from chat.models import AssistantTurn, Conversation, ConversationMessage
from customers import clock

MAX_TOOL_CALLS = 20  # per turn, as stored and shown (a model that loops is cut by max_turns before this)


@dataclass
class TurnReport:
    engine: str
    fallback: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


class HeldClick:
    """What a click meant ("chose Store Credit"), for the staff transcript and search, stored with the record of
    the turn it starts (chat.turns.record_turn: one transaction and one trip to the database thread a click, not
    two), or on its own first when the dashboards are to hear of the turn sooner (``store``). It keeps the
    moment of the click. ``event`` is what the dashboards mirror: complete once the click is stored."""

    def __init__(self, thread_id: str, words: str) -> None:
        self.message = ConversationMessage(
            thread_id=thread_id, author=ConversationMessage.CLICK, text=words, created_at=clock.now()
        )
        self.event: dict[str, Any] = {}

    @property
    def stored(self) -> bool:
        return self.message.pk is not None

    def stored_now(self) -> None:
        """Called once the message is saved: the mirrored event gets its id."""
        self.event.update(self.message.as_event())

    async def store(self) -> None:
        if not self.stored:
            await self.message.asave()
            self.stored_now()


async def record_turn(
    thread_id: str,
    customer_id: str,
    item_ids: list[str],
    report: TurnReport,
    step: str = "",
    moved: bool = True,
    click: HeldClick | None = None,
) -> dict[str, Any]:
    """Store the turn, with where the return stood after it (``step``, a FlowStep); the event to tell the
    dashboards with, which show it under the assistant's messages. When the step ``moved`` (or the thread had
    none yet), the conversation's row is told too (one statement, for insights' stalls); a turn that leaves the
    return where it was costs nothing more. The ``click`` that started the turn, if not stored yet, is stored
    with it. All in one transaction and one trip to the database thread: every turn makes it."""
    turn = await sync_to_async(_store_turn)(thread_id, customer_id, item_ids, report, step[:40], moved, click)
    if click is not None and not click.event:
        click.stored_now()
    return {"type": "assistant.turn", "item_ids": item_ids, **turn.as_json()}


def _store_turn(
    thread_id: str,
    customer_id: str,
    item_ids: list[str],
    report: TurnReport,
    step: str,
    moved: bool,
    click: HeldClick | None,
) -> AssistantTurn:
    with transaction.atomic():
        if click is not None and not click.stored:
            click.message.save()
        turn = AssistantTurn.objects.create(
            thread_id=thread_id,
            customer_id=customer_id,
            engine=report.engine[:200],
            fallback=report.fallback[:200],
            tool_calls=report.tool_calls[:MAX_TOOL_CALLS],
            item_ids=item_ids,
            step=step,
        )
        if step and moved:
            Conversation.objects.filter(thread_id=thread_id).exclude(last_step=step).update(last_step=step)
    return turn


def turns_by_item(thread_id: str, limit: int = 500) -> dict[str, dict[str, Any]]:
    """Item id -> the turn that produced it, for a conversation's transcript."""
    found: dict[str, dict[str, Any]] = {}
    for turn in AssistantTurn.objects.filter(thread_id=thread_id).order_by("-created_at", "-id")[:limit]:
        for item_id in turn.item_ids:
            found.setdefault(item_id, turn.as_json())
    return found
