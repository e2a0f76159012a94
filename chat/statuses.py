"""The one name the customer sees for each state of a return, in every card and message.

A committed return and the request it came from are one thing to the customer: "Approved" on the decision card
and in "Your returns" alike (they were "Confirmed" in one place and "Approved" in another).
"""

from __future__ import annotations

from chat.widgets import money
from customers.domain import ReturnStatus
from customers.models import ProposalState

# (name, badge colour) for a return that exists in the system of record.
RETURN_STATUS: dict[ReturnStatus, tuple[str, str]] = {
    ReturnStatus.APPROVED: ("Approved", "success"),
    ReturnStatus.LABEL_ISSUED: ("Label issued", "info"),
    ReturnStatus.IN_TRANSIT: ("In transit", "info"),
    ReturnStatus.RECEIVED: ("Received", "info"),
    ReturnStatus.REFUNDED: ("Refunded", "success"),
    ReturnStatus.CREDITED: ("Credited", "success"),
    ReturnStatus.CANCELLED: ("Cancelled", "warning"),
}

# ... and for a request before (or instead of) becoming a return.
REQUEST_STATUS: dict[str, tuple[str, str]] = {
    ProposalState.PROPOSED: ("Waiting for review", "warning"),
    ProposalState.APPROVED: ("Approved", "success"),
    ProposalState.COMMITTING: ("Approved", "success"),
    ProposalState.COMMITTED: ("Approved", "success"),
    ProposalState.REJECTED: ("Not approved", "danger"),
    ProposalState.FAILED: ("Delayed", "warning"),
    ProposalState.CLOSED: ("Closed", "danger"),
    ProposalState.CANCELLED: ("Cancelled", "warning"),
}


def return_status(status: ReturnStatus | str) -> tuple[str, str]:
    return RETURN_STATUS.get(ReturnStatus(status), (str(status).replace("_", " ").capitalize(), "info"))


def request_status(state: str) -> tuple[str, str]:
    return REQUEST_STATUS.get(state, (str(state).capitalize(), "info"))


def items_text(lines: list[tuple[int, str]]) -> str:
    """ "2 × Smart Home Hub, 1 × USB-C Cable": (quantity, name) pairs as every card writes them."""
    return ", ".join(f"{quantity} × {name}" for quantity, name in lines)


def money_back_row(store_credit_cents: int, refund_cents: int, fallback: tuple[str, str]) -> tuple[str, str]:
    """The one amount a customer cares about: the store credit or the refund, else what the request said."""
    if store_credit_cents:
        return ("Store credit", money(store_credit_cents))
    if refund_cents:
        return ("Refund", money(refund_cents))
    return fallback
