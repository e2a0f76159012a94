"""Live-event handlers relay what the channel layer brings without a round trip to the sync thread.

Channels closes stale database connections before every message it dispatches (a hop to the process's one sync
thread). A consumer's live events skip that; its connect, receive and disconnect keep it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator

from chat.sockets import LiveEventsConsumer


class RelayConsumer(LiveEventsConsumer):
    live_events = frozenset({"relay.event"})
    group = ""

    async def connect(self) -> None:
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def relay_event(self, message: dict[str, Any]) -> None:
        await self.send_json({"n": message["n"]})

    async def other_event(self, message: dict[str, Any]) -> None:
        await self.send_json({"other": message["n"]})


@pytest.fixture
def stale_connection_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []

    async def counting() -> None:
        calls.append(1)

    monkeypatch.setattr("channels.consumer.aclose_old_connections", counting)
    monkeypatch.setattr("channels.generic.websocket.aclose_old_connections", counting)  # on disconnect
    return calls


async def test_live_events_skip_the_stale_connection_hop_and_others_keep_it(services_settings, stale_connection_checks):
    from channels.layers import get_channel_layer

    RelayConsumer.group = f"relay-{uuid.uuid4().hex}"
    socket = WebsocketCommunicator(RelayConsumer.as_asgi(), "/relay/")
    assert (await socket.connect())[0]
    after_connect = len(stale_connection_checks)
    assert after_connect == 1  # websocket.connect went through Channels' dispatch

    layer = get_channel_layer()
    for n in range(20):
        await layer.group_send(RelayConsumer.group, {"type": "relay.event", "n": n})
    assert [(await socket.receive_json_from(timeout=5))["n"] for _ in range(20)] == list(range(20))
    assert len(stale_connection_checks) == after_connect

    await layer.group_send(RelayConsumer.group, {"type": "other.event", "n": 1})
    assert await socket.receive_json_from(timeout=5) == {"other": 1}
    assert len(stale_connection_checks) == after_connect + 1
    await socket.disconnect()


async def test_an_unknown_message_type_still_fails_loudly(services_settings):
    consumer = RelayConsumer()
    with pytest.raises(ValueError, match="No handler"):
        await consumer.dispatch({"type": "nobody.listens"})
