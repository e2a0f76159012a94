"""The one name the customer sees for each state of a return, in every card and message.

A committed return and the request it came from are one thing to the customer: "Approved" on the decision card
and in "Your returns" alike (they were "Confirmed" in one place and "Approved" in another).
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from chat.widgets import money
from customers.domain import ReturnStatus
from customers.models import ProposalState

# (name, badge colour) for a return that exists in the system of record.
RETURN_STATUS: dict[ReturnStatus, tuple[str, str]] = {
    ReturnStatus.APPROVED: (gettext_noop("Approved"), "success"),
    ReturnStatus.LABEL_ISSUED: (gettext_noop("Label issued"), "info"),
    ReturnStatus.IN_TRANSIT: (gettext_noop("In transit"), "info"),
    ReturnStatus.RECEIVED: (gettext_noop("Received"), "info"),
    ReturnStatus.REFUNDED: (gettext_noop("Refunded"), "success"),
    ReturnStatus.CREDITED: (gettext_noop("Credited"), "success"),
    ReturnStatus.CANCELLED: (gettext_noop("Cancelled"), "warning"),
}

# ... and for a request before (or instead of) becoming a return.
REQUEST_STATUS: dict[str, tuple[str, str]] = {
    ProposalState.PROPOSED: (gettext_noop("Waiting for review"), "warning"),
    ProposalState.APPROVED: (gettext_noop("Approved"), "success"),
    ProposalState.COMMITTING: (gettext_noop("Approved"), "success"),
    ProposalState.COMMITTED: (gettext_noop("Approved"), "success"),
    ProposalState.REJECTED: (gettext_noop("Not approved"), "danger"),
    ProposalState.FAILED: (gettext_noop("Delayed"), "warning"),
    ProposalState.CLOSED: (gettext_noop("Closed"), "danger"),
    ProposalState.CANCELLED: (gettext_noop("Cancelled"), "warning"),
}


def return_status(status: ReturnStatus | str) -> tuple[str, str]:
    name, colour = RETURN_STATUS.get(ReturnStatus(status), (str(status).replace("_", " ").capitalize(), "info"))
    return _(name), colour


def request_status(state: str) -> tuple[str, str]:
    name, colour = REQUEST_STATUS.get(state, (str(state).capitalize(), "info"))
    return _(name), colour


def items_text(lines: list[tuple[int, str]]) -> str:
    """ "2 × Smart Home Hub, 1 × USB-C Cable": (quantity, name) pairs as every card writes them."""
    return ", ".join(f"{quantity} × {name}" for quantity, name in lines)


def money_back_row(store_credit_cents: int, refund_cents: int, fallback: tuple[str, str]) -> tuple[str, str]:
    """The one amount a customer cares about: the store credit or the refund, else what the request said."""
    if store_credit_cents:
        return (_("Store credit"), money(store_credit_cents))
    if refund_cents:
        return (_("Refund"), money(refund_cents))
    return fallback
