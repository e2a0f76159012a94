"""Whether an order line can be returned today, and why not.

Never fails open: missing delivery data or an unknown product make a line ineligible, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from customers.domain import Order, OrderLine, Product
from customers.errors import InvalidRequest, NotReturnable
from customers.policy import ReturnPolicy


class IneligibleReason(StrEnum):
    NOT_DELIVERED = "not_delivered"
    WINDOW_EXPIRED = "window_expired"
    FINAL_SALE = "final_sale"
    FULLY_RETURNED = "fully_returned"
    UNKNOWN_PRODUCT = "unknown_product"


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reason: IneligibleReason | None
    message: str
    returnable_quantity: int
    window_ends_on: date | None
    days_left: int | None


def return_window_days(product: Product, policy: ReturnPolicy) -> int:
    return product.return_window_days if product.return_window_days > 0 else policy.default_return_window_days


def check_eligibility(
    order: Order, line: OrderLine, product: Product | None, today: date, policy: ReturnPolicy
) -> Eligibility:
    """The window is counted in whole days from delivery and includes its last day."""
    if product is None or product.sku != line.sku:
        return _ineligible(IneligibleReason.UNKNOWN_PRODUCT, "We could not find this product in our catalog.")
    if product.final_sale:
        return _ineligible(IneligibleReason.FINAL_SALE, f"{line.name} was a final-sale item and cannot be returned.")
    if order.delivered_on is None:
        return _ineligible(IneligibleReason.NOT_DELIVERED, f"Order {order.order_id} has not been delivered yet.")
    window_ends_on = order.delivered_on + timedelta(days=return_window_days(product, policy))
    days_left = (window_ends_on - today).days
    if days_left < 0:
        message = f"The return window for {line.name} closed on {window_ends_on.isoformat()}."
        return _ineligible(IneligibleReason.WINDOW_EXPIRED, message, window_ends_on, days_left)
    if line.returnable_quantity <= 0:
        message = f"All {line.quantity} of {line.name} have already been returned."
        return _ineligible(IneligibleReason.FULLY_RETURNED, message, window_ends_on, days_left)
    plural = "s" if days_left != 1 else ""
    return Eligibility(
        True, None, f"{days_left} day{plural} left to return.", line.returnable_quantity, window_ends_on, days_left
    )


def _ineligible(
    reason: IneligibleReason, message: str, window_ends_on: date | None = None, days_left: int | None = None
) -> Eligibility:
    return Eligibility(False, reason, message, 0, window_ends_on, days_left)


def validate_quantity(line: OrderLine, quantity: object) -> int:
    """The quantity a customer asked for, checked against what is still returnable on the line."""
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidRequest(f"Quantity must be a whole number, not {quantity!r}.")
    if quantity <= 0:
        raise InvalidRequest(f"Quantity must be at least 1 (got {quantity}).")
    if quantity > line.returnable_quantity:
        raise NotReturnable(
            f"Only {line.returnable_quantity} of {line.name} can still be returned (asked for {quantity})."
        )
    return quantity
