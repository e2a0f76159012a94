"""Deciding proposals: approve, edit then approve, reject, auto-approve by rule, and the commit's progress.

Every decision names the version it was made on and is one conditional UPDATE, so of two agents acting at
once exactly one wins and the other learns who did. Every decision writes an audit entry in the same
transaction, and the commit is enqueued only once that transaction has committed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F

from customers import clock
from customers.domain import Reason, Resolution, Shipping
from customers.errors import InvalidRequest, NotFound, ReturnsError
from customers.models import AuditAction, AuditEntry, AutoApprovalRule, Proposal, ProposalState, StaffProfile
from customers.services.commit import ApprovedReturn, ReturnLineRequest
from customers.services.quote import RefundQuote
from customers.signals import proposal_changed

logger = logging.getLogger(__name__)


class StaleProposal(ReturnsError):
    """The proposal changed since the caller read it (someone else decided first)."""

    code = "stale_version"

    def __init__(self, message: str, proposal: Proposal) -> None:
        super().__init__(message)
        self.proposal = proposal


class OverApprovalLimit(ReturnsError):
    code = "over_approval_limit"


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def approval_limit_cents(user: Any) -> int | None:
    """None means no limit. Superusers and holders of ``approve_over_limit`` have none; staff without a
    profile have 0 until an admin sets theirs, so a forgotten profile never means unlimited."""
    if user.is_superuser or user.has_perm("customers.approve_over_limit"):
        return None
    profile = StaffProfile.objects.filter(user=user).first()
    return 0 if profile is None else profile.approval_limit_cents


def check_approval_limit(user: Any, total_cents: int) -> None:
    limit = approval_limit_cents(user)
    if limit is not None and total_cents > limit:
        raise OverApprovalLimit(
            f"{money(total_cents)} is above your approval limit of {money(limit)}: a supervisor must approve it."
        )


def snapshot(proposal: Proposal) -> dict[str, Any]:
    """What a decision can change, for the audit log's before/after."""
    return {
        "state": proposal.state,
        "version": proposal.version,
        "lines": proposal.lines,
        "resolution": proposal.resolution,
        "shipping": proposal.shipping,
        "quote": proposal.quote,
    }


def _who_acted_last(proposal: Proposal) -> str:
    entry = AuditEntry.objects.filter(proposal=proposal).order_by("-created_at", "-id").first()
    if entry is None:
        return "Someone"
    return entry.actor_label


def _load(proposal_id: int) -> Proposal:
    proposal = Proposal.objects.select_related("decided_by", "decided_by_rule").filter(pk=proposal_id).first()
    if proposal is None:
        raise NotFound(f"Proposal {proposal_id} does not exist.")
    return proposal


def ensure_current(proposal: Proposal, version: int) -> None:
    """Refuse early, with who acted, when the caller's view is stale (the decision re-checks atomically)."""
    if proposal.version != version or proposal.state != ProposalState.PROPOSED:
        raise StaleProposal(
            f"{_who_acted_last(proposal)} already acted on this proposal: it is "
            f"{proposal.get_state_display().lower()} (version {proposal.version}, you had version {version}).",
            proposal,
        )


def _decide(proposal_id: int, version: int, changes: dict[str, Any]) -> Proposal:
    """Apply ``changes`` if the proposal is still ``proposed`` at ``version``; else say who acted first."""
    updated = Proposal.objects.filter(pk=proposal_id, version=version, state=ProposalState.PROPOSED).update(
        **changes, version=F("version") + 1, decided_at=clock.now(), updated_at=clock.now()
    )
    proposal = _load(proposal_id)
    if not updated:
        ensure_current(proposal, version)
        raise StaleProposal("This proposal changed while you were deciding; reload it.", proposal)
    return proposal


def approved_return(proposal: Proposal) -> ApprovedReturn:
    """What the commit task writes, from the proposal as decided."""
    return ApprovedReturn(
        approval_id=proposal.approval_id,
        customer_id=proposal.customer_id,
        order_id=proposal.order_id,
        lines=tuple(ReturnLineRequest(line["sku"], int(line["quantity"])) for line in proposal.lines),
        reason=Reason(proposal.reason),
        resolution=Resolution(proposal.resolution),
        shipping=Shipping(proposal.shipping) if proposal.shipping else None,
        quote=RefundQuote.from_dict(proposal.quote),
        approved_by=(
            proposal.decided_by.get_username()
            if proposal.decided_by
            else f"rule: {proposal.decided_by_rule.name}"
            if proposal.decided_by_rule
            else "system"
        ),
    )


