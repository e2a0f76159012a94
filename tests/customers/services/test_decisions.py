"""Every decision, at the service level: what it changes, what it audits, what it announces and queues.

Like Zulip's test_events, the approval test pins the exact events a decision emits, so a listener added or
lost shows up here first.
"""

from __future__ import annotations

import asyncio
import os
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model

from customers.domain import Reason, Resolution, ReturnStatus, Shipping
from customers.errors import InvalidRequest, InvalidTransition
from customers.models import AuditAction, AuditEntry, AutoApprovalRule, Proposal, ProposalState, ReturnPolicySettings
from customers.policy import DEFAULT_POLICY
from customers.selectors.policy import active_policy
from customers.services import commit_progress, decisions
from customers.services.authority import OverApprovalLimit, SupervisorsOnly
from customers.services.commit import commit_return
from customers.signals import proposal_changed
from tests.customers.seeded import file_seed_proposal

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def emitted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """What decisions emit, in order: ("signal", action) for announcements, ("task", name) for queued work."""
    from returns_console.celery import app

    events: list[tuple[str, Any]] = []

    def listener(sender: Any, proposal: Proposal, action: str, **_: Any) -> None:
        events.append(("proposal_changed", action))

    proposal_changed.connect(listener, dispatch_uid="test-events")

    def send_task(name: str, *args: Any, **kwargs: Any) -> None:
        events.append(("task", name))

    monkeypatch.setattr(app, "send_task", send_task)
    yield events
    proposal_changed.disconnect(dispatch_uid="test-events")


def _user(name: str) -> Any:
    return get_user_model().objects.get(username=name)


async def _staff(name: str) -> Any:
    return await sync_to_async(_user)(name)


async def _actions(proposal: Proposal) -> list[str]:
    return [e.action async for e in AuditEntry.objects.filter(proposal=proposal).order_by("id")]


async def test_an_approval_emits_exactly_one_announcement_and_one_commit(seeded, emitted):
    proposal = await file_seed_proposal(seeded)
    emitted.clear()  # filing announces itself through proposal_filed, not proposal_changed
    agent = await _staff("agent")
    approved = await sync_to_async(decisions.approve)(proposal_id=proposal.pk, user=agent, version=1)
    # The commit is queued, the chat app queues the customer's notice, and the change is announced once.
    assert emitted == [
        ("task", "customers.commit_return"),
        ("task", "chat.tell_customer"),
        ("proposal_changed", "approved"),
    ]
    assert (approved.state, approved.version, approved.approval_id) == ("approved", 2, f"proposal-{proposal.pk}")
    assert await _actions(approved) == [AuditAction.APPROVE]


async def test_a_stale_or_second_decision_changes_nothing(seeded, emitted):
    proposal = await file_seed_proposal(seeded)
    agent, supervisor = await _staff("agent"), await _staff("supervisor")
    await sync_to_async(decisions.approve)(proposal_id=proposal.pk, user=agent, version=1)
    emitted.clear()
    with pytest.raises(decisions.StaleProposal, match="agent already acted"):
        await sync_to_async(decisions.reject)(proposal_id=proposal.pk, user=supervisor, version=1, message="no")
    assert emitted == [] and await _actions(proposal) == [AuditAction.APPROVE]


async def test_limits_hold_for_people(seeded):
    proposal = await file_seed_proposal(seeded, sku="DSP-UHD-55", resolution=Resolution.FULL_REFUND)
    with pytest.raises(OverApprovalLimit, match=r"above your approval limit of 200\.00"):
        await sync_to_async(decisions.approve)(proposal_id=proposal.pk, user=await _staff("agent"), version=1)
    approved = await sync_to_async(decisions.approve)(
        proposal_id=proposal.pk, user=await _staff("supervisor"), version=1
    )
    assert approved.state == "approved"


