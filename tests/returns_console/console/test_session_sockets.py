"""Sessions that end really end: signing out, or an account made inactive, closes the live sockets at once."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import AsyncClient

from chat.sockets import SESSION_ENDED
from returns_console.asgi import application
from returns_console.console import events
from tests.chat.conversation import Conversation as Chat

pytestmark = pytest.mark.django_db(transaction=True)


async def _staff(username: str) -> tuple[AsyncClient, object]:
    user = await get_user_model().objects.acreate_user(username, password="pw-sessions-1", is_staff=True)
    client = AsyncClient()
    await client.aforce_login(user)
    return client, user


def _socket(path: str, session_key: str) -> WebsocketCommunicator:
    headers = [
        (b"origin", b"http://localhost"),
        (b"host", b"localhost"),
        (b"cookie", f"sessionid={session_key}".encode()),
    ]
    return WebsocketCommunicator(application, path, headers=headers)


async def _closed_with(socket: WebsocketCommunicator) -> int:
    while True:
        output = await socket.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            return output["code"]


async def test_signing_out_closes_that_sessions_dashboards_and_no_one_elses(services_settings):
    agent, _ = await _staff("agent-out")
    other, _ = await _staff("other-stays")
    mine = _socket("/ws/console/", agent.cookies["sessionid"].value)
    theirs = _socket("/ws/console/", other.cookies["sessionid"].value)
    assert (await mine.connect())[0] and (await theirs.connect())[0]
    response = await agent.post("/admin/logout/")
    assert response.status_code in (200, 302)
    assert await _closed_with(mine) == SESSION_ENDED
    await events.publish("thr_sessions_still_live", {"kind": "proposal"})
    assert (await theirs.receive_json_from(timeout=5))["conversation"] == "thr_sessions_still_live"
    await theirs.disconnect()


async def test_an_account_made_inactive_loses_its_dashboards_at_once(services_settings):
    client, user = await _staff("agent-deactivated")
    socket = _socket("/ws/console/", client.cookies["sessionid"].value)
    assert (await socket.connect())[0]
    user.is_active = False
    await sync_to_async(user.save)()
    assert await _closed_with(socket) == SESSION_ENDED


async def test_resync_checks_the_account_again(services_settings):
    client, user = await _staff("agent-resync")
    socket = _socket("/ws/console/", client.cookies["sessionid"].value)
    assert (await socket.connect())[0]
    await get_user_model().objects.filter(pk=user.pk).aupdate(is_staff=False)  # no signal: only the check sees it
    await socket.send_json_to({"type": "resync", "since": {"thr_x": 0}})
    assert await _closed_with(socket) == 4403


async def test_a_customer_signing_out_closes_their_chat_socket(repo, services_settings):
    from tests.customers.seeded import seed

    await seed(repo)
    chat = await Chat.sign_in()
    socket = _socket("/ws/chat/", chat.client.cookies["sessionid"].value)
    assert (await socket.connect())[0]
    ended = await chat.client.post("/chat/signout")
    assert ended.status_code == 200
    assert await _closed_with(socket) == SESSION_ENDED
