"""Demo data: the seed scenario exactly, and every rule exercised, counted from any 'today'."""

from __future__ import annotations

import pytest

from customers.clock import store_today
from customers.demo import PRODUCT_BY_SKU, SEED_CUSTOMER_ID, SEED_ORDER_ID, build_demo_data
from customers.domain import Tier
from customers.policy import DEFAULT_POLICY
from customers.services.eligibility import IneligibleReason, check_eligibility


@pytest.mark.any_day
def test_seed_scenario_never_expires():
    today = store_today()
    data = build_demo_data(today)
    robert = next(c for c in data.customers if c.customer_id == SEED_CUSTOMER_ID)
    assert (robert.name, robert.email, robert.tier) == ("Robert Johnson", "rjohnson@company.com", Tier.PLATINUM)
    order = next(o for o in data.orders if o.order_id == SEED_ORDER_ID)
    assert order.customer_id == SEED_CUSTOMER_ID
    seen = []
    for line in order.lines:
        result = check_eligibility(order, line, PRODUCT_BY_SKU[line.sku], today, DEFAULT_POLICY)
        seen.append((line.name, line.quantity, line.unit_price_cents, result.days_left, result.eligible))
    assert seen == [
        ("Ultra HD Smart Display", 1, 29999, 10, True),
        ("Smart Home Hub", 2, 8999, 25, True),
        ("USB-C Cable 6ft (3-Pack)", 1, 1499, 25, True),
    ]


@pytest.mark.any_day
def test_enough_data_over_all_tiers_and_every_edge_case():
    today = store_today()
    data = build_demo_data(today)
    assert len(data.customers) >= 20
    assert len(data.orders) >= 60
    assert {c.tier for c in data.customers} == set(Tier)
    assert len({c.email for c in data.customers}) == len(data.customers)
    assert len({o.order_id for o in data.orders}) == len(data.orders)
    reasons = set()
    multi_quantity = partly_returned = 0
    for order in data.orders:
        for line in order.lines:
            result = check_eligibility(order, line, PRODUCT_BY_SKU[line.sku], today, DEFAULT_POLICY)
            reasons.add(result.reason)
            multi_quantity += line.quantity > 1
            partly_returned += 0 < line.returned_quantity < line.quantity
    assert reasons == {None, *IneligibleReason} - {IneligibleReason.UNKNOWN_PRODUCT}
    assert multi_quantity >= 5
    assert partly_returned >= 3


def test_same_day_same_data():
    assert build_demo_data(store_today()) == build_demo_data(store_today())
