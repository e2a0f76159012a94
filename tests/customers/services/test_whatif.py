"""Policy what-if: the period's proposals replayed with a draft policy beside what happened; nothing written."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from customers import clock
from customers.domain import Reason, Resolution, Shipping, Tier
from customers.models import Proposal, ProposalState
from customers.policy import DEFAULT_POLICY
from customers.services.quote import QuoteLine, refund_quote
from customers.services.whatif import proposals_between, replay
from tests.customers.seeded import proposal_row

pytestmark = pytest.mark.django_db


def _quote(reason: Reason, resolution: Resolution, tier: Tier, price: int) -> dict:
    line = QuoteLine("HUB-SMART-2", "Smart Home Hub", 1, price)
    return refund_quote([line], reason, resolution, Shipping.PREPAID_LABEL, tier, DEFAULT_POLICY).to_dict()


def _evidence(window_ends_in_days: int) -> dict:
    ends = clock.store_today() + timedelta(days=window_ends_in_days)
    return {
        "eligibility": [{"sku": "HUB-SMART-2", "eligible": True, "window_ends_on": ends.isoformat()}],
        "policy": DEFAULT_POLICY.as_evidence(),
    }


@pytest.fixture
def filed() -> dict[str, Proposal]:
    credit = proposal_row(
        submission_key="credit", state=ProposalState.COMMITTED, evidence=_evidence(20), customer_id="CUST-1001"
    )
    fee = proposal_row(
        submission_key="fee",
        state=ProposalState.APPROVED,
        customer_id="CUST-1003",
        customer_name="James Smith",
        customer_tier="Standard",
        reason="Changed My Mind",
        resolution="Full Refund",
        quote=_quote(Reason.CHANGED_MIND, Resolution.FULL_REFUND, Tier.STANDARD, 8999),
        evidence=_evidence(25),
    )
    closing = proposal_row(
        submission_key="closing",
        state=ProposalState.APPROVED,
        customer_id="CUST-1004",
        customer_name="Linda Chen",
        evidence=_evidence(2),  # two days of the default 30-day window left when filed
    )
    proposal_row(submission_key="rejected", state=ProposalState.REJECTED, evidence=_evidence(20))
    return {"credit": credit, "fee": fee, "closing": closing}


def test_a_draft_is_replayed_beside_what_happened_and_nothing_is_written(filed):
    draft = replace(
        DEFAULT_POLICY,
        store_credit_bonus_percent=Decimal("20"),
        restocking_fee_percent=Decimal("25"),
        default_return_window_days=25,
    )
    before = list(Proposal.objects.order_by("pk").values())
    today = clock.store_today()
    result = replay(proposals_between(today - timedelta(days=7), today), draft, {"HUB-SMART-2": 0})

    assert result.proposals == 3  # the rejected one is not counted
    assert result.eligibility_changed == 1 and result.became_ineligible == [filed["closing"].pk]
    credit, fee = filed["credit"].quote, filed["fee"].quote
    assert result.actual_credit_cents == credit["store_credit_cents"] + filed["closing"].quote["store_credit_cents"]
    assert result.actual_refund_cents == fee["refund_cents"]
    # 20% bonus instead of 10% on Robert's hub; 25% fee instead of 15% on James's; Linda's would be refused.
    hub = [QuoteLine("HUB-SMART-2", "Smart Home Hub", 1, 8999)]
    robert = refund_quote(hub, Reason.DAMAGED, Resolution.STORE_CREDIT, Shipping.PREPAID_LABEL, Tier.PLATINUM, draft)
    assert result.draft_credit_cents == robert.store_credit_cents > credit["store_credit_cents"]
    assert result.draft_refund_cents == fee["refund_cents"] - 900  # a fee of 25% of 89.99 instead of 15%
    people = {who.customer_id: who.change_cents for who in result.most_affected}
    assert people["CUST-1004"] == -filed["closing"].quote["store_credit_cents"]
    assert people["CUST-1003"] < 0 < people["CUST-1001"]
    assert result.most_affected[0].customer_id == "CUST-1004"  # the largest change first
    assert list(Proposal.objects.order_by("pk").values()) == before


def test_a_product_with_its_own_window_keeps_it(filed):
    draft = replace(DEFAULT_POLICY, default_return_window_days=1)
    today = clock.store_today()
    result = replay(proposals_between(today, today), draft, {"HUB-SMART-2": 45})
    assert result.eligibility_changed == 0
