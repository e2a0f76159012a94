"""The chat app's listeners to what the customers app announces."""

from __future__ import annotations

from typing import Any

from customers.models import Proposal
from customers.signals import proposal_changed

# Decisions and their outcome are told as they happen; lifecycle steps are shown when the customer asks.
# A retried commit is not told again (the customer heard "approved" once), nor is a second failure.
TOLD_ACTIONS = {"approved", "rejected", "committed", "failed", "closed", "cancelled", "offered"}


def _tell_customer(sender: Any, proposal: Proposal, action: str, **_: Any) -> None:
    from chat.tasks import tell_customer_task

    if action in TOLD_ACTIONS:
        tell_customer_task.delay(proposal.pk, proposal.state)


def connect() -> None:
    proposal_changed.connect(_tell_customer, dispatch_uid="chat.tell_customer")
