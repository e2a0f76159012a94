"""What the dashboard lists: conversations with their state, waiting time and proposals waiting."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from chat.conversations import CONVERSATION_BY_THREAD
from chat.models import (
    Attention,
    Conversation,
    ConversationMessage,
    ConversationMode,
    ConversationRead,
    ConversationStatus,
)
from customers.models import Proposal, ProposalState

FILTERS = ("all", "waiting", "mine", "escalated", "failed", "resolved")


def conversation_state(conversation: Conversation, pending: int) -> str:
    if conversation.closed_at:
        return "closed"
    if conversation.status == ConversationStatus.RESOLVED:
        return "resolved"
    if conversation.mode == ConversationMode.HUMAN:
        return "human"
    return "waiting" if pending or conversation.attention else "assistant"


def waiting_since(conversation: Conversation, oldest_pending: datetime | None) -> datetime | None:
    """Since when the customer has been waiting for us: a decision, a person they asked for, or an agent's answer."""
    if conversation.status == ConversationStatus.RESOLVED:
        return None
    since = [moment for moment in (oldest_pending, conversation.attention_since) if moment]
    customer_at, staff_at = conversation.last_customer_at, conversation.last_staff_at
    if conversation.mode == ConversationMode.HUMAN and customer_at and (not staff_at or staff_at < customer_at):
        since.append(customer_at)
    return min(since, default=None)


def conversation_row(
    conversation: Conversation, pending: int, oldest_pending: datetime | None, failed: int = 0, escalated: int = 0
) -> dict[str, Any]:
    since = waiting_since(conversation, oldest_pending)
    return {
        "thread_id": conversation.thread_id,
        "customer": {
            "id": conversation.customer_id,
            "name": conversation.customer_name or conversation.customer_id,
            "tier": conversation.customer_tier,
        },
        "mode": conversation.mode,
        "state": conversation_state(conversation, pending),
        "closed_by": "customer" if conversation.deleted_by_customer_at else None,
        "assigned_to": conversation.assigned_to.get_username() if conversation.assigned_to_id else None,
        "status": conversation.status,
        "attention": Attention(conversation.attention).label.lower() if conversation.attention else None,
        "resolved": _resolved(conversation),
        "proposals_waiting": pending,
        "commits_failed": failed,  # the supervisors' queue
        "escalated": escalated,  # proposals an agent asked a supervisor to decide
        "waiting_since": since.isoformat() if since else None,
        "last_customer_at": conversation.last_customer_at.isoformat() if conversation.last_customer_at else None,
        "last_message": conversation.last_message,
        "customer_messages": conversation.customer_messages,
        "email": conversation.customer_email,
    }


def _unread(conversation: Conversation, read_messages: int) -> dict[str, int]:
    """For the member of staff listing: how many of the customer's messages they have read, and not read."""
    return {"read_messages": read_messages, "unread": max(0, conversation.customer_messages - read_messages)}


def _resolved(conversation: Conversation) -> dict[str, Any] | None:
    if conversation.status != ConversationStatus.RESOLVED or not conversation.resolved_at:
        return None
    by = conversation.resolved_by
    return {
        "at": conversation.resolved_at.isoformat(),
        "by": (by.get_short_name() or by.get_username()) if by else None,
        "note": conversation.resolution_note,
    }


def _pending_by_thread(thread_ids: list[str]) -> dict[str, tuple[int, datetime | None, int, int]]:
    """Per thread: proposals waiting for review, the oldest one's time, commits that failed, and escalations.

    Counted here from the waiting and failed rows, which are few: Django took longer to build the SQL of four
    filtered aggregates than the rows take to count, and a dashboard row is rebuilt on most turns."""
    found: dict[str, tuple[int, datetime | None, int, int]] = {}
    rows = (
        Proposal.objects.filter(thread_id__in=thread_ids, state__in=(ProposalState.PROPOSED, ProposalState.FAILED))
        .order_by()
        .values_list("thread_id", "state", "created_at", "escalated_at")
    )
    for thread_id, state, created_at, escalated_at in rows:
        count, oldest, failed, escalated = found.get(thread_id, (0, None, 0, 0))
        if state == ProposalState.FAILED:
            failed += 1
        else:
            count, oldest = count + 1, min(oldest or created_at, created_at)
            escalated += escalated_at is not None
        found[thread_id] = (count, oldest, failed, escalated)
    return found


