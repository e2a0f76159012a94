"""Conversations as staff run them: the mode (assistant, copilot, human), take over and hand back, staff messages.

Each change is audited in the customers app's append-only log and announced (``conversation_changed``) so
dashboards update; what staff say is posted into the customer's thread and pushed to their page.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async
from chatkit.store import NotFoundError as StoreNotFound
from chatkit.types import AssistantMessageContent, AssistantMessageItem
from django.db import IntegrityError, transaction

from chat import ownership
from chat.models import MAX_STAFF_MESSAGE, Conversation, ConversationMode
from chat.push import post_to_thread
from chat.signals import conversation_changed
from chat.store import CosmosChatStore
from customers import clock
from customers.cosmos.runner import loop_repository
from customers.domain import Customer
from customers.errors import InvalidRequest, NotFound, ReturnsError
from customers.models import AuditAction
from customers.services import audit
from customers.services.authority import require_supervisor

ACTIVITY_RESOLUTION = timedelta(seconds=30)


async def note_customer_turn(thread_id: str, customer_id: str) -> Conversation:
    """Record that the customer spoke (or clicked) now; creates the conversation on its first turn.

    One read per turn. The time is written when it matters: always while an agent has the conversation (it
    starts the waiting clock), otherwise at most every ACTIVITY_RESOLUTION, which is all the list's ordering
    needs; every turn writing would make each turn queue on the database at busy times.
    """
    now = clock.now()
    conversation = await Conversation.objects.filter(thread_id=thread_id).afirst()
    if conversation is None:
        try:
            conversation = await Conversation.objects.acreate(
                thread_id=thread_id, customer_id=customer_id, last_customer_at=now
            )
        except IntegrityError:  # the same thread's other tab got there first
            return await Conversation.objects.aget(thread_id=thread_id)
        await conversation_changed.asend(sender=Conversation, conversation=conversation, action="created")
        return conversation
    last = conversation.last_customer_at
    if (
        conversation.mode == ConversationMode.HUMAN
        or conversation.closed_at
        or not last
        or now - last > ACTIVITY_RESOLUTION
    ):
        await Conversation.objects.filter(pk=conversation.pk).aupdate(last_customer_at=now, closed_at=None)
        conversation.last_customer_at, conversation.closed_at = now, None
        await conversation_changed.asend(sender=Conversation, conversation=conversation, action="customer")
    return conversation


async def describe_customer(conversation: Conversation, customer: Customer) -> None:
    """Name and tier for the dashboard's list, copied once from the system of record."""
    if conversation.customer_name == customer.name and conversation.customer_tier == str(customer.tier):
        return
    conversation.customer_name, conversation.customer_tier = customer.name, str(customer.tier)
    await Conversation.objects.filter(pk=conversation.pk).aupdate(
        customer_name=customer.name, customer_tier=str(customer.tier)
    )
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
    return {"mode": conversation.mode, "assigned_to": conversation.assigned_to_id}


@transaction.atomic
def set_mode(thread_id: str, user: Any, mode: str, action: str = AuditAction.MODE) -> Conversation:
    if mode not in ConversationMode.values:
        raise InvalidRequest(f"mode must be one of: {', '.join(ConversationMode.values)}.")
    if mode == ConversationMode.ASSISTANT:  # the assistant then approves on its own, within the ceiling
        require_supervisor(user, "let the assistant approve returns on its own (assistant mode)")
    conversation = conversation_for_staff(thread_id)
    before = _state(conversation)
    conversation.mode = mode
    if mode == ConversationMode.HUMAN:
        conversation.assigned_to = user
    elif action == AuditAction.HAND_BACK:
        conversation.assigned_to = None
    conversation.save(update_fields=["mode", "assigned_to"])
    audit.record(
        action,
        user=user,
        thread_id=conversation.thread_id,
        customer_id=conversation.customer_id,
        before=before,
        after=_state(conversation),
    )
    transaction.on_commit(
        lambda: conversation_changed.send(sender=Conversation, conversation=conversation, action=str(action))
    )
    return conversation


def take_over(thread_id: str, user: Any) -> Conversation:
    """The assistant stops answering; the agent's messages reach the customer live."""
    return set_mode(thread_id, user, ConversationMode.HUMAN, AuditAction.TAKE_OVER)


def hand_back(thread_id: str, user: Any) -> Conversation:
    """The assistant answers again, proposals still needing approval (copilot)."""
    return set_mode(thread_id, user, ConversationMode.COPILOT, AuditAction.HAND_BACK)


def staff_display_name(user: Any) -> str:
    return user.get_short_name() or user.get_username()


async def _post_text(conversation: Conversation, text: str) -> AssistantMessageItem:
    item = AssistantMessageItem(
        id=ownership.new_item_id("msg", conversation.thread_id),
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
    item = await _post_text(conversation, f"{staff_display_name(user)} (support): {text}")
    await Conversation.objects.filter(pk=conversation.pk).aupdate(last_staff_at=clock.now())
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
