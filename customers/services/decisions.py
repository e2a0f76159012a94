"""Every decision on a proposal or a committed return, in one place: approve, edit then approve, reject,
approvals by rule and in assistant mode, retry and close a failed commit, cancel a committed return; and asking a
supervisor (escalate), which decides nothing but is made on a version like the rest.

Each decision names the version it was made on and is one conditional UPDATE, so of two agents acting at once
exactly one wins and the other learns who did; each writes its audit entry in the same transaction and is
announced (and its commit queued) only once that transaction has committed. Views, consumers, tasks and the chat
engines call these and never decide themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F

from customers import clock
from customers.cosmos.repository import CosmosRepository
from customers.domain import Resolution, Shipping
from customers.errors import InvalidRequest, NotFound, ReturnsError
from customers.models import AuditAction, AutoApprovalRule, Proposal, ProposalLine, ProposalState
from customers.policy import ReturnPolicy
from customers.selectors.proposals import approval_id_for, proposal_or_none
from customers.services import audit
from customers.services.authority import check_approval_limit, money, require_supervisor
from customers.services.commit_progress import announce, can_retry, enqueue_commit
from customers.services.quote import RefundQuote
from customers.services.reversal import reverse_return

ASSISTANT_MODE = "assistant mode"


class StaleProposal(ReturnsError):
    """The proposal changed since the caller read it (someone else decided first)."""

    code = "stale_version"

    def __init__(self, message: str, proposal: Proposal) -> None:
        super().__init__(message)
        self.proposal = proposal


def load(proposal_id: int) -> Proposal:
    """The proposal with who decided it (``NotFound`` when there is none)."""
    proposal = proposal_or_none(proposal_id)
    if proposal is None:
        raise NotFound(f"Proposal {proposal_id} does not exist.")
    return proposal


def ensure_current(proposal: Proposal, version: int) -> None:
    """Refuse early, with who acted, when the caller's view is stale (the decision re-checks atomically)."""
    if proposal.version != version or proposal.state != ProposalState.PROPOSED:
        raise StaleProposal(
            f"{audit.who_acted_last(proposal)} already acted on this proposal: it is "
            f"{proposal.get_state_display().lower()} (version {proposal.version}, you had version {version}).",
            proposal,
        )


def _decide(current: Proposal, version: int, changes: dict[str, Any], state: str = ProposalState.PROPOSED) -> Proposal:
    """Apply ``changes`` if the proposal (``current``, as read before) is still in ``state`` at ``version``; else
    say who acted first. One UPDATE: how long it waited (insights) comes from when it was filed, which never
    changes."""
    now = clock.now()
    if "quote" in changes:
        changes = {**changes, **Proposal.money_columns(changes["quote"])}
    updated = Proposal.objects.filter(pk=current.pk, version=version, state=state).update(
        **changes,
        version=F("version") + 1,
        decided_at=now,
        updated_at=now,
        decision_seconds=(now - current.created_at).total_seconds(),
    )
    proposal = load(current.pk)
    if not updated:
        if state == ProposalState.PROPOSED:
            ensure_current(proposal, version)
        raise StaleProposal("This proposal changed while you were deciding; reload it.", proposal)
    if "lines" in changes:
        ProposalLine.keep(proposal)
    return proposal


def _approve(
    proposal: Proposal,
    *,
    action: str,
    user: Any = None,
    rule: AutoApprovalRule | None = None,
    label: str = "",
    note: str = "",
    changes: dict[str, Any] | None = None,
) -> Proposal:
    before = audit.snapshot(proposal)
    decided = _decide(
        proposal,
        proposal.version,
        {
            "state": ProposalState.APPROVED,
            "decided_by": user,
            "decided_by_rule": rule,
            "approval_id": approval_id_for(proposal.pk),
            **(changes or {}),
        },
    )
    audit.record(action, user=user, rule=rule, label=label, proposal=decided, before=before, note=note)
    enqueue_commit(decided)
    announce(decided, "approved")
    return decided


@transaction.atomic
def approve(*, proposal_id: int, user: Any, version: int) -> Proposal:
    proposal = load(proposal_id)
    ensure_current(proposal, version)
    check_approval_limit(user, proposal.total_cents)
    return _approve(proposal, action=AuditAction.APPROVE, user=user)


@dataclass(frozen=True)
class ProposalEdit:
    """An agent's changes, already re-assessed against the rules (see ``services/editing.py``)."""

    lines: list[dict[str, Any]]
    resolution: Resolution
    shipping: Shipping | None
    quote: RefundQuote
    override_cents: int | None
    reason_for_change: str
    # What the customer paid for these lines, plus the store-credit bonus the rules allow: no amount goes above.
    max_amount_cents: int