MAX_QUERY = 200


def matching(conversations: QuerySet[Conversation], query: str) -> QuerySet[Conversation]:
    """Conversations whose customer (name, email, id), order ids, return ids or typed messages contain ``query``."""
    query = query.strip()[:MAX_QUERY]
    if not query:
        return conversations
    by_return = Proposal.objects.filter(Q(return_id__iexact=query) | Q(order_id__icontains=query)).values("thread_id")
    by_words = ConversationMessage.objects.filter(text__icontains=query).values("thread_id")
    return conversations.filter(
        Q(customer_name__icontains=query)
        | Q(customer_email__icontains=query)
        | Q(customer_id__iexact=query)
        | Q(order_ids__icontains=query)
        | Q(thread_id__in=by_return)
        | Q(thread_id__in=by_words)
    )


def conversation_rows(user: Any, which: str = "all", limit: int = 200, query: str = "") -> list[dict[str, Any]]:
    conversations = Conversation.objects.select_related("assigned_to", "resolved_by").filter(closed_at__isnull=True)
    if query:  # a search looks through every conversation, resolved ones too
        which = "search" if which == "all" else which
        conversations = matching(conversations, query)
    if which == "resolved":
        conversations = conversations.filter(status=ConversationStatus.RESOLVED)
    elif which != "search":
        conversations = conversations.exclude(status=ConversationStatus.RESOLVED)
    if which == "mine":
        conversations = conversations.filter(assigned_to=user)
    elif which == "waiting":
        waiting_threads = Proposal.objects.filter(state=ProposalState.PROPOSED).values("thread_id")
        conversations = conversations.filter(
            Q(thread_id__in=waiting_threads) | Q(mode=ConversationMode.HUMAN) | ~Q(attention=Attention.NONE)
        )
    elif which == "escalated":
        conversations = conversations.filter(
            thread_id__in=Proposal.objects.filter(state=ProposalState.PROPOSED, escalated_at__isnull=False).values(
                "thread_id"
            )
        )
    elif which == "failed":
        conversations = conversations.filter(
            thread_id__in=Proposal.objects.filter(state=ProposalState.FAILED).values("thread_id")
        )
    chosen = list(conversations.order_by("-last_customer_at")[:limit])
    pending = _pending_by_thread([c.thread_id for c in chosen])
    read = dict(
        ConversationRead.objects.filter(user=user, thread_id__in=[c.thread_id for c in chosen]).values_list(
            "thread_id", "read_messages"
        )
    )
    rows = [
        {**conversation_row(c, *pending.get(c.thread_id, (0, None, 0, 0))), **_unread(c, read.get(c.thread_id, 0))}
        for c in chosen
    ]
    # The longest-waiting first, then the most recently active.
    return sorted(rows, key=lambda row: (row["waiting_since"] is None, row["waiting_since"] or ""))


def customer_conversations(customer_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """Every conversation of one customer, newest first: staff see a person with their history, as Intercom's
    and Zendesk's customer profiles do, not unrelated rows."""
    conversations = Conversation.objects.filter(customer_id=customer_id).order_by("-created_at")[:limit]
    return [
        {
            "thread_id": c.thread_id,
            "started_at": c.created_at.isoformat(),
            "last_customer_at": c.last_customer_at.isoformat() if c.last_customer_at else None,
            "last_message": c.last_message,
            "status": c.status,
            "closed": c.closed_at is not None,
        }
        for c in conversations
    ]


def row_for(thread_id: str) -> dict[str, Any] | None:
    try:
        # Not joined to the users: building that SQL costs more than the rare read of an assignee or resolver.
        conversation = CONVERSATION_BY_THREAD.get(thread_id)
    except Conversation.DoesNotExist:
        return None
    pending = _pending_by_thread([thread_id]).get(thread_id, (0, None, 0, 0))
    return conversation_row(conversation, *pending)
