"""Cancelling a committed return in Cosmos: the exact reverse of its commit, in one transactional batch.

The return says cancelled, the order's returned quantities are released (the items can be returned again), and
the money comes back: store credit by a reversing ledger entry, a refund by marking it to be voided. Ids derive
from the return, and a return already cancelled is left as it is, so a repeated cancel changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import replace
from typing import Any

from azure.cosmos.exceptions import CosmosBatchOperationError

from customers import clock
from customers.cosmos import documents as docs
from customers.cosmos.repository import CosmosRepository
from customers.domain import LedgerEntry, Order, ReturnRecord, ReturnStatus
from customers.errors import ConcurrencyConflict, InvalidTransition
from customers.services.commit import CONFLICT, MAX_ATTEMPTS
from customers.services.lifecycle import allowed_next


def reversal_entry_id(return_id: str) -> str:
    return f"LED-REV-{return_id}"


def _released(order: Order, record: ReturnRecord) -> Order:
    returned = {line.line_id: line.quantity for line in record.lines}
    lines = tuple(
        replace(line, returned_quantity=max(0, line.returned_quantity - returned.get(line.line_id, 0)))
        for line in order.lines
    )
    return replace(order, lines=lines)


def _operations(record: ReturnRecord, order: Order, actor: str, note: str) -> list[tuple[Any, ...]]:
    now = clock.now()
    step = {"status": str(ReturnStatus.CANCELLED), "at": now.isoformat(), "by": actor}
    if note:
        step["note"] = note
    cancelled = replace(
        record,
        status=ReturnStatus.CANCELLED,
        history=(*record.history, step),
        refund_to_void_cents=record.refund_cents,
    )
    operations: list[tuple[Any, ...]] = [
        ("replace", (record.return_id, docs.return_document(cancelled)), {"if_match_etag": record.etag}),
        ("replace", (order.order_id, docs.order_document(_released(order, record))), {"if_match_etag": order.etag}),
    ]
    if record.store_credit_cents > 0:
        entry = LedgerEntry(
            entry_id=reversal_entry_id(record.return_id),
            customer_id=record.customer_id,
            amount_cents=-record.store_credit_cents,
            kind="return_credit_reversal",
            return_id=record.return_id,
            created_at=now,
        )
        operations.append(("create", (docs.ledger_document(entry),)))
    return operations


async def reverse_return(
    repo: CosmosRepository, customer_id: str, return_id: str, *, actor: str, note: str = ""
) -> ReturnRecord:
    """Cancel the return; returns it as stored. Raises ``InvalidTransition``
    once the item is received (too late to cancel), ``ConcurrencyConflict`` when it kept changing under us."""
    for attempt in range(MAX_ATTEMPTS):
        record = await repo.get_return(customer_id, return_id)
        if record.status is ReturnStatus.CANCELLED:
            return record
        if ReturnStatus.CANCELLED not in allowed_next(record):
            raise InvalidTransition(
                f"Return {return_id} is {str(record.status).replace('_', ' ')}: it can no longer be cancelled "
                "(only until the item is received)."
            )
        order = await repo.get_order(customer_id, record.order_id)
        try:
            await repo.execute_batch(customer_id, _operations(record, order, actor, note))
        except CosmosBatchOperationError as error:
            status = error.operation_responses[error.error_index].get("statusCode")
            if status != CONFLICT or error.error_index not in (0, 1):
                raise
            logging.getLogger(__name__).info("cancel of %s lost a race, attempt %s", return_id, attempt + 1)
            await asyncio.sleep(random.uniform(0, 0.005 * (attempt + 1)))
            continue
        return await repo.get_return(customer_id, return_id)
    raise ConcurrencyConflict(f"Return {return_id} kept changing; try cancelling again.")
