"""A decided return on its way into Cosmos: queued, committing, committed or failed; and the sweep that
re-sends what a lost broker message left behind.

The commit itself (``services/commit.py``) is idempotent, so sending a commit twice is harmless: the sweep
prefers sending again to ever leaving an approval stuck.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet

from customers import clock
from customers.domain import Reason, Resolution, Shipping
from customers.models import AuditAction, AuditEntry, Proposal, ProposalState
from customers.selectors.proposals import proposal_by_approval
from customers.services import audit
from customers.services.commit import ApprovedReturn, ReturnLineRequest
from customers.services.quote import RefundQuote
from customers.signals import proposal_changed

logger = logging.getLogger(__name__)

COMMIT_TASK = "customers.commit_return"
# Failures that no retry can fix: the supervisor closes them with a word to the customer instead.
FINAL_FAILURES = frozenset({"not_returnable", "invalid_request", "not_found"})


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
            else "assistant mode"
        ),
    )


def announce(proposal: Proposal, action: str) -> None:
    """Tell listeners once the transaction that changed ``proposal`` has committed. Robust: a listener that
    fails (say, Redis away) is logged; it never undoes or fails the change."""
    transaction.on_commit(lambda: proposal_changed.send(sender=Proposal, proposal=proposal, action=action), robust=True)


def send_commit(proposal: Proposal) -> None:
    """Put the commit on the queue now (by task name: the task module imports this one). Its outcome is read
    from the proposal, never from a task result: asking for none spares the sender a subscription to the
    result's channel (one per commit, never read) and the worker the write."""
    current_app.send_task(COMMIT_TASK, args=[approved_return(proposal).to_payload()], ignore_result=True)


def enqueue_commit(proposal: Proposal) -> None:
    """Queue the commit once the decision is stored. If the broker refuses, the approval fails visibly into
    the supervisors' queue; if the message is lost later, the sweep sends it again."""

    def enqueue() -> None:
        try:
            send_commit(proposal)
        except Exception:
            logger.exception("could not queue the commit of %s", proposal.approval_id)
            mark_failed(proposal.approval_id, "enqueue_failed", "The commit could not be queued; retry it.")

    transaction.on_commit(enqueue)


def _move(proposal: Proposal, from_states: tuple[str, ...], changes: dict[str, Any]) -> bool:
    """Apply ``changes`` if the proposal is still in one of ``from_states``: one conditional UPDATE, so of two
    racing tasks exactly one moves it; the instance is brought up to date when it moved."""
    if not Proposal.objects.filter(pk=proposal.pk, state__in=from_states).update(**changes):
        return False
    for field, value in changes.items():
        setattr(proposal, field, value)
    return True


@transaction.atomic
def mark_committing(approval_id: str) -> None:
    """The worker picked the commit up. Only from approved (a redelivered task after the commit finished
    must not move a committed proposal back)."""
    proposal = proposal_by_approval(approval_id)
    if proposal is not None and _move(
        proposal, (ProposalState.APPROVED,), {"state": ProposalState.COMMITTING, "updated_at": clock.now()}
    ):
        announce(proposal, "committing")


@transaction.atomic
def mark_committed(approval_id: str, return_id: str, *, redelivered: bool = False) -> Proposal | None:
    """Record the commit once: a redelivered or re-sent task finds it committed and changes nothing.

    ``redelivered``: the broker's second delivery of a commit, whose first worker died before acknowledging it,
    perhaps after marking it and before its listeners were done (the customer told, from that task). Found
    committed, it is announced again: heard at least once, and listeners take a repeat as the same news."""
    proposal = proposal_by_approval(approval_id)
    if proposal is None:
        return None
    now = clock.now()
    changes: dict[str, Any] = {
        "state": ProposalState.COMMITTED,
        "return_id": return_id,
        "failure_code": "",
        "failure_message": "",
        "updated_at": now,
    }
    if proposal.commit_seconds is None:  # insights: filing to the first commit
        changes["commit_seconds"] = (now - proposal.created_at).total_seconds()
    if not _move(proposal, (ProposalState.APPROVED, ProposalState.COMMITTING, ProposalState.FAILED), changes):
        current = proposal_by_approval(approval_id)  # as another task or a decision left it
        if redelivered and current is not None and current.state == ProposalState.COMMITTED:
            announce(current, "committed")
        return current
    audit.record(AuditAction.COMMITTED, label="worker", proposal=proposal, note=f"Return {return_id}")
    announce(proposal, "committed")
    return proposal


@transaction.atomic
def mark_failed(approval_id: str, code: str, message: str) -> Proposal | None:
    """A commit that failed for good lands in the supervisors' queue (state failed) with its reason."""
    proposal = proposal_by_approval(approval_id)
    if proposal is None:
        return None
    changes = {
        "state": ProposalState.FAILED,
        "failure_code": code[:40],
        "failure_message": message,
        "updated_at": clock.now(),
    }
    if not _move(proposal, (ProposalState.APPROVED, ProposalState.COMMITTING), changes):
        return proposal_by_approval(approval_id)  # as another task or a decision left it
    # The customer hears of the first failure only; a retry that fails again is the supervisors' business.
    first = not AuditEntry.objects.filter(proposal=proposal, action=AuditAction.COMMIT_FAILED).exists()
    audit.record(AuditAction.COMMIT_FAILED, label="worker", proposal=proposal, note=f"{code}: {message}")
    announce(proposal, "failed" if first else "failed_again")
    return proposal


def can_retry(proposal: Proposal) -> bool:
    """Retry is offered only where sending the commit again can help."""
    return proposal.state == ProposalState.FAILED and proposal.failure_code not in FINAL_FAILURES


def resend_after() -> timedelta:
    return timedelta(seconds=settings.COMMIT_RESEND_AFTER_SECONDS)


def stalled_approvals(now: Any = None) -> QuerySet[Proposal]:
    """Approvals whose commit should have started or finished by now: approved and not picked up within the
    bound, or committing for longer than a dead worker's task takes to come back (the visibility timeout)."""
    now = now or clock.now()
    bound = resend_after()
    redelivery = timedelta(seconds=settings.COMMIT_REDELIVERY_SECONDS)
    return Proposal.objects.filter(
        Q(state=ProposalState.APPROVED, updated_at__lt=now - bound)
        | Q(state=ProposalState.COMMITTING, updated_at__lt=now - bound - redelivery)
    ).exclude(approval_id="")


def resend_stalled_commits(queued: int = 0) -> list[str]:
    """Send every stalled approval's commit again (the sweep); returns their approval ids. The commit is
    idempotent, so one that was only slow is committed once all the same.

    ``queued``: messages waiting in the broker's queue. When there are at least as many as stalled approvals, the
    workers are behind rather than the messages lost: sending again would only make the backlog longer."""
    stalled = list(stalled_approvals().select_related("decided_by", "decided_by_rule", "escalated_by"))
    if stalled and queued >= len(stalled):
        logger.info("sweep: %d approvals waiting behind %d queued messages: not re-sent", len(stalled), queued)
        return []
    sent = []
    for proposal in stalled:
        try:
            send_commit(proposal)
        except Exception:
            logger.exception("sweep: could not re-send the commit of %s", proposal.approval_id)
            break  # the broker is away: the next sweep tries again
        # Restart its clock, so the next sweep waits a whole bound before sending it again.
        Proposal.objects.filter(pk=proposal.pk, state=proposal.state).update(updated_at=clock.now())
        sent.append(proposal.approval_id)
        logger.warning(
            "sweep: re-sent the commit of %s (%s since %s)", proposal.approval_id, proposal.state, proposal.updated_at
        )
    return sent
