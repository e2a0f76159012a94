"""What the customer gets back for a return, to the cent, and how it was worked out.

Every figure comes from the ``ReturnPolicy`` passed in. Percentages are applied in Decimal and rounded
half-up to whole cents once per component, so the breakdown always adds up to the total shown.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from customers.domain import Reason, Resolution, Shipping, Tier
from customers.errors import InvalidRequest
from customers.policy import ReturnPolicy


@dataclass(frozen=True)
class QuoteLine:
    sku: str
    name: str
    quantity: int
    unit_price_cents: int


# The amounts of a quote, in the order a breakdown shows them.
MONEY_FIELDS = (
    "merchandise_cents",
    "restocking_fee_cents",
    "shipping_cost_cents",
    "bonus_cents",
    "discount_cents",
    "refund_cents",
    "store_credit_cents",
)


@dataclass(frozen=True)
class RefundQuote:
    """A breakdown the customer and the agent both read; ``refund_cents`` goes back to the original payment,
    ``store_credit_cents`` to the store-credit ledger."""

    resolution: Resolution
    merchandise_cents: int
    restocking_fee_cents: int
    shipping_cost_cents: int
    bonus_cents: int
    discount_cents: int
    refund_cents: int
    store_credit_cents: int
    fee_waived_reason: str | None
    notes: tuple[str, ...]

    @property
    def total_cents(self) -> int:
        return self.refund_cents + self.store_credit_cents

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["resolution"] = str(self.resolution)
        data["notes"] = list(self.notes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RefundQuote:
        """Read a stored quote; keys it does not know (an agent's override record) stay with the proposal."""
        known = {key: value for key, value in data.items() if key in cls.__dataclass_fields__}
        return cls(**{**known, "resolution": Resolution(data["resolution"]), "notes": tuple(data["notes"])})


def percent_of(amount_cents: int, percent: Decimal) -> int:
    return int((Decimal(amount_cents) * percent / Decimal(100)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def refund_quote(
    lines: list[QuoteLine] | tuple[QuoteLine, ...],
    reason: Reason,
    resolution: Resolution,
    shipping: Shipping | None,
    tier: Tier,
    policy: ReturnPolicy,
) -> RefundQuote:
    """Quote a return.

    - Restocking fee: ``restocking_fee_percent`` of the merchandise for customer-preference reasons, waived
      for fee-exempt tiers.
    - Return shipping: the option's cost, waived when we are at fault or for free-shipping tiers; taken off
      what is paid back, never below zero.
    - Store Credit: the net value plus ``store_credit_bonus_percent`` of it, to encourage credit over cash.
    - Exchange: nothing is paid back and no fee or shipping is charged (the customer keeps spending with us).
    - Keep with Discount: ``keep_discount_percent`` of the merchandise back, nothing is shipped, no fee.
    """
    if not lines:
        raise InvalidRequest("A return needs at least one item.")
    for line in lines:
        if line.quantity <= 0:
            raise InvalidRequest(f"Quantity must be at least 1 for {line.name}.")
        if line.unit_price_cents < 0:
            raise InvalidRequest(f"Price of {line.name} cannot be negative.")
    merchandise = sum(line.quantity * line.unit_price_cents for line in lines)
    notes: list[str] = []

    if resolution is Resolution.KEEP_WITH_DISCOUNT:
        discount = percent_of(merchandise, policy.keep_discount_percent)
        notes.append(f"Keep the item and get {policy.keep_discount_percent}% back.")
        return RefundQuote(resolution, merchandise, 0, 0, 0, discount, discount, 0, None, tuple(notes))
    if resolution is Resolution.EXCHANGE:
        notes.append("Exchange for the same item: no fee, no return shipping cost.")
        return RefundQuote(resolution, merchandise, 0, 0, 0, 0, 0, 0, None, tuple(notes))

    fee, fee_waived_reason = _restocking_fee(merchandise, reason, tier, policy)
    if fee:
        notes.append(f"{policy.restocking_fee_percent}% restocking fee for '{reason}'.")
    shipping_cost = _shipping_cost(shipping, reason, tier, policy)
    if shipping_cost:
        notes.append(f"Return shipping ({shipping}) is deducted.")
    net = merchandise - fee

    if resolution is Resolution.STORE_CREDIT:
        bonus = percent_of(net, policy.store_credit_bonus_percent)
        notes.append(f"{policy.store_credit_bonus_percent}% bonus for choosing store credit.")
        credit = max(0, net + bonus - shipping_cost)
        return RefundQuote(
            resolution, merchandise, fee, shipping_cost, bonus, 0, 0, credit, fee_waived_reason, tuple(notes)
        )
    refund = max(0, net - shipping_cost)
    return RefundQuote(resolution, merchandise, fee, shipping_cost, 0, 0, refund, 0, fee_waived_reason, tuple(notes))


def _restocking_fee(merchandise: int, reason: Reason, tier: Tier, policy: ReturnPolicy) -> tuple[int, str | None]:
    if reason not in policy.restocking_fee_reasons:
        return 0, None
    if tier in policy.fee_exempt_tiers:
        return 0, f"Restocking fee waived for {tier} members."
    return percent_of(merchandise, policy.restocking_fee_percent), None


def _shipping_cost(shipping: Shipping | None, reason: Reason, tier: Tier, policy: ReturnPolicy) -> int:
    if shipping is None or reason in policy.free_shipping_reasons or tier in policy.free_shipping_tiers:
        return 0
    return policy.shipping_costs_cents.get(shipping, 0)
