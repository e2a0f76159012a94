"""Small builders for domain values in tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from customers.domain import Order, OrderLine, Product

TODAY = date(2026, 11, 25)


def product(sku: str = "HUB-SMART-2", window: int = 45, final_sale: bool = False, price: int = 8999) -> Product:
    return Product(sku, "Smart Home Hub", price, "Smart Home", window, final_sale)


def line(sku: str = "HUB-SMART-2", quantity: int = 2, returned: int = 0, price: int = 8999) -> OrderLine:
    return OrderLine("L1", sku, "Smart Home Hub", price, quantity, returned)


def order(delivered_days_ago: int | None = 20, *lines: OrderLine) -> Order:
    delivered = TODAY - timedelta(days=delivered_days_ago) if delivered_days_ago is not None else None
    return Order(
        order_id="ORD-79001",
        customer_id="CUST-1001",
        ordered_at=datetime(2026, 10, 1, tzinfo=UTC),
        delivered_on=delivered,
        lines=lines or (line(),),
    )
