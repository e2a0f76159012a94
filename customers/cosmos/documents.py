"""The JSON shape of each document in Cosmos DB, and its mapping to domain values.

Customer, orders, returns and ledger entries share one container partitioned by ``/customer_id`` (told apart
by ``type``), so every customer read is single-partition and a commit is one transactional batch.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from customers.domain import (
    Customer,
    LedgerEntry,
    Order,
    OrderLine,
    Product,
    Reason,
    Resolution,
    ReturnLine,
    ReturnRecord,
    ReturnStatus,
    Shipping,
    Tier,
)

Document = dict[str, Any]

CUSTOMER = "customer"
ORDER = "order"
RETURN = "return"
LEDGER_ENTRY = "ledger_entry"


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def customer_document(customer: Customer) -> Document:
    return {
        "id": customer.customer_id,
        "type": CUSTOMER,
        "customer_id": customer.customer_id,
        "name": customer.name,
        "email": customer.email,
        "tier": str(customer.tier),
    }


def customer_from_document(doc: Document) -> Customer:
    return Customer(customer_id=doc["customer_id"], name=doc["name"], email=doc["email"], tier=Tier(doc["tier"]))


def product_document(product: Product) -> Document:
    return {
        "id": product.sku,
        "sku": product.sku,
        "name": product.name,
        "price_cents": product.price_cents,
        "category": product.category,
        "return_window_days": product.return_window_days,
        "final_sale": product.final_sale,
    }


def product_from_document(doc: Document) -> Product:
    return Product(
        sku=doc["sku"],
        name=doc["name"],
        price_cents=int(doc["price_cents"]),
        category=doc["category"],
        return_window_days=int(doc["return_window_days"]),
        final_sale=bool(doc.get("final_sale", False)),
    )


def order_document(order: Order) -> Document:
    return {
        "id": order.order_id,
        "type": ORDER,
        "customer_id": order.customer_id,
        "order_id": order.order_id,
        "ordered_at": order.ordered_at.isoformat(),
        "delivered_on": order.delivered_on.isoformat() if order.delivered_on else None,
        "lines": [
            {
                "line_id": line.line_id,
                "sku": line.sku,
                "name": line.name,
                "unit_price_cents": line.unit_price_cents,
                "quantity": line.quantity,
                "returned_quantity": line.returned_quantity,
                "returned_outside": line.returned_outside,
            }
            for line in order.lines
        ],
        "return_ids": list(order.return_ids),
    }


def order_from_document(doc: Document) -> Order:
    return Order(
        order_id=doc["order_id"],
        customer_id=doc["customer_id"],
        ordered_at=datetime.fromisoformat(doc["ordered_at"]),
        delivered_on=_date(doc.get("delivered_on")),
        lines=tuple(
            OrderLine(
                line_id=line["line_id"],
                sku=line["sku"],
                name=line["name"],
                unit_price_cents=int(line["unit_price_cents"]),
                quantity=int(line["quantity"]),
                returned_quantity=int(line.get("returned_quantity", 0)),
                returned_outside=int(line.get("returned_outside", 0)),
            )
            for line in doc["lines"]
        ),
        return_ids=tuple(doc.get("return_ids", ())),
        etag=doc.get("_etag"),
    )


def return_document(record: ReturnRecord) -> Document:
    return {
        "id": record.return_id,
        "type": RETURN,
        "customer_id": record.customer_id,
        "return_id": record.return_id,
        "order_id": record.order_id,
        "approval_id": record.approval_id,
        "lines": [
            {
                "line_id": line.line_id,
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price_cents": line.unit_price_cents,
            }
            for line in record.lines
        ],
        "reason": str(record.reason),
        "resolution": str(record.resolution),
        "shipping": str(record.shipping) if record.shipping else None,
        "status": str(record.status),
        "refund_cents": record.refund_cents,
        "store_credit_cents": record.store_credit_cents,
        "fee_cents": record.fee_cents,
        "shipping_cost_cents": record.shipping_cost_cents,
        "tracking_number": record.tracking_number,
        "instructions": record.instructions,
        "created_at": record.created_at.isoformat(),
        "approved_by": record.approved_by,
        "history": list(record.history),
        "refund_to_void_cents": record.refund_to_void_cents,
    }


def return_from_document(doc: Document) -> ReturnRecord:
    return ReturnRecord(
        return_id=doc["return_id"],
        customer_id=doc["customer_id"],
        order_id=doc["order_id"],
        approval_id=doc["approval_id"],
        lines=tuple(
            ReturnLine(
                line_id=line["line_id"],
                sku=line["sku"],
                name=line["name"],
                quantity=int(line["quantity"]),
                unit_price_cents=int(line["unit_price_cents"]),
            )
            for line in doc["lines"]
        ),
        reason=Reason(doc["reason"]),
        resolution=Resolution(doc["resolution"]),
        shipping=Shipping(doc["shipping"]) if doc.get("shipping") else None,
        status=ReturnStatus(doc["status"]),
        refund_cents=int(doc["refund_cents"]),
        store_credit_cents=int(doc["store_credit_cents"]),
        fee_cents=int(doc["fee_cents"]),
        shipping_cost_cents=int(doc["shipping_cost_cents"]),
        tracking_number=doc.get("tracking_number"),
        instructions=doc.get("instructions", ""),
        created_at=datetime.fromisoformat(doc["created_at"]),
        approved_by=doc.get("approved_by", ""),
        history=tuple(doc.get("history", ())),
        etag=doc.get("_etag"),
        refund_to_void_cents=int(doc.get("refund_to_void_cents", 0)),
    )


def ledger_document(entry: LedgerEntry) -> Document:
    return {
        "id": entry.entry_id,
        "type": LEDGER_ENTRY,
        "customer_id": entry.customer_id,
        "amount_cents": entry.amount_cents,
        "kind": entry.kind,
        "return_id": entry.return_id,
        "created_at": entry.created_at.isoformat(),
    }


def ledger_from_document(doc: Document) -> LedgerEntry:
    return LedgerEntry(
        entry_id=doc["id"],
        customer_id=doc["customer_id"],
        amount_cents=int(doc["amount_cents"]),
        kind=doc["kind"],
        return_id=doc.get("return_id"),
        created_at=datetime.fromisoformat(doc["created_at"]),
    )
