"""Who is asking: every ChatKit call runs with the signed-in customer taken from the session, never from text."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChatContext:
    customer_id: str
    # The order the customer signed in with (returns-portal convention: email + order number).
    order_id: str
