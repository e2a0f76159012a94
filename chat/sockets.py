"""What the app's websocket consumers share."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer

logger = logging.getLogger(__name__)
MAX_FRAME_CHARS = 64 * 1024


class LiveEventsConsumer(AsyncJsonWebsocketConsumer):
    """A consumer whose live-event handlers only relay what the channel layer brings, never touching the database.

    Channels 4.2+ closes stale database connections before every message it dispatches, which is a hop to the
    process's one sync thread and back: for the console that is one hop per event per open dashboard, queued
    behind each other and behind any other sync work, and it held dashboards hundreds of milliseconds behind
    the customer under a burst (bench/console.py). Message types in ``live_events`` skip it; connect, receive
    and disconnect keep Channels' behaviour, since that is where a consumer may read the database.
    """

    live_events: ClassVar[frozenset[str]] = frozenset()

    async def dispatch(self, message: dict[str, Any]) -> None:
        if message["type"] in self.live_events:
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
