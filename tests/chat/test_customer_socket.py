"""The customer's websocket, over the real Redis channel layer: only signed-in customers, only their own updates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from channels.testing import WebsocketCommunicator
from chatkit.types import AssistantMessageContent, AssistantMessageItem
from django.contrib.sessions.backends.db import SessionStore

from chat.context import ChatContext
from chat.push import post_to_thread
from chat.store import CosmosChatStore
from returns_console.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis_layer(services_settings):  # type: ignore[no-untyped-def]
    """services_settings points the channel layer at the test Redis."""
    return services_settings


async def _session_for(customer_id: str) -> str:
    session = SessionStore()
    await session.aset("customer_id", customer_id)
    await session.aset("customer_order_id", "ORD-79001")
    await session.asave()
    return session.session_key


def _socket(session_key: str | None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
    if session_key:
        headers.append((b"cookie", f"sessionid={session_key}".encode()))
    return WebsocketCommunicator(application, "/ws/chat/", headers=headers)


def _message(thread_id: str, text: str) -> AssistantMessageItem:
    return AssistantMessageItem(
        id=f"msg_{abs(hash(text)) % 10**8}",
        thread_id=thread_id,
        created_at=datetime.now(UTC),
        content=[AssistantMessageContent(text=text)],
    )


async def test_anonymous_sockets_are_refused(redis_layer):
    socket = _socket(None)
    connected, code = await socket.connect()
    assert not connected and code == 4401


async def test_foreign_origin_is_refused(redis_layer):
    key = await _session_for("CUST-1001")
    socket = WebsocketCommunicator(
        application,
        "/ws/chat/",
        headers=[(b"origin", b"http://evil.example"), (b"cookie", f"sessionid={key}".encode())],
    )
    connected, _ = await socket.connect()
    assert not connected


async def test_an_item_posted_to_a_thread_arrives_live_and_is_stored(redis_layer, repo):
    store = CosmosChatStore(repo.database)
    await store.ensure_container()
    from chatkit.types import ThreadMetadata

    robert = ChatContext("CUST-1001", "ORD-79001")
    await store.save_thread(ThreadMetadata(id="thr_live", created_at=datetime.now(UTC)), robert)
    robert_socket = _socket(await _session_for("CUST-1001"))
    maria_socket = _socket(await _session_for("CUST-1002"))
    assert (await robert_socket.connect())[0] and (await maria_socket.connect())[0]

    await post_to_thread(store, "CUST-1001", "thr_live", _message("thr_live", "Your return was approved."))

    event = await robert_socket.receive_json_from(timeout=5)
    assert event["type"] == "thread.item" and event["thread_id"] == "thr_live"
    assert event["item"]["content"][0]["text"] == "Your return was approved."
    assert await maria_socket.receive_nothing(timeout=0.5)  # another customer hears nothing
    stored = await store.load_thread_items("thr_live", None, 10, "asc", robert)
    assert [item.content[0].text for item in stored.data] == ["Your return was approved."]
    await robert_socket.send_json_to({"type": "hello"})
    assert (await robert_socket.receive_json_from(timeout=5))["type"] == "error"
    await robert_socket.disconnect()
    await maria_socket.disconnect()
