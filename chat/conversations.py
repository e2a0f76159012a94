"""Conversations as staff run them: the mode (assistant, copilot, human), take over and hand back, staff messages,
who has it (assignment), whether it is done (resolve, reopen) and whether it waits for a person (attention).

Each change is audited in the customers app's append-only log and announced (``conversation_changed``) so
dashboards update; what staff say is posted into the customer's thread and pushed to their page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async
from chatkit.store import NotFoundError as StoreNotFound
from chatkit.types import AssistantMessageContent, AssistantMessageItem
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import translation

from chat import ownership
from chat.models import (
    MAX_STAFF_MESSAGE,
    Attention,
    Conversation,
    ConversationMessage,
    ConversationMode,
    ConversationNote,
    ConversationRead,
    ConversationStatus,
)
from chat.push import post_to_thread
from chat.signals import conversation_changed, conversation_note
from chat.store import CosmosChatStore
from chat.turns import NEW_MESSAGE
from customers import clock
from customers.cosmos.runner import loop_repository
from customers.errors import InvalidRequest, NotFound, ReturnsError
from customers.lookups import UniqueLookup
from customers.models import AuditAction
from customers.services import audit
from customers.services.assessment import CustomerOverview
from customers.services.authority import require_supervisor

ACTIVITY_RESOLUTION = timedelta(seconds=30)
PREVIEW_CHARS = 200
TITLE_CHARS = 60


def thread_title(text: str) -> str:
    """A conversation's name in the customer's "Your conversations" list: what they first said, cut at a word
    so the list stays one line a conversation (as chat apps name a thread after its opening message)."""
    words = " ".join(text.split())
    words = words[:1].upper() + words[1:]
    if len(words) <= TITLE_CHARS:
        return words
    cut = words[: TITLE_CHARS - 1].rsplit(" ", 1)[0] or words[: TITLE_CHARS - 1]
    return f"{cut}…"


# Read on every turn (and for every dashboard row): its SQL is built once (customers.lookups).
CONVERSATION_BY_THREAD = UniqueLookup(Conversation, "thread_id")


# Who the customer is, for a conversation's row: read when the conversation is created (``note_customer_turn``).
Description = Callable[[], Awaitable[CustomerOverview]]


def _described(overview: CustomerOverview, known_order_ids: str = "") -> dict[str, str]:
    """Name, tier, email and order ids of the customer, as a conversation's row keeps them."""
    customer, order_ids = overview.customer, {line.order.order_id for line in overview.lines}
    return {
        "customer_name": customer.name,
        "customer_tier": str(customer.tier),
        "customer_email": customer.email,
        "order_ids": " ".join(sorted(order_ids)) or known_order_ids,
    }


def _note_said(thread_id: str, said: str | None) -> Conversation | None:
    """What the customer typed, stored; and the conversation, if it exists yet (one trip to the database thread)."""
    if said is not None:
        NEW_MESSAGE.insert(ConversationMessage(thread_id=thread_id, author="customer", text=said))
    try:
        return CONVERSATION_BY_THREAD.get(thread_id)
    except Conversation.DoesNotExist:
        return None


