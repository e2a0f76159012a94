"""The one tool catalogue: read-only tools over the ``customers`` services, plus ``propose_return``.

The LLM engine, the simulations and the MCP server all call these, so a rule is never restated per caller. The
customer always comes from the session (the catalogue is built for one customer), never from a tool's arguments;
amounts always come from the rules. Every tool answers JSON-safe data; a refusal is a ``ToolRefusal`` whose message
is written for the model to relay, never a stack trace.

``propose_return`` only checks and prices a return: the customer confirms it on the summary card, and confirming
files the proposal exactly as the guided flow does. Nothing here can approve, refund or commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from customers import clock
from customers.cosmos.repository import CosmosRepository
from customers.domain import ORDER_ID_PATTERN, Reason, Resolution, ReturnRecord, Shipping
from customers.errors import ReturnsError
from customers.models import Proposal, ProposalState
from customers.policy import ReturnPolicy
from customers.services.assessment import Assessment, CustomerOverview, LineView, Selection, assess, customer_overview
from customers.services.policy_answers import policy_hits
from customers.services.quote import RefundQuote

MAX_ITEMS = 20


class ToolRefusal(Exception):
    """What the model is told when a tool cannot do what it asked (it tells the customer in its own words)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ProposedReturn:
    """A return checked and priced by the rules, ready for the customer to confirm on the summary card."""

    order_id: str
    items: tuple[Selection, ...]
    reason: Reason
    resolution: Resolution
    shipping: Shipping | None
    assessment: Assessment

    @property
    def quote(self) -> RefundQuote:
        assert self.assessment.quote is not None
        return self.assessment.quote

    def as_json(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "items": [
                {"sku": view.line.sku, "name": view.line.name, "quantity": quantity}
                for view, quantity in self.assessment.lines
            ],
            "reason": str(self.reason),
            "resolution": str(self.resolution),
            "shipping": str(self.shipping) if self.shipping else None,
            "quote": quote_json(self.quote),
            "next": "The customer now sees a summary card to Confirm, Change or Cancel. Nothing is filed until "
            "they confirm; our team then reviews it.",
        }


def quote_json(quote: RefundQuote) -> dict[str, Any]:
    return {
        "merchandise_cents": quote.merchandise_cents,
        "restocking_fee_cents": quote.restocking_fee_cents,
        "shipping_cost_cents": quote.shipping_cost_cents,
        "bonus_cents": quote.bonus_cents,
        "refund_cents": quote.refund_cents,
        "store_credit_cents": quote.store_credit_cents,
        "total_cents": quote.total_cents,
        "notes": list(quote.notes),
    }


