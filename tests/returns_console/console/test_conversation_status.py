"""Nobody is stranded: asking for a person, needs reply, resolve and reopen, assignment; each audited and listed."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model

from chat.models import Conversation
from customers.models import AuditAction, AuditEntry
from tests.chat.conversation import Conversation as Chat
from tests.returns_console.console.conftest import post_json, staff_client

pytestmark = pytest.mark.django_db(transaction=True)


async def _row(client, thread_id: str, which: str = "all") -> dict | None:  # type: ignore[no-untyped-def]
    rows = (await client.get(f"/console/api/conversations?filter={which}")).json()["conversations"]
    return next((row for row in rows if row["thread_id"] == thread_id), None)


def _answer(chat: Chat) -> str:
    return " ".join(
        part.text for item in chat.done_items() if item.type == "assistant_message" for part in item.content
    )


@pytest.mark.parametrize("words", ["can I talk to someone", "agent please", "I want to speak to a real person"])
async def test_asking_for_a_person_puts_the_conversation_in_the_waiting_list_at_once(seeded, words):
    agent = await staff_client("agent")
    chat = await Chat.sign_in()
    await chat.say("I want to return the smart hub")
    assert await _row(agent, chat.thread_id, "waiting") is None

    await chat.say(words)
    assert "in their queue now" in _answer(chat) and "will reply right here" in _answer(chat)
    row = await _row(agent, chat.thread_id, "waiting")
    assert row is not None, "the request for a person never reached the waiting list"
    assert (row["attention"], row["state"]) == ("asked for a person", "waiting") and row["waiting_since"]


async def test_a_customer_message_after_a_hand_back_needs_a_reply_and_a_staff_reply_clears_it(seeded):
    agent = await staff_client("agent")
    chat = await Chat.sign_in()
    await chat.say("hello")
    url = f"/console/api/conversations/{chat.thread_id}"
    assert (await post_json(agent, f"{url}/take-over", {}))[0] == 200
    assert (await post_json(agent, f"{url}/hand-back", {}))[0] == 200
    assert (await _row(agent, chat.thread_id))["attention"] is None

    await chat.say("actually one more thing about the refund")
    row = await _row(agent, chat.thread_id, "waiting")
    assert row is not None and row["attention"] == "needs reply"

    assert (await post_json(agent, f"{url}/messages", {"text": "Happy to help, what is it?"}))[0] == 200
    assert (await _row(agent, chat.thread_id))["attention"] is None


async def test_in_human_mode_every_customer_message_needs_a_reply(seeded):
    agent = await staff_client("agent")
    chat = await Chat.sign_in()
    await chat.say("hello")
    url = f"/console/api/conversations/{chat.thread_id}"
    await post_json(agent, f"{url}/take-over", {})
    await chat.say("are you there?")
    assert (await _row(agent, chat.thread_id, "waiting"))["attention"] == "needs reply"


async def test_clicks_alone_do_not_ask_for_a_reply(seeded):
    agent = await staff_client("agent")
    chat = await Chat.sign_in()
    await chat.say("I want to return the smart hub from ORD-79001")
    url = f"/console/api/conversations/{chat.thread_id}"
    await post_json(agent, f"{url}/take-over", {})
    await post_json(agent, f"{url}/hand-back", {})
    await chat.click("returns.select_reason", {"reason": "Damaged/Defective"})
    assert (await _row(agent, chat.thread_id))["attention"] is None


async def test_resolve_with_a_note_then_the_customers_next_message_reopens_it(seeded):
    agent = await staff_client("agent")
    chat = await Chat.sign_in()
    await chat.say("can I talk to someone")
    url = f"/console/api/conversations/{chat.thread_id}"

    status, row = await post_json(agent, f"{url}/resolve", {"note": "Explained the window"})
    assert status == 200 and row["status"] == "resolved" and row["state"] == "resolved"
    assert row["resolved"]["note"] == "Explained the window" and row["resolved"]["by"] == "Ben"
    assert row["attention"] is None and row["waiting_since"] is None
    assert await _row(agent, chat.thread_id) is None  # off the open list...
    assert (await _row(agent, chat.thread_id, "resolved"))["status"] == "resolved"  # ...on the resolved one
    assert (await post_json(agent, f"{url}/resolve", {}))[0] == 400  # twice: refused, not silently repeated

    await chat.say("hi again, the label did not print")
    assert (await _row(agent, chat.thread_id))["status"] == "reopened"
    entries = [entry async for entry in AuditEntry.objects.filter(thread_id=chat.thread_id, action=AuditAction.RESOLVE)]
    assert [(e.actor_label, e.note, e.after["status"]) for e in entries] == [
        ("agent", "Explained the window", "resolved")
    ]


async def test_an_agent_reopens_a_resolved_conversation(seeded):
    agent = await staff_client("agent")
    chat = await Chat.sign_in()
    await chat.say("hello")
    url = f"/console/api/conversations/{chat.thread_id}"
    assert (await post_json(agent, f"{url}/reopen", {}))[0] == 400  # it is not resolved
    await post_json(agent, f"{url}/resolve", {})
    status, row = await post_json(agent, f"{url}/reopen", {})
    assert status == 200 and row["status"] == "reopened"
    assert await AuditEntry.objects.filter(thread_id=chat.thread_id, action=AuditAction.REOPEN).acount() == 1


async def test_assign_to_a_colleague_shows_under_their_mine_and_null_unassigns(seeded):
    agent, supervisor = await staff_client("agent"), await staff_client("supervisor")
    chat = await Chat.sign_in()
    await chat.say("hello")
    url = f"/console/api/conversations/{chat.thread_id}"

    status, row = await post_json(agent, f"{url}/assign", {"user": "supervisor"})
    assert status == 200 and row["assigned_to"] == "supervisor"
    assert (await _row(supervisor, chat.thread_id, "mine")) is not None
    assert (await _row(agent, chat.thread_id, "mine")) is None
    assert (await _row(agent, chat.thread_id))["assigned_to"] == "supervisor"

    status, row = await post_json(agent, f"{url}/assign", {"user": None})
    assert status == 200 and row["assigned_to"] is None
    assert await AuditEntry.objects.filter(thread_id=chat.thread_id, action=AuditAction.ASSIGN).acount() == 2


async def test_assign_refuses_what_is_not_an_active_member_of_staff(seeded):
    agent = await staff_client("agent")
    chat = await Chat.sign_in()
    await chat.say("hello")
    await get_user_model().objects.acreate_user("shopper", password="pw-shopper-1")  # not staff
    await get_user_model().objects.acreate_user("gone", password="pw-gone-1", is_staff=True, is_active=False)
    url = f"/console/api/conversations/{chat.thread_id}/assign"
    for body in ({"user": "shopper"}, {"user": "gone"}, {"user": "nobody"}, {}, {"user": 7}, [1]):
        status, answer = await post_json(agent, url, body)
        assert status == 400 and answer["error"], body
    assert (await post_json(agent, "/console/api/conversations/thr_nope/assign", {"user": None}))[0] == 404
    conversation = await Conversation.objects.aget(thread_id=chat.thread_id)
    assert conversation.assigned_to_id is None


async def test_the_new_actions_are_for_staff_only_and_post_only(seeded):
    chat = await Chat.sign_in()
    await chat.say("hello")
    for action in ("resolve", "reopen", "assign"):
        url = f"/console/api/conversations/{chat.thread_id}/{action}"
        assert (await chat.client.post(url, data="{}", content_type="application/json")).status_code in (401, 403)
        agent = await staff_client("agent")
        assert (await agent.get(url)).status_code == 405


async def test_an_internal_note_is_for_staff_and_never_reaches_the_customer(seeded):
    from tests.chat import protocol

    agent, supervisor = await staff_client("agent"), await staff_client("supervisor")
    chat = await Chat.sign_in()
    await chat.say("hello")
    url = f"/console/api/conversations/{chat.thread_id}"
    secret = "Customer sounds upset; offer the goodwill credit if they push back"

    status, body = await post_json(agent, f"{url}/notes", {"text": secret})
    assert status == 200 and body["note"]["author"] == "Ben" and body["note"]["text"] == secret
    detail = (await supervisor.get(url)).json()
    assert [(note["author"], note["text"]) for note in detail["notes"]] == [("Ben", secret)]
    assert all(secret not in json.dumps(item) for item in detail["items"])  # not in the customer's thread
    assert await AuditEntry.objects.filter(thread_id=chat.thread_id, action=AuditAction.NOTE).acount() == 1

    # Everything the customer can read of their conversation, through ChatKit itself.
    for request in (protocol.get_thread(chat.thread_id), protocol.list_items(chat.thread_id, limit=100)):
        response = await chat.post(request)
        assert response.status_code == 200
        assert "goodwill" not in response.content.decode()
    await chat.say("are you still there?")
    assert all("goodwill" not in json.dumps(event.model_dump(mode="json")) for event in chat.events)


async def test_notes_refuse_what_is_not_a_note(seeded):
    agent = await staff_client("agent")
    chat = await Chat.sign_in()
    await chat.say("hello")
    url = f"/console/api/conversations/{chat.thread_id}/notes"
    for body in ({}, {"text": "   "}, {"text": 5}, {"text": "x" * 4001}):
        status, answer = await post_json(agent, url, body)
        assert status == 400 and answer["error"], body
    assert (await post_json(agent, "/console/api/conversations/thr_nope/notes", {"text": "hi"}))[0] == 404
    response = await chat.client.post(url, data='{"text": "I am staff"}', content_type="application/json")
    assert response.status_code in (401, 403)  # a customer cannot write one


async def test_the_transcript_says_what_the_customer_clicked(seeded):
    from bench.chat import CLICKS

    agent = await staff_client("agent")
    chat = await Chat.sign_in()
    await chat.say("hi")
    for action, payload in CLICKS[:3]:
        await chat.click(action, payload)
    detail = (await agent.get(f"/console/api/conversations/{chat.thread_id}")).json()
    assert [click["text"] for click in detail["clicks"]] == [
        "chose HUB-SMART-2 from ORD-79001",
        "chose the reason Damaged/Defective",
        "chose Store Credit",
    ]
    # Stored with the record of the turn it started, a click keeps its own moment: between the widget it
    # answered and the assistant's reply, where the transcript places it.
    from datetime import UTC, datetime

    def moment(text: str) -> datetime:
        at = datetime.fromisoformat(text)
        return at if at.tzinfo else at.replace(tzinfo=UTC)  # the library's items are UTC without an offset

    timeline = sorted(
        [(moment(click["created_at"]), "click") for click in detail["clicks"]]
        + [(moment(item["created_at"]), item["type"]) for item in detail["items"]]
    )
    kinds = [kind for _, kind in timeline]
    for at in (index for index, kind in enumerate(kinds) if kind == "click"):
        assert kinds[at - 1] != "click" and kinds[at + 1] in ("assistant_message", "widget"), kinds
    found = (await agent.get("/console/api/conversations", {"q": "Store Credit"})).json()["conversations"]
    assert chat.thread_id in [row["thread_id"] for row in found]


async def test_unread_counts_are_each_agents_own(seeded):
    agent, supervisor = await staff_client("agent"), await staff_client("supervisor")
    chat = await Chat.sign_in()
    await chat.say("hello")
    await chat.say("is anyone there?")
    assert (await _row(agent, chat.thread_id))["unread"] == 2

    status, body = await post_json(agent, f"/console/api/conversations/{chat.thread_id}/read", {})
    assert status == 200 and body["unread"] == 0 and body["read_messages"] == 2
    assert (await _row(agent, chat.thread_id))["unread"] == 0
    await chat.click("returns.start_over", {})  # a click is not a message to read
    await chat.say("hello again")
    assert (await _row(agent, chat.thread_id))["unread"] == 1
    assert (await _row(supervisor, chat.thread_id))["unread"] == 3  # the supervisor has read nothing
    assert (await post_json(agent, "/console/api/conversations/thr_nope/read", {}))[0] == 404
