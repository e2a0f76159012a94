"""What a customer may return and what they would get, read from the system of record.

The chat shows these figures and a proposal stores them; both come from here, computed from Cosmos data
and the policy in force, never from anything the customer typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from customers.cosmos.repository import CosmosRepository
from customers.domain import Customer, Order, OrderLine, Product, Reason, Resolution, Shipping
from customers.errors import InvalidRequest, NotReturnable
from customers.policy import ReturnPolicy
from customers.services.eligibility import Eligibility, check_eligibility, validate_quantity
from customers.services.quote import QuoteLine, RefundQuote, refund_quote


@dataclass(frozen=True)
class LineView:
    order: Order
    line: OrderLine
    product: Product | None
    eligibility: Eligibility


@dataclass(frozen=True)
class CustomerOverview:
    customer: Customer
    lines: tuple[LineView, ...]
    fresh: bool = True  # False: the customer and products may be copies up to some seconds old

    def line(self, order_id: str, sku: str) -> LineView | None:
        return next((v for v in self.lines if v.order.order_id == order_id and v.line.sku == sku), None)


@dataclass(frozen=True)
class Selection:
    sku: str
    quantity: int


@dataclass(frozen=True)
class Assessment:
    customer: Customer
    order: Order
    lines: tuple[tuple[LineView, int], ...]
    quote: RefundQuote | None


async def customer_overview(
    repo: CosmosRepository,
    customer_id: str,
    policy: ReturnPolicy,
    today: date,
    *,
    reference_max_age: float = 0.0,
    orders_max_age: float = 0.0,
) -> CustomerOverview:
    """Every line of every order of the customer, newest order first, each with its eligibility.

    The customer and the products may be copies up to ``reference_max_age`` seconds old, which is fine for
    showing choices but not for filing: a proposal is assessed on a fresh overview. Orders change when a return
    commits in another process (what is left to return), so a copy of them (``orders_max_age``) is only for
    steps that go on from what was just shown: the caller reads them afresh wherever items are offered."""
    customer = await repo.get_customer(customer_id, max_age=reference_max_age)
    orders = sorted(
        await repo.list_orders(customer_id, max_age=orders_max_age), key=lambda order: order.ordered_at, reverse=True
    )
    products = await repo.get_products(
        [line.sku for order in orders for line in order.lines], max_age=reference_max_age
    )
    lines = tuple(
        LineView(
            order, line, products.get(line.sku), check_eligibility(order, line, products.get(line.sku), today, policy)
        )
        for order in orders
        for line in order.lines
    )
    return CustomerOverview(customer, lines, fresh=reference_max_age <= 0 and orders_max_age <= 0)


def assess(
    overview: CustomerOverview,
    order_id: str,
    selections: list[Selection],
    reason: Reason,
    resolution: Resolution | None,
    shipping: Shipping | None,
    policy: ReturnPolicy,
) -> Assessment:
    """Check every selected line is returnable in that quantity, and quote it when a resolution is chosen."""
    if not selections:
        raise InvalidRequest("Choose at least one item to return.")
    chosen: list[tuple[LineView, int]] = []
    for selection in selections:
        view = overview.line(order_id, selection.sku)
        if view is None:
            raise InvalidRequest(f"{selection.sku} is not on order {order_id}.")
        if not view.eligibility.eligible:
            raise NotReturnable(view.eligibility.message)
        chosen.append((view, validate_quantity(view.line, selection.quantity)))
    quote = None
    if resolution is not None:
        quote_lines = [QuoteLine(v.line.sku, v.line.name, qty, v.line.unit_price_cents) for v, qty in chosen]
        quote = refund_quote(quote_lines, reason, resolution, shipping, overview.customer.tier, policy)
    return Assessment(overview.customer, chosen[0][0].order, tuple(chosen), quote)