def _label(enum: type[Reason] | type[Resolution] | type[Shipping], value: object, what: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        options = ", ".join(f'"{option}"' for option in enum)
        raise ToolRefusal(f"{what} must be one of: {options} (got {value!r}).") from None


def _line_json(view: LineView) -> dict[str, Any]:
    return {
        "order_id": view.order.order_id,
        "sku": view.line.sku,
        "name": view.line.name,
        "unit_price_cents": view.line.unit_price_cents,
        "ordered": view.line.quantity,
        "returnable": view.line.returnable_quantity if view.eligibility.eligible else 0,
        "eligible": view.eligibility.eligible,
        "days_left": view.eligibility.days_left,
        "why": view.eligibility.message,
    }


def status_json(returns: list[ReturnRecord], pending: list[Proposal]) -> dict[str, Any]:
    """What ``return_status`` tells the model, from the records ``status_records`` read."""
    waiting = [
        {"request": p.pk, "order_id": p.order_id, "state": "waiting for review", "total_cents": p.total_cents}
        for p in pending
    ]
    done = [
        {
            "return_id": record.return_id,
            "order_id": record.order_id,
            "status": str(record.status),
            "refund_cents": record.refund_cents,
            "store_credit_cents": record.store_credit_cents,
            "tracking_number": record.tracking_number,
        }
        for record in returns
    ]
    return {"waiting_for_review": waiting, "returns": done}


class ReturnsTools:
    """The catalogue for one signed-in customer; reads the system of record once per turn."""

    def __init__(self, repo: CosmosRepository, customer_id: str, policy: ReturnPolicy) -> None:
        self.repo = repo
        self.customer_id = customer_id
        self.policy = policy
        self._overview: CustomerOverview | None = None

    async def overview(self) -> CustomerOverview:
        if self._overview is None:
            self._overview = await customer_overview(self.repo, self.customer_id, self.policy, clock.store_today())
        return self._overview

    def _known_order(self, overview: CustomerOverview, order_id: object) -> str:
        if not isinstance(order_id, str) or not ORDER_ID_PATTERN.match(order_id.strip().upper()):
            raise ToolRefusal(f"{order_id!r} is not an order number (they look like ORD-79001).")
        order_id = order_id.strip().upper()
        if not any(view.order.order_id == order_id for view in overview.lines):
            raise ToolRefusal(f"Order {order_id} is not one of this customer's orders.")
        return order_id

    # --- read-only ------------------------------------------------------------------------------
    async def list_orders(self) -> dict[str, Any]:
        """The customer's orders, newest first, each line with whether and how long it can be returned."""
        overview = await self.overview()
        orders: dict[str, dict[str, Any]] = {}
        for view in overview.lines:
            order = orders.setdefault(
                view.order.order_id,
                {
                    "order_id": view.order.order_id,
                    "ordered_on": view.order.ordered_at.date().isoformat(),
                    "delivered_on": view.order.delivered_on.isoformat() if view.order.delivered_on else None,
                    "lines": [],
                },
            )
            order["lines"].append(_line_json(view))
        customer = overview.customer
        return {"customer": {"name": customer.name, "tier": str(customer.tier)}, "orders": list(orders.values())}

    async def returnable_items(self, order_id: str | None = None) -> dict[str, Any]:
        """Lines that can be returned today (one order, or all), with days left."""
        overview = await self.overview()
        wanted = self._known_order(overview, order_id) if order_id else None
        lines = [
            _line_json(view)
            for view in overview.lines
            if view.eligibility.eligible and (wanted is None or view.order.order_id == wanted)
        ]
        return {"items": lines}

    async def check_eligibility(self, order_id: str, sku: str) -> dict[str, Any]:
        overview = await self.overview()
        view = overview.line(self._known_order(overview, order_id), str(sku).strip().upper())
        if view is None:
            raise ToolRefusal(f"{sku} is not on order {order_id}.")
        return _line_json(view)

    async def refund_quote(
        self, order_id: str, items: list[dict[str, Any]], reason: str, resolution: str, shipping: str | None
    ) -> dict[str, Any]:
        """What the customer would get back, by the rules, for these items and choices."""
        return quote_json((await self.check_return(order_id, items, reason, resolution, shipping)).quote)

    async def search_policy(self, question: str) -> dict[str, Any]:
        hits = policy_hits(str(question), self.policy)
        return {"policies": [{"title": hit.title, "text": hit.body} for hit in hits]}

    async def status_records(self) -> tuple[list[ReturnRecord], list[Proposal]]:
        """The customer's returns in Cosmos (newest first) and their requests still waiting for review."""
        returns = sorted(await self.repo.list_returns(self.customer_id), key=lambda r: r.created_at, reverse=True)
        pending = [
            p
            async for p in Proposal.objects.filter(customer_id=self.customer_id, state=ProposalState.PROPOSED).order_by(
                "-created_at"
            )
        ]
        return returns, pending

    async def return_status(self) -> dict[str, Any]:
        """The customer's returns in Cosmos and their requests still waiting for review."""
        return status_json(*await self.status_records())

    # --- the one write: a proposal for the customer to confirm ----------------------------------------
    async def check_return(
        self, order_id: object, items: object, reason: object, resolution: object, shipping: object
    ) -> ProposedReturn:
        """Validate the arguments of ``propose_return`` and price the return by the rules."""
        overview = await self.overview()
        order = self._known_order(overview, order_id)
        if not isinstance(items, list) or not items or len(items) > MAX_ITEMS:
            raise ToolRefusal(f'"items" must be a list of 1 to {MAX_ITEMS} {{"sku", "quantity"}} objects.')
        selections: dict[str, int] = {}
        for item in items:
            sku = item.get("sku") if isinstance(item, dict) else None
            quantity = item.get("quantity", 1) if isinstance(item, dict) else None
            if not isinstance(sku, str) or not isinstance(quantity, int) or isinstance(quantity, bool):
                raise ToolRefusal('Each item is {"sku": string, "quantity": whole number}.')
            selections[sku.strip().upper()] = selections.get(sku.strip().upper(), 0) + quantity
        why = _label(Reason, reason, "reason")
        how = _label(Resolution, resolution, "resolution")
        ship = None if how is Resolution.KEEP_WITH_DISCOUNT else _label(Shipping, shipping, "shipping")
        chosen = tuple(Selection(sku, quantity) for sku, quantity in selections.items())
        try:
            assessment = assess(overview, order, list(chosen), why, how, ship, self.policy)
        except ReturnsError as refused:
            raise ToolRefusal(refused.message) from None
        return ProposedReturn(order, chosen, why, how, ship, assessment)
