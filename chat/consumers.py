"""The customer's websocket: items added to their conversations outside a request (a staff reply, a decision)
arrive here live, so the page shows them without a reload."""

from __future__ import annotations

from typing import Any

from chat.push import customer_group
from chat.sockets import SESSION_ENDED, LiveEventsConsumer, session_group

NOT_SIGNED_IN = SESSION_ENDED


class CustomerConsumer(LiveEventsConsumer):
    live_events = frozenset({"thread.item"})

    async def connect(self) -> None:
        session = self.scope.get("session")
        customer_id = await session.aget("customer_id") if session is not None else None
        if not customer_id:
            await self.close(code=NOT_SIGNED_IN)
            return
        self.group = customer_group(customer_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.join_ending_groups(session_group(session.session_key or ""))
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)
        await self.leave_ending_groups()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """Customers only listen here; what they say goes through /chatkit."""
        await self.send_json(
            {"type": "error", "message": "This socket only delivers updates; send messages via /chatkit."}
        )

    async def thread_item(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "thread.item", "thread_id": event["thread_id"], "item": event["item"]})
