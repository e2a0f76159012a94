"""Filing a proposal: the exact return the assistant wants, checked again by the rules, awaiting staff."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.db import IntegrityError

from customers.domain import Reason, Resolution, Shipping
from customers.models import Proposal
from customers.policy import ReturnPolicy
from customers.services import decisions
from customers.services.assessment import Assessment, CustomerOverview, Selection, assess
from customers.services.overlaps import create_within_cap
from customers.signals import proposal_filed


@dataclass(frozen=True)
class ProposalRequest:
    thread_id: str
    submission_key: str
    order_id: str
    selections: tuple[Selection, ...]
    reason: Reason
    resolution: Resolution
    shipping: Shipping | None  # None when the customer keeps the item


def proposal_lines(assessment: Assessment) -> list[dict[str, Any]]:
    """The lines as a proposal stores them: what staff see and the commit returns."""
    return [
        {
            "sku": view.line.sku,
            "name": view.line.name,
            "quantity": quantity,
            "unit_price_cents": view.line.unit_price_cents,
        }
        for view, quantity in assessment.lines
    ]


async def file_proposal(
    overview: CustomerOverview, request: ProposalRequest, policy: ReturnPolicy, *, assistant_mode: bool = False
) -> Proposal:
    """Re-assess from the system of record and store the proposal; the same submission files it once.

    Raises ``InvalidRequest`` / ``NotReturnable`` when the rules say no: the chat then tells the customer why.
    """
    assessment = assess(
        overview,
        request.order_id,
        list(request.selections),
        request.reason,
        request.resolution,
        request.shipping,
        policy,
    )
    assert assessment.quote is not None  # a resolution was given
    lines = proposal_lines(assessment)
    evidence = {
        "eligibility": [
            {
                "sku": view.line.sku,
                "eligible": view.eligibility.eligible,
                "message": view.eligibility.message,
                "days_left": view.eligibility.days_left,
                "window_ends_on": view.eligibility.window_ends_on.isoformat()
                if view.eligibility.window_ends_on
                else None,
                "returnable_quantity": view.eligibility.returnable_quantity,
            }
            for view, _ in assessment.lines
        ],
        "policy": policy.as_evidence(),
    }
    returnable = {view.line.sku: view.line.returnable_quantity for view, _ in assessment.lines}
    fields = {
        "customer_id": overview.customer.customer_id,
        "customer_name": overview.customer.name,
        "customer_tier": str(overview.customer.tier),
        "order_id": request.order_id,
        "thread_id": request.thread_id,
        "submission_key": request.submission_key,
        "lines": lines,
        "reason": str(request.reason),
        "resolution": str(request.resolution),
        "shipping": str(request.shipping) if request.shipping else "",
        "quote": assessment.quote.to_dict(),
        "evidence": evidence,
    }
    try:
        proposal, created = await sync_to_async(create_within_cap)(fields, returnable)
    except IntegrityError:
        # The same submission stored meanwhile by a path that did not take the customer's lock: theirs it is.
        return await Proposal.objects.aget(thread_id=request.thread_id, submission_key=request.submission_key)
    if not created:
        return proposal  # a retried submission: filed once, announced once
    await proposal_filed.asend(sender=Proposal, proposal=proposal)
    if proposal.overlaps:
        return proposal  # units another open request also wants: a person decides which goes ahead
    # Nobody needs to look when an enabled rule covers it, or the conversation runs in assistant mode and the
    # amount is within the auto-approval ceiling; otherwise it waits for staff.
    approved = await sync_to_async(decisions.approve_by_rule)(proposal=proposal, policy=policy)
    if approved is None and assistant_mode:
        approved = await sync_to_async(decisions.approve_in_assistant_mode)(proposal=proposal, policy=policy)
    return approved or proposal
