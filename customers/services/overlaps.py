"""Two open proposals asking for the same units: marked on both staff cards, and caught before approval.

A customer can file a second request for an item while the first still waits (another tab, a changed mind).
Whichever commits first takes the units; the other must not reach the queue only to fail there.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import transaction

from customers.cosmos.repository import CosmosRepository
from customers.errors import NotReturnable
from customers.models import Proposal, ProposalState
from customers.services.commit_progress import announce

OPEN = (ProposalState.PROPOSED, ProposalState.APPROVED, ProposalState.COMMITTING)


def _wanted(proposal: Proposal) -> dict[str, int]:
    return {line["sku"]: int(line["quantity"]) for line in proposal.lines}


@transaction.atomic
def mark_overlaps(proposal: Proposal, returnable: Mapping[str, int]) -> list[int]:
    """Link ``proposal`` with every other open proposal of the customer for units of the same order line
    when, together, they ask for more than is returnable (``returnable``: SKU -> units left when it was filed).
    Returns the ids it overlaps with; both sides record each other."""
    wanted = _wanted(proposal)
    others = (
        Proposal.objects.select_for_update()
        .filter(customer_id=proposal.customer_id, order_id=proposal.order_id, state__in=OPEN)
        .exclude(pk=proposal.pk)
    )
    found = []
    for other in others:
        theirs = _wanted(other)
        if any(sku in theirs and wanted[sku] + theirs[sku] > returnable.get(sku, 0) for sku in wanted):
            found.append(other.pk)
            if proposal.pk not in other.overlaps:
                other.overlaps = [*other.overlaps, proposal.pk]
                other.save(update_fields=["overlaps"])
                announce(other, "overlap")
    if found:
        proposal.overlaps = sorted({*proposal.overlaps, *found})
        proposal.save(update_fields=["overlaps"])
    return found


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
