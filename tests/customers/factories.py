"""Small builders for domain values in tests."""

from __future__ import annotations

from datetime import timedelta

from customers.clock import now, store_today
from customers.domain import Order, OrderLine, Product


def product(sku: str = "HUB-SMART-2", window: int = 45, final_sale: bool = False, price: int = 8999) -> Product:
    return Product(sku, "Smart Home Hub", price, "Smart Home", window, final_sale)


def line(sku: str = "HUB-SMART-2", quantity: int = 2, returned: int = 0, price: int = 8999) -> OrderLine:
    return OrderLine("L1", sku, "Smart Home Hub", price, quantity, returned)


def order(delivered_days_ago: int | None = 20, *lines: OrderLine) -> Order:
    """An order delivered ``delivered_days_ago`` days before the store's today (the app's clock)."""
    today = store_today()
    delivered = today - timedelta(days=delivered_days_ago) if delivered_days_ago is not None else None
    return Order(
        order_id="ORD-79001",
        customer_id="CUST-1001",
        ordered_at=now() - timedelta(days=(delivered_days_ago or 0) + 4),
        delivered_on=delivered,
        lines=lines or (line(),),
    )