async def note_customer_turn(
    thread_id: str, customer_id: str, *, said: str | None = None, description: Description | None = None
) -> Conversation:
    """Record that the customer typed (``said``) or clicked now; creates the conversation on its first turn,
    described (``description``: who the customer is) so that dashboards hear of it once, whole.

    One read per turn. The time is written when it matters: always while an agent has the conversation (it
    starts the waiting clock), otherwise at most every ACTIVITY_RESOLUTION, which is all the list's ordering
    needs; every turn writing would make each turn queue on the database at busy times. As in Intercom or
    Zendesk, the customer's next turn reopens a resolved conversation, and what they type where an agent has
    been (human mode, or after a hand-back) puts it back in the waiting list as "needs reply".
    """
    now = clock.now()
    typed = said is not None
    if said is not None:
        said = " ".join(said.split())
    preview = {"last_message": said[:PREVIEW_CHARS], "customer_messages": F("customer_messages") + 1} if said else {}
    conversation = await sync_to_async(_note_said)(thread_id, said)
    language = translation.get_language() or ""
    if conversation is None:
        try:
            conversation = await Conversation.objects.acreate(
                thread_id=thread_id,
                customer_id=customer_id,
                language=language,
                last_customer_at=now,
                last_message=preview.get("last_message", ""),
                customer_messages=1 if said else 0,
                **(_described(await description()) if description is not None else {}),
            )
        except IntegrityError:  # the same thread's other tab got there first
            return await Conversation.objects.aget(thread_id=thread_id)
        await conversation_changed.asend(sender=Conversation, conversation=conversation, action="created")
        return conversation
    changes: dict[str, Any] = dict(preview)
    if language and conversation.language != language:
        changes["language"] = language
    action = "customer"
    if conversation.status == ConversationStatus.RESOLVED:
        changes["status"], action = ConversationStatus.REOPENED, "reopened"
    agent_was_here = conversation.mode == ConversationMode.HUMAN or conversation.handed_back_at is not None
    if typed and agent_was_here and not conversation.attention:
        changes.update(attention=Attention.NEEDS_REPLY, attention_since=now)
        action = "reopened" if action == "reopened" else "needs_reply"
    last = conversation.last_customer_at
    if (
        changes
        or conversation.mode == ConversationMode.HUMAN
        or conversation.closed_at
        or not last
        or now - last > ACTIVITY_RESOLUTION
    ):
        changes.update(last_customer_at=now, closed_at=None)
        await Conversation.objects.filter(pk=conversation.pk).aupdate(**changes)
        for field, value in changes.items():
            if field == "customer_messages":
                value = conversation.customer_messages + 1  # as stored, near enough: listeners read the row again
            setattr(conversation, field, value)
        await conversation_changed.asend(sender=Conversation, conversation=conversation, action=action)
    return conversation


async def ask_for_person(conversation: Conversation) -> None:
    """The customer asked for a person: the conversation joins the team's waiting list now, saying why."""
    if conversation.attention == Attention.ASKED_FOR_PERSON:
        return
    conversation.attention = Attention.ASKED_FOR_PERSON
    conversation.attention_since = conversation.attention_since or clock.now()
    await Conversation.objects.filter(pk=conversation.pk).aupdate(
        attention=conversation.attention, attention_since=conversation.attention_since
    )
    await conversation_changed.asend(sender=Conversation, conversation=conversation, action="asked_for_person")


async def describe_customer(conversation: Conversation, overview: CustomerOverview) -> None:
    """Name, tier, email and order ids for the dashboard's list and search, copied once from the system of record."""
    found = _described(overview, conversation.order_ids)
    if all(getattr(conversation, field) == value for field, value in found.items()):
        return
    for field, value in found.items():
        setattr(conversation, field, value)
    await Conversation.objects.filter(pk=conversation.pk).aupdate(**found)
    await conversation_changed.asend(sender=Conversation, conversation=conversation, action="described")


class ConversationDeleted(ReturnsError):
    """The customer deleted the conversation: staff can read what is left, not act in it."""

    code = "conversation_deleted"


def conversation_for_staff(thread_id: str) -> Conversation:
    """The conversation with its assigned agent, to act in (NotFound when there is none, ConversationDeleted
    when the customer deleted it)."""
    conversation = Conversation.objects.select_related("assigned_to").filter(thread_id=thread_id).first()
    if conversation is None:
        raise NotFound(f"Conversation {thread_id} does not exist.")
    if conversation.deleted_by_customer_at:
        raise ConversationDeleted(
            f"The customer deleted this conversation on {conversation.deleted_by_customer_at:%Y-%m-%d %H:%M} UTC: "
            "there is no one to answer there any more."
        )
    return conversation


async def close_deleted_by_customer(thread_id: str) -> None:
    """The customer deleted their thread: the conversation closes, marked as theirs, and dashboards hear it."""
    now = clock.now()
    conversation = await Conversation.objects.filter(thread_id=thread_id).afirst()
    if conversation is None or conversation.deleted_by_customer_at:
        return
    await Conversation.objects.filter(pk=conversation.pk).aupdate(deleted_by_customer_at=now, closed_at=now)
    conversation.deleted_by_customer_at = conversation.closed_at = now
    await conversation_changed.asend(sender=Conversation, conversation=conversation, action="deleted_by_customer")


def _state(conversation: Conversation) -> dict[str, Any]:
    return {
        "mode": conversation.mode,
        "assigned_to": conversation.assigned_to_id,
        "status": conversation.status,
        "attention": conversation.attention,
    }


