"""How many turns one web process works on at once; the rest wait in the order they came.

An event loop shares its CPU among every turn in progress: when it is busy, each step of a turn queues behind a
step of every other, so a turn lasts its own work times the number in progress, and the turns with the most
steps (a greeting, a confirm) last longest. bench/load.py at 200 customers on 2 cores: p50 0.58 s, p99 3.3 s,
confirms twice as long as choices. With at most TURN_CONCURRENCY in progress and the others let in first come,
first served, the same work is done, but each turn waits about as long as any other instead of the unlucky ones
waiting many times the middle. The customer is told we are on it before the wait (chat.views).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from django.conf import settings

# The loop and limit the semaphore was made for: a process has one loop, tests make one per test.
_slots: tuple[asyncio.AbstractEventLoop, int, asyncio.Semaphore] | None = None


def _semaphore(limit: int) -> asyncio.Semaphore:
    global _slots
    loop = asyncio.get_running_loop()
    if _slots is None or _slots[0] is not loop or _slots[1] != limit:
        _slots = (loop, limit, asyncio.Semaphore(limit))
    return _slots[2]


@asynccontextmanager
async def turn_slot() -> AsyncIterator[None]:
    """Held for the whole of a turn. asyncio's semaphore wakes its waiters in order, and one that leaves while
    waiting (the customer went away) gives up its place; ``TURN_CONCURRENCY`` 0 lets every turn in at once."""
    limit = settings.TURN_CONCURRENCY
    if limit <= 0:
        yield
        return
    async with _semaphore(limit):
        yield
