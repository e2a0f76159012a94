"""The staff websocket over the real Redis channel layer: staff only, events numbered per conversation in order,
and a dashboard that reconnects with its last numbers gets exactly what it missed, in order."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import AsyncClient

from returns_console.asgi import application
from returns_console.console import events

pytestmark = pytest.mark.django_db(transaction=True)


async def _session_cookie(username: str | None, *, staff: bool = True) -> str | None:
    if username is None:
        return None
    user = await get_user_model().objects.acreate_user(username, password="pw-socket-1", is_staff=staff)
    client = AsyncClient()
    await client.aforce_login(user)
    return client.cookies["sessionid"].value


def _fresh_id() -> str:
    # The feed lives in Redis, which may outlive a test run (REDIS_URL): numbering starts at 1 per new id.
    return f"thr_test_{uuid.uuid4().hex}"


def _socket(session: str | None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
    if session:
        headers.append((b"cookie", f"sessionid={session}".encode()))
    return WebsocketCommunicator(application, "/ws/console/", headers=headers)


async def _customer_session() -> str:
    from returns_console.sessions import SessionStore

    session = SessionStore()
    await session.aset("customer_id", "CUST-1001")
    await session.asave()
    return session.session_key


@pytest.mark.parametrize("who", ["anonymous", "customer", "shopper"])
async def test_only_staff_may_connect(services_settings, who):
    if who == "anonymous":
        cookie = None
    elif who == "customer":
        cookie = await _customer_session()
    else:
        cookie = await _session_cookie("shopper", staff=False)
    connected, code = await _socket(cookie).connect()
    assert not connected and code == 4403


async def _events(socket: WebsocketCommunicator, count: int) -> list[dict]:
    received = []
    while len(received) < count:
        received.extend(events.events_in(await socket.receive_json_from(timeout=5)))
    return received


async def _view(socket: WebsocketCommunicator, conversation: str | None) -> None:
    """Open ``conversation`` on this dashboard; returns once the server has moved it there (it says who views)."""
    await socket.send_json_to({"type": "viewing", "conversation": conversation})
    while True:
        message = await socket.receive_json_from(timeout=5)
        if message["type"] == "presence":
            return


async def test_every_dashboard_gets_each_conversations_events_numbered_in_order(services_settings):
    first, second = _socket(await _session_cookie("anna")), _socket(await _session_cookie("ben"))
    assert (await first.connect())[0] and (await second.connect())[0]
    a, b = _fresh_id(), _fresh_id()
    for n in range(5):
        await events.publish(a, {"kind": "proposal", "n": n})
        await events.publish(b, {"kind": "proposal", "n": n})
    for socket in (first, second):
        got = await _events(socket, 10)
        for conversation in (a, b):
            mine = [e for e in got if e["conversation"] == conversation]
            assert [e["seq"] for e in mine] == [1, 2, 3, 4, 5] and [e["n"] for e in mine] == [0, 1, 2, 3, 4]
        await socket.disconnect()


async def test_a_burst_of_one_conversation_is_numbered_in_order_and_reaches_a_dashboard_as_one_frame(
    services_settings,
):
    socket = _socket(await _session_cookie("anna"))
    assert (await socket.connect())[0]
    conversation = _fresh_id()
    await _view(socket, conversation)
    await events.publish(conversation, {"kind": "chat", "n": 0})
    sent = await events.publish_many(conversation, [{"kind": "chat", "n": n} for n in (1, 2, 3)])
    assert [e["seq"] for e in sent] == [2, 3, 4]

    single = await socket.receive_json_from(timeout=5)
    assert single["type"] == "event" and single["seq"] == 1
    burst = await socket.receive_json_from(timeout=5)
    assert burst["type"] == "events"
    assert [(e["type"], e["seq"], e["n"], e["epoch"]) for e in burst["events"]] == [
        ("event", seq, n, single["epoch"]) for seq, n in ((2, 1), (3, 2), (4, 3))
    ]
    assert [e["n"] for e in await events.since(conversation, 1)] == [1, 2, 3]  # kept for resync, in order
    await socket.disconnect()


async def test_events_published_from_sync_code_reach_dashboards_as_the_async_ones_do(services_settings):
    """The worker and the API views publish from sync code, on a sync Redis client speaking the layer's wire."""
    from asgiref.sync import sync_to_async

    reader, other = _socket(await _session_cookie("anna")), _socket(await _session_cookie("ben"))
    assert (await reader.connect())[0] and (await other.connect())[0]
    conversation = _fresh_id()
    await _view(reader, conversation)
    await other.receive_json_from(timeout=5)  # the reader's presence

    await events.publish(conversation, {"kind": "proposal", "n": 1})
    sent = await sync_to_async(events.publish_sync, thread_sensitive=False)(conversation, {"kind": "note", "n": 2})
    await sync_to_async(events.publish_sync, thread_sensitive=False)(conversation, {"kind": "proposal", "n": 3})
    assert sent["seq"] == 2
    assert [(e["seq"], e["n"]) for e in await _events(reader, 3)] == [(1, 1), (2, 2), (3, 3)]
    assert [(e["seq"], e["n"]) for e in await _events(other, 2)] == [(1, 1), (3, 3)]  # a note: only its readers
    for socket in (reader, other):
        await socket.disconnect()


