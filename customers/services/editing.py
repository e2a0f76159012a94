"""An agent's edit of a proposal, checked by the same rules as the customer's request before anyone approves it."""

from __future__ import annotations

from typing import Any

from customers.clock import store_today
from customers.cosmos.repository import CosmosRepository
from customers.domain import Reason, Resolution, Shipping
from customers.errors import InvalidRequest
from customers.models import Proposal
from customers.policy import ReturnPolicy
from customers.services.assessment import Selection, assess, customer_overview
from customers.services.authority import money
from customers.services.decisions import ProposalEdit
from customers.services.proposals import proposal_lines
from customers.services.quote import percent_of


def _parse_quantities(proposal: Proposal, quantities: Any) -> dict[str, int]:
    current = {line["sku"]: int(line["quantity"]) for line in proposal.lines}
    if quantities is None:
        return current
    if not isinstance(quantities, dict):
        raise InvalidRequest('"quantities" must be an object of SKU to quantity.')
    for sku, quantity in quantities.items():
        if sku not in current:
            raise InvalidRequest(f"{sku} is not part of this proposal.")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise InvalidRequest(f"The quantity of {sku} must be a whole number of at least 1.")
        current[sku] = quantity
    return current


async def reassess_edit(
    repo: CosmosRepository, proposal: Proposal, changes: dict[str, Any], policy: ReturnPolicy
) -> ProposalEdit:
    """Apply quantities / resolution / shipping / amount override to a proposal and re-run eligibility and the
    quote against the system of record as it is now. Raises InvalidRequest / NotReturnable with a reason."""
    quantities = _parse_quantities(proposal, changes.get("quantities"))
    try:
        resolution = Resolution(changes.get("resolution") or proposal.resolution)
    except ValueError:
        raise InvalidRequest(f"Unknown resolution: {changes.get('resolution')!r}.") from None
    shipping_value = changes.get("shipping", proposal.shipping) or None
    try:
        shipping = Shipping(shipping_value) if shipping_value else None
    except ValueError:
        raise InvalidRequest(f"Unknown shipping option: {shipping_value!r}.") from None
    if resolution is Resolution.KEEP_WITH_DISCOUNT:
        shipping = None
    elif shipping is None:
        raise InvalidRequest("Choose how the item comes back (shipping).")
    override = changes.get("amount_override_cents")
    if override is not None and (not isinstance(override, int) or isinstance(override, bool)):
        raise InvalidRequest('"amount_override_cents" must be a whole number of cents.')
    reason_for_change = changes.get("reason_for_change") or ""
    if not isinstance(reason_for_change, str):
        raise InvalidRequest('"reason_for_change" must be text.')
    overview = await customer_overview(repo, proposal.customer_id, policy, store_today())
    selections = [Selection(sku, quantity) for sku, quantity in quantities.items()]
    assessment = assess(overview, proposal.order_id, selections, Reason(proposal.reason), resolution, shipping, policy)
    assert assessment.quote is not None
    lines = proposal_lines(assessment)
    paid = assessment.quote.merchandise_cents
    bonus = percent_of(paid, policy.store_credit_bonus_percent) if resolution is Resolution.STORE_CREDIT else 0
    return ProposalEdit(lines, resolution, shipping, assessment.quote, override, reason_for_change, paid + bonus)


def customer_amount_cents(quote: dict[str, Any]) -> int:
    """What the customer gets back: the refund and the store credit together."""
    return int(quote.get("refund_cents", 0)) + int(quote.get("store_credit_cents", 0))


def needs_customer_agreement(proposal: Proposal, edit: ProposalEdit, quote: dict[str, Any]) -> str | None:
    """Why an edit changes what the customer asked for in a way they must agree to (None when it does not): a
    different resolution, or less back than the proposal they confirmed. More back, or the same, needs no one."""
    if str(edit.resolution) != proposal.resolution:
        return f"The customer asked for {proposal.resolution}, not {edit.resolution}."
    before = customer_amount_cents(proposal.quote)
    after = customer_amount_cents(quote)
    if after < before:
        return f"The customer would get {money(after)} instead of the {money(before)} they confirmed."
    return None