def edited_quote(edit: ProposalEdit, user: Any) -> dict[str, Any]:
    """The quote an edit comes to: the rules' own, or with the agent's amount (``_overridden_quote``)."""
    return _overridden_quote(edit, user) if edit.override_cents is not None else edit.quote.to_dict()


def _overridden_quote(edit: ProposalEdit, user: Any) -> dict[str, Any]:
    """The quote with the agent's amount: bounded by what was paid, a written reason, and a supervisor for
    anything above the rules' own figure."""
    quote, amount, why = edit.quote, edit.override_cents, edit.reason_for_change.strip()
    assert amount is not None
    if quote.resolution is Resolution.EXCHANGE:
        raise InvalidRequest("An exchange pays nothing back: there is no amount to override.")
    if amount < 0:
        raise InvalidRequest("An amount cannot be negative.")
    if amount > edit.max_amount_cents:
        raise InvalidRequest(
            f"{money(amount)} is more than the customer paid for these items"
            f"{' plus the store-credit bonus' if quote.resolution is Resolution.STORE_CREDIT else ''}"
            f" ({money(edit.max_amount_cents)})."
        )
    if not why:
        raise InvalidRequest("Overriding the amount needs a written reason.")
    if amount > quote.total_cents:
        require_supervisor(user, f"set an amount above the rules' {money(quote.total_cents)}")
    data = quote.to_dict()
    data["store_credit_cents" if quote.resolution is Resolution.STORE_CREDIT else "refund_cents"] = amount
    data["notes"] = [*data["notes"], f"Amount set to {money(amount)} by {user.get_username()}: {why}"]
    data["override"] = {"by": user.get_username(), "reason": why, "rules_total_cents": quote.total_cents}
    return data


@transaction.atomic
def edit_and_approve(*, proposal_id: int, user: Any, version: int, edit: ProposalEdit) -> Proposal:
    proposal = load(proposal_id)
    ensure_current(proposal, version)
    quote = edited_quote(edit, user)
    check_approval_limit(user, int(quote["refund_cents"]) + int(quote["store_credit_cents"]))
    overridden = edit.override_cents is not None
    return _approve(
        proposal,
        action=AuditAction.OVERRIDE if overridden else AuditAction.EDIT,
        user=user,
        note=edit.reason_for_change.strip(),
        changes={
            "lines": edit.lines,
            "resolution": str(edit.resolution),
            "shipping": str(edit.shipping) if edit.shipping else "",
            "quote": quote,
            "override_reason": edit.reason_for_change.strip() if overridden else "",
        },
    )


@transaction.atomic
def offer_edit(*, proposal_id: int, user: Any, version: int, edit: ProposalEdit, why: str) -> Proposal:
    """Offer the customer an edit they must agree to (``editing.needs_customer_agreement``: another resolution,
    or less back). Nothing is approved until they accept; the agent must be able to approve what they offer."""
    proposal = load(proposal_id)
    ensure_current(proposal, version)
    if proposal.offer:
        raise InvalidRequest("A change is already waiting for the customer's answer.")
    quote = edited_quote(edit, user)
    check_approval_limit(user, int(quote["refund_cents"]) + int(quote["store_credit_cents"]))
    offer = {
        "lines": edit.lines,
        "resolution": str(edit.resolution),
        "shipping": str(edit.shipping) if edit.shipping else "",
        "quote": quote,
        "reason_for_change": edit.reason_for_change.strip(),
        "overridden": edit.override_cents is not None,
        "why": why,
        "by_id": user.pk,
        "by": user.get_username(),
        "at": clock.now().isoformat(),
    }
    before = audit.snapshot(proposal)
    now = clock.now()
    updated = Proposal.objects.filter(pk=proposal_id, version=version, state=ProposalState.PROPOSED).update(
        offer=offer, version=F("version") + 1, updated_at=now
    )
    offered = load(proposal_id)
    if not updated:
        ensure_current(offered, version)
        raise StaleProposal("This proposal changed while you were editing it; reload it.", offered)
    audit.record(
        AuditAction.OFFER, user=user, proposal=offered, before=before, note=edit.reason_for_change.strip() or why
    )
    announce(offered, "offered")
    return offered