def _enqueue_commit(proposal: Proposal) -> None:
    """Queue the commit once the decision is stored. If the broker refuses, the approval is not lost in
    'approved': it fails visibly into the supervisors' queue, whose Retry queues it again."""
    from customers.tasks import commit_return_task

    payload = approved_return(proposal).to_payload()

    def enqueue() -> None:
        try:
            commit_return_task.delay(payload)
        except Exception:
            logger.exception("could not queue the commit of %s", proposal.approval_id)
            mark_failed(proposal.approval_id, "enqueue_failed", "The commit could not be queued; retry it.")

    transaction.on_commit(enqueue)


def _announce(proposal: Proposal, action: str) -> None:
    # robust: a listener that fails (say, Redis away) is logged; it never undoes or fails the decision.
    transaction.on_commit(lambda: proposal_changed.send(sender=Proposal, proposal=proposal, action=action), robust=True)


def _audit(
    proposal: Proposal,
    action: str,
    *,
    user: Any = None,
    rule: AutoApprovalRule | None = None,
    label: str = "",
    before: dict[str, Any] | None = None,
    note: str = "",
) -> AuditEntry:
    return AuditEntry.objects.create(
        actor=user,
        rule=rule,
        actor_label=label or (user.get_username() if user else f"rule: {rule.name}" if rule else "system"),
        action=action,
        proposal=proposal,
        thread_id=proposal.thread_id,
        customer_id=proposal.customer_id,
        return_id=proposal.return_id,
        before=before,
        after=snapshot(proposal),
        note=note,
    )


@transaction.atomic
def approve_proposal(proposal_id: int, user: AbstractBaseUser, version: int) -> Proposal:
    proposal = _load(proposal_id)
    ensure_current(proposal, version)
    check_approval_limit(user, proposal.total_cents)
    before = snapshot(proposal)
    proposal = _decide(
        proposal_id,
        version,
        {"state": ProposalState.APPROVED, "decided_by": user, "approval_id": _approval_id(proposal)},
    )
    _audit(proposal, AuditAction.APPROVE, user=user, before=before)
    _enqueue_commit(proposal)
    _announce(proposal, "approved")
    return proposal


def _approval_id(proposal: Proposal) -> str:
    return f"proposal-{proposal.pk}"


@dataclass(frozen=True)
class ProposalEdit:
    """An agent's changes, already re-assessed against the rules (see ``services/editing.py``)."""

    lines: list[dict[str, Any]]
    resolution: Resolution
    shipping: Shipping | None
    quote: RefundQuote
    override_cents: int | None
    reason_for_change: str


def _with_override(quote: RefundQuote, override_cents: int, who: str, why: str) -> dict[str, Any]:
    data = quote.to_dict()
    if quote.resolution is Resolution.STORE_CREDIT:
        data["store_credit_cents"] = override_cents
    elif quote.resolution is Resolution.EXCHANGE:
        raise InvalidRequest("An exchange pays nothing back: there is no amount to override.")
    else:
        data["refund_cents"] = override_cents
    data["notes"] = [*data["notes"], f"Amount set to {money(override_cents)} by {who}: {why}"]
    data["override"] = {"by": who, "reason": why, "rules_total_cents": quote.total_cents}
    return data


@transaction.atomic
def edit_and_approve(proposal_id: int, user: AbstractBaseUser, version: int, edit: ProposalEdit) -> Proposal:
    proposal = _load(proposal_id)
    if edit.override_cents is not None:
        if edit.override_cents < 0:
            raise InvalidRequest("An amount cannot be negative.")
        if not edit.reason_for_change.strip():
            raise InvalidRequest("Overriding the amount needs a written reason.")
        quote = _with_override(edit.quote, edit.override_cents, user.get_username(), edit.reason_for_change.strip())
    else:
        quote = edit.quote.to_dict()
    total = int(quote["refund_cents"]) + int(quote["store_credit_cents"])
    ensure_current(proposal, version)
    check_approval_limit(user, total)
    before = snapshot(proposal)
    proposal = _decide(
        proposal_id,
        version,
        {
            "state": ProposalState.APPROVED,
            "decided_by": user,
            "approval_id": _approval_id(proposal),
            "lines": edit.lines,
            "resolution": str(edit.resolution),
            "shipping": str(edit.shipping) if edit.shipping else "",
            "quote": quote,
            "override_reason": edit.reason_for_change.strip() if edit.override_cents is not None else "",
        },
    )
    action = AuditAction.OVERRIDE if edit.override_cents is not None else AuditAction.EDIT
    _audit(proposal, action, user=user, before=before, note=edit.reason_for_change.strip())
    _enqueue_commit(proposal)
    _announce(proposal, "approved")
    return proposal


