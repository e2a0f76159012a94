"""A sockets process serves all its dashboards from one subscription to the feed: the list's events leave as one
frame per dashboard per window (at once when the console is quiet), an open conversation's chat events at once and
in order after what that dashboard is owed, and a resync is never interleaved with live frames."""

from __future__ import annotations

import asyncio
import time

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from returns_console.console import events, fanout
from tests.returns_console.console.test_console_socket import _events, _fresh_id, _session_cookie, _socket, _view

pytestmark = pytest.mark.django_db(transaction=True)


async def _dashboards(*names: str) -> list[WebsocketCommunicator]:
    sockets = [_socket(await _session_cookie(name)) for name in names]
    for socket in sockets:
        assert (await socket.connect())[0]
    return sockets


async def _nothing_within(socket: WebsocketCommunicator, seconds: float) -> bool:
    return await socket.receive_nothing(timeout=seconds, interval=0.01)


async def test_the_process_joins_the_feed_once_however_many_dashboards_it_serves(services_settings):
    sockets = await _dashboards("anna", "ben", "cleo", "dan")
    layer = get_channel_layer()._get_layer()  # this loop's pub/sub layer
    members = layer.groups[layer._get_group_channel_name(events.GROUP)]
    assert members == {(await fanout.for_this_loop()).channel}
    for socket in sockets:
        await socket.disconnect()


async def test_list_events_within_a_window_reach_each_dashboard_as_one_frame(services_settings):
    services_settings.CONSOLE_FRAME_WINDOW_SECONDS = 1.0
    sockets = await _dashboards("anna", "ben", "cleo")
    conversation = _fresh_id()

    started = time.monotonic()
    await events.publish(conversation, {"kind": "proposal", "n": 0})  # a quiet console: sent at once
    for socket in sockets:
        first = await socket.receive_json_from(timeout=5)
        assert (first["type"], first["n"]) == ("event", 0)
    assert time.monotonic() - started < 0.5

    for n in range(1, 6):
        await events.publish(conversation, {"kind": "proposal", "n": n})
    for socket in sockets:
        frame = await socket.receive_json_from(timeout=5)
        assert frame["type"] == "events"
        assert [(e["seq"], e["n"]) for e in frame["events"]] == [(n + 1, n) for n in range(1, 6)]
    assert time.monotonic() - started >= 0.9  # held for the window after the first frame
    for socket in sockets:
        await socket.disconnect()


async def test_an_open_conversations_chat_events_are_not_held_and_follow_what_the_dashboard_is_owed(
    services_settings,
):
    services_settings.CONSOLE_FRAME_WINDOW_SECONDS = 5.0
    reader, other = await _dashboards("anna", "ben")
    watched, elsewhere = _fresh_id(), _fresh_id()
    await _view(reader, watched)
    await other.receive_json_from(timeout=5)  # the reader's presence, announced to all (it opened the window)

    await events.publish(elsewhere, {"kind": "proposal", "n": 1})  # held: the window is open
    started = time.monotonic()
    await events.publish_many(watched, [{"kind": "chat", "n": 2}, {"kind": "chat", "n": 3}])
    frame = await reader.receive_json_from(timeout=5)
    assert time.monotonic() - started < 2.0
    assert [(e["conversation"], e["n"]) for e in events.events_in(frame)] == [
        (elsewhere, 1),
        (watched, 2),
        (watched, 3),
    ]
    assert await _nothing_within(other, 0.5)  # its list update waits for the window; the chat is not its to see
    assert [(e["conversation"], e["n"]) for e in await _events(other, 1)] == [(elsewhere, 1)]
    for socket in (reader, other):
        await socket.disconnect()


async def test_a_resync_sends_what_is_owed_then_the_replay_never_interleaved(services_settings):
    services_settings.CONSOLE_FRAME_WINDOW_SECONDS = 5.0
    [socket] = await _dashboards("anna")
    conversation = _fresh_id()
    await events.publish(conversation, {"kind": "proposal", "n": 1})
    assert (await socket.receive_json_from(timeout=5))["n"] == 1  # a quiet console: at once; the window opens
    await events.publish(conversation, {"kind": "proposal", "n": 2})  # owed until the window ends

    await socket.send_json_to({"type": "resync", "since": {conversation: 0}})
    received = []
    while not received or received[-1]["type"] != "resynced":
        received.append(await socket.receive_json_from(timeout=2))  # well within the window
    assert [(m["type"], m.get("seq")) for m in received] == [
        ("event", 2),  # owed live, first
        ("event", 1),  # the replay, in order
        ("event", 2),
        ("resynced", None),
    ]
    await socket.disconnect()


async def test_a_conversation_is_followed_while_a_dashboard_of_the_process_has_it_open(services_settings):
    first, second = await _dashboards("anna", "ben")
    conversation = _fresh_id()
    layer = get_channel_layer()._get_layer()
    group = layer._get_group_channel_name(events.conversation_group(conversation))
    await _view(first, conversation)
    await _view(second, conversation)
    assert group in layer.groups
    await _view(first, None)
    assert group in layer.groups  # the second still has it open
    await second.disconnect()
    await asyncio.sleep(0.1)
    assert group not in layer.groups and conversation not in (await fanout.for_this_loop()).viewers
    await first.disconnect()


def test_frames_keep_order_join_consecutive_events_and_split_a_backlog():
    event = '{"type":"event","n":%d}'
    owed = [(True, event % n) for n in range(3)] + [(False, '{"type":"presence"}'), (True, event % 3)]
    assert fanout.frames(owed) == [
        '{"type":"events","events":[' + ",".join(event % n for n in range(3)) + "]}",
        '{"type":"presence"}',
        event % 3,
    ]
    backlog = fanout.frames([(True, event % n) for n in range(fanout.MAX_EVENTS_PER_FRAME + 1)])
    assert len(backlog) == 2 and backlog[1] == event % fanout.MAX_EVENTS_PER_FRAME


async def test_the_feed_goes_on_after_receiving_from_the_layer_fails(services_settings, monkeypatch):
    monkeypatch.setattr(fanout, "RECEIVE_RETRY_SECONDS", 0.05)
    layer = get_channel_layer()
    real_receive, failures = layer.receive, []

    async def failing_once(channel: str) -> dict:
        if not failures and channel.startswith(layer.prefix + "console.fanout."):
            failures.append(channel)
            raise ConnectionError("Redis went away")
        return await real_receive(channel)

    monkeypatch.setattr(layer, "receive", failing_once)  # before this loop's fan-out starts listening
    [socket] = await _dashboards("anna")
    conversation = _fresh_id()
    await events.publish(conversation, {"kind": "proposal", "n": 1})
    assert [(e["conversation"], e["n"]) for e in await _events(socket, 1)] == [(conversation, 1)]
    assert failures
    await socket.disconnect()