@transaction.atomic
def answer_offer(*, proposal_id: int, customer_id: str, accept: bool) -> Proposal:
    """The customer's answer to an offered change. Accepting approves the change as the agent who offered it
    (their limit checked again); declining keeps the customer's own request, waiting for review."""
    proposal = Proposal.objects.select_for_update().filter(pk=proposal_id, customer_id=customer_id).first()
    if proposal is None:  # another customer's proposal is simply not there
        raise NotFound(f"Return request {proposal_id} was not found.")
    offer = proposal.offer
    if proposal.state != ProposalState.PROPOSED or not offer:
        raise InvalidRequest("That suggestion is no longer open.")
    proposal = load(proposal_id)
    if not accept:
        before = audit.snapshot(proposal)
        Proposal.objects.filter(pk=proposal.pk).update(offer=None, version=F("version") + 1, updated_at=clock.now())
        declined = load(proposal.pk)
        audit.record(AuditAction.OFFER_DECLINED, label="customer", proposal=declined, before=before)
        announce(declined, "offer_declined")
        return declined
    agent = get_user_model().objects.filter(pk=offer["by_id"], is_active=True, is_staff=True).first()
    if agent is None:
        raise InvalidRequest("That suggestion can no longer be accepted; our team will review your request.")
    check_approval_limit(agent, int(offer["quote"]["refund_cents"]) + int(offer["quote"]["store_credit_cents"]))
    return _approve(
        proposal,
        action=AuditAction.OVERRIDE if offer["overridden"] else AuditAction.EDIT,
        user=agent,
        note=f"accepted by the customer: {offer['why']}",
        changes={
            "lines": offer["lines"],
            "resolution": offer["resolution"],
            "shipping": offer["shipping"],
            "quote": offer["quote"],
            "override_reason": offer["reason_for_change"] if offer["overridden"] else "",
            "offer": None,
        },
    )


@transaction.atomic
def reject(*, proposal_id: int, user: Any, version: int, message: str) -> Proposal:
    message = message.strip()
    if not message:
        raise InvalidRequest("Rejecting needs a message for the customer.")
    current = load(proposal_id)
    ensure_current(current, version)
    before = audit.snapshot(current)
    proposal = _decide(
        current, version, {"state": ProposalState.REJECTED, "decided_by": user, "customer_message": message}
    )
    audit.record(AuditAction.REJECT, user=user, proposal=proposal, before=before, note=message)
    announce(proposal, "rejected")
    return proposal


MAX_ESCALATION_NOTE = 2000


@transaction.atomic
def escalate(*, proposal_id: int, user: Any, version: int, note: str = "") -> Proposal:
    """Ask a supervisor to decide (Zendesk's escalation): the proposal keeps waiting, marked for supervisors, who
    are told live. Not a decision: anyone may still approve it within their limit."""
    note = note.strip()
    if len(note) > MAX_ESCALATION_NOTE:
        raise InvalidRequest(f"The note is limited to {MAX_ESCALATION_NOTE} characters.")
    current = load(proposal_id)
    ensure_current(current, version)
    if current.escalated_at:
        who = current.escalated_by.get_username() if current.escalated_by_id else "someone"
        raise InvalidRequest(f"{who} already asked a supervisor about this proposal.")
    before = audit.snapshot(current)
    now = clock.now()
    updated = Proposal.objects.filter(pk=proposal_id, version=version, state=ProposalState.PROPOSED).update(
        escalated_at=now, escalated_by=user, escalation_note=note, version=F("version") + 1, updated_at=now
    )
    proposal = load(proposal_id)
    if not updated:
        ensure_current(proposal, version)
        raise StaleProposal("This proposal changed while you were escalating it; reload it.", proposal)
    audit.record(AuditAction.ESCALATE, user=user, proposal=proposal, before=before, note=note)
    announce(proposal, "escalated")
    return proposal


def matching_rule(proposal: Proposal, policy: ReturnPolicy) -> AutoApprovalRule | None:
    """The first enabled rule (by name) whose every condition holds, never above the auto-approval ceiling."""
    if proposal.total_cents > policy.auto_approval_ceiling_cents:
        return None
    for rule in AutoApprovalRule.objects.filter(enabled=True).order_by("name", "pk"):
        if proposal.total_cents > rule.max_amount_cents:
            continue
        if rule.tiers and proposal.customer_tier not in rule.tiers:
            continue
        if rule.reasons and proposal.reason not in rule.reasons:
            continue
        if rule.resolutions and proposal.resolution not in rule.resolutions:
            continue
        return rule
    return None


def approve_by_rule(*, proposal: Proposal, policy: ReturnPolicy) -> Proposal | None:
    """Approve without a person when an enabled rule covers it; None: it waits for staff.

    The rules are read before any transaction: most filings match none, and a write transaction holds SQLite's
    one write lock, which every chat turn of every process queues for. A match is checked again inside the
    transaction that approves, so a rule disabled meanwhile approves nothing."""
    if matching_rule(proposal, policy) is None:
        return None
    with transaction.atomic():
        rule = matching_rule(proposal, policy)
        return _approve(proposal, action=AuditAction.AUTO_APPROVE, rule=rule) if rule is not None else None


