"""Which engine answered each turn, and the tools the model called: recorded for staff, shown on the messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async

from chat.models import AssistantTurn, Conversation

MAX_TOOL_CALLS = 20  # per turn, as stored and shown (a model that loops is cut by max_turns before this)


@dataclass
class TurnReport:
    engine: str
    fallback: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


async def record_turn(
    thread_id: str, customer_id: str, item_ids: list[str], report: TurnReport, step: str = "", moved: bool = True
) -> dict[str, Any]:
    """Store the turn, with where the return stood after it (``step``, a FlowStep); the event to tell the
    dashboards with, which show it under the assistant's messages. When the step ``moved`` (or the thread had
    none yet), the conversation's row is told too (one statement, for insights' stalls); a turn that leaves the
    return where it was costs nothing more. Both in one trip to the database thread: every turn makes it."""
    turn = await sync_to_async(_store_turn)(thread_id, customer_id, item_ids, report, step[:40], moved)
    return {"type": "assistant.turn", "item_ids": item_ids, **turn.as_json()}


def _store_turn(
    thread_id: str, customer_id: str, item_ids: list[str], report: TurnReport, step: str, moved: bool
) -> AssistantTurn:
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
