"""A signed-in customer talking to /chatkit through Django's async test client."""

from __future__ import annotations

from typing import Any

from chatkit.types import ThreadCreatedEvent, ThreadItemDoneEvent, WidgetItem
from django.test import AsyncClient

from tests.chat import protocol


class Conversation:
    def __init__(self, client: AsyncClient, headers: dict[str, str] | None = None) -> None:
        self.client = client
        self.headers = headers or {}  # sent with every request (the async client does not keep default headers)
        self.thread_id: str | None = None
        self.events: list[Any] = []
        self.newest_widget: WidgetItem | None = None

    @classmethod
    async def sign_in(
        cls, email: str = "rjohnson@company.com", order_id: str = "ORD-79001", language: str | None = None
    ) -> Conversation:
        """``language``: the browser's Accept-Language."""
        import uuid

        headers = {"accept-language": language} if language else {}
        client = AsyncClient(REMOTE_ADDR=f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}")
        response = await client.post(
            "/chat/session",
            data={"email": email, "order_id": order_id},
            content_type="application/json",
            headers=headers,
        )
        assert response.status_code == 200, response.content
        return cls(client, headers)

    async def post(self, request: Any) -> Any:
        return await self.client.post(
            "/chatkit", data=protocol.body(request), content_type="application/json", headers=self.headers
        )

    async def stream(self, request: Any) -> list[Any]:
        response = await self.post(request)
        assert response.status_code == 200, response.content
        assert response["Content-Type"] == "text/event-stream"
        raw = b"".join([chunk async for chunk in response.streaming_content])
        events = protocol.parse_sse(raw)
        for event in events:
            if isinstance(event, ThreadCreatedEvent):
                self.thread_id = event.thread.id
        self.events = events
        self.newest_widget = self.last_widget() or self.newest_widget
        return events

    async def say(self, text: str) -> list[Any]:
        if self.thread_id is None:
            return await self.stream(protocol.create(text))
        return await self.stream(protocol.add_message(self.thread_id, text))

    async def click(self, action_type: str, payload: dict[str, Any]) -> list[Any]:
        assert self.thread_id and self.newest_widget, "nothing to click yet"
        return await self.stream(protocol.custom_action(self.thread_id, self.newest_widget.id, action_type, payload))

    def done_items(self) -> list[Any]:
        return [event.item for event in self.events if isinstance(event, ThreadItemDoneEvent)]

    def last_widget(self) -> WidgetItem | None:
        widgets = [item for item in self.done_items() if isinstance(item, WidgetItem)]
        return widgets[-1] if widgets else None

    def widget_keys(self) -> list[str]:
        return [item.widget.key for item in self.done_items() if isinstance(item, WidgetItem)]

    def text(self) -> str:
        return " ".join(
            part.text for item in self.done_items() if item.type == "assistant_message" for part in item.content
        )

    def _nodes(self, node_type: str) -> list[Any]:
        """Every component of ``node_type`` in the newest widget, in reading order."""
        found: list[Any] = []

        def walk(node: Any) -> None:
            if getattr(node, "type", None) == node_type:
                found.append(node)
            for child in getattr(node, "children", None) or []:
                walk(child)

        widget = self.last_widget()
        if widget:
            walk(widget.widget)
        return found

    def buttons(self) -> list[tuple[str, str, dict]]:
        """(label, action type, payload) of every button in the newest widget."""
        return [
            (node.label, node.onClickAction.type, node.onClickAction.payload)
            for node in self._nodes("Button")
            if node.onClickAction
        ]

    def captions(self) -> list[str]:
        return [node.value for node in self._nodes("Caption")]
