"""A turn's events for the staff dashboards, announced in bursts rather than one by one.

A guided turn makes five or six events within a few milliseconds (the customer's message, progress, the answer,
a widget, the engine's report). Announced one by one, each was numbered, logged and sent to every dashboard on
its own: at 50 dashboards that is ~300 frames a turn, and the sockets process fell minutes behind at 200
customers. Announced together they cost one numbering call and one frame per dashboard. A burst is announced
when the turn ends; a ``live`` mirror (a model's turn, which goes on for seconds) also announces one
MIRROR_WINDOW_SECONDS (MIRROR_WINDOW_MS, 100 ms by default) after its first event, so dashboards watch it as it
goes. Each burst first stores the turn's held writes (chat.store). A guided turn is not live: it is one burst and
one write however long a busy machine makes it wait. Timed, most clicks at 200 customers were split in two, each
half with its own Cosmos batch (~40% of the web's batch time went to the second ones), the click stored in a
transaction of its own, and a second round of frames to every dashboard.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings

from chat.signals import conversation_events

logger = logging.getLogger(__name__)


class TurnMirror:
    """Collects one conversation's events in order and announces them as ``conversation_events`` bursts.

    Made per request, in the request's event loop; ``close()`` must be awaited when the turn ends (it announces
    what is left), so nothing is held past the response. ``before_announce`` runs before each burst leaves
    (the turn's held writes are stored), so a dashboard is never told of an item the store does not have.
    """

    def __init__(
        self,
        thread_id: str,
        customer_id: str,
        window: float | None = None,
        before_announce: Callable[[], Awaitable[None]] | None = None,
        live: bool = True,
    ) -> None:
        self.thread_id = thread_id
        self.customer_id = customer_id
        self.window = settings.MIRROR_WINDOW_SECONDS if window is None else window
        self.live = live  # announce every ``window`` while the turn goes on, not only at its end
        self.before_announce = before_announce
        self._pending: list[dict[str, Any]] = []
        self._lock = asyncio.Lock()  # bursts leave in the order their events came
        self._timer: asyncio.Task[None] | None = None

    def add(self, event: dict[str, Any]) -> None:
        self._pending.append(event)
        if self._timer is None and self.live:
            self._timer = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.window)
        self._timer = None  # from here on close() waits for this burst instead of cancelling it
        try:
            await self.flush()
        except Exception:  # the writes failed: the end of the turn tells the customer (CosmosChatStore)
            logger.warning("a burst of %s was not announced: its writes failed", self.thread_id, exc_info=True)

    def discard(self) -> None:
        """Forget what has not been announced (the turn's writes failed: it was never stored)."""
        self._pending.clear()

    async def flush(self) -> None:
        async with self._lock:
            burst, self._pending = self._pending, []
            if burst:
                if self.before_announce is not None:
                    await self.before_announce()
                await conversation_events.asend(
                    sender=None, thread_id=self.thread_id, customer_id=self.customer_id, events=burst
                )

    async def close(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
        await self.flush()
