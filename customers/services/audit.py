"""The audit log's one writer: who did what, on what, with the state before and after.

Every decision writes its entry inside the decision's own transaction, so the log and the state never disagree.
"""

from __future__ import annotations

from typing import Any

from customers.models import AuditEntry, AutoApprovalRule, Proposal


def snapshot(proposal: Proposal) -> dict[str, Any]:
    """What a decision can change, for the audit log's before/after."""
    return {
        "state": proposal.state,
        "version": proposal.version,
        "lines": proposal.lines,
        "resolution": proposal.resolution,
        "shipping": proposal.shipping,
        "quote": proposal.quote,
        "offer": proposal.offer,  # a change waiting for the customer's answer
    }


def actor_label(user: Any = None, rule: AutoApprovalRule | None = None, label: str = "") -> str:
    """How an actor is shown to people: the given label, the user's name, the rule, or 'system'."""
    if label:
        return label
    if user is not None:
        return str(user.get_username())
    return f"rule: {rule.name}" if rule else "system"


def record(
    action: str,
    *,
    user: Any = None,
    rule: AutoApprovalRule | None = None,
    label: str = "",
    proposal: Proposal | None = None,
    thread_id: str = "",
    customer_id: str = "",
    return_id: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    note: str = "",
) -> AuditEntry:
    """One entry; on a proposal, its thread, customer and return come from it and ``after`` is its snapshot."""
    if proposal is not None:
        thread_id = thread_id or proposal.thread_id
        customer_id = customer_id or proposal.customer_id
        return_id = return_id or proposal.return_id
        after = snapshot(proposal) if after is None else after
    return AuditEntry.objects.create(
        actor=user,
        rule=rule,
        actor_label=actor_label(user, rule, label),
        action=action,
        proposal=proposal,
        thread_id=thread_id,
        customer_id=customer_id,
        return_id=return_id,
        before=before,
        after=after,
        note=note,
    )


def who_acted_last(proposal: Proposal) -> str:
    entry = AuditEntry.objects.filter(proposal=proposal).order_by("-created_at", "-id").first()
    return entry.actor_label if entry else "Someone"
