"""The return policy: every figure the rules use, in one immutable value.

Admins edit it in Django admin (``customers.models.ReturnPolicySettings``); the rules take it as an argument,
so they stay pure and table-testable, and a quote can record exactly which figures produced it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from customers.domain import Reason, Shipping, Tier


def _shipping_costs() -> dict[Shipping, int]:
    return {
        Shipping.PREPAID_LABEL: 699,
        Shipping.PICKUP: 999,
        Shipping.DROP_OFF: 0,
        Shipping.RETURN_TO_STORE: 0,
    }


@dataclass(frozen=True)
class ReturnPolicy:
    """Demo defaults, documented in the README; each is editable in admin."""

    name: str = "Standard returns policy"
    version: int = 1
    default_return_window_days: int = 30
    restocking_fee_percent: Decimal = Decimal("15")
    # Customer-preference reasons carry the fee; faults of ours never do.
    restocking_fee_reasons: frozenset[Reason] = frozenset({Reason.CHANGED_MIND, Reason.BETTER_PRICE})
    fee_exempt_tiers: frozenset[Tier] = frozenset({Tier.GOLD, Tier.PLATINUM})
    store_credit_bonus_percent: Decimal = Decimal("10")
    keep_discount_percent: Decimal = Decimal("25")
    shipping_costs_cents: dict[Shipping, int] = field(default_factory=_shipping_costs)
    # Return shipping is on us when we are at fault, and for the top tier.
    free_shipping_reasons: frozenset[Reason] = frozenset(
        {Reason.DAMAGED, Reason.WRONG_ITEM, Reason.NOT_AS_DESCRIBED, Reason.ARRIVED_LATE}
    )
    free_shipping_tiers: frozenset[Tier] = frozenset({Tier.PLATINUM})
    # No approval without a person above this: assistant mode and auto-approval rules alike.
    auto_approval_ceiling_cents: int = 10000
    # What customers ask most after "can I return it": when the money comes back.
    refund_business_days: int = 5

    def as_evidence(self) -> dict[str, Any]:
        """A JSON-safe snapshot, stored beside a quote so an auditor sees the figures that were used."""
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, Decimal):
                data[key] = str(value)
            elif isinstance(value, frozenset):
                data[key] = sorted(str(item) for item in value)
            elif isinstance(value, dict):
                data[key] = {str(k): v for k, v in value.items()}
        return data


DEFAULT_POLICY = ReturnPolicy()
