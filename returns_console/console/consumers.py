"""The staff dashboard's websocket: every conversation event, numbered per conversation, with resync."""

from __future__ import annotations

from typing import Any

from chat.sockets import LiveEventsConsumer
from returns_console.console import events

NOT_STAFF = 4403
MAX_RESYNC_CONVERSATIONS = 500


class ConsoleConsumer(LiveEventsConsumer):
    live_events = frozenset({"console.event"})

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not (user.is_active and user.is_staff):
            await self.close(code=NOT_STAFF)  # anonymous visitors and customers alike
            return
        await self.channel_layer.group_add(events.GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(events.GROUP, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """``{"type": "resync", "since": {conversation: last_seq, ...}}``: what each missed, in order."""
        since = content.get("since") if isinstance(content, dict) and content.get("type") == "resync" else None
        if not isinstance(since, dict) or len(since) > MAX_RESYNC_CONVERSATIONS:
            await self.send_json({"type": "error", "message": 'Send {"type": "resync", "since": {id: last_seq}}.'})
            return
        for conversation, last in since.items():
            if not isinstance(conversation, str) or not isinstance(last, int) or isinstance(last, bool) or last < 0:
                await self.send_json({"type": "error", "message": f"Bad resync entry for {conversation!r}."})
                continue
            missed = await events.since(conversation, last)
            for event in missed:
                await self.send_json({"type": "event", **event})
            await self.send_json(
                {"type": "resynced", "conversation": conversation, "last_seq": missed[-1]["seq"] if missed else last}
            )

    async def console_event(self, message: dict[str, Any]) -> None:
        await self.send(text_data=message["text"])