async def test_assistant_mode_approves_alone_only_within_the_admin_ceiling(seeded, emitted):
    hub = await file_seed_proposal(seeded)  # 98.99 of store credit
    display = await file_seed_proposal(seeded, sku="DSP-UHD-55", resolution=Resolution.FULL_REFUND)  # 299.99
    emitted.clear()
    approved = await sync_to_async(decisions.approve_in_assistant_mode)(proposal=hub, policy=DEFAULT_POLICY)
    assert approved is not None and approved.state == "approved" and approved.decided_by is None
    assert await sync_to_async(decisions.approve_in_assistant_mode)(proposal=display, policy=DEFAULT_POLICY) is None
    assert (await Proposal.objects.aget(pk=display.pk)).state == "proposed"
    assert await _actions(display) == [AuditAction.REVIEW_NEEDED]
    assert emitted == [
        ("task", "customers.commit_return"),
        ("task", "chat.tell_customer"),
        ("proposal_changed", "approved"),
    ]

    # An admin lowers the ceiling: the same 98.99 now waits for a person.
    await ReturnPolicySettings.objects.acreate(auto_approval_ceiling=Decimal("50.00"))
    policy = await sync_to_async(active_policy)()
    assert policy.auto_approval_ceiling_cents == 5000
    other = await file_seed_proposal(seeded, sku="CBL-USBC-6FT-3PK", resolution=Resolution.FULL_REFUND)
    assert other.total_cents < 5000
    assert await sync_to_async(decisions.approve_in_assistant_mode)(proposal=other, policy=policy) is not None
    cheap_but_big = await file_seed_proposal(seeded, quantity=1, sku="HUB-SMART-2")
    assert await sync_to_async(decisions.approve_in_assistant_mode)(proposal=cheap_but_big, policy=policy) is None


async def test_rules_never_approve_above_the_ceiling(seeded):
    await AutoApprovalRule.objects.acreate(name="Everything", enabled=True, max_amount="10000.00")
    display = await file_seed_proposal(seeded, sku="DSP-UHD-55", resolution=Resolution.FULL_REFUND)
    assert display.state == "proposed"  # 299.99 > the 100.00 ceiling, whatever the rule says
    hub = await file_seed_proposal(seeded)
    assert hub.state == "approved" and hub.decided_by_rule_id is not None


async def test_a_rule_disabled_while_a_filing_is_checked_approves_nothing(seeded, monkeypatch):
    """Rules are read before the approving transaction (most filings match none, and a write transaction holds
    SQLite's one write lock); the match is read again inside it, so a rule an admin just disabled never approves."""
    rule = await AutoApprovalRule.objects.acreate(name="Everything", enabled=True, max_amount="10000.00")
    first_look = decisions.matching_rule

    def then_disabled(proposal: Proposal, policy: Any) -> AutoApprovalRule | None:
        found = first_look(proposal, policy)
        AutoApprovalRule.objects.filter(pk=rule.pk).update(enabled=False)  # the admin, between the two reads
        return found

    monkeypatch.setattr(decisions, "matching_rule", then_disabled)
    proposal = await file_seed_proposal(seeded)
    assert proposal.state == "proposed" and proposal.decided_by_rule_id is None
    assert await _actions(proposal) == []


async def test_a_failed_commit_is_told_once_and_closed_by_a_supervisor(seeded, emitted):
    proposal = await file_seed_proposal(seeded)
    supervisor, agent = await _staff("supervisor"), await _staff("agent")
    approved = await sync_to_async(decisions.approve)(proposal_id=proposal.pk, user=agent, version=1)
    await sync_to_async(commit_progress.mark_failed)(approved.approval_id, "commit_failed", "Cosmos was away.")
    retried = await sync_to_async(decisions.retry_commit)(proposal_id=proposal.pk, user=supervisor)
    await sync_to_async(commit_progress.mark_failed)(retried.approval_id, "not_returnable", "No unit left.")
    changes = [action for kind, action in emitted if kind == "proposal_changed"]
    assert changes == ["approved", "failed", "retried", "failed_again"]  # the customer hears "failed" once

    failed = await Proposal.objects.aget(pk=proposal.pk)
    assert not commit_progress.can_retry(failed)
    with pytest.raises(decisions.StaleProposal, match="Retrying cannot help"):
        await sync_to_async(decisions.retry_commit)(proposal_id=proposal.pk, user=supervisor)
    with pytest.raises(SupervisorsOnly):
        await sync_to_async(decisions.close_failure)(
            proposal_id=proposal.pk, user=agent, version=failed.version, message="Sorry"
        )
    with pytest.raises(InvalidRequest, match="message for the customer"):
        await sync_to_async(decisions.close_failure)(
            proposal_id=proposal.pk, user=supervisor, version=failed.version, message="  "
        )
    closed = await sync_to_async(decisions.close_failure)(
        proposal_id=proposal.pk, user=supervisor, version=failed.version, message="The last unit went elsewhere."
    )
    assert closed.state == ProposalState.CLOSED and closed.customer_message == "The last unit went elsewhere."
    assert emitted[-1] == ("proposal_changed", "closed")
    with pytest.raises(decisions.StaleProposal):
        await sync_to_async(decisions.close_failure)(
            proposal_id=proposal.pk, user=supervisor, version=closed.version, message="again"
        )


