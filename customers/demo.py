"""Demo data: the seed scenario exactly, plus enough customers and orders to exercise every rule.

Dates are counted back from ``today`` so the demo never expires. Everything is derived deterministically
(fixed ids, a seeded random generator), so seeding twice writes the same documents, and seeding only
creates what is missing, so it never undoes a return made during a demo.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from customers.clock import store_zone
from customers.cosmos import documents as docs
from customers.cosmos.repository import CosmosRepository, email_key, order_key
from customers.domain import Customer, Order, OrderLine, Product, Tier
from customers.errors import ConcurrencyConflict

SEED_CUSTOMER_ID = "CUST-1001"
SEED_ORDER_ID = "ORD-79001"

PRODUCTS: tuple[Product, ...] = (
    Product("DSP-UHD-55", "Ultra HD Smart Display", 29999, "Displays", 30),
    Product("HUB-SMART-2", "Smart Home Hub", 8999, "Smart Home", 45),
    Product("CBL-USBC-6FT-3PK", "USB-C Cable 6ft (3-Pack)", 1499, "Accessories", 45),
    Product("TV-OLED-65", "65in OLED TV", 149999, "TVs", 30),
    Product("SPK-WIFI-MINI", "Wi-Fi Mini Speaker", 4999, "Audio", 30),
    Product("HP-ANC-PRO", "Noise Cancelling Headphones Pro", 24999, "Audio", 30),
    Product("CAM-DOOR-HD", "HD Video Doorbell", 12999, "Smart Home", 45),
    Product("THERM-SMART", "Smart Thermostat", 17999, "Smart Home", 45),
    Product("BULB-COLOR-4PK", "Colour Smart Bulbs (4-Pack)", 3999, "Smart Home", 45),
    Product("LAP-STAND-ALU", "Aluminium Laptop Stand", 3499, "Accessories", 45),
    Product("KB-MECH-TKL", "Mechanical Keyboard TKL", 11999, "Computing", 30),
    Product("MOUSE-ERGO", "Ergonomic Wireless Mouse", 5999, "Computing", 30),
    Product("MON-27-4K", "27in 4K Monitor", 39999, "Displays", 30),
    Product("ROUTER-MESH-3", "Mesh Wi-Fi Router (3-Pack)", 29999, "Networking", 30),
    Product("WATCH-FIT-2", "Fitness Watch 2", 19999, "Wearables", 30),
    Product("EARB-SPORT", "Sport Earbuds", 7999, "Audio", 30),
    Product("CHG-GAN-65W", "65W GaN Charger", 4499, "Accessories", 45),
    Product("PWR-BANK-20K", "20,000mAh Power Bank", 5499, "Accessories", 45),
    Product("CASE-PHONE-CLR", "Clear Phone Case", 1999, "Accessories", 45),
    Product("VAC-ROBOT-S", "Robot Vacuum S", 34999, "Home", 30),
    # Final sale: clearance and hygiene items can never be returned.
    Product("TV-LCD-43-CLR", "43in LCD TV (Clearance)", 24999, "TVs", 30, final_sale=True),
    Product("EARB-OPEN-BOX", "Open-Box Earbuds", 3999, "Audio", 30, final_sale=True),
)
PRODUCT_BY_SKU = {product.sku: product for product in PRODUCTS}

CUSTOMER_NAMES: tuple[tuple[str, Tier], ...] = (
    ("Robert Johnson", Tier.PLATINUM),
    ("Maria Garcia", Tier.GOLD),
    ("James Smith", Tier.STANDARD),
    ("Linda Chen", Tier.SILVER),
    ("Ahmed Hassan", Tier.STANDARD),
    ("Sofia Rossi", Tier.GOLD),
    ("Kenji Tanaka", Tier.PLATINUM),
    ("Emily Davis", Tier.SILVER),
    ("Olusegun Adeyemi", Tier.STANDARD),
    ("Priya Patel", Tier.GOLD),
    ("Lucas Müller", Tier.STANDARD),
    ("Chloe Martin", Tier.SILVER),
    ("Mateo Fernández", Tier.PLATINUM),
    ("Hannah Kim", Tier.STANDARD),
    ("Noah Williams", Tier.GOLD),
    ("Aisha Bello", Tier.SILVER),
    ("Ivan Petrov", Tier.STANDARD),
    ("Grace O'Neill", Tier.PLATINUM),
    ("Daniel Cohen", Tier.SILVER),
    ("Yuki Sato", Tier.STANDARD),
    ("Fatima Zahra", Tier.GOLD),
    ("Oliver Brown", Tier.STANDARD),
)


@dataclass(frozen=True)
class DemoData:
    products: tuple[Product, ...]
    customers: tuple[Customer, ...]
    orders: tuple[Order, ...]


def _email(name: str, customer_id: str) -> str:
    if customer_id == SEED_CUSTOMER_ID:
        return "rjohnson@company.com"
    first, *rest = name.lower().replace("'", "").replace("ü", "u").replace("á", "a").split()
    return f"{first}.{rest[-1]}@example.com"


def _line(order_id: str, index: int, sku: str, quantity: int, returned: int = 0) -> OrderLine:
    product = PRODUCT_BY_SKU[sku]
    # Demo quantities already returned came back before the console existed: no return documents of ours.
    return OrderLine(f"{order_id}-L{index}", sku, product.name, product.price_cents, quantity, returned, returned)


def _order(
    today: date, order_id: str, customer_id: str, delivered_days_ago: int | None, lines: list[tuple[str, int, int]]
) -> Order:
    """``lines`` are (sku, ordered, already returned); the order was placed four days before delivery."""
    delivered_on = today - timedelta(days=delivered_days_ago) if delivered_days_ago is not None else None
    ordered_on = (delivered_on or today) - timedelta(days=4)
    return Order(
        order_id=order_id,
        customer_id=customer_id,
        ordered_at=datetime.combine(ordered_on, time(10, 30), tzinfo=store_zone()),
        delivered_on=delivered_on,
        lines=tuple(_line(order_id, i + 1, sku, qty, returned) for i, (sku, qty, returned) in enumerate(lines)),
    )


def build_demo_data(today: date) -> DemoData:
    customers = tuple(
        Customer(f"CUST-{1001 + index}", name, _email(name, f"CUST-{1001 + index}"), tier)
        for index, (name, tier) in enumerate(CUSTOMER_NAMES)
    )
    orders: list[Order] = [
        # The seed scenario: delivered 20 days ago, so the 30-day display has 10 days left, the 45-day items 25.
        _order(
            today,
            SEED_ORDER_ID,
            SEED_CUSTOMER_ID,
            20,
            [("DSP-UHD-55", 1, 0), ("HUB-SMART-2", 2, 0), ("CBL-USBC-6FT-3PK", 1, 0)],
        ),
        # Edge cases, one per rule, for named customers the tests and demos can rely on.
        _order(today, "ORD-79002", SEED_CUSTOMER_ID, 60, [("TV-OLED-65", 1, 0)]),  # window expired
        _order(
            today, "ORD-79003", "CUST-1003", 5, [("TV-LCD-43-CLR", 1, 0), ("CHG-GAN-65W", 1, 0)]
        ),  # final sale + fine
        _order(
            today, "ORD-79004", "CUST-1003", 12, [("BULB-COLOR-4PK", 4, 2), ("EARB-SPORT", 2, 0)]
        ),  # partly returned
        _order(today, "ORD-79005", "CUST-1004", 30, [("SPK-WIFI-MINI", 3, 3)]),  # fully returned
        _order(today, "ORD-79006", "CUST-1005", None, [("MON-27-4K", 1, 0)]),  # not delivered yet
        _order(today, "ORD-79007", "CUST-1002", 30, [("HP-ANC-PRO", 1, 0)]),  # last day of a 30-day window
        _order(today, "ORD-79008", "CUST-1002", 31, [("KB-MECH-TKL", 1, 0)]),  # the day after the window
    ]
    rng = random.Random(79001)
    regular = [product for product in PRODUCTS if not product.final_sale]
    number = 79100
    for customer in customers:
        for _ in range(3):
            number += 1
            picks = rng.sample(regular, rng.randint(1, 3))
            lines = []
            for product in picks:
                quantity = rng.choice([1, 1, 1, 2, 3])
                lines.append((product.sku, quantity, rng.choice([0, 0, 0, quantity - 1])))
            orders.append(_order(today, f"ORD-{number}", customer.customer_id, rng.randint(1, 70), lines))
    return DemoData(products=PRODUCTS, customers=customers, orders=tuple(orders))


@dataclass(frozen=True)
class SeedReport:
    created: int
    existing: int
    redated: int = 0  # demo orders moved to today's calendar (see ``_redate``)


async def seed_demo_data(repo: CosmosRepository, data: DemoData) -> SeedReport:
    """Create every demo document that is missing; leave existing ones (and returns made since) alone."""
    await repo.ensure_schema()
    writes = [(repo.products, docs.product_document(product)) for product in data.products]
    for customer in data.customers:
        writes.append((repo.customer_data, docs.customer_document(customer)))
        writes.append((repo.lookups, {"id": email_key(customer.email), "customer_id": customer.customer_id}))
    for order in data.orders:
        writes.append((repo.customer_data, docs.order_document(order)))
        writes.append((repo.lookups, {"id": order_key(order.order_id), "customer_id": order.customer_id}))
    created = redated = 0
    for container, doc in writes:
        if await repo.create_if_missing(container, doc):
            created += 1
        elif doc.get("type") == docs.ORDER:
            redated += await _redate(repo, doc)
    return SeedReport(created=created, existing=len(writes) - created, redated=redated)


async def _redate(repo: CosmosRepository, fresh: dict) -> bool:
    """The local store keeps its data across days (var/cosmos): a demo order nobody has returned anything from
    is moved to today's calendar, so the seed scenario never expires. Orders with returns keep their history."""
    stored = await repo.customer_data.read_item(item=fresh["id"], partition_key=fresh["customer_id"])
    if stored.get("return_ids") or stored.get("delivered_on") == fresh["delivered_on"]:
        return False
    try:
        await repo.replace_guarded(repo.customer_data, {**stored, **fresh}, stored["_etag"])
    except ConcurrencyConflict:
        return False  # someone is using it right now: leave it
    return True
