"""Recognising a customer the returns-portal way: the email on the account plus one of its order numbers."""

from __future__ import annotations

from customers.cosmos.repository import CosmosRepository
from customers.domain import ORDER_ID_PATTERN
from customers.errors import NotFound


def normalise_order_id(order_id: str) -> str:
    compact = order_id.strip().upper().replace(" ", "").replace("#", "")
    if compact.startswith("ORD") and not compact.startswith("ORD-"):
        compact = "ORD-" + compact[3:]
    return compact


async def identify_customer(repo: CosmosRepository, email: str, order_id: str) -> str | None:
    """The customer id when the email and order belong to the same account, else None.

    Both lookups are point reads; a miss on either answers the same None, so a caller cannot learn which
    half was wrong (which would let someone probe for valid emails or order numbers).
    """
    order_id = normalise_order_id(order_id)
    if not ORDER_ID_PATTERN.match(order_id) or "@" not in email or len(email) > 254:
        return None
    try:
        by_email = await repo.customer_id_for_email(email)
        by_order = await repo.customer_id_for_order(order_id)
    except NotFound:
        return None
    return by_email if by_email == by_order else None