async def test_chat_events_reach_only_the_dashboards_that_have_the_conversation_open(services_settings):
    """The list's events go to everyone; messages and widgets to those reading that conversation."""
    reader, other = _socket(await _session_cookie("anna")), _socket(await _session_cookie("ben"))
    assert (await reader.connect())[0] and (await other.connect())[0]
    conversation, elsewhere = _fresh_id(), _fresh_id()
    await _view(reader, conversation)
    await _view(other, elsewhere)
    await other.receive_json_from(timeout=5)  # the reader's presence, announced to all

    await events.publish_many(conversation, [{"kind": "chat", "n": 1}, {"kind": "chat", "n": 2}])
    await events.publish(conversation, {"kind": "proposal", "n": 3})
    assert [(e["seq"], e["n"]) for e in await _events(reader, 3)] == [(1, 1), (2, 2), (3, 3)]
    assert [(e["seq"], e["n"]) for e in await _events(other, 1)] == [(3, 3)]  # a gap it does not check

    await _view(reader, None)  # closed: its chat events stop, the list's go on
    await events.publish(conversation, {"kind": "chat", "n": 4})
    await events.publish(conversation, {"kind": "proposal", "n": 5})
    assert [(e["seq"], e["n"]) for e in await _events(reader, 1)] == [(5, 5)]
    for socket in (reader, other):
        await socket.disconnect()


async def test_a_dashboard_that_reconnects_gets_exactly_what_it_missed_in_order(services_settings):
    cookie = await _session_cookie("anna")
    socket = _socket(cookie)
    assert (await socket.connect())[0]
    conversation = _fresh_id()
    for n in range(3):
        await events.publish(conversation, {"kind": "proposal", "n": n})
    seen = await _events(socket, 3)
    last = seen[-1]["seq"]
    await socket.disconnect()

    # Away: other publishers carry on, concurrently, from several tasks.
    await asyncio.gather(*(events.publish(conversation, {"kind": "proposal", "n": 3 + n}) for n in range(20)))

    back = _socket(cookie)
    assert (await back.connect())[0]
    await back.send_json_to({"type": "resync", "since": {conversation: last}})
    replay = []
    while True:
        message = await back.receive_json_from(timeout=5)
        if message["type"] == "resynced":
            break
        replay.append(message)
    assert [e["seq"] for e in replay] == list(range(last + 1, last + 21))
    assert sorted(e["n"] for e in replay) == list(range(3, 23))  # nothing lost, nothing twice
    assert message["last_seq"] == last + 20 and message["complete"] is True
    await back.disconnect()


async def test_bad_resync_requests_get_an_error_and_the_socket_stays_open(services_settings):
    socket = _socket(await _session_cookie("anna"))
    assert (await socket.connect())[0]
    for bad in ({"type": "resync"}, {"type": "resync", "since": {"thr": "x"}}, {"type": "dance"}, [1, 2]):
        await socket.send_json_to(bad)
        assert (await socket.receive_json_from(timeout=5))["type"] == "error"
    conversation = _fresh_id()
    await events.publish(conversation, {"kind": "proposal"})
    assert (await _events(socket, 1))[0]["conversation"] == conversation
    await socket.disconnect()


async def test_frames_that_are_not_json_get_an_error_and_the_socket_stays_open(services_settings):
    socket = _socket(await _session_cookie("anna"))
    assert (await socket.connect())[0]
    for frame in ("not json", "{", " ", "x" * 70_000):
        await socket.send_to(text_data=frame)
        assert (await socket.receive_json_from(timeout=5))["type"] == "error"
    await socket.send_to(bytes_data=b"\x00\x01")
    assert "binary" in (await socket.receive_json_from(timeout=5))["message"]
    conversation = _fresh_id()
    await events.publish(conversation, {"kind": "proposal"})
    assert (await _events(socket, 1))[0]["conversation"] == conversation
    await socket.disconnect()


async def test_one_bad_event_on_the_channel_layer_does_not_close_any_dashboard(services_settings):
    from channels.layers import get_channel_layer

    socket = _socket(await _session_cookie("anna"))
    assert (await socket.connect())[0]
    await get_channel_layer().group_send(events.GROUP, {"type": "console.event"})  # no text: the relay fails
    await get_channel_layer().group_send(events.GROUP, {"type": "console.presence", "conversation": 1})
    conversation = _fresh_id()
    await events.publish(conversation, {"kind": "proposal"})
    assert (await _events(socket, 1))[0]["conversation"] == conversation
    await socket.disconnect()


