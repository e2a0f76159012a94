"""Which engine answered each turn, and the tools the model called: recorded for staff, shown on the messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connections, router, transaction

from chat.models import AssistantTurn, Conversation, ConversationMessage
from customers import clock
from customers.inserts import PreparedInsert

MAX_TOOL_CALLS = 20  # per turn, as stored and shown (a model that loops is cut by max_turns before this)
# Every turn stores its record, and every click what it meant: their INSERTs are built once (customers.inserts).
NEW_TURN = PreparedInsert(AssistantTurn)
NEW_MESSAGE = PreparedInsert(ConversationMessage)


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
            NEW_MESSAGE.insert(click.message)
        turn = NEW_TURN.insert(
            AssistantTurn(
                thread_id=thread_id,
                customer_id=customer_id,
                engine=report.engine[:200],
                fallback=report.fallback[:200],
                tool_calls=report.tool_calls[:MAX_TOOL_CALLS],
                item_ids=item_ids,
                step=step,
            )
        )
        if step and moved:
            _note_step(thread_id, step)
    return turn


def _note_step(thread_id: str, step: str) -> None:
    """The conversation's row says where its return stopped (insights' stalls), changed only when it moved.
    Written out rather than built by the ORM: it runs on most clicks, and Django took ~8x longer to build it
    than SQLite to run it (both columns are NOT NULL, so ``<>`` is the ORM's ``exclude``)."""
    connection = connections[router.db_for_write(Conversation)]
    name, meta = connection.ops.quote_name, Conversation._meta
    step_column, thread_column = (name(meta.get_field(field).column) for field in ("last_step", "thread_id"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {name(meta.db_table)} SET {step_column} = %s WHERE {thread_column} = %s AND {step_column} <> %s",
            [step, thread_id, step],
        )


def turns_by_item(thread_id: str, limit: int = 500) -> dict[str, dict[str, Any]]:
    """Item id -> the turn that produced it, for a conversation's transcript."""
    found: dict[str, dict[str, Any]] = {}
    for turn in AssistantTurn.objects.filter(thread_id=thread_id).order_by("-created_at", "-id")[:limit]:
        for item_id in turn.item_ids:
            found.setdefault(item_id, turn.as_json())
    return found
