"""Eligibility: the window counts whole days from delivery and includes its last day; never fails open.

On every day of the test calendar (leap days, daylight-saving changes, the store ahead of or behind UTC)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from customers.clock import store_today
from customers.errors import InvalidRequest, NotReturnable
from customers.policy import DEFAULT_POLICY, ReturnPolicy
from customers.services.eligibility import IneligibleReason, check_eligibility, validate_quantity
from tests.customers.factories import line, order, product

R = IneligibleReason


@pytest.mark.any_day
@pytest.mark.parametrize(
    (
        "delivered_days_ago",
        "window",
        "final_sale",
        "quantity",
        "returned",
        "eligible",
        "reason",
        "days_left",
        "returnable",
    ),
    [
        (20, 45, False, 2, 0, True, None, 25, 2),  # the seed hub: 25 days left
        (20, 30, False, 1, 0, True, None, 10, 1),  # the seed display: 10 days left
        (0, 30, False, 1, 0, True, None, 30, 1),  # delivered today
        (30, 30, False, 1, 0, True, None, 0, 1),  # last day of the window
        (31, 30, False, 1, 0, False, R.WINDOW_EXPIRED, -1, 0),  # the day after
        (90, 30, False, 1, 0, False, R.WINDOW_EXPIRED, -60, 0),
        (5, 30, True, 1, 0, False, R.FINAL_SALE, None, 0),  # final sale, even inside the window
        (None, 30, False, 1, 0, False, R.NOT_DELIVERED, None, 0),
        (10, 30, False, 4, 2, True, None, 20, 2),  # partly returned
        (10, 30, False, 3, 3, False, R.FULLY_RETURNED, 20, 0),  # fully returned
        (10, 0, False, 1, 0, True, None, 20, 1),  # no window on the product: the policy default (30)
    ],
)
def test_eligibility_table(
    delivered_days_ago, window, final_sale, quantity, returned, eligible, reason, days_left, returnable
):
    the_line = line(quantity=quantity, returned=returned)
    result = check_eligibility(
        order(delivered_days_ago, the_line),
        the_line,
        product(window=window, final_sale=final_sale),
        store_today(),
        DEFAULT_POLICY,
    )
    assert (result.eligible, result.reason, result.days_left, result.returnable_quantity) == (
        eligible,
        reason,
        days_left,
        returnable,
    )
    assert result.message


@pytest.mark.any_day
def test_unknown_product_is_never_eligible():
    the_line = line()
    assert (
        check_eligibility(order(1, the_line), the_line, None, store_today(), DEFAULT_POLICY).reason is R.UNKNOWN_PRODUCT
    )
    other = product(sku="SOMETHING-ELSE")
    assert (
        check_eligibility(order(1, the_line), the_line, other, store_today(), DEFAULT_POLICY).reason
        is R.UNKNOWN_PRODUCT
    )


@pytest.mark.any_day
def test_window_end_date_and_message_name_the_date():
    the_line = line()
    result = check_eligibility(order(46, the_line), the_line, product(window=45), store_today(), DEFAULT_POLICY)
    assert result.window_ends_on == store_today() - timedelta(days=1)
    assert result.window_ends_on.isoformat() in result.message


@pytest.mark.any_day
def test_default_window_comes_from_the_policy():
    the_line = line()
    policy = ReturnPolicy(default_return_window_days=14)
    assert not check_eligibility(order(15, the_line), the_line, product(window=0), store_today(), policy).eligible
    assert check_eligibility(order(14, the_line), the_line, product(window=0), store_today(), policy).eligible


@pytest.mark.parametrize(
    ("quantity", "returned", "asked", "error"),
    [
        (2, 0, 1, None),
        (2, 0, 2, None),
        (2, 1, 1, None),
        (2, 1, 2, NotReturnable),
        (2, 2, 1, NotReturnable),
        (2, 0, 0, InvalidRequest),
        (2, 0, -1, InvalidRequest),
        (2, 0, 1.5, InvalidRequest),
        (2, 0, "1", InvalidRequest),
        (2, 0, True, InvalidRequest),
    ],
)
def test_validate_quantity(quantity, returned, asked, error):
    the_line = line(quantity=quantity, returned=returned)
    if error is None:
        assert validate_quantity(the_line, asked) == asked
    else:
        with pytest.raises(error) as raised:
            validate_quantity(the_line, asked)
        assert raised.value.message
