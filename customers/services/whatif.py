"""Policy what-if: the period's proposals replayed through the rules with a draft policy, beside what happened.

Nothing is written: admins see the effect of a fee, a window or the credit bonus before they save it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from customers import clock
from customers.cosmos.repository import CosmosRepository
from customers.domain import Reason, Resolution, Shipping, Tier
from customers.errors import ReturnsError
from customers.models import Proposal, ProposalState
from customers.policy import ReturnPolicy
from customers.services.quote import QuoteLine, refund_quote

TOP_CUSTOMERS = 10
# What a customer actually got: requests still waiting are replayed too, as they would be decided under the draft.
COUNTED_STATES = (
    ProposalState.PROPOSED,
    ProposalState.APPROVED,
    ProposalState.COMMITTING,
    ProposalState.COMMITTED,
    ProposalState.FAILED,
)


@dataclass
class Affected:
    customer_id: str
    customer_name: str
    change_cents: int = 0  # draft minus actual, refund and credit together
    proposals: list[int] = field(default_factory=list)


@dataclass
class WhatIf:
    proposals: int = 0
    eligibility_changed: int = 0  # eligible then and not under the draft, or the other way round
    became_ineligible: list[int] = field(default_factory=list)
    actual_refund_cents: int = 0
    actual_credit_cents: int = 0
    draft_refund_cents: int = 0
    draft_credit_cents: int = 0
    most_affected: list[Affected] = field(default_factory=list)

    @property
    def refund_change_cents(self) -> int:
        return self.draft_refund_cents - self.actual_refund_cents

    @property
    def credit_change_cents(self) -> int:
        return self.draft_credit_cents - self.actual_credit_cents


def proposals_between(first: date, last: date) -> Iterable[Proposal]:
    """The proposals filed in the period (store calendar, both days included) that reached or await a decision."""
    start = clock.start_of_store_day(first)
    end = clock.start_of_store_day(last + timedelta(days=1))
    return Proposal.objects.filter(created_at__gte=start, created_at__lt=end, state__in=COUNTED_STATES).order_by("pk")


def _still_eligible(
    proposal: Proposal, draft: ReturnPolicy, product_windows: Mapping[str, int], filed_on: date
) -> bool | None:
    """Whether every line would still be inside its window under the draft; None when the evidence cannot say.

    Only the default window can move: a product with a window of its own keeps it. The window's end under the
    draft is the recorded end moved by the change of the default window.
    """
    recorded_default = int(proposal.evidence.get("policy", {}).get("default_return_window_days", 0) or 0)
    verdicts = []
    for line in proposal.evidence.get("eligibility", []):
        ends = line.get("window_ends_on")
        if not ends or not recorded_default:
            return None
        own_window = product_windows.get(line["sku"], 0)
        shift = 0 if own_window > 0 else draft.default_return_window_days - recorded_default
        verdicts.append(filed_on <= date.fromisoformat(ends) + timedelta(days=shift))
    return all(verdicts) if verdicts else None


def _amounts(quote: Mapping[str, object]) -> tuple[int, int]:
    return int(quote.get("refund_cents") or 0), int(quote.get("store_credit_cents") or 0)  # type: ignore[call-overload]


def replay(proposals: Iterable[Proposal], draft: ReturnPolicy, product_windows: Mapping[str, int]) -> WhatIf:
    """Each proposal quoted again with ``draft`` (same items, reason, resolution, shipping and tier), beside the
    amounts it was given (an agent's edit or override included); a line the draft's window would have closed
    counts as a change of eligibility and as nothing paid back."""
    result = WhatIf()
    affected: dict[str, Affected] = {}
    for proposal in proposals:
        result.proposals += 1
        actual_refund, actual_credit = _amounts(proposal.quote)
        if proposal.state != ProposalState.PROPOSED:  # what was decided; a waiting request has not been paid
            result.actual_refund_cents += actual_refund
            result.actual_credit_cents += actual_credit
        filed_on = clock.store_today(proposal.created_at)
        eligible = _still_eligible(proposal, draft, product_windows, filed_on)
        if eligible is False:
            result.eligibility_changed += 1
            result.became_ineligible.append(proposal.pk)
            draft_refund = draft_credit = 0
        else:
            try:
                quote = refund_quote(
                    [
                        QuoteLine(line["sku"], line["name"], int(line["quantity"]), int(line["unit_price_cents"]))
                        for line in proposal.lines
                    ],
                    Reason(proposal.reason),
                    Resolution(proposal.resolution),
                    Shipping(proposal.shipping) if proposal.shipping else None,
                    Tier(proposal.customer_tier),
                    draft,
                )
            except (ReturnsError, ValueError, KeyError):
                continue  # a row the rules cannot read again (an old shape): left out, not guessed
            draft_refund, draft_credit = quote.refund_cents, quote.store_credit_cents
        if proposal.state != ProposalState.PROPOSED:
            result.draft_refund_cents += draft_refund
            result.draft_credit_cents += draft_credit
        change = (draft_refund + draft_credit) - (actual_refund + actual_credit)
        if change:
            who = affected.setdefault(
                proposal.customer_id, Affected(proposal.customer_id, proposal.customer_name or proposal.customer_id)
            )
            who.change_cents += change
            who.proposals.append(proposal.pk)
    result.most_affected = sorted(affected.values(), key=lambda a: (-abs(a.change_cents), a.customer_id))[
        :TOP_CUSTOMERS
    ]
    return result


async def product_windows(repo: CosmosRepository) -> dict[str, int]:
    """Each product's own return window in days (0: it follows the policy's default), from the catalog."""
    return {product.sku: product.return_window_days for product in await repo.all_products()}
