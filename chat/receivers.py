"""The chat app's listeners to what the customers app announces."""

from __future__ import annotations

from typing import Any

from chat.models import Conversation
from customers.models import Proposal
from customers.signals import proposal_changed, proposal_filed

# Decisions and their outcome are told as they happen; lifecycle steps are shown when the customer asks.
# A retried commit is not told again (the customer heard "approved" once), nor is a second failure.
TOLD_ACTIONS = {"approved", "rejected", "committed", "failed", "closed", "cancelled", "offered"}


def _tell_customer(sender: Any, proposal: Proposal, action: str, **_: Any) -> None:
    from chat.tasks import tell_customer_task

    if action in TOLD_ACTIONS:
        tell_customer_task.delay(proposal.pk, proposal.state)


async def _note_return_filed(sender: Any, proposal: Proposal, **_: Any) -> None:
    """The conversation ended with a return (insights' outcomes read it from the row)."""
    await Conversation.objects.filter(thread_id=proposal.thread_id, return_filed_at__isnull=True).aupdate(
        return_filed_at=proposal.created_at
    )


def connect() -> None:
    proposal_changed.connect(_tell_customer, dispatch_uid="chat.tell_customer")
    proposal_filed.connect(_note_return_filed, dispatch_uid="chat.note_return_filed")
