"""Staff see who else has a conversation open ("also viewing"), live, across dashboards and web processes.

Presence travels on /ws/console/ as unnumbered ``presence`` messages (who was looking is not history to
replay); the conversation list carries it for a dashboard that has just loaded."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from channels.testing import WebsocketCommunicator

from returns_console.console import presence
from tests.returns_console.console.test_console_socket import _session_cookie, _socket

pytestmark = pytest.mark.django_db(transaction=True)


def _conversation() -> str:
    return f"thr_presence_{uuid.uuid4().hex}"


async def _sees(socket: WebsocketCommunicator, conversation: str, expected: list[str]) -> None:
    """Read presence messages about ``conversation`` until one says ``expected`` (a dashboard sees every step;
    the test waits for the one it is about). Times out, failing the test, if that never comes."""
    while True:
        message = await socket.receive_json_from(timeout=5)
        if message["type"] == "presence" and (message["conversation"], message["viewers"]) == (conversation, expected):
            return


async def test_opening_switching_and_closing_a_conversation_is_seen_by_every_dashboard(services_settings):
    anna, ben = _socket(await _session_cookie("anna")), _socket(await _session_cookie("ben"))
    assert (await anna.connect())[0] and (await ben.connect())[0]
    first, second = _conversation(), _conversation()

    await anna.send_json_to({"type": "viewing", "conversation": first})
    await _sees(ben, first, ["anna"])
    await _sees(anna, first, ["anna"])

    await ben.send_json_to({"type": "viewing", "conversation": first})
    await _sees(anna, first, ["anna", "ben"])

    await anna.send_json_to({"type": "viewing", "conversation": second})  # anna moves on
    await _sees(ben, first, ["ben"])
    await _sees(ben, second, ["anna"])

    await anna.send_json_to({"type": "viewing", "conversation": None})  # closes it
    await _sees(ben, second, [])

    await ben.disconnect()  # a closed dashboard is nowhere
    await _sees(anna, first, [])
    assert await presence.viewers([first, second]) == {first: [], second: []}
    await anna.disconnect()


async def test_the_same_agent_in_two_tabs_is_listed_once_until_both_close(services_settings):
    cookie = await _session_cookie("anna")
    tab1, tab2, watcher = _socket(cookie), _socket(cookie), _socket(await _session_cookie("ben"))
    for socket in (tab1, tab2, watcher):
        assert (await socket.connect())[0]
    conversation = _conversation()
    for tab in (tab1, tab2):
        await tab.send_json_to({"type": "viewing", "conversation": conversation})
        await _sees(watcher, conversation, ["anna"])
    await tab1.disconnect()
    await _sees(watcher, conversation, ["anna"])
    await tab2.disconnect()
    await _sees(watcher, conversation, [])
    await watcher.disconnect()


async def test_a_dashboard_that_vanishes_without_closing_lapses(services_settings, monkeypatch):
    monkeypatch.setattr(presence, "TTL_SECONDS", 0.3)
    conversation = _conversation()
    assert await presence.move("socket-of-a-dead-process", "anna", None, conversation) == {conversation: ["anna"]}
    assert await presence.viewers([conversation]) == {conversation: ["anna"]}
    await asyncio.sleep(0.4)
    assert await presence.viewers([conversation]) == {conversation: []}
    assert await presence.move("a-live-socket", "ben", None, conversation) == {conversation: ["ben"]}


async def test_moving_to_the_next_conversation_is_told_in_order_from_one_round_trip(services_settings, monkeypatch):
    """An agent going from one conversation to the next: who has each open, read together (one pipeline), and
    every dashboard hears the one left before the one opened; staying (the page's refresh) tells nobody."""
    from redis.asyncio.client import Pipeline

    first, second = _conversation(), _conversation()
    assert await presence.move("tab-1", "anna", None, first) == {first: ["anna"]}
    await presence.move("tab-2", "ben", None, first)
    executed = []
    execute = Pipeline.execute
    monkeypatch.setattr(Pipeline, "execute", lambda pipe, *a, **k: executed.append(len(pipe)) or execute(pipe, *a, **k))
    assert await presence.move("tab-1", "anna", first, second) == {first: ["ben"], second: ["anna"]}
    assert len(executed) == 1
    assert list((await presence.move("tab-1", "anna", second, second)).items()) == [(second, ["anna"])]

    anna, ben = _socket(await _session_cookie("anna")), _socket(await _session_cookie("ben"))
    assert (await anna.connect())[0] and (await ben.connect())[0]
    await anna.send_json_to({"type": "viewing", "conversation": first})
    await _sees(ben, first, ["anna", "ben"])
    await anna.send_json_to({"type": "viewing", "conversation": first})  # a refresh
    await anna.send_json_to({"type": "viewing", "conversation": second})
    told = [await ben.receive_json_from(timeout=5) for _ in range(2)]
    assert [(m["type"], m["conversation"], m["viewers"]) for m in told] == [
        ("presence", first, ["ben"]),
        ("presence", second, ["anna"]),
    ]
    await anna.disconnect()
    await ben.disconnect()


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "viewing", "conversation": 7},
        {"type": "viewing", "conversation": ""},
        {"type": "viewing", "conversation": "x" * 201},
    ],
)
async def test_a_bad_viewing_message_gets_an_error_and_the_socket_stays(services_settings, bad):
    socket = _socket(await _session_cookie("anna"))
    assert (await socket.connect())[0]
    await socket.send_json_to(bad)
    assert (await socket.receive_json_from(timeout=5))["type"] == "error"
    conversation = _conversation()
    await socket.send_json_to({"type": "viewing", "conversation": conversation})
    await _sees(socket, conversation, ["anna"])
    await socket.disconnect()
