"""Moving a committed return along its lifecycle.

approved -> label_issued -> in_transit -> received -> refunded | credited, or cancelled before it ships.
Store credit ends in ``credited`` (the credit was issued at commit); everything else ends in ``refunded``.
Items the customer keeps skip the parcel steps.
"""

from __future__ import annotations

from dataclasses import replace

from customers import clock
from customers.cosmos import documents as docs
from customers.cosmos.repository import CosmosRepository
from customers.domain import Resolution, ReturnRecord, ReturnStatus
from customers.errors import InvalidTransition

S = ReturnStatus
TRANSITIONS: dict[ReturnStatus, frozenset[ReturnStatus]] = {
    S.APPROVED: frozenset({S.LABEL_ISSUED, S.CANCELLED}),
    S.LABEL_ISSUED: frozenset({S.IN_TRANSIT, S.CANCELLED}),
    S.IN_TRANSIT: frozenset({S.RECEIVED, S.CANCELLED}),  # cancellable until the item is received
    S.RECEIVED: frozenset({S.REFUNDED, S.CREDITED}),
    S.REFUNDED: frozenset(),
    S.CREDITED: frozenset(),
    S.CANCELLED: frozenset(),
}


def final_status(resolution: Resolution) -> ReturnStatus:
    return S.CREDITED if resolution is Resolution.STORE_CREDIT else S.REFUNDED


def allowed_next(record: ReturnRecord) -> frozenset[ReturnStatus]:
    if record.resolution is Resolution.KEEP_WITH_DISCOUNT:
        return frozenset({S.REFUNDED, S.CANCELLED}) if record.status is S.APPROVED else frozenset()
    settles = final_status(record.resolution)
    return frozenset(status for status in TRANSITIONS[record.status] if status in (settles, *_PARCEL_STEPS))


_PARCEL_STEPS = (S.LABEL_ISSUED, S.IN_TRANSIT, S.RECEIVED, S.CANCELLED)


async def advance_return(
    repo: CosmosRepository, customer_id: str, return_id: str, to_status: ReturnStatus, actor: str, note: str = ""
) -> ReturnRecord:
    """Apply one lifecycle step, guarded by the return's etag so two agents cannot both move it."""
    if to_status is S.CANCELLED:
        raise InvalidTransition("Cancelling reverses the return's money and quantities: use cancel_return.")
    record = await repo.get_return(customer_id, return_id)
    if to_status not in allowed_next(record):
        allowed = ", ".join(sorted(allowed_next(record))) or "none (it is finished)"
        raise InvalidTransition(f"Return {return_id} is {record.status}; next steps allowed: {allowed}.")
    now = clock.now()
    step = {"status": str(to_status), "at": now.isoformat(), "by": actor}
    if note:
        step["note"] = note
    updated = replace(record, status=to_status, history=(*record.history, step))
    saved = await repo.replace_guarded(repo.customer_data, docs.return_document(updated), record.etag or "*")
    return replace(updated, etag=saved.get("_etag"))
