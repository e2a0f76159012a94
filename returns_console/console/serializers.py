"""Proposals as the console's JSON API and live events show them."""

from __future__ import annotations

from typing import Any

from customers.models import Proposal
from customers.money import amount
from customers.services.commit_progress import can_retry
from customers.services.quote import MONEY_FIELDS

money = amount


def proposal_json(proposal: Proposal) -> dict[str, Any]:
    quote = proposal.quote
    amounts = {key.removesuffix("_cents"): int(quote.get(key, 0)) for key in MONEY_FIELDS}
    amounts["total"] = proposal.total_cents
    return {
        "id": proposal.pk,
        "version": proposal.version,
        "state": proposal.state,
        "state_label": proposal.get_state_display(),
        "customer": {"id": proposal.customer_id, "name": proposal.customer_name, "tier": proposal.customer_tier},
        "order_id": proposal.order_id,
        "thread_id": proposal.thread_id,
        "lines": proposal.lines,
        "reason": proposal.reason,
        "resolution": proposal.resolution,
        "shipping": proposal.shipping or None,
        "amounts_cents": amounts,
        "amounts": {key: money(value) for key, value in amounts.items()},
        "notes": quote.get("notes", []),
        "fee_waived_reason": quote.get("fee_waived_reason"),
        "override": quote.get("override"),
        "evidence": proposal.evidence,
        "return_id": proposal.return_id or None,
        "approval_id": proposal.approval_id or None,
        "decided_by": proposal.decided_by.get_username() if proposal.decided_by_id else None,
        "decided_by_rule": proposal.decided_by_rule.name if proposal.decided_by_rule_id else None,
        "decided_at": proposal.decided_at.isoformat() if proposal.decided_at else None,
        "customer_message": proposal.customer_message or None,
        "failure": {"code": proposal.failure_code, "message": proposal.failure_message}
        if proposal.failure_code
        else None,
        "can_retry": can_retry(proposal),
        "overlaps": proposal.overlaps,
        "offer": proposal.offer,  # a change waiting for the customer's answer
        "escalation": {
            "by": proposal.escalated_by.get_username() if proposal.escalated_by_id else None,
            "at": proposal.escalated_at.isoformat(),
            "note": proposal.escalation_note,
        }
        if proposal.escalated_at
        else None,
        "created_at": proposal.created_at.isoformat(),
        "updated_at": proposal.updated_at.isoformat(),
    }
