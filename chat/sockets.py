"""What the app's websocket consumers share: live relays, frame checks, and sockets that end with their session.

Every socket joins a group for the session it was opened with (and staff sockets one for their user), so signing
out, or an account made inactive, closes the sockets at once instead of leaving a live feed open on a shared
screen until the page is closed.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)
MAX_FRAME_CHARS = 64 * 1024
SESSION_ENDED = 4401


def session_group(session_key: str) -> str:
    return f"session.{session_key}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


async def end_sockets(group: str) -> None:
    """Close every socket in ``group`` (a session's or a user's), wherever it is served."""
    await get_channel_layer().group_send(group, {"type": "session.ended"})


class LiveEventsConsumer(AsyncJsonWebsocketConsumer):
    """A consumer whose live-event handlers only relay what the channel layer brings, never touching the database.

    Channels 4.2+ closes stale database connections before every message it dispatches, which is a hop to the
    process's one sync thread and back: for a live feed that is one hop per event per open socket, queued
    behind each other and behind any other sync work, and it held the staff dashboards (which relayed their feed
    this way then) hundreds of milliseconds behind the customer under a burst (bench/console.py). Message types
    in ``live_events`` skip it; connect, receive and disconnect keep Channels' behaviour, since that is where a
    consumer may read the database.
    """

    live_events: ClassVar[frozenset[str]] = frozenset()
    ending_groups: list[str]

    async def join_ending_groups(self, *groups: str) -> None:
        """Join the groups whose end closes this socket (call before accept)."""
        self.ending_groups = [group for group in groups if group]
        for group in self.ending_groups:
            await self.channel_layer.group_add(group, self.channel_name)

    async def leave_ending_groups(self) -> None:
        for group in getattr(self, "ending_groups", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def session_ended(self, message: dict[str, Any]) -> None:
        await self.close(code=SESSION_ENDED)

    async def dispatch(self, message: dict[str, Any]) -> None:
        if message["type"] in self.live_events or message["type"] == "session.ended":
            try:
                await getattr(self, get_handler_name(message))(message)
            except Exception:  # one bad event must not close the socket (a 1011 every dashboard reconnects on)
                logger.exception("live event %s not relayed to %s", message.get("type"), self.channel_name)
        else:
            await super().dispatch(message)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        """JSON text frames go to ``receive_json``; anything else gets an error message, not a 1011."""
        if text_data is None:
            await self.send_json({"type": "error", "message": "Send JSON text frames; binary frames are not read."})
            return
        if len(text_data) > MAX_FRAME_CHARS:
            await self.send_json({"type": "error", "message": f"Frames are limited to {MAX_FRAME_CHARS} characters."})
            return
        try:
            content = await self.decode_json(text_data)
        except ValueError:
            await self.send_json({"type": "error", "message": "That frame is not JSON."})
            return
        await self.receive_json(content, **kwargs)