async def _committed(repo, proposal: Proposal) -> Proposal:  # type: ignore[no-untyped-def]
    """Approve and commit as the worker would (the commit service, then its progress record)."""
    agent = await _staff("supervisor")
    approved = await sync_to_async(decisions.approve)(proposal_id=proposal.pk, user=agent, version=proposal.version)
    result = await commit_return(repo, commit_progress.approved_return(approved))
    return await sync_to_async(commit_progress.mark_committed)(approved.approval_id, result.record.return_id)


async def test_cancelling_a_store_credit_return_gives_everything_back_exactly_once(seeded, emitted):
    repo = seeded
    balance_before = await repo.credit_balance_cents("CUST-1001")
    committed = await _committed(repo, await file_seed_proposal(repo))
    assert await repo.credit_balance_cents("CUST-1001") == balance_before + 9899
    hub = next(line for line in (await repo.get_order("CUST-1001", "ORD-79001")).lines if line.sku == "HUB-SMART-2")
    assert hub.returned_quantity == 1

    agent = await _staff("agent")
    cancelled = await decisions.cancel_return(repo=repo, proposal_id=committed.pk, user=agent, note="Changed plans")
    again = await decisions.cancel_return(repo=repo, proposal_id=committed.pk, user=agent)
    assert cancelled.state == again.state == ProposalState.CANCELLED
    assert await repo.credit_balance_cents("CUST-1001") == balance_before
    ledger = [e for e in await repo.list_ledger("CUST-1001") if e.return_id == committed.return_id]
    assert sorted(e.amount_cents for e in ledger) == [-9899, 9899]  # one reversal, however often it is asked
    order = await repo.get_order("CUST-1001", "ORD-79001")
    assert next(line for line in order.lines if line.sku == "HUB-SMART-2").returned_quantity == 0
    record = await repo.get_return("CUST-1001", committed.return_id)
    assert record.status is ReturnStatus.CANCELLED and record.history[-1]["note"] == "Changed plans"
    assert (await _actions(committed)).count(AuditAction.CANCEL) == 1
    assert [a for k, a in emitted if k == "proposal_changed"].count("cancelled") == 1

    # The items are returnable again: a new request for the same unit files and commits.
    again_committed = await _committed(repo, await file_seed_proposal(repo))
    assert again_committed.state == ProposalState.COMMITTED


async def test_cancelling_a_refund_marks_it_to_be_voided_and_is_refused_once_the_item_is_received(seeded):
    from customers.services.lifecycle import advance_return

    repo = seeded
    refund = await _committed(
        repo, await file_seed_proposal(repo, resolution=Resolution.FULL_REFUND, reason=Reason.DAMAGED)
    )
    agent = await _staff("agent")
    await decisions.cancel_return(repo=repo, proposal_id=refund.pk, user=agent)
    record = await repo.get_return("CUST-1001", refund.return_id)
    assert record.refund_to_void_cents == record.refund_cents > 0

    travelling, received = [
        await _committed(
            repo,
            await file_seed_proposal(repo, sku=sku, resolution=Resolution.FULL_REFUND, shipping=Shipping.PREPAID_LABEL),
        )
        for sku in ("CBL-USBC-6FT-3PK", "DSP-UHD-55")
    ]
    steps = (ReturnStatus.LABEL_ISSUED, ReturnStatus.IN_TRANSIT)
    for proposal, path in ((travelling, steps), (received, (*steps, ReturnStatus.RECEIVED))):
        for step in path:
            await advance_return(repo, "CUST-1001", proposal.return_id, step, actor="agent")
    # On its way back: still cancellable (the item is not received yet).
    assert (await decisions.cancel_return(repo=repo, proposal_id=travelling.pk, user=agent)).state == "cancelled"
    with pytest.raises(InvalidTransition, match="can no longer be cancelled"):
        await decisions.cancel_return(repo=repo, proposal_id=received.pk, user=agent)
    assert (await Proposal.objects.aget(pk=received.pk)).state == ProposalState.COMMITTED