async def test_an_oversized_event_reaches_dashboards_as_a_marker_to_read_the_conversation(services_settings):
    socket = _socket(await _session_cookie("anna"))
    assert (await socket.connect())[0]
    conversation = _fresh_id()
    await _view(socket, conversation)
    sent = await events.publish(conversation, {"kind": "chat", "event": {"type": "x", "text": "y" * 200_000}})
    [got] = await _events(socket, 1)
    assert got["oversize"] > events.MAX_EVENT_BYTES and got["event"] == {"type": "oversize"}
    assert got["seq"] == sent["seq"] == 1 and len(await events.since(conversation, 0)) == 1
    await socket.disconnect()


async def test_after_redis_loses_the_feed_events_carry_a_new_epoch_so_dashboards_reload(services_settings):
    import redis as redis_sync
    from django.conf import settings

    socket = _socket(await _session_cookie("anna"))
    assert (await socket.connect())[0]
    conversation = _fresh_id()
    for n in range(3):
        await events.publish(conversation, {"kind": "proposal", "n": n})
    before = await _events(socket, 3)
    epoch = before[0]["epoch"]
    assert {event["epoch"] for event in before} == {epoch} == {await events.epoch()}

    # Redis restarts empty: the feed's keys are gone, numbering starts again at 1.
    client = redis_sync.Redis.from_url(settings.REDIS_URL)
    client.delete(events.EPOCH_KEY, *events._keys(conversation)[:2])
    after = await events.publish(conversation, {"kind": "proposal", "n": 3})
    assert after["seq"] == 1 and after["epoch"] != epoch  # a dashboard at seq 3 would have dropped this one
    [live] = await _events(socket, 1)
    assert live["epoch"] == after["epoch"]
    await socket.send_json_to({"type": "resync", "since": {conversation: 3}})
    resynced = await socket.receive_json_from(timeout=5)
    assert resynced["type"] == "resynced" and resynced["epoch"] == after["epoch"]
    await socket.disconnect()


async def test_the_log_keeps_a_conversations_newest_events_for_a_day_and_its_numbers_for_a_month(
    services_settings, monkeypatch
):
    import redis as redis_sync
    from django.conf import settings

    monkeypatch.setattr(events, "MAX_LOG_EVENTS", 5)
    conversation = _fresh_id()
    await events.publish_many(conversation, [{"kind": "proposal", "n": n} for n in range(3)])
    for n in range(3, 8):
        await events.publish(conversation, {"kind": "proposal", "n": n})
    assert [e["seq"] for e in await events.since(conversation, 0)] == [4, 5, 6, 7, 8]
    client = redis_sync.Redis.from_url(settings.REDIS_URL)
    counter, log = events._keys(conversation)
    assert settings.CONSOLE_FEED_LOG_SECONDS - 5 < client.ttl(log) <= settings.CONSOLE_FEED_LOG_SECONDS
    assert client.ttl(counter) > 29 * 24 * 3600


@pytest.mark.parametrize(("last", "complete"), [(8, True), (3, True), (2, False), (0, False)])
async def test_a_replay_says_whether_the_log_still_reaches_back_to_what_was_missed(
    services_settings, monkeypatch, last, complete
):
    monkeypatch.setattr(events, "MAX_LOG_EVENTS", 5)
    conversation = _fresh_id()
    for n in range(8):
        await events.publish(conversation, {"kind": "proposal", "n": n})
    replay = await events.replay(conversation, last)
    assert replay.complete is complete
    assert [e["seq"] for e in replay.events] == list(range(max(last, 3) + 1, 9))


async def test_a_dashboard_away_longer_than_the_log_is_told_to_read_the_conversation(services_settings):
    import redis as redis_sync
    from django.conf import settings

    cookie = await _session_cookie("anna")
    socket = _socket(cookie)
    assert (await socket.connect())[0]
    conversation = _fresh_id()
    await events.publish(conversation, {"kind": "proposal", "n": 0})
    [seen] = await _events(socket, 1)
    await socket.disconnect()

    for n in range(1, 4):
        await events.publish(conversation, {"kind": "proposal", "n": n})
    redis_sync.Redis.from_url(settings.REDIS_URL).delete(events._keys(conversation)[1])  # the log lapsed
    after = await events.publish(conversation, {"kind": "proposal", "n": 4})
    assert after["seq"] == 5  # numbering carries on: the counter outlives the log

    back = _socket(cookie)
    assert (await back.connect())[0]
    await back.send_json_to({"type": "resync", "since": {conversation: seen["seq"]}})
    replay = []
    while (message := await back.receive_json_from(timeout=5))["type"] != "resynced":
        replay.append(message)
    assert [e["seq"] for e in replay] == [5] and message["complete"] is False
    await back.send_json_to({"type": "resync", "since": {conversation: 5}})
    assert (await back.receive_json_from(timeout=5))["complete"] is True  # up to date: nothing missing
    await back.disconnect()
