"""Refund quotes: fees, bonus, exchange, keep-with-discount and shipping, to the cent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from customers.domain import Reason, Resolution, Shipping, Tier
from customers.errors import InvalidRequest
from customers.policy import DEFAULT_POLICY, ReturnPolicy
from customers.services.quote import QuoteLine, RefundQuote, percent_of, refund_quote

HUB = QuoteLine("HUB-SMART-2", "Smart Home Hub", 1, 8999)
DISPLAY = QuoteLine("DSP-UHD-55", "Ultra HD Smart Display", 1, 29999)
R, S, T, X = Reason, Resolution, Shipping, Tier


@pytest.mark.parametrize(
    ("lines", "reason", "resolution", "shipping", "tier", "fee", "ship", "bonus", "refund", "credit"),
    [
        # The seed scenario: Platinum, damaged hub, store credit: 89.99 + 10% = 98.99, no fee.
        ([HUB], R.DAMAGED, S.STORE_CREDIT, T.PREPAID_LABEL, X.PLATINUM, 0, 0, 900, 0, 9899),
        # Standard customer changed their mind: 15% fee, and pays the label (6.99).
        ([HUB], R.CHANGED_MIND, S.FULL_REFUND, T.PREPAID_LABEL, X.STANDARD, 1350, 699, 0, 6950, 0),
        ([HUB], R.CHANGED_MIND, S.FULL_REFUND, T.DROP_OFF, X.STANDARD, 1350, 0, 0, 7649, 0),
        ([HUB], R.BETTER_PRICE, S.FULL_REFUND, T.PICKUP, X.SILVER, 1350, 999, 0, 6650, 0),
        # Gold and Platinum never pay the fee; Gold still pays shipping for a preference return.
        ([HUB], R.CHANGED_MIND, S.FULL_REFUND, T.PREPAID_LABEL, X.GOLD, 0, 699, 0, 8300, 0),
        ([HUB], R.CHANGED_MIND, S.FULL_REFUND, T.PREPAID_LABEL, X.PLATINUM, 0, 0, 0, 8999, 0),
        # Our fault: no fee, free shipping, whatever the tier.
        ([HUB], R.WRONG_ITEM, S.FULL_REFUND, T.PICKUP, X.STANDARD, 0, 0, 0, 8999, 0),
        ([HUB], R.NOT_AS_DESCRIBED, S.FULL_REFUND, T.PREPAID_LABEL, X.STANDARD, 0, 0, 0, 8999, 0),
        ([HUB], R.ARRIVED_LATE, S.FULL_REFUND, T.PREPAID_LABEL, X.SILVER, 0, 0, 0, 8999, 0),
        # Gift return: no fee, but shipping is the customer's.
        ([HUB], R.GIFT_RETURN, S.STORE_CREDIT, T.PREPAID_LABEL, X.STANDARD, 0, 699, 900, 0, 9200),
        # Store credit after a fee: the bonus is on the net value (89.99 - 13.50 = 76.49 -> bonus 7.65).
        ([HUB], R.CHANGED_MIND, S.STORE_CREDIT, T.RETURN_TO_STORE, X.STANDARD, 1350, 0, 765, 0, 8414),
        # Several lines and quantities.
        ([HUB, DISPLAY], R.DAMAGED, S.FULL_REFUND, T.PICKUP, X.STANDARD, 0, 0, 0, 38998, 0),
        (
            [QuoteLine("HUB-SMART-2", "Hub", 2, 8999)],
            R.CHANGED_MIND,
            S.FULL_REFUND,
            T.DROP_OFF,
            X.STANDARD,
            2700,
            0,
            0,
            15298,
            0,
        ),
        # Exchange and keep-with-discount.
        ([HUB], R.CHANGED_MIND, S.EXCHANGE, T.PREPAID_LABEL, X.STANDARD, 0, 0, 0, 0, 0),
        ([HUB], R.NOT_AS_DESCRIBED, S.KEEP_WITH_DISCOUNT, None, X.STANDARD, 0, 0, 0, 2250, 0),
    ],
)
def test_quote_table(lines, reason, resolution, shipping, tier, fee, ship, bonus, refund, credit):
    quote = refund_quote(lines, reason, resolution, shipping, tier, DEFAULT_POLICY)
    assert (
        quote.restocking_fee_cents,
        quote.shipping_cost_cents,
        quote.bonus_cents,
        quote.refund_cents,
        quote.store_credit_cents,
    ) == (fee, ship, bonus, refund, credit)
    assert quote.merchandise_cents == sum(line.quantity * line.unit_price_cents for line in lines)


def test_breakdown_adds_up():
    quote = refund_quote([HUB], R.CHANGED_MIND, S.STORE_CREDIT, T.PREPAID_LABEL, X.STANDARD, DEFAULT_POLICY)
    assert quote.merchandise_cents - quote.restocking_fee_cents + quote.bonus_cents - quote.shipping_cost_cents == (
        quote.store_credit_cents
    )


def test_fee_waiver_is_explained():
    quote = refund_quote([HUB], R.CHANGED_MIND, S.FULL_REFUND, T.DROP_OFF, X.GOLD, DEFAULT_POLICY)
    assert quote.fee_waived_reason == "Restocking fee waived for Gold members."


def test_refund_never_goes_below_zero():
    cheap = QuoteLine("CASE", "Case", 1, 300)
    quote = refund_quote([cheap], R.CHANGED_MIND, S.FULL_REFUND, T.PICKUP, X.STANDARD, DEFAULT_POLICY)
    assert quote.refund_cents == 0


def test_every_figure_comes_from_the_policy():
    policy = ReturnPolicy(
        restocking_fee_percent=Decimal("20"),
        store_credit_bonus_percent=Decimal("5"),
        keep_discount_percent=Decimal("40"),
        fee_exempt_tiers=frozenset(),
        free_shipping_tiers=frozenset(),
        shipping_costs_cents={T.PREPAID_LABEL: 100, T.PICKUP: 200, T.DROP_OFF: 0, T.RETURN_TO_STORE: 0},
    )
    fee_quote = refund_quote([HUB], R.CHANGED_MIND, S.FULL_REFUND, T.PREPAID_LABEL, X.PLATINUM, policy)
    assert (fee_quote.restocking_fee_cents, fee_quote.shipping_cost_cents) == (1800, 100)
    assert refund_quote([HUB], R.DAMAGED, S.STORE_CREDIT, T.PICKUP, X.GOLD, policy).bonus_cents == 450
    assert refund_quote([HUB], R.DAMAGED, S.KEEP_WITH_DISCOUNT, None, X.GOLD, policy).refund_cents == 3600


@pytest.mark.parametrize(
    ("amount", "percent", "expected"), [(8999, "10", 900), (8999, "15", 1350), (5, "10", 1), (4, "10", 0)]
)
def test_percent_rounds_half_up_to_cents(amount, percent, expected):
    assert percent_of(amount, Decimal(percent)) == expected


@pytest.mark.parametrize(
    "lines", [[], [QuoteLine("X", "X", 0, 100)], [QuoteLine("X", "X", -1, 100)], [QuoteLine("X", "X", 1, -5)]]
)
def test_bad_lines_are_rejected(lines):
    with pytest.raises(InvalidRequest):
        refund_quote(lines, R.DAMAGED, S.FULL_REFUND, T.PICKUP, X.STANDARD, DEFAULT_POLICY)


def test_quote_round_trips_through_json():
    quote = refund_quote([HUB], R.DAMAGED, S.STORE_CREDIT, T.PICKUP, X.PLATINUM, DEFAULT_POLICY)
    assert RefundQuote.from_dict(quote.to_dict()) == quote