async def test_the_sweep_resends_only_commits_that_are_overdue(seeded, emitted, settings):
    """A commit message lost with Redis leaves an approval 'approved': the sweep sends it again once the bound
    has passed, and not again until another bound has passed."""
    from datetime import timedelta

    from customers import clock

    agent = await _staff("agent")
    lost = await sync_to_async(decisions.approve)(
        proposal_id=(await file_seed_proposal(seeded)).pk, user=agent, version=1
    )
    fresh = await sync_to_async(decisions.approve)(
        proposal_id=(await file_seed_proposal(seeded, sku="CBL-USBC-6FT-3PK")).pk, user=agent, version=1
    )
    stuck_committing = await sync_to_async(decisions.approve)(
        proposal_id=(await file_seed_proposal(seeded, sku="DSP-UHD-55", resolution=Resolution.EXCHANGE)).pk,
        user=await _staff("supervisor"),
        version=1,
    )
    bound = timedelta(seconds=settings.COMMIT_RESEND_AFTER_SECONDS)
    redelivery = timedelta(seconds=settings.COMMIT_REDELIVERY_SECONDS)
    await Proposal.objects.filter(pk=lost.pk).aupdate(updated_at=clock.now() - bound - timedelta(seconds=1))
    await Proposal.objects.filter(pk=stuck_committing.pk).aupdate(
        state=ProposalState.COMMITTING, updated_at=clock.now() - bound - redelivery - timedelta(seconds=1)
    )
    emitted.clear()
    sent = await sync_to_async(commit_progress.resend_stalled_commits)()
    assert sorted(sent) == sorted([lost.approval_id, stuck_committing.approval_id])
    assert fresh.approval_id not in sent
    assert emitted == [("task", "customers.commit_return")] * 2
    assert await sync_to_async(commit_progress.resend_stalled_commits)() == []  # its clock restarted
    assert await sync_to_async(lambda: commit_progress.stalled_approvals().count())() == 0


async def test_overlapping_proposals_are_linked_and_the_second_approval_is_refused_before_queueing(seeded, emitted):
    """Robert asks twice for both of his hubs (two tabs): both cards link to each other; once the first is
    committed, approving the second is refused with the reason before anything is queued."""
    from customers.errors import NotReturnable
    from customers.services.overlaps import ensure_still_returnable

    first = await file_seed_proposal(seeded, quantity=2)
    second = await file_seed_proposal(seeded, quantity=1)
    apart = await file_seed_proposal(seeded, sku="CBL-USBC-6FT-3PK")
    first, second = await Proposal.objects.aget(pk=first.pk), await Proposal.objects.aget(pk=second.pk)
    assert (first.overlaps, second.overlaps, apart.overlaps) == ([second.pk], [first.pk], [])
    assert ("proposal_changed", "overlap") in emitted

    await _committed(seeded, first)
    emitted.clear()
    with pytest.raises(NotReturnable, match=rf"0 left to return, this proposal asks for 1 \(proposal #{first.pk}"):
        await ensure_still_returnable(seeded, second)
    await ensure_still_returnable(seeded, apart)  # unrelated units: fine
    assert emitted == []


async def test_a_third_request_for_the_same_units_is_refused_until_one_is_decided(seeded, emitted):
    """Two open requests may share units (two tabs, a changed mind); a third for the same units could never go
    ahead, and filing again and again would flood the queue and make every filing link all the earlier ones.
    It is refused with the requests it would join; other items, and a retried submission, still go through."""
    from customers.clock import store_today
    from customers.errors import NotReturnable
    from customers.services.assessment import Selection, customer_overview
    from customers.services.proposals import ProposalRequest, file_proposal

    first = await file_seed_proposal(seeded, quantity=2)
    second = await file_seed_proposal(seeded, quantity=1)
    with pytest.raises(NotReturnable, match=rf"requests waiting for these items \(#{first.pk}, #{second.pk}\)"):
        await file_seed_proposal(seeded, quantity=2)  # Robert has two hubs: 2 + 2 and 2 + 1 are both too many
    assert await Proposal.objects.acount() == 2
    assert (await file_seed_proposal(seeded, sku="CBL-USBC-6FT-3PK")).overlaps == []

    retried = ProposalRequest(
        second.thread_id,
        second.submission_key,
        second.order_id,
        (Selection("HUB-SMART-2", 1),),
        Reason.DAMAGED,
        Resolution.STORE_CREDIT,
        Shipping.PREPAID_LABEL,
    )
    overview = await customer_overview(seeded, "CUST-1001", DEFAULT_POLICY, store_today())
    assert (await file_proposal(overview, retried, DEFAULT_POLICY)).pk == second.pk

    agent = await _staff("agent")
    await sync_to_async(decisions.reject)(proposal_id=first.pk, user=agent, version=1, message="Filed twice")
    third = await file_seed_proposal(seeded, quantity=2)
    assert (await Proposal.objects.aget(pk=third.pk)).overlaps == [second.pk]


