"""The returns domain as plain, typed values.

Documents in Cosmos DB are parsed into these at the repository boundary, so rules never see raw JSON.
Money is always integer cents.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class Tier(StrEnum):
    STANDARD = "Standard"
    SILVER = "Silver"
    GOLD = "Gold"
    PLATINUM = "Platinum"


class Reason(StrEnum):
    DAMAGED = "Damaged/Defective"
    WRONG_ITEM = "Wrong Item Received"
    NOT_AS_DESCRIBED = "Not As Described"
    CHANGED_MIND = "Changed My Mind"
    BETTER_PRICE = "Found Better Price"
    ARRIVED_LATE = "Arrived Too Late"
    GIFT_RETURN = "Gift Return"


class Resolution(StrEnum):
    FULL_REFUND = "Full Refund"
    EXCHANGE = "Exchange"
    STORE_CREDIT = "Store Credit"
    KEEP_WITH_DISCOUNT = "Keep with Discount"


class Shipping(StrEnum):
    PREPAID_LABEL = "Prepaid Shipping Label"
    PICKUP = "Schedule Pickup"
    DROP_OFF = "Customer Drop-off"
    RETURN_TO_STORE = "Return to Store"


class ReturnStatus(StrEnum):
    APPROVED = "approved"
    LABEL_ISSUED = "label_issued"
    IN_TRANSIT = "in_transit"
    RECEIVED = "received"
    REFUNDED = "refunded"
    CREDITED = "credited"
    CANCELLED = "cancelled"


ORDER_ID_PATTERN = re.compile(r"^ORD-\d{4,10}$")
SKU_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,39}$")


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price_cents: int
    category: str
    return_window_days: int
    final_sale: bool = False


@dataclass(frozen=True)
class OrderLine:
    line_id: str
    sku: str
    name: str
    unit_price_cents: int
    quantity: int
    returned_quantity: int = 0
    # Of returned_quantity, what came back before or outside this console (no return document of ours), so
    # the reconciler can check the rest against the returns that exist.
    returned_outside: int = 0

    @property
    def returnable_quantity(self) -> int:
        return max(0, self.quantity - self.returned_quantity)


@dataclass(frozen=True)
class Order:
    order_id: str
    customer_id: str
    ordered_at: datetime
    delivered_on: date | None
    lines: tuple[OrderLine, ...]
    return_ids: tuple[str, ...] = ()
    etag: str | None = None

    def line(self, line_id: str) -> OrderLine | None:
        return next((line for line in self.lines if line.line_id == line_id), None)


@dataclass(frozen=True)
class Customer:
    customer_id: str
    name: str
    email: str
    tier: Tier


@dataclass(frozen=True)
class ReturnLine:
    line_id: str
    sku: str
    name: str
    quantity: int
    unit_price_cents: int


@dataclass(frozen=True)
class ReturnRecord:
    return_id: str
    customer_id: str
    order_id: str
    approval_id: str
    lines: tuple[ReturnLine, ...]
    reason: Reason
    resolution: Resolution
    shipping: Shipping | None
    status: ReturnStatus
    refund_cents: int
    store_credit_cents: int
    fee_cents: int
    shipping_cost_cents: int
    tracking_number: str | None
    instructions: str
    created_at: datetime
    approved_by: str = ""
    history: tuple[dict[str, str], ...] = field(default_factory=tuple)
    etag: str | None = None
    # A cancelled refund: this much is to be voided at the payment provider (store credit is reversed in the ledger).
    refund_to_void_cents: int = 0


@dataclass(frozen=True)
class LedgerEntry:
    entry_id: str
    customer_id: str
    amount_cents: int
    kind: str
    return_id: str | None
    created_at: datetime