CHANGED_FIELDS = (
    "mode",
    "assigned_to",
    "status",
    "resolved_at",
    "resolved_by",
    "resolution_note",
    "attention",
    "attention_since",
    "handed_back_at",
)


def _change(
    thread_id: str, user: Any, action: str, apply: Callable[[Conversation], None], note: str = ""
) -> Conversation:
    """Change a conversation as ``user``: audited in the same transaction, announced once it commits."""
    with transaction.atomic():
        conversation = conversation_for_staff(thread_id)
        before = _state(conversation)
        apply(conversation)
        conversation.save(update_fields=list(CHANGED_FIELDS))
        audit.record(
            action,
            user=user,
            thread_id=conversation.thread_id,
            customer_id=conversation.customer_id,
            before=before,
            after=_state(conversation),
            note=note,
        )
        transaction.on_commit(
            lambda: conversation_changed.send(sender=Conversation, conversation=conversation, action=str(action))
        )
    return conversation


def set_mode(thread_id: str, user: Any, mode: str, action: str = AuditAction.MODE) -> Conversation:
    if mode not in ConversationMode.values:
        raise InvalidRequest(f"mode must be one of: {', '.join(ConversationMode.values)}.")
    if mode == ConversationMode.ASSISTANT:  # the assistant then approves on its own, within the ceiling
        require_supervisor(user, "let the assistant approve returns on its own (assistant mode)")

    def apply(conversation: Conversation) -> None:
        conversation.mode = mode
        if mode == ConversationMode.HUMAN:
            conversation.assigned_to = user
        elif action == AuditAction.HAND_BACK:
            conversation.assigned_to = None
            conversation.handed_back_at = clock.now()
            _clear_attention(conversation)

    return _change(thread_id, user, action, apply)


def _clear_attention(conversation: Conversation) -> None:
    conversation.attention, conversation.attention_since = Attention.NONE, None


MAX_RESOLUTION_NOTE = 2000


def resolve(thread_id: str, user: Any, note: str = "") -> Conversation:
    """Done for now (Zendesk's "solved", Intercom's "closed"): off the open list until the customer writes again."""
    note = note.strip()
    if len(note) > MAX_RESOLUTION_NOTE:
        raise InvalidRequest(f"The note is limited to {MAX_RESOLUTION_NOTE} characters.")

    def apply(conversation: Conversation) -> None:
        if conversation.status == ConversationStatus.RESOLVED:
            raise InvalidRequest("This conversation is already resolved.")
        conversation.status = ConversationStatus.RESOLVED
        conversation.resolved_at, conversation.resolved_by, conversation.resolution_note = clock.now(), user, note
        _clear_attention(conversation)

    return _change(thread_id, user, AuditAction.RESOLVE, apply, note)


def reopen(thread_id: str, user: Any) -> Conversation:
    def apply(conversation: Conversation) -> None:
        if conversation.status != ConversationStatus.RESOLVED:
            raise InvalidRequest("Only a resolved conversation can be reopened.")
        conversation.status = ConversationStatus.REOPENED

    return _change(thread_id, user, AuditAction.REOPEN, apply)


def assign(thread_id: str, user: Any, username: str | None) -> Conversation:
    """Give the conversation to a member of staff (``None``: to nobody). It shows under their "Mine"."""
    assignee = None
    if username is not None:
        assignee = get_user_model().objects.filter(username=username, is_active=True, is_staff=True).first()
        if assignee is None:
            raise InvalidRequest(f"No active member of staff is called {username!r}.")

    def apply(conversation: Conversation) -> None:
        conversation.assigned_to = assignee

    return _change(thread_id, user, AuditAction.ASSIGN, apply, note=username or "")


def take_over(thread_id: str, user: Any) -> Conversation:
    """The assistant stops answering; the agent's messages reach the customer live."""
    return set_mode(thread_id, user, ConversationMode.HUMAN, AuditAction.TAKE_OVER)


def hand_back(thread_id: str, user: Any) -> Conversation:
    """The assistant answers again, proposals still needing approval (copilot)."""
    return set_mode(thread_id, user, ConversationMode.COPILOT, AuditAction.HAND_BACK)


