"""Committing an approved return to the system of record, exactly once.

One transactional batch in the customer's partition creates the return, raises the order lines' returned
quantities (the order is replaced only if its etag is unchanged) and writes the store-credit ledger entry.
The ids derive from the approval, and the order remembers which returns it carries, so running a commit
twice (a retried task, a redelivered message) gives back the first return instead of a second one.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from azure.cosmos.exceptions import CosmosBatchOperationError

from customers import clock
from customers.cosmos import documents as docs
from customers.cosmos.repository import CosmosRepository
from customers.domain import (
    ORDER_ID_PATTERN,
    SKU_PATTERN,
    LedgerEntry,
    Order,
    OrderLine,
    Reason,
    Resolution,
    ReturnLine,
    ReturnRecord,
    ReturnStatus,
    Shipping,
)
from customers.errors import ConcurrencyConflict, InvalidRequest, NotReturnable
from customers.services.quote import RefundQuote

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
CONFLICT = 412
EXISTS = 409


@dataclass(frozen=True)
class ReturnLineRequest:
    sku: str
    quantity: int


@dataclass(frozen=True)
class ApprovedReturn:
    """Everything a commit needs, decided before it runs; ``approval_id`` makes the commit idempotent."""

    approval_id: str
    customer_id: str
    order_id: str
    lines: tuple[ReturnLineRequest, ...]
    reason: Reason
    resolution: Resolution
    # None only when the customer keeps the item (Keep with Discount): nothing travels.
    shipping: Shipping | None
    quote: RefundQuote
    approved_by: str

    def to_payload(self) -> dict[str, Any]:
        return {
            "approval_id": self.approval_id,
            "customer_id": self.customer_id,
            "order_id": self.order_id,
            "lines": [{"sku": line.sku, "quantity": line.quantity} for line in self.lines],
            "reason": str(self.reason),
            "resolution": str(self.resolution),
            "shipping": str(self.shipping) if self.shipping else None,
            "quote": self.quote.to_dict(),
            "approved_by": self.approved_by,
        }


@dataclass(frozen=True)
class CommitResult:
    record: ReturnRecord
    created: bool


def parse_approved_return(payload: Any) -> ApprovedReturn:
    """Validate an untrusted payload (a task message, an API body) into an ``ApprovedReturn``."""
    if not isinstance(payload, dict):
        raise InvalidRequest("An approved return must be a JSON object.")

    def text(name: str) -> str:
        value = payload.get(name)
        if not isinstance(value, str) or not value.strip():
            raise InvalidRequest(f"'{name}' is required and must be text.")
        return value.strip()

    def choice(name: str, kind: type[Reason] | type[Resolution] | type[Shipping]) -> Any:
        value = text(name)
        try:
            return kind(value)
        except ValueError:
            options = ", ".join(str(member) for member in kind)
            raise InvalidRequest(f"'{name}' must be one of: {options} (got {value!r}).") from None

    order_id = text("order_id").upper()
    if not ORDER_ID_PATTERN.match(order_id):
        raise InvalidRequest(f"{order_id!r} is not an order number; they look like ORD-79001.")
    raw_lines = payload.get("lines")
    if not isinstance(raw_lines, list) or not raw_lines:
        raise InvalidRequest("'lines' must be a non-empty list of {sku, quantity}.")
    lines: list[ReturnLineRequest] = []
    for raw in raw_lines:
        if not isinstance(raw, dict):
            raise InvalidRequest("Each line must be an object with 'sku' and 'quantity'.")
        sku, quantity = raw.get("sku"), raw.get("quantity")
        if not isinstance(sku, str) or not SKU_PATTERN.match(sku):
            raise InvalidRequest(f"{sku!r} is not a valid SKU.")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise InvalidRequest(f"Quantity for {sku} must be a whole number of at least 1 (got {quantity!r}).")
        lines.append(ReturnLineRequest(sku=sku, quantity=quantity))
    if len({line.sku for line in lines}) != len(lines):
        raise InvalidRequest("Each SKU may appear only once in a return.")
    quote_data = payload.get("quote")
    try:
        quote = RefundQuote.from_dict(quote_data) if isinstance(quote_data, dict) else None
    except (KeyError, TypeError, ValueError):
        quote = None
    if quote is None:
        raise InvalidRequest("'quote' must be the refund quote the approval was made on.")
    resolution = choice("resolution", Resolution)
    if quote.resolution is not resolution:
        raise InvalidRequest("The quote was made for a different resolution.")
    if min(quote.refund_cents, quote.store_credit_cents) < 0:
        raise InvalidRequest("Amounts cannot be negative.")
    return ApprovedReturn(
        approval_id=text("approval_id"),
        customer_id=text("customer_id"),
        order_id=order_id,
        lines=tuple(lines),
        reason=choice("reason", Reason),
        resolution=resolution,
        shipping=None if resolution is Resolution.KEEP_WITH_DISCOUNT else choice("shipping", Shipping),
        quote=quote,
        approved_by=text("approved_by"),
    )


def _digest(approval_id: str) -> str:
    return hashlib.sha256(approval_id.encode()).hexdigest()[:12].upper()


def return_id_for(approval_id: str) -> str:
    return f"RET-{_digest(approval_id)}"


def ledger_entry_id_for(approval_id: str) -> str:
    return f"LED-{_digest(approval_id)}"


def _tracking_number(return_id: str) -> str:
    digits = int(hashlib.sha256(return_id.encode()).hexdigest()[:15], 16) % 10**16
    return f"1ZRC{digits:016d}"


def _next_business_day(now: datetime) -> str:
    day = clock.store_today(now) + timedelta(days=1)  # the store's calendar, not UTC's
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day.isoformat()


def shipping_arrangement(
    return_id: str, shipping: Shipping | None, resolution: Resolution, now: datetime
) -> tuple[str | None, str]:
    """The tracking number (if the parcel travels) and what the customer does next."""
    if resolution is Resolution.KEEP_WITH_DISCOUNT or shipping is None:
        return None, "Keep the item; nothing needs to be sent back."
    tracking = _tracking_number(return_id)
    if shipping is Shipping.PREPAID_LABEL:
        return tracking, f"Print the prepaid label (tracking {tracking}) and hand the parcel to the carrier."
    if shipping is Shipping.PICKUP:
        return tracking, f"A courier will collect the parcel on {_next_business_day(now)} (tracking {tracking})."
    if shipping is Shipping.DROP_OFF:
        return tracking, f"Drop the parcel at any carrier point and quote {tracking}."
    return None, f"Bring the item to any of our stores and show return {return_id}."


def _returned_lines(order: Order, approved: ApprovedReturn) -> tuple[tuple[ReturnLine, ...], tuple[OrderLine, ...]]:
    """The return's lines and the order's new lines; raises if any quantity is no longer returnable."""
    by_sku = {line.sku: line for line in order.lines}
    returned: list[ReturnLine] = []
    updated = dict(by_sku)
    for request in approved.lines:
        line = by_sku.get(request.sku)
        if line is None:
            raise InvalidRequest(f"SKU {request.sku} is not on order {order.order_id}.")
        if request.quantity > line.returnable_quantity:
            raise NotReturnable(
                f"{line.name} on order {order.order_id} is no longer returnable: "
                f"{line.returnable_quantity} of {line.quantity} left, {request.quantity} requested."
            )
        returned.append(ReturnLine(line.line_id, line.sku, line.name, request.quantity, line.unit_price_cents))
        updated[line.sku] = replace(line, returned_quantity=line.returned_quantity + request.quantity)
    return tuple(returned), tuple(updated[line.sku] for line in order.lines)


def _build_documents(
    order: Order, approved: ApprovedReturn, now: datetime
) -> tuple[ReturnRecord, dict[str, Any], dict[str, Any] | None]:
    return_id = return_id_for(approved.approval_id)
    lines, order_lines = _returned_lines(order, approved)
    tracking, instructions = shipping_arrangement(return_id, approved.shipping, approved.resolution, now)
    quote = approved.quote
    record = ReturnRecord(
        return_id=return_id,
        customer_id=approved.customer_id,
        order_id=order.order_id,
        approval_id=approved.approval_id,
        lines=lines,
        reason=approved.reason,
        resolution=approved.resolution,
        shipping=approved.shipping,
        status=ReturnStatus.APPROVED,
        refund_cents=quote.refund_cents,
        store_credit_cents=quote.store_credit_cents,
        fee_cents=quote.restocking_fee_cents,
        shipping_cost_cents=quote.shipping_cost_cents,
        tracking_number=tracking,
        instructions=instructions,
        created_at=now,
        approved_by=approved.approved_by,
        history=({"status": str(ReturnStatus.APPROVED), "at": now.isoformat(), "by": approved.approved_by},),
    )
    new_order = replace(order, lines=order_lines, return_ids=(*order.return_ids, return_id))
    ledger = None
    if quote.store_credit_cents > 0:
        ledger = docs.ledger_document(
            LedgerEntry(
                entry_id=ledger_entry_id_for(approved.approval_id),
                customer_id=approved.customer_id,
                amount_cents=quote.store_credit_cents,
                kind="return_credit",
                return_id=return_id,
                created_at=now,
            )
        )
    return record, docs.order_document(new_order), ledger


async def commit_return(repo: CosmosRepository, approved: ApprovedReturn, now: datetime | None = None) -> CommitResult:
    """Write the approved return, or return the one an earlier run of the same approval wrote.

    Raises ``InvalidRequest`` (unknown SKU), ``NotFound`` (order), ``NotReturnable`` (quantity already taken:
    the loser of a race for the last unit) or ``ConcurrencyConflict`` after ``MAX_ATTEMPTS`` lost races.
    """
    now = now or clock.now()
    return_id = return_id_for(approved.approval_id)
    for attempt in range(MAX_ATTEMPTS):
        order = await repo.get_order(approved.customer_id, approved.order_id)
        if return_id in order.return_ids:
            return CommitResult(await repo.get_return(approved.customer_id, return_id), created=False)
        record, order_doc, ledger_doc = _build_documents(order, approved, now)
        operations: list[tuple[Any, ...]] = [
            ("create", (docs.return_document(record),)),
            ("replace", (order.order_id, order_doc), {"if_match_etag": order.etag}),
        ]
        if ledger_doc is not None:
            operations.append(("create", (ledger_doc,)))
        try:
            results = await repo.execute_batch(approved.customer_id, operations)
        except CosmosBatchOperationError as error:
            status = error.operation_responses[error.error_index].get("statusCode")
            # Only two failures mean "lost a race": the order changed (412 on the replace) or this very
            # return was written meanwhile (409 on its create). Anything else is a real error.
            if (error.error_index, status) not in {(0, EXISTS), (1, CONFLICT)}:
                raise
            # Someone changed the order (or wrote this very return) first: read again and re-decide.
            logger.info("commit %s lost a race (status %s), attempt %s", return_id, status, attempt + 1)
            await asyncio.sleep(random.uniform(0, 0.005 * (attempt + 1)))
            continue
        etag = results[0].get("eTag") if results else None
        return CommitResult(replace(record, etag=etag), created=True)
    raise ConcurrencyConflict(f"Order {approved.order_id} kept changing; the commit of {return_id} will be retried.")
