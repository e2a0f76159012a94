"""Conversations in the console: listed with state and waiting, mirrored live, taken over and handed back, staff
messages reaching the customer, lifecycle steps on committed returns; every action audited."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.testing import WebsocketCommunicator

from chat.models import Conversation
from chat.push import customer_group
from customers.models import AuditAction, AuditEntry
from returns_console.asgi import application
from returns_console.console import events
from tests.chat.conversation import Conversation as Chat
from tests.returns_console.console.conftest import post_json, staff_client

pytestmark = pytest.mark.django_db(transaction=True)


async def _console_socket(client) -> WebsocketCommunicator:  # type: ignore[no-untyped-def]
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost"), (b"cookie", cookie)]
    socket = WebsocketCommunicator(application, "/ws/console/", headers=headers)
    assert (await socket.connect())[0]
    return socket


async def _until(socket: WebsocketCommunicator, predicate) -> dict:  # type: ignore[no-untyped-def]
    """The first event (live or replayed) that ``predicate`` accepts."""
    while True:
        for event in events.events_in(await socket.receive_json_from(timeout=10)):
            if predicate(event):
                return event


async def _until_frame(socket: WebsocketCommunicator, predicate) -> dict:  # type: ignore[no-untyped-def]
    while True:
        frame = await socket.receive_json_from(timeout=10)
        if predicate(frame):
            return frame


async def test_a_customers_conversation_is_listed_and_mirrored_live(seeded):
    agent = await staff_client("agent")
    socket = await _console_socket(agent)
    chat = await Chat.sign_in()
    await chat.say("I want to return some items")
    # A new conversation reaches every dashboard's list...
    listed = await _until(socket, lambda m: m["kind"] == "conversation" and m["conversation"] == chat.thread_id)
    assert listed["row"]["thread_id"] == chat.thread_id
    # ...and what is said in it reaches the dashboards that open it, live, and what came before on resync.
    await socket.send_json_to({"type": "viewing", "conversation": chat.thread_id})
    await _until_frame(socket, lambda m: m["type"] == "presence")
    await socket.send_json_to({"type": "resync", "since": {chat.thread_id: 0}})
    created = await _until(socket, lambda m: m["kind"] == "chat" and m["event"]["type"] == "thread.item.done")
    assert created["conversation"] == chat.thread_id and created["seq"] >= 1
    said = created["event"]["item"]
    assert said["type"] == "user_message" and said["content"][0]["text"] == "I want to return some items"
    card = await _until(socket, lambda m: m["kind"] == "chat" and m["event"].get("item", {}).get("type") == "widget")
    assert "Robert Johnson" in json.dumps(card["event"]["item"]["widget"])
    await chat.say("the smart hub")
    item = lambda m: m["event"].get("item", {}) if m["kind"] == "chat" else {}  # noqa: E731
    live = await _until(socket, lambda m: item(m).get("content", [{}])[0].get("text") == "the smart hub")
    assert live["seq"] > card["seq"]

    rows = (await agent.get("/console/api/conversations")).json()["conversations"]
    [row] = [r for r in rows if r["thread_id"] == chat.thread_id]
    assert row["customer"] == {"id": "CUST-1001", "name": "Robert Johnson", "tier": "Platinum"}
    assert (row["mode"], row["state"], row["proposals_waiting"]) == ("copilot", "assistant", 0)
    assert row["last_seq"] >= live["seq"]

    # Someone having it open shows in the list a dashboard loads next.
    supervisor = await staff_client("supervisor")
    for _ in range(50):
        rows = (await supervisor.get("/console/api/conversations")).json()["conversations"]
        if next(r for r in rows if r["thread_id"] == chat.thread_id)["viewers"] == ["agent"]:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the agent's presence never reached the list")

    detail = (await agent.get(f"/console/api/conversations/{chat.thread_id}")).json()
    assert detail["items"][0]["type"] == "user_message" and any(i["type"] == "widget" for i in detail["items"])
    assert detail["customer_context"]["tier"] == "Platinum" and detail["customer_context"]["orders"]
    assert "store_credit_cents" in detail["customer_context"]
    await socket.disconnect()


async def test_a_filed_proposal_puts_the_conversation_in_the_waiting_list(seeded):
    chat = await Chat.sign_in()
    for text in (
        "I want to return Smart Home Hub from order ORD-79001",
        "it was completely damaged",
        "I would like a STORE_CREDIT",
        "prepaid label",
        "confirm",
    ):
        await chat.say(text)
    agent = await staff_client("agent")
    waiting = (await agent.get("/console/api/conversations?filter=waiting")).json()["conversations"]
    [row] = [r for r in waiting if r["thread_id"] == chat.thread_id]
    assert row["state"] == "waiting" and row["proposals_waiting"] == 1 and row["waiting_since"]
    mine = (await agent.get("/console/api/conversations?filter=mine")).json()["conversations"]
    assert chat.thread_id not in [r["thread_id"] for r in mine]
    assert (await agent.get("/console/api/conversations?filter=nope")).status_code == 400


async def test_take_over_silences_the_assistant_and_the_agents_words_reach_the_customer(seeded, services_settings):
    chat = await Chat.sign_in()
    await chat.say("hi")
    agent = await staff_client("agent")
    customer_socket = WebsocketCommunicator(
        application,
        "/ws/chat/",
        headers=[
            (b"origin", b"http://localhost"),
            (b"host", b"localhost"),
            (b"cookie", f"sessionid={chat.client.cookies['sessionid'].value}".encode()),
        ],
    )
    assert (await customer_socket.connect())[0]

    status, row = await post_json(agent, f"/console/api/conversations/{chat.thread_id}/take-over", {})
    assert status == 200 and row["mode"] == "human" and row["assigned_to"] == "agent" and row["state"] == "human"
    joined = await customer_socket.receive_json_from(timeout=10)
    assert "now chatting with Ben" in joined["item"]["content"][0]["text"]

    events = await chat.say("is anyone there?")
    assert not [e for e in events if getattr(e, "type", "") == "thread.item.done" and e.item.type != "user_message"]
    mine = (await agent.get("/console/api/conversations?filter=mine")).json()["conversations"]
    assert [r["thread_id"] for r in mine] == [chat.thread_id] and mine[0]["waiting_since"]

    status, _ = await post_json(
        agent, f"/console/api/conversations/{chat.thread_id}/messages", {"text": "Hi Robert, I'm here."}
    )
    assert status == 200
    pushed = await customer_socket.receive_json_from(timeout=10)
    assert pushed["item"]["content"][0]["text"] == "Ben: Hi Robert, I'm here."  # the agent's name, not their login
    assert pushed["item"]["id"].startswith("staff_")  # pages show it as the agent's, not the assistant's
    transcript = (await agent.get(f"/console/api/conversations/{chat.thread_id}")).json()
    assert transcript["waiting_since"] is None  # answered

    status, row = await post_json(agent, f"/console/api/conversations/{chat.thread_id}/hand-back", {})
    assert status == 200 and row["mode"] == "copilot" and row["assigned_to"] is None
    await customer_socket.receive_json_from(timeout=10)  # "Our assistant is back"
    answered = await chat.say("I want to return some items")
    assert any(getattr(e, "type", "") == "thread.item.done" and e.item.type == "widget" for e in answered)

    actions = [e.action async for e in AuditEntry.objects.filter(thread_id=chat.thread_id).order_by("created_at", "id")]
    assert actions == [AuditAction.TAKE_OVER, AuditAction.MESSAGE, AuditAction.HAND_BACK]
    await customer_socket.disconnect()
    assert customer_group("CUST-1001")


async def test_staff_message_and_mode_refusals(seeded):
    chat = await Chat.sign_in()
    await chat.say("hi")
    agent = await staff_client("agent")
    url = f"/console/api/conversations/{chat.thread_id}"
    assert (await post_json(agent, f"{url}/messages", {"text": "   "}))[0] == 400
    assert (await post_json(agent, f"{url}/messages", {"text": "x" * 5000}))[0] == 400
    assert (await post_json(agent, f"{url}/messages", {}))[0] == 400
    assert (await post_json(agent, f"{url}/mode", {"mode": "autopilot"}))[0] == 400
    assert (await post_json(agent, "/console/api/conversations/thr_nope/take-over", {}))[0] == 404
    # Assistant mode lets the assistant approve alone: a supervisor's call, not an agent's.
    status, body = await post_json(agent, f"{url}/mode", {"mode": "assistant"})
    assert status == 403 and body["error"] == "supervisors_only"
    assert (await Conversation.objects.aget(thread_id=chat.thread_id)).mode == "copilot"
    status, row = await post_json(await staff_client("supervisor"), f"{url}/mode", {"mode": "assistant"})
    assert status == 200 and row["mode"] == "assistant"
    assert (await Conversation.objects.aget(thread_id=chat.thread_id)).mode == "assistant"


async def test_in_assistant_mode_a_confirmed_return_is_approved_without_a_person(seeded):
    chat = await Chat.sign_in()
    await chat.say("I want to return Smart Home Hub from order ORD-79001")
    supervisor = await staff_client("supervisor")
    await post_json(supervisor, f"/console/api/conversations/{chat.thread_id}/mode", {"mode": "assistant"})
    for text in ("it was completely damaged", "I would like a STORE_CREDIT", "prepaid label", "confirm"):
        await chat.say(text)
    [proposal] = (await supervisor.get(f"/console/api/proposals?thread_id={chat.thread_id}")).json()["proposals"]
    assert proposal["state"] == "approved" and proposal["decided_by"] is None  # 98.99: within the 100.00 ceiling
    entry = await AuditEntry.objects.aget(proposal_id=proposal["id"])
    assert entry.action == AuditAction.AUTO_APPROVE and entry.actor_label == "assistant mode"


async def test_in_assistant_mode_a_return_above_the_ceiling_waits_for_a_person(seeded):
    chat = await Chat.sign_in()
    await chat.say("I want to return the Ultra HD Smart Display from order ORD-79001")
    supervisor = await staff_client("supervisor")
    await post_json(supervisor, f"/console/api/conversations/{chat.thread_id}/mode", {"mode": "assistant"})
    for text in ("it was completely damaged", "full refund", "prepaid label", "confirm"):
        await chat.say(text)
    assert "with our team for a quick review" in chat.text()
    [proposal] = (await supervisor.get(f"/console/api/proposals?thread_id={chat.thread_id}")).json()["proposals"]
    assert proposal["state"] == "proposed" and proposal["amounts_cents"]["refund"] == 29999
    entry = await AuditEntry.objects.aget(proposal_id=proposal["id"])
    assert entry.action == AuditAction.REVIEW_NEEDED and "auto-approval ceiling of 100.00" in entry.note


async def test_the_customer_chats_on_when_the_console_feed_is_down(seeded, services_settings, caplog):
    chat = await Chat.sign_in()
    services_settings.REDIS_URL = "redis://127.0.0.1:1/0"  # the feed's Redis: nothing listens there
    events = await chat.say("I want to return some items")
    assert any(getattr(e, "type", "") == "thread.item.done" and e.item.type == "widget" for e in events)
    assert "console feed unavailable" in caplog.text


async def test_saved_replies_come_filled_in_for_the_conversation(seeded):
    from django.test import AsyncClient

    from chat.models import SavedReply

    chat = await Chat.sign_in()
    await chat.say("hi")
    await SavedReply.objects.acreate(title="Zz greeting", body="Hello {first_name}, {agent_name} here.")
    await SavedReply.objects.acreate(title="Zz retired", body="Old words", active=False)
    agent = await staff_client("agent")
    url = f"/console/api/conversations/{chat.thread_id}/saved-replies"

    replies = (await agent.get(url)).json()["saved_replies"]
    titles = [r["title"] for r in replies]
    assert "Zz greeting" in titles and "Zz retired" not in titles and titles == sorted(titles)
    [greeting] = [r for r in replies if r["title"] == "Zz greeting"]
    assert greeting["text"] == "Hello Robert, Ben here."

    assert (await agent.get("/console/api/conversations/thr_nope/saved-replies")).status_code == 404
    assert (await AsyncClient().get(url)).status_code == 401  # not for visitors


async def test_a_conversation_the_customer_deleted_is_closed_for_staff_and_refuses_actions(seeded):
    from tests.chat import protocol

    chat = await Chat.sign_in()
    await chat.say("hi")
    agent = await staff_client("agent")
    url = f"/console/api/conversations/{chat.thread_id}"
    deleted = await chat.post(protocol.delete_thread(chat.thread_id))
    assert deleted.status_code == 200, deleted.content

    status, body = await post_json(agent, f"{url}/take-over", {})
    assert status == 409 and body["error"] == "conversation_deleted" and "deleted this conversation" in body["message"]
    assert (await post_json(agent, f"{url}/messages", {"text": "Hello?"}))[0] == 409
    assert (await post_json(await staff_client("supervisor"), f"{url}/mode", {"mode": "assistant"}))[0] == 409
    conversation = await Conversation.objects.aget(thread_id=chat.thread_id)
    assert conversation.mode == "copilot" and conversation.closed_at and conversation.deleted_by_customer_at
    row = (await agent.get(url)).json()
    assert row["state"] == "closed" and row["closed_by"] == "customer"
    listed = (await agent.get("/console/api/conversations?filter=all")).json()["conversations"]
    assert chat.thread_id not in [r["thread_id"] for r in listed]


async def test_the_transcript_says_which_engine_answered_each_message(seeded):
    chat = await Chat.sign_in()
    await chat.say("I want to return some items")
    detail = (await (await staff_client("agent")).get(f"/console/api/conversations/{chat.thread_id}")).json()
    answered = [item["id"] for item in detail["items"] if item["type"] in ("assistant_message", "widget")]
    assert answered and all(detail["turns"][item_id]["engine"] == "guided" for item_id in answered)
