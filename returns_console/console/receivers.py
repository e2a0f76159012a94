"""The console listens to the apps below it and turns what they announce into numbered live events."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_save
from redis.exceptions import RedisError

from chat.models import Conversation, ConversationNote
from chat.signals import conversation_changed, conversation_event, conversation_events, conversation_note
from chat.sockets import end_sockets, session_group, user_group
from customers.models import Proposal
from customers.services import decisions
from customers.signals import proposal_changed, proposal_filed
from returns_console.console import events
from returns_console.console.selectors import row_for
from returns_console.console.serializers import proposal_json

logger = logging.getLogger(__name__)


async def _publish(conversation: str, event: dict[str, Any]) -> None:
    await _publish_many(conversation, [event])


async def _publish_many(conversation: str, burst: list[dict[str, Any]]) -> None:
    """The customer's conversation must go on if the feed cannot: a dashboard reloads what it opens."""
    try:
        await events.publish_many(conversation, burst)
    except (RedisError, OSError):
        logger.exception("console feed unavailable; %d events of %s were not mirrored", len(burst), conversation)


async def _chat_event(sender: Any, thread_id: str, customer_id: str, event: dict[str, Any], **_: Any) -> None:
    await _publish(thread_id, {"kind": "chat", "event": event})


async def _chat_events(sender: Any, thread_id: str, customer_id: str, events: list[dict[str, Any]], **_: Any) -> None:
    await _publish_many(thread_id, [{"kind": "chat", "event": event} for event in events])


async def _conversation_changed(sender: Any, conversation: Conversation, action: str, **_: Any) -> None:
    row = await sync_to_async(row_for)(conversation.thread_id)
    if row is not None:
        await _publish(conversation.thread_id, {"kind": "conversation", "action": action, "row": row})


async def _proposal_filed(sender: Any, proposal: Proposal, **_: Any) -> None:
    row = await sync_to_async(row_for)(proposal.thread_id)
    await _publish(
        proposal.thread_id, {"kind": "proposal", "action": "filed", "proposal": proposal_json(proposal), "row": row}
    )


def _proposal_changed(sender: Any, proposal: Proposal, action: str, **_: Any) -> None:
    """Sent from sync code (API views, the worker) after the change committed."""
    fresh = decisions.load(proposal.pk)
    event = {"kind": "proposal", "action": action, "proposal": proposal_json(fresh)}
    if action != "overlap":  # a link between two requests changes nothing on the conversation's row
        event["row"] = row_for(proposal.thread_id)
    events.publish_sync(proposal.thread_id, event)


def _note_written(sender: Any, note: ConversationNote, **_: Any) -> None:
    try:
        events.publish_sync(note.thread_id, {"kind": "note", "note": note.as_json()})
    except (RedisError, OSError):  # the note is kept: dashboards read it when they open the conversation
        logger.exception("console feed unavailable; a note in %s was not mirrored", note.thread_id)


def _end_sockets(group: str) -> None:
    try:
        async_to_sync(end_sockets)(group)
    except (RedisError, OSError):
        logger.exception("could not close the sockets of %s", group)


def _logged_out(sender: Any, request: Any, user: Any, **_: Any) -> None:
    """Signing out closes the dashboards opened with that session, at once."""
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        _end_sockets(session_group(session_key))


def _account_saved(sender: Any, instance: Any, created: bool, **_: Any) -> None:
    """An account made inactive, or no longer staff, loses its open dashboards at once."""
    if not created and not (instance.is_active and instance.is_staff):
        transaction.on_commit(lambda: _end_sockets(user_group(instance.pk)))


def connect() -> None:
    user_logged_out.connect(_logged_out, dispatch_uid="console.logged_out")
    post_save.connect(_account_saved, sender=get_user_model(), dispatch_uid="console.account_saved")
    conversation_event.connect(_chat_event, dispatch_uid="console.chat_event")
    conversation_events.connect(_chat_events, dispatch_uid="console.chat_events")
    conversation_changed.connect(_conversation_changed, dispatch_uid="console.conversation_changed")
    proposal_changed.connect(_proposal_changed, dispatch_uid="console.proposal_changed")
    proposal_filed.connect(_proposal_filed, dispatch_uid="console.proposal_filed")
    conversation_note.connect(_note_written, dispatch_uid="console.note_written")
