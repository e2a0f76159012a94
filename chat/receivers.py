"""The chat app's listeners to what the customers app announces."""

from __future__ import annotations

import logging
from typing import Any

from celery._state import get_current_worker_task

from chat.models import Conversation
from customers.models import Proposal
from customers.signals import proposal_changed, proposal_filed

logger = logging.getLogger(__name__)

# Decisions and their outcome are told as they happen; lifecycle steps are shown when the customer asks.
# A retried commit is not told again (the customer heard "approved" once), nor is a second failure.
TOLD_ACTIONS = {"approved", "rejected", "committed", "failed", "closed", "cancelled", "offered"}


def _in_worker_task() -> bool:
    task = get_current_worker_task()  # the task a worker is running in this thread, if any
    return task is not None and not task.request.is_eager


def _tell_customer(sender: Any, proposal: Proposal, action: str, **_: Any) -> None:
    """A change a worker's task made (a commit landed, or failed for good) is told from that task: a task of its
    own cost the worker a message, a dispatch and the proposal read again. If telling fails there, or the change
    was made elsewhere (a decision in a web request, which must not wait for Cosmos), a task does it."""
    from chat.tasks import tell_customer_task, tell_now

    if action not in TOLD_ACTIONS:
        return
    if _in_worker_task():
        try:
            tell_now(proposal)
            return
        except Exception:
            logger.warning("proposal %s: the customer was not told from this task; queued", proposal.pk, exc_info=True)
    tell_customer_task.delay(proposal.pk, proposal.state)


async def _note_return_filed(sender: Any, proposal: Proposal, **_: Any) -> None:
    """The conversation ended with a return (insights' outcomes read it from the row)."""
    await Conversation.objects.filter(thread_id=proposal.thread_id, return_filed_at__isnull=True).aupdate(
        return_filed_at=proposal.created_at
    )


def connect() -> None:
    proposal_changed.connect(_tell_customer, dispatch_uid="chat.tell_customer")
    proposal_filed.connect(_note_return_filed, dispatch_uid="chat.note_return_filed")
