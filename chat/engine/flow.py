"""The return being put together in one conversation: the slots the customer has filled so far.

Kept in the ChatKit thread's metadata, so it survives reconnects and every server process sees the same state.
Text and widget clicks both change it through the same methods, so they always reach the same state.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from customers.domain import Reason, Resolution, Shipping

METADATA_KEY = "return_flow"


class FlowStep(StrEnum):
    """Where a return being put together stands: what the customer is asked next. Supervisors read where
    conversations stop from the step of their last turn (returns_console insights, "stalls")."""

    ITEMS = "choosing what to return"
    REASON = "giving a reason"
    RESOLUTION = "choosing a resolution"
    SHIPPING = "choosing how to send it"
    SUMMARY = "at the summary, not confirmed"
    FILED = "return filed"


@dataclass
class FlowItem:
    sku: str
    quantity: int


@dataclass
class Flow:
    order_id: str | None = None
    items: list[FlowItem] = field(default_factory=list)
    reason: Reason | None = None
    resolution: Resolution | None = None
    shipping: Shipping | None = None
    # A reason read by the trained model, not yet confirmed: offered first when the reason is asked for.
    suggested_reason: Reason | None = None
    proposal_id: int | None = None
    # Just rated the conversation: the next words, unless they ask for something, are the rating's comment.
    rating_comment: bool = False

    @classmethod
    def load(cls, metadata: dict[str, Any]) -> Flow:
        raw = metadata.get(METADATA_KEY) or {}
        try:
            return cls(
                order_id=raw.get("order_id"),
                items=[FlowItem(str(i["sku"]), int(i["quantity"])) for i in raw.get("items", [])],
                reason=Reason(raw["reason"]) if raw.get("reason") else None,
                resolution=Resolution(raw["resolution"]) if raw.get("resolution") else None,
                shipping=Shipping(raw["shipping"]) if raw.get("shipping") else None,
                suggested_reason=Reason(raw["suggested_reason"]) if raw.get("suggested_reason") else None,
                proposal_id=raw.get("proposal_id"),
                rating_comment=bool(raw.get("rating_comment")),
            )
        except (KeyError, TypeError, ValueError):
            return cls()  # unreadable state: start afresh rather than fail the conversation

    def save(self, metadata: dict[str, Any]) -> None:
        metadata[METADATA_KEY] = json.loads(json.dumps(asdict(self), default=str))

    @property
    def needs_shipping(self) -> bool:
        return self.resolution is not Resolution.KEEP_WITH_DISCOUNT

    @property
    def step(self) -> FlowStep:
        if self.proposal_id is not None:
            return FlowStep.FILED
        if not self.items:
            return FlowStep.ITEMS
        if not self.reason:
            return FlowStep.REASON
        if not self.resolution:
            return FlowStep.RESOLUTION
        if self.needs_shipping and not self.shipping:
            return FlowStep.SHIPPING
        return FlowStep.SUMMARY

    @property
    def complete(self) -> bool:
        return bool(
            self.order_id
            and self.items
            and self.reason
            and self.resolution
            and (self.shipping or not self.needs_shipping)
        )

    def submission_key(self) -> str:
        """Same return, same key: confirming one summary twice files one proposal; any change files anew."""
        content = {
            k: v for k, v in asdict(self).items() if k not in ("proposal_id", "rating_comment", "suggested_reason")
        }
        return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:32]

    def choose_item(self, order_id: str, sku: str, quantity: int) -> None:
        """Items come from one order per return; choosing from another order starts the return afresh."""
        if self.order_id != order_id:
            self.reset()
            self.order_id = order_id
        self.proposal_id = None
        for item in self.items:
            if item.sku == sku:
                item.quantity = quantity
                return
        self.items.append(FlowItem(sku, quantity))

    def choose_reason(self, reason: Reason) -> None:
        """A reason the customer gave or confirmed; a guess offered before is settled by it."""
        self.reason = reason
        self.suggested_reason = None

    def reset(self) -> None:
        self.__dict__.update(Flow().__dict__)
