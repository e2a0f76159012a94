"""The console feed inside one process: one subscription for all of its dashboards, one frame per window each.

Every dashboard gets every list event (a row changed, a proposal moved). With one channel-layer member per
dashboard, each event was unpacked, queued, dispatched and sent as a websocket frame by each of them: at 50
dashboards and ~100 list events a second that is ~5,000 frames a second, the sockets process's whole CPU under
load. Here the process joins the feed once (``Fanout``), appends each list event to every dashboard's outbox,
and sends each outbox as one frame at most every CONSOLE_FRAME_WINDOW_SECONDS (at once when the window has
passed, so a quiet console adds no delay). Chat events of a conversation go to the dashboards that have it open,
at once, after what their outbox holds: an agent watching a customer sees them live, and in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

from returns_console.console import events

logger = logging.getLogger(__name__)

RECEIVE_RETRY_SECONDS = 1.0
MAX_EVENTS_PER_FRAME = 200  # a backlog leaves as several frames, none too large for a browser to parse at once


@dataclass(eq=False)
class Outbox:
    """What one dashboard socket is owed, in the order it came: event JSON texts, and whole frames (presence)."""

    send: Callable[[str], Awaitable[None]]
    pending: list[tuple[bool, str]] = field(default_factory=list)  # (is an event, JSON)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one sender at a time keeps the order
    viewing: str | None = None

    async def flush(self) -> None:
        async with self.lock:
            await self._send_pending()

    async def kick(self) -> None:
        """Send what is owed, unless a sender holds the socket: it sends all that is owed before it lets go."""
        if not self.lock.locked():
            await self.flush()

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """Send what is owed, then hold the socket: a resync's replay is not interleaved with live frames (what
        comes meanwhile follows it)."""
        async with self.lock:
            await self._send_pending()
            try:
                yield
            finally:
                await self._send_pending()

    async def _send_pending(self) -> None:
        while self.pending:  # what is owed while a frame leaves goes out with this sender, not after the lock
            owed, self.pending = self.pending, []
            for frame in frames(owed):
                try:
                    await self.send(frame)
                except Exception:  # a socket closing under us: its consumer detaches it
                    logger.warning("a console frame was not sent", exc_info=True)
                    self.pending.clear()
                    return


def frames(owed: list[tuple[bool, str]]) -> list[str]:
    """Consecutive events as one frame (``{"type": "event"}`` alone, ``{"type": "events"}`` together), other frames
    as they are, in order."""
    out: list[str] = []
    run: list[str] = []

    def end_run() -> None:
        for start in range(0, len(run), MAX_EVENTS_PER_FRAME):
            chunk = run[start : start + MAX_EVENTS_PER_FRAME]
            out.append(chunk[0] if len(chunk) == 1 else '{"type":"events","events":[' + ",".join(chunk) + "]}")
        run.clear()

    for is_event, text in owed:
        if is_event:
            run.append(text)
        else:
            end_run()
            out.append(text)
    end_run()
    return out


class Fanout:
    """The feed for the dashboards of one event loop (a server process has one): made by ``for_this_loop()``."""

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.window = settings.CONSOLE_FRAME_WINDOW_SECONDS
        self.outboxes: set[Outbox] = set()
        self.viewers: dict[str, set[Outbox]] = {}
        self.channel = ""
        self._membership = asyncio.Lock()  # joins and leaves of a conversation's group, one at a time
        self._receiving: asyncio.Task[None] | None = None
        self._tick: asyncio.Task[None] | None = None
        self._last_tick = 0.0

    async def start(self) -> None:
        self.channel = await self.layer.new_channel("console.fanout.")
        await self.layer.group_add(events.GROUP, self.channel)
        self._receiving = asyncio.get_running_loop().create_task(self._receive())

    def stop(self) -> None:
        for task in (self._receiving, self._tick):
            if task is not None:
                task.cancel()

    def attach(self, send: Callable[[str], Awaitable[None]]) -> Outbox:
        outbox = Outbox(send)
        self.outboxes.add(outbox)
        return outbox

    async def detach(self, outbox: Outbox) -> None:
        self.outboxes.discard(outbox)
        await self.view(outbox, None)

    async def view(self, outbox: Outbox, conversation: str | None) -> None:
        """Give ``outbox`` the chat events of ``conversation`` (and no longer those of the one it had open)."""
        async with self._membership:
            previous, outbox.viewing = outbox.viewing, conversation
            if previous == conversation:
                return
            if previous is not None:
                watching = self.viewers.get(previous, set())
                watching.discard(outbox)
                if not watching:
                    self.viewers.pop(previous, None)
                    await self.layer.group_discard(events.conversation_group(previous), self.channel)
            if conversation is not None:
                if conversation not in self.viewers:
                    self.viewers[conversation] = set()
                    await self.layer.group_add(events.conversation_group(conversation), self.channel)
                self.viewers[conversation].add(outbox)

    async def _receive(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except Exception:  # the layer lost Redis: it reconnects and subscribes again; keep listening
                logger.exception("console feed: receiving failed; trying again in %s s", RECEIVE_RETRY_SECONDS)
                await asyncio.sleep(RECEIVE_RETRY_SECONDS)
                continue
            try:
                await self._deliver(message)
            except Exception:  # one bad message must not silence every dashboard of the process
                logger.exception("console message %r not relayed", message.get("type"))

    async def _deliver(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "console.event":
            owed = [(True, text) for text in message["events"]]
            conversation = message.get("conversation")
            if conversation is None:
                self._owe_everyone(owed)
                return
            for outbox in list(self.viewers.get(conversation, ())):  # chat events: now, after what is owed
                outbox.pending.extend(owed)
                await outbox.kick()
        elif kind == "console.presence":
            self._owe_everyone([(False, frame) for frame in message["frames"]])
        else:
            raise ValueError(f"unknown console message {kind!r}")

    def _owe_everyone(self, owed: list[tuple[bool, str]]) -> None:
        for outbox in self.outboxes:
            outbox.pending.extend(owed)
        if self._tick is None and self.outboxes:
            loop = asyncio.get_running_loop()
            delay = max(0.0, self._last_tick + self.window - loop.time())
            self._tick = loop.create_task(self._flush_after(delay))

    async def _flush_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._tick = None  # what arrives from here on waits for the next window
        self._last_tick = asyncio.get_running_loop().time()
        for outbox in list(self.outboxes):
            if outbox.pending:
                await outbox.kick()


_fanouts: dict[asyncio.AbstractEventLoop, Fanout] = {}
_starting: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}


async def for_this_loop() -> Fanout:
    """This event loop's ``Fanout``, joined to the feed on first use (tests run a loop per test, and may set up
    another channel layer: a fan-out on the old one is stopped)."""
    loop = asyncio.get_running_loop()
    fanout = _fanouts.get(loop)
    if fanout is not None and fanout.layer is get_channel_layer():
        return fanout
    async with _starting.setdefault(loop, asyncio.Lock()):
        fanout = _fanouts.get(loop)
        if fanout is None or fanout.layer is not get_channel_layer():
            for other in [other for other in _fanouts if other.is_closed()]:
                _fanouts.pop(other, None)
                _starting.pop(other, None)
            if fanout is not None:
                fanout.stop()
            fanout = Fanout()
            await fanout.start()
            _fanouts[loop] = fanout
    return fanout