@transaction.atomic
def reject_proposal(proposal_id: int, user: AbstractBaseUser, version: int, message: str) -> Proposal:
    message = message.strip()
    if not message:
        raise InvalidRequest("Rejecting needs a message for the customer.")
    current = _load(proposal_id)
    ensure_current(current, version)
    before = snapshot(current)
    proposal = _decide(
        proposal_id, version, {"state": ProposalState.REJECTED, "decided_by": user, "customer_message": message}
    )
    _audit(proposal, AuditAction.REJECT, user=user, before=before, note=message)
    _announce(proposal, "rejected")
    return proposal


def matching_rule(proposal: Proposal) -> AutoApprovalRule | None:
    """The first enabled rule (by name) whose every condition holds."""
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


@transaction.atomic
def auto_approve(proposal: Proposal, *, system_reason: str = "") -> Proposal | None:
    """Approve without a person when an enabled rule matches, or when ``system_reason`` says the conversation
    runs in assistant mode; returns None when nothing approves it (it waits for staff)."""
    rule = None if system_reason else matching_rule(proposal)
    if rule is None and not system_reason:
        return None
    before = snapshot(proposal)
    proposal = _decide(
        proposal.pk,
        proposal.version,
        {"state": ProposalState.APPROVED, "decided_by_rule": rule, "approval_id": _approval_id(proposal)},
    )
    _audit(
        proposal,
        AuditAction.AUTO_APPROVE,
        rule=rule,
        label="" if rule else "assistant mode",
        before=before,
        note=system_reason,
    )
    _enqueue_commit(proposal)
    _announce(proposal, "approved")
    return proposal


def _by_approval(approval_id: str) -> Proposal | None:
    return Proposal.objects.filter(approval_id=approval_id).exclude(approval_id="").first() if approval_id else None


@transaction.atomic
def mark_committing(approval_id: str) -> None:
    """The worker picked the commit up. Only from approved (a redelivered task after the commit finished
    must not move a committed proposal back)."""
    updated = Proposal.objects.filter(approval_id=approval_id, state=ProposalState.APPROVED).update(
        state=ProposalState.COMMITTING, updated_at=clock.now()
    )
    if updated:
        proposal = _by_approval(approval_id)
        assert proposal is not None
        _announce(proposal, "committing")


@transaction.atomic
def mark_committed(approval_id: str, return_id: str) -> Proposal | None:
    proposal = _by_approval(approval_id)
    if proposal is None or proposal.state == ProposalState.COMMITTED:
        return proposal
    Proposal.objects.filter(pk=proposal.pk).update(
        state=ProposalState.COMMITTED,
        return_id=return_id,
        failure_code="",
        failure_message="",
        updated_at=clock.now(),
    )
    proposal.refresh_from_db()
    _audit(proposal, AuditAction.COMMITTED, label="worker", note=f"Return {return_id}")
    _announce(proposal, "committed")
    return proposal


@transaction.atomic
def mark_failed(approval_id: str, code: str, message: str) -> Proposal | None:
    """A commit that failed for good lands in the supervisors' queue (state failed) with its reason."""
    proposal = _by_approval(approval_id)
    if proposal is None or proposal.state in (ProposalState.COMMITTED, ProposalState.FAILED):
        return proposal
    Proposal.objects.filter(pk=proposal.pk).update(
        state=ProposalState.FAILED, failure_code=code[:40], failure_message=message, updated_at=clock.now()
    )
    proposal.refresh_from_db()
    _audit(proposal, AuditAction.COMMIT_FAILED, label="worker", note=f"{code}: {message}")
    _announce(proposal, "failed")
    return proposal


@transaction.atomic
def retry_commit(proposal_id: int, user: AbstractBaseUser) -> Proposal:
    """Send a failed commit again; the same approval id makes it safe if the first attempt did land."""
    updated = Proposal.objects.filter(pk=proposal_id, state=ProposalState.FAILED).update(
        state=ProposalState.APPROVED, version=F("version") + 1, updated_at=clock.now()
    )
    proposal = _load(proposal_id)
    if not updated:
        raise StaleProposal(
            f"Only a failed commit can be retried; this one is {proposal.get_state_display().lower()}.", proposal
        )
    _audit(proposal, AuditAction.RETRY, user=user)
    _enqueue_commit(proposal)
    _announce(proposal, "approved")
    return proposal


@transaction.atomic
def record_lifecycle_step(proposal: Proposal, user: AbstractBaseUser, status: str) -> None:
    """Audit a lifecycle step written to the return in Cosmos, and tell the dashboards."""
    _audit(proposal, AuditAction.LIFECYCLE, user=user, note=f"Return {proposal.return_id} -> {status}")
    _announce(proposal, f"lifecycle:{status}")
