"""What the app's websocket consumers share."""

from __future__ import annotations

from typing import Any, ClassVar

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer


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
            await getattr(self, get_handler_name(message))(message)
        else:
            await super().dispatch(message)
