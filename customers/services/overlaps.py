"""Two open proposals asking for the same units: marked on both staff cards, and caught before approval.

A customer can file a second request for an item while the first still waits (another tab, a changed mind).
Whichever commits first takes the units; the other must not reach the queue only to fail there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet

from customers.cosmos.repository import CosmosRepository
from customers.errors import NotReturnable
from customers.models import Proposal, ProposalState
from customers.services.commit_progress import announce

OPEN = (ProposalState.PROPOSED, ProposalState.APPROVED, ProposalState.COMMITTING)
FILING_LOCK_SPACE = 1_310_001  # first key of the PostgreSQL advisory lock a customer's filings take turns on


def units_by_sku(lines: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Units asked for per SKU, from lines as a proposal stores them."""
    return {line["sku"]: int(line["quantity"]) for line in lines}


def _wanted(proposal: Proposal) -> dict[str, int]:
    return units_by_sku(proposal.lines)


def _open_of(customer_id: str, order_id: str) -> QuerySet[Proposal]:
    return Proposal.objects.filter(customer_id=customer_id, order_id=order_id, state__in=OPEN)


def _overlap(wanted: Mapping[str, int], theirs: Mapping[str, int], returnable: Mapping[str, int]) -> bool:
    return any(sku in theirs and wanted[sku] + theirs[sku] > returnable.get(sku, 0) for sku in wanted)


def _take_turn(customer_id: str) -> None:
    """Hold the customer's filing lock until the transaction ends, so two tabs filing at once are counted one
    after the other. SQLite needs nothing: its transactions here are IMMEDIATE, one writer at a time."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [FILING_LOCK_SPACE, customer_id])


@transaction.atomic
def create_within_cap(fields: Mapping[str, Any], returnable: Mapping[str, int]) -> tuple[Proposal, bool]:
    """Store a new proposal (``fields``: its model fields) unless its submission is already filed, linked with
    the customer's open proposals for units of the same order line when together they ask for more than is
    returnable (``returnable``: SKU -> units left when it was filed). Returns the proposal and whether it is new.

    A request may share its units with at most ``OVERLAPPING_REQUESTS_ALLOWED`` open ones: a second one (another
    tab, a changed mind) is fine, staff see both linked; beyond that only one of them can ever go ahead, each one
    more is a card for staff to decline, and linking it touches every earlier one, so a customer filing again
    and again would flood the queue. Checking, creating and linking happen under the customer's lock: filings
    sent at once cannot all pass the check before any of them is stored.
    """
    customer_id, order_id = fields["customer_id"], fields["order_id"]
    _take_turn(customer_id)
    try:
        return Proposal.objects.get(thread_id=fields["thread_id"], submission_key=fields["submission_key"]), False
    except Proposal.DoesNotExist:
        pass
    wanted = units_by_sku(fields["lines"])
    others = [
        other
        for other in _open_of(customer_id, order_id).select_for_update().order_by("pk")
        if _overlap(wanted, _wanted(other), returnable)
    ]
    if len(others) > settings.OVERLAPPING_REQUESTS_ALLOWED:
        numbers = ", ".join(f"#{other.pk}" for other in others)
        raise NotReturnable(
            f"you already have requests waiting for these items ({numbers}). Only one of them can go ahead, "
            "so our team will decide on those first."
        )
    proposal = Proposal.objects.create(**fields, overlaps=[other.pk for other in others])
    for other in others:
        other.overlaps = [*other.overlaps, proposal.pk]
        other.save(update_fields=["overlaps"])
        announce(other, "overlap")
    return proposal, True


async def ensure_still_returnable(repo: CosmosRepository, proposal: Proposal) -> None:
    """Before approving: every unit asked for is still returnable in the system of record, or the approval is
    refused with the reason (and which proposal took the units), before anything is queued."""
    order = await repo.get_order(proposal.customer_id, proposal.order_id)
    left = {line.sku: line for line in order.lines}
    for sku, quantity in _wanted(proposal).items():
        line = left.get(sku)
        if line is not None and quantity <= line.returnable_quantity:
            continue
        name = line.name if line else sku
        taken = [
            f"#{p.pk}" async for p in Proposal.objects.filter(pk__in=proposal.overlaps, state=ProposalState.COMMITTED)
        ]
        by = f" (proposal {', '.join(taken)} already returned them)" if taken else ""
        have = line.returnable_quantity if line else 0
        raise NotReturnable(
            f"{name} on {proposal.order_id}: {have} left to return, this proposal asks for {quantity}{by}."
        )
