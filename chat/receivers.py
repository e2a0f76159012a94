"""The chat app's listeners to what the customers app announces."""

from __future__ import annotations

from typing import Any

from customers.models import Proposal
from customers.signals import proposal_changed


def _tell_customer(sender: Any, proposal: Proposal, action: str, **_: Any) -> None:
    from chat.tasks import tell_customer_task

    tell_customer_task.delay(proposal.pk, proposal.state)


def connect() -> None:
    proposal_changed.connect(_tell_customer, dispatch_uid="chat.tell_customer")
