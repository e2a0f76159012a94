"""The console listens to the apps below it and turns what they announce into numbered live events."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import sync_to_async
from redis.exceptions import RedisError

from chat.models import Conversation
from chat.signals import conversation_changed, conversation_event
from customers.models import Proposal
from customers.signals import proposal_changed, proposal_filed
from returns_console.console import events
from returns_console.console.selectors import row_for
from returns_console.console.serializers import proposal_json

logger = logging.getLogger(__name__)


async def _publish(conversation: str, event: dict[str, Any]) -> None:
    """The customer's conversation must go on if the feed cannot: a dashboard reloads what it opens."""
    try:
        await events.publish(conversation, event)
    except (RedisError, OSError):
        logger.exception("console feed unavailable; a %s event of %s was not mirrored", event["kind"], conversation)


async def _chat_event(sender: Any, thread_id: str, customer_id: str, event: dict[str, Any], **_: Any) -> None:
    await _publish(thread_id, {"kind": "chat", "event": event})


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
    fresh = Proposal.objects.select_related("decided_by", "decided_by_rule").get(pk=proposal.pk)
    events.publish_sync(
        proposal.thread_id,
        {"kind": "proposal", "action": action, "proposal": proposal_json(fresh), "row": row_for(proposal.thread_id)},
    )


def connect() -> None:
    conversation_event.connect(_chat_event, dispatch_uid="console.chat_event")
    conversation_changed.connect(_conversation_changed, dispatch_uid="console.conversation_changed")
    proposal_changed.connect(_proposal_changed, dispatch_uid="console.proposal_changed")
    proposal_filed.connect(_proposal_filed, dispatch_uid="console.proposal_filed")
