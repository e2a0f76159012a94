"""A committed return moves approved -> label_issued -> in_transit -> received -> refunded|credited, or is cancelled."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from customers import clock
from customers.cosmos.repository import CosmosRepository
from customers.domain import Resolution, ReturnStatus
from customers.errors import ConcurrencyConflict, InvalidTransition
from customers.services.commit import commit_return
from customers.services.lifecycle import advance_return
from customers.services.reversal import reverse_return
from tests.customers.seeded import approval, seed

S = ReturnStatus


async def _committed(repo: CosmosRepository, resolution: Resolution = Resolution.STORE_CREDIT) -> str:
    await seed(repo)
    result = await commit_return(repo, approval("p-life", resolution=resolution))
    return result.record.return_id


@pytest.mark.any_day
@pytest.mark.parametrize(
    ("resolution", "path"),
    [
        (Resolution.STORE_CREDIT, [S.LABEL_ISSUED, S.IN_TRANSIT, S.RECEIVED, S.CREDITED]),
        (Resolution.FULL_REFUND, [S.LABEL_ISSUED, S.IN_TRANSIT, S.RECEIVED, S.REFUNDED]),
        (Resolution.KEEP_WITH_DISCOUNT, [S.REFUNDED]),
    ],
)
async def test_full_lifecycle_is_recorded(repo: CosmosRepository, resolution, path):
    return_id = await _committed(repo, resolution)
    for step in path:
        record = await advance_return(repo, "CUST-1001", return_id, step, actor="agent", note=f"to {step}")
        assert record.status is step
    stored = await repo.get_return("CUST-1001", return_id)
    assert [entry["status"] for entry in stored.history] == ["approved", *map(str, path)]
    assert stored.history[-1]["by"] == "agent" and stored.history[-1]["note"] == f"to {path[-1]}"
    # Every step is dated on the app's clock, in order.
    moments = [datetime.fromisoformat(entry["at"]) for entry in stored.history]
    assert moments == sorted(moments)
    assert all(abs(clock.now() - moment) < timedelta(minutes=1) for moment in moments)


@pytest.mark.parametrize(
    ("resolution", "steps", "bad"),
    [
        (Resolution.STORE_CREDIT, [], S.RECEIVED),  # cannot skip the parcel steps
        (Resolution.STORE_CREDIT, [S.LABEL_ISSUED, S.IN_TRANSIT, S.RECEIVED], S.REFUNDED),  # credit ends credited
        (Resolution.FULL_REFUND, [S.LABEL_ISSUED, S.IN_TRANSIT, S.RECEIVED], S.CANCELLED),  # received: too late
        (Resolution.FULL_REFUND, [S.CANCELLED], S.LABEL_ISSUED),  # cancelled is final
        (Resolution.KEEP_WITH_DISCOUNT, [], S.LABEL_ISSUED),  # nothing ships
    ],
)
async def test_invalid_steps_are_refused_with_the_allowed_ones(repo: CosmosRepository, resolution, steps, bad):
    return_id = await _committed(repo, resolution)
    for step in steps:
        await _step(repo, return_id, step)
    with pytest.raises(InvalidTransition, match=r"next steps allowed|can no longer be cancelled"):
        await _step(repo, return_id, bad)


async def _step(repo: CosmosRepository, return_id: str, step: ReturnStatus) -> None:
    """A lifecycle step; cancelling goes through the reversal, never a bare status change."""
    if step is S.CANCELLED:
        await reverse_return(repo, "CUST-1001", return_id, actor="agent")
    else:
        await advance_return(repo, "CUST-1001", return_id, step, actor="agent")


async def test_a_bare_status_change_to_cancelled_is_refused(repo: CosmosRepository):
    return_id = await _committed(repo)
    with pytest.raises(InvalidTransition, match="use cancel_return"):
        await advance_return(repo, "CUST-1001", return_id, S.CANCELLED, actor="agent")


async def test_two_agents_moving_one_return_at_once(repo: CosmosRepository):
    return_id = await _committed(repo)
    outcomes = await asyncio.gather(
        *(advance_return(repo, "CUST-1001", return_id, S.LABEL_ISSUED, actor=f"agent-{n}") for n in range(5)),
        return_exceptions=True,
    )
    succeeded = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(succeeded) == 1
    assert all(
        isinstance(o, (ConcurrencyConflict, InvalidTransition)) for o in outcomes if isinstance(o, BaseException)
    )
    stored = await repo.get_return("CUST-1001", return_id)
    assert [entry["status"] for entry in stored.history] == ["approved", "label_issued"]
