"""A turn's events reach the dashboards in bursts: in order, all of them, at the turn's end or after the window."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from chat.mirror import TurnMirror
from chat.signals import conversation_events


@pytest.fixture
def announced() -> Any:
    bursts: list[tuple[str, str, list[dict[str, Any]]]] = []

    async def receiver(sender: Any, thread_id: str, customer_id: str, events: list[dict[str, Any]], **_: Any) -> None:
        bursts.append((thread_id, customer_id, events))

    conversation_events.connect(receiver, dispatch_uid="test.mirror")
    yield bursts
    conversation_events.disconnect(dispatch_uid="test.mirror")


async def test_a_short_turn_is_announced_once_in_order_when_it_ends(announced):
    mirror = TurnMirror("thr_1", "CUST-1", window=10)
    for n in range(5):
        mirror.add({"n": n})
    assert announced == []  # nothing yet: the turn goes on
    await mirror.close()
    assert announced == [("thr_1", "CUST-1", [{"n": n} for n in range(5)])]


async def test_a_long_turn_is_announced_while_it_goes_on(announced):
    mirror = TurnMirror("thr_1", "CUST-1", window=0.02)
    mirror.add({"n": 0})
    mirror.add({"n": 1})
    await asyncio.sleep(0.1)  # a model thinking, say
    assert announced == [("thr_1", "CUST-1", [{"n": 0}, {"n": 1}])]
    mirror.add({"n": 2})
    await mirror.close()
    assert [burst for _, _, burst in announced] == [[{"n": 0}, {"n": 1}], [{"n": 2}]]


async def test_a_turn_not_watched_live_is_announced_once_when_it_ends_however_long_it_takes(announced):
    mirror = TurnMirror("thr_1", "CUST-1", window=0.01, live=False)
    mirror.add({"n": 0})
    await asyncio.sleep(0.05)  # a busy machine keeps the turn waiting well past the window
    mirror.add({"n": 1})
    assert announced == []
    await mirror.close()
    assert [burst for _, _, burst in announced] == [[{"n": 0}, {"n": 1}]]


async def test_closing_while_a_burst_is_being_announced_waits_for_it_and_keeps_the_order(announced):
    slow: list[list[dict[str, Any]]] = []

    async def slow_receiver(sender: Any, events: list[dict[str, Any]], **_: Any) -> None:
        await asyncio.sleep(0.05)
        slow.append(events)

    conversation_events.connect(slow_receiver, dispatch_uid="test.mirror.slow")
    try:
        mirror = TurnMirror("thr_1", "CUST-1", window=0.01)
        mirror.add({"n": 0})
        await asyncio.sleep(0.03)  # the timer's burst is on its way
        mirror.add({"n": 1})
        await mirror.close()
    finally:
        conversation_events.disconnect(dispatch_uid="test.mirror.slow")
    assert slow == [[{"n": 0}], [{"n": 1}]]


async def test_a_turn_with_nothing_to_mirror_announces_nothing(announced):
    await TurnMirror("thr_1", "CUST-1", window=0.01).close()
    assert announced == []


async def test_a_burst_leaves_only_after_the_turns_writes_are_stored(announced):
    order: list[str] = []

    async def store_writes() -> None:
        order.append(f"stored before burst {len(announced) + 1}")

    mirror = TurnMirror("thr_1", "CUST-1", window=10, before_announce=store_writes)
    mirror.add({"n": 0})
    await mirror.close()
    assert order == ["stored before burst 1"] and len(announced) == 1


async def test_a_burst_whose_writes_failed_is_not_announced(announced):
    async def failing() -> None:
        raise OSError("Cosmos away")

    mirror = TurnMirror("thr_1", "CUST-1", window=0.01, before_announce=failing)
    mirror.add({"n": 0})
    await asyncio.sleep(0.05)  # the window's burst meets the failure: logged, not announced
    assert announced == []
    mirror.add({"n": 1})
    mirror.discard()  # the turn's end learnt it was not stored
    await mirror.close()
    assert announced == []