def add_note(thread_id: str, user: Any, text: str) -> ConversationNote:
    """An internal note for the team, in the conversation's transcript for staff only; audited and announced
    (``conversation_note``) to the dashboards that have the conversation open."""
    text = text.strip()
    if not text:
        raise InvalidRequest("The note is empty.")
    if len(text) > MAX_STAFF_MESSAGE:
        raise InvalidRequest(f"Notes are limited to {MAX_STAFF_MESSAGE} characters.")
    with transaction.atomic():
        conversation = Conversation.objects.filter(thread_id=thread_id).first()
        if conversation is None:
            raise NotFound(f"Conversation {thread_id} does not exist.")
        note = ConversationNote.objects.create(thread_id=thread_id, author=user, text=text)
        audit.record(AuditAction.NOTE, user=user, thread_id=thread_id, customer_id=conversation.customer_id, note=text)
        transaction.on_commit(lambda: conversation_note.send(sender=ConversationNote, note=note))
    return note


STAFF_ITEM_PREFIX = "staff"  # item ids of what an agent types: pages show those messages as the agent's


def mark_read(thread_id: str, user: Any) -> int:
    """``user`` has read the conversation up to now; returns the customer message count they have read."""
    conversation = Conversation.objects.filter(thread_id=thread_id).only("customer_messages").first()
    if conversation is None:
        raise NotFound(f"Conversation {thread_id} does not exist.")
    ConversationRead.objects.update_or_create(
        user=user, thread_id=thread_id, defaults={"read_messages": conversation.customer_messages}
    )
    return conversation.customer_messages


def staff_display_name(user: Any) -> str:
    """What a customer sees of an agent: their first name (set in admin), never their login name."""
    return (user.get_short_name() or "").strip() or TEAM_NAME


TEAM_NAME = "Support team"  # an agent with no first name set


def joined_line(user: Any) -> str:
    """What the customer reads when an agent takes the conversation over."""
    name = staff_display_name(user)
    return (
        "You're now chatting with our support team."
        if name == TEAM_NAME
        else (f"You're now chatting with {name} from our support team.")
    )


async def _post_text(conversation: Conversation, text: str, prefix: str = "msg") -> AssistantMessageItem:
    item = AssistantMessageItem(
        id=ownership.new_item_id(prefix, conversation.thread_id),
        thread_id=conversation.thread_id,
        created_at=clock.now(),
        content=[AssistantMessageContent(text=text)],
    )
    repo = await loop_repository()
    try:
        await post_to_thread(CosmosChatStore(repo.database), conversation.customer_id, conversation.thread_id, item)
    except StoreNotFound:
        await close_deleted_by_customer(conversation.thread_id)
        raise ConversationDeleted("The customer deleted this conversation: there is no one to answer there.") from None
    return item


async def post_staff_note(thread_id: str, text: str) -> AssistantMessageItem:
    """A line from the support team as a whole (someone joined, the assistant is back)."""
    return await _post_text(await sync_to_async(conversation_for_staff)(thread_id), text)


async def post_staff_message(thread_id: str, user: Any, text: str) -> AssistantMessageItem:
    """What an agent types, in the customer's conversation (stored, then pushed to their page)."""
    text = text.strip()
    if not text:
        raise InvalidRequest("The message is empty.")
    if len(text) > MAX_STAFF_MESSAGE:
        raise InvalidRequest(f"Messages are limited to {MAX_STAFF_MESSAGE} characters.")
    conversation = await sync_to_async(conversation_for_staff)(thread_id)
    item = await _post_text(conversation, f"{staff_display_name(user)}: {text}", STAFF_ITEM_PREFIX)
    await ConversationMessage.objects.acreate(thread_id=conversation.thread_id, author="staff", text=text)
    conversation.last_message = f"{staff_display_name(user)}: {text}"[:PREVIEW_CHARS]
    await Conversation.objects.filter(pk=conversation.pk).aupdate(
        last_staff_at=clock.now(),
        attention=Attention.NONE,
        attention_since=None,
        last_message=conversation.last_message,
    )
    _clear_attention(conversation)
    await sync_to_async(audit.record)(
        AuditAction.MESSAGE,
        user=user,
        thread_id=conversation.thread_id,
        customer_id=conversation.customer_id,
        before={},
        after={},
        note=text,
    )
    conversation.last_staff_at = clock.now()
    await conversation_changed.asend(sender=Conversation, conversation=conversation, action="staff_message")
    return item
