"""Workers sweep for overdue commits at start and every interval; one worker at a time holds the sweep."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from customers import clock
from customers.models import Proposal, ProposalState
from returns_console.commit_sweep import LOCK_KEY, CommitSweep
from tests.customers.seeded import proposal_row

pytestmark = pytest.mark.django_db(transaction=True)


def _stalled_approval(key: str) -> Proposal:
    proposal = proposal_row(
        thread_id="thr_sweep", submission_key=key, state=ProposalState.APPROVED, approval_id=f"proposal-sweep-{key}"
    )
    Proposal.objects.filter(pk=proposal.pk).update(updated_at=clock.now() - timedelta(hours=1))
    return proposal


def test_a_worker_sweeps_at_start_and_again_each_interval(services_settings, monkeypatch, redis_url):
    import redis

    from returns_console.celery import app

    sent: list[str] = []
    monkeypatch.setattr(app, "send_task", lambda name, *a, **k: sent.append(k["args"][0]["approval_id"]))
    redis.Redis.from_url(redis_url).delete(LOCK_KEY)
    first = _stalled_approval("a")
    sweep = CommitSweep(interval=0.3)
    sweep.start()
    try:
        deadline = time.monotonic() + 5
        while first.approval_id not in sent and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sent == [first.approval_id]  # at start
        second = _stalled_approval("b")
        while second.approval_id not in sent and time.monotonic() < deadline:
            time.sleep(0.05)
        assert second.approval_id in sent  # and again a moment later
    finally:
        sweep.stop()
    # While another worker holds the sweep, this one leaves the overdue approval to it; then takes its turn.
    client = redis.Redis.from_url(redis_url)
    third = _stalled_approval("c")
    client.set(LOCK_KEY, "1", ex=60)
    assert CommitSweep(interval=60).sweep_once() == []
    client.delete(LOCK_KEY)
    assert CommitSweep(interval=60).sweep_once() == [third.approval_id]