async def test_requests_filed_at_once_cannot_all_pass_the_cap_together(seeded, emitted):
    """Six tabs confirming the same hub at the same moment: the cap is counted one filing after another, so two
    are filed (linked to each other) and four are told which requests wait, however the filings interleave."""
    from customers.errors import NotReturnable

    outcomes = await asyncio.gather(*(file_seed_proposal(seeded, quantity=2) for _ in range(6)), return_exceptions=True)
    filed = [o for o in outcomes if isinstance(o, Proposal)]
    refused = [o for o in outcomes if isinstance(o, NotReturnable)]
    assert (len(filed), len(refused)) == (2, 4), outcomes
    first, second = sorted(filed, key=lambda proposal: proposal.pk)
    assert [p.overlaps async for p in Proposal.objects.order_by("pk")] == [[second.pk], [first.pk]]


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs connections that wait for each other: SQLite's shared in-memory test database answers 'table "
    "is locked' at once (a file database serialises them by its one IMMEDIATE writer); make test's PostgreSQL "
    "pass runs it",
)
def test_filings_from_separate_connections_take_turns(seeded, emitted):
    """Web processes file through their own database connections: the customer's lock (a PostgreSQL advisory
    lock; on SQLite the one writer) makes each count the others' filings, so the cap holds across processes."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from customers.errors import NotReturnable
    from customers.services.overlaps import create_within_cap

    start = threading.Barrier(5)

    def file(n: int) -> Proposal | NotReturnable:
        start.wait()
        fields = {
            "customer_id": "CUST-1001",
            "order_id": "ORD-79001",
            "thread_id": f"thr_tab{n}",
            "submission_key": f"key-{n}",
            "lines": [{"sku": "HUB-SMART-2", "name": "Smart Hub", "quantity": 2, "unit_price_cents": 8999}],
            "reason": str(Reason.DAMAGED),
            "resolution": str(Resolution.STORE_CREDIT),
            "quote": {},
            "evidence": {},
        }
        try:
            return create_within_cap(fields, {"HUB-SMART-2": 2})[0]
        except NotReturnable as refused:
            return refused
        finally:
            connection.close()

    with ThreadPoolExecutor(5) as pool:
        outcomes = list(pool.map(file, range(5)))
    assert sum(isinstance(o, Proposal) for o in outcomes) == 2, outcomes
    assert Proposal.objects.count() == 2


async def test_the_sweep_leaves_a_backlog_alone(seeded, emitted, settings):
    """Approvals waiting behind as many queued messages are late, not lost: sending again would grow the queue."""
    from datetime import timedelta

    from customers import clock

    agent = await _staff("agent")
    late = await sync_to_async(decisions.approve)(
        proposal_id=(await file_seed_proposal(seeded)).pk, user=agent, version=1
    )
    long_ago = clock.now() - timedelta(seconds=settings.COMMIT_RESEND_AFTER_SECONDS + 1)
    await Proposal.objects.filter(pk=late.pk).aupdate(updated_at=long_ago)
    emitted.clear()
    assert await sync_to_async(commit_progress.resend_stalled_commits)(queued=1) == []
    assert emitted == []
    assert await sync_to_async(commit_progress.resend_stalled_commits)(queued=0) == [late.approval_id]


async def test_each_proposal_keeps_how_long_it_waited_for_its_decision_and_its_commit(seeded, settings):
    """Insights read these waits from the proposal (a year of them from one index), so they are kept as they
    happen: decided_at - created_at, and the first commit's time - created_at."""
    proposal = await file_seed_proposal(seeded)
    settings.CLOCK_OFFSET_SECONDS += 600  # reviewed ten minutes later
    agent = await _staff("supervisor")
    approved = await sync_to_async(decisions.approve)(proposal_id=proposal.pk, user=agent, version=proposal.version)
    settings.CLOCK_OFFSET_SECONDS += 1200  # committed twenty minutes after that
    result = await commit_return(seeded, commit_progress.approved_return(approved))
    committed = await sync_to_async(commit_progress.mark_committed)(approved.approval_id, result.record.return_id)
    stored = await Proposal.objects.aget(pk=proposal.pk)
    assert stored.decision_seconds == pytest.approx((stored.decided_at - stored.created_at).total_seconds())
    assert stored.decision_seconds == pytest.approx(600, abs=5)
    assert committed.commit_seconds == stored.commit_seconds == pytest.approx(1800, abs=5)
    await sync_to_async(commit_progress.mark_committed)(approved.approval_id, result.record.return_id)  # redelivered
    assert (await Proposal.objects.aget(pk=proposal.pk)).commit_seconds == stored.commit_seconds
