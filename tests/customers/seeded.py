"""Helpers for tests that need the demo data in a fresh Cosmos database."""

from __future__ import annotations

from typing import Any

from customers.clock import store_today
from customers.cosmos.repository import CosmosRepository
from customers.demo import DemoData, build_demo_data, seed_demo_data
from customers.domain import Reason, Resolution, Shipping, Tier
from customers.models import Proposal
from customers.policy import DEFAULT_POLICY
from customers.services.commit import ApprovedReturn, ReturnLineRequest
from customers.services.quote import QuoteLine, refund_quote


def demo_data() -> DemoData:
    """The demo data as `seed_demo` writes it today: counted from the app's clock, as the app counts."""
    return build_demo_data(store_today())


async def seed(repo: CosmosRepository) -> None:
    await seed_demo_data(repo, demo_data())


def approval(
    approval_id: str = "proposal-1",
    *,
    customer_id: str = "CUST-1001",
    order_id: str = "ORD-79001",
    sku: str = "HUB-SMART-2",
    quantity: int = 1,
    reason: Reason = Reason.DAMAGED,
    resolution: Resolution = Resolution.STORE_CREDIT,
    shipping: Shipping = Shipping.PREPAID_LABEL,
    tier: Tier = Tier.PLATINUM,
    unit_price_cents: int = 8999,
) -> ApprovedReturn:
    quote = refund_quote(
        [QuoteLine(sku, sku, quantity, unit_price_cents)], reason, resolution, shipping, tier, DEFAULT_POLICY
    )
    return ApprovedReturn(
        approval_id=approval_id,
        customer_id=customer_id,
        order_id=order_id,
        lines=(ReturnLineRequest(sku, quantity),),
        reason=reason,
        resolution=resolution,
        shipping=shipping,
        quote=quote,
        approved_by="agent",
    )


async def file_seed_proposal(
    repo: CosmosRepository,
    *,
    sku: str = "HUB-SMART-2",
    quantity: int = 1,
    reason: Reason = Reason.DAMAGED,
    resolution: Resolution = Resolution.STORE_CREDIT,
    shipping: Shipping | None = Shipping.PREPAID_LABEL,
    thread_id: str = "",
    customer_id: str = "CUST-1001",
    order_id: str = "ORD-79001",
):  # type: ignore[no-untyped-def]
    """A proposal filed through the real service, as the chat files it when the customer confirms."""
    import uuid

    from customers.services.assessment import Selection, customer_overview
    from customers.services.proposals import ProposalRequest, file_proposal

    overview = await customer_overview(repo, customer_id, DEFAULT_POLICY, store_today())
    request = ProposalRequest(
        thread_id=thread_id or f"thr_{uuid.uuid4().hex[:12]}",
        submission_key=uuid.uuid4().hex,
        order_id=order_id,
        selections=(Selection(sku, quantity),),
        reason=reason,
        resolution=resolution,
        shipping=shipping,
    )
    return await file_proposal(overview, request, DEFAULT_POLICY)


def proposal_row(**fields: Any) -> Proposal:
    """A Proposal row written directly (no Cosmos): Robert returning one damaged hub for store credit, priced by
    the rules; ``fields`` set the state and whatever else a test is about."""
    row = {
        "customer_id": "CUST-1001",
        "customer_name": "Robert Johnson",
        "customer_tier": "Platinum",
        "order_id": "ORD-79001",
        "thread_id": "thr_rows",
        "submission_key": "k1",
        "lines": [{"sku": "HUB-SMART-2", "name": "Smart Home Hub", "quantity": 1, "unit_price_cents": 8999}],
        "reason": "Damaged/Defective",
        "resolution": "Store Credit",
        "shipping": "Prepaid Shipping Label",
        "quote": approval().quote.to_dict(),
        "evidence": {},
    }
    return Proposal.objects.create(**{**row, **fields})