@transaction.atomic
def approve_in_assistant_mode(*, proposal: Proposal, policy: ReturnPolicy) -> Proposal | None:
    """A conversation in assistant mode approves on its own only within the auto-approval ceiling, the same
    limit rules obey; above it the proposal goes to the review queue like any other (None)."""
    if proposal.total_cents > policy.auto_approval_ceiling_cents:
        audit.record(
            AuditAction.REVIEW_NEEDED,
            label=ASSISTANT_MODE,
            proposal=proposal,
            note=f"{money(proposal.total_cents)} is above the auto-approval ceiling of "
            f"{money(policy.auto_approval_ceiling_cents)}: left for staff to review.",
        )
        return None
    return _approve(proposal, action=AuditAction.AUTO_APPROVE, label=ASSISTANT_MODE, note=ASSISTANT_MODE)


@transaction.atomic
def retry_commit(*, proposal_id: int, user: Any) -> Proposal:
    """Send a failed commit again; the same approval id makes it safe if the first attempt did land."""
    require_supervisor(user, "retry a failed commit")
    proposal = load(proposal_id)
    if proposal.state == ProposalState.FAILED and not can_retry(proposal):
        raise StaleProposal(
            f"Retrying cannot help: {proposal.failure_message} Close it with a message to the customer instead.",
            proposal,
        )
    updated = Proposal.objects.filter(pk=proposal_id, state=ProposalState.FAILED).update(
        state=ProposalState.APPROVED, version=F("version") + 1, updated_at=clock.now()
    )
    proposal = load(proposal_id)
    if not updated:
        raise StaleProposal(
            f"Only a failed commit can be retried; this one is {proposal.get_state_display().lower()}.", proposal
        )
    audit.record(AuditAction.RETRY, user=user, proposal=proposal)
    enqueue_commit(proposal)
    announce(proposal, "retried")
    return proposal


@transaction.atomic
def close_failure(*, proposal_id: int, user: Any, version: int, message: str) -> Proposal:
    """Take a failed commit out of the queue for good, telling the customer why (once)."""
    require_supervisor(user, "close a failed commit")
    message = message.strip()
    if not message:
        raise InvalidRequest("Closing needs a message for the customer.")
    current = load(proposal_id)
    before = audit.snapshot(current)
    proposal = _decide(
        current,
        version,
        {"state": ProposalState.CLOSED, "customer_message": message},
        state=ProposalState.FAILED,
    )
    audit.record(AuditAction.CLOSE, user=user, proposal=proposal, before=before, note=message)
    announce(proposal, "closed")
    return proposal


@transaction.atomic
def _record_cancellation(proposal_id: int, user: Any, note: str) -> Proposal | None:
    """The committed proposal becomes cancelled, once; None when an earlier attempt already recorded it."""
    before = audit.snapshot(load(proposal_id))
    updated = Proposal.objects.filter(pk=proposal_id, state=ProposalState.COMMITTED).update(
        state=ProposalState.CANCELLED, version=F("version") + 1, updated_at=clock.now()
    )
    if not updated:
        return None
    proposal = load(proposal_id)
    audit.record(AuditAction.CANCEL, user=user, proposal=proposal, before=before, note=note)
    announce(proposal, "cancelled")
    return proposal


async def cancel_return(*, repo: CosmosRepository, proposal_id: int, user: Any, note: str = "") -> Proposal:
    """Cancel a committed return before the item is received: reversed in Cosmos in one batch (quantities
    released, store credit taken back or the refund marked to be voided), then recorded and announced. Exactly
    once: a repeated cancel, or one retried after a crash between the two steps, changes nothing twice."""
    proposal = await sync_to_async(load)(proposal_id)
    if proposal.state == ProposalState.CANCELLED:
        return proposal
    if proposal.state != ProposalState.COMMITTED or not proposal.return_id:
        raise StaleProposal(
            f"Only a committed return can be cancelled; this one is {proposal.get_state_display().lower()}.",
            proposal,
        )
    await reverse_return(repo, proposal.customer_id, proposal.return_id, actor=user.get_username(), note=note)
    recorded = await sync_to_async(_record_cancellation)(proposal_id, user, note)
    return recorded or await sync_to_async(load)(proposal_id)


@transaction.atomic
def record_lifecycle_step(*, proposal: Proposal, user: Any, status: str) -> None:
    """Audit a lifecycle step written to the return in Cosmos, and tell the dashboards."""
    audit.record(AuditAction.LIFECYCLE, user=user, proposal=proposal, note=f"Return {proposal.return_id} -> {status}")
    announce(proposal, f"lifecycle:{status}")
