"""Finding a conversation: by the customer's name, email or id, an order id, a return id, or words said in it."""

from __future__ import annotations

import json

import pytest

from bench.chat import CLICKS
from customers.models import Proposal
from tests.chat.conversation import Conversation as Chat
from tests.returns_console.console.conftest import CSRF, staff_client

pytestmark = pytest.mark.django_db(transaction=True)


async def _found(client, query: str) -> list[str]:  # type: ignore[no-untyped-def]
    response = await client.get("/console/api/conversations", {"q": query})
    assert response.status_code == 200, response.content
    return [row["thread_id"] for row in response.json()["conversations"]]


async def test_search_finds_a_conversation_by_who_what_and_what_was_said(seeded):
    agent = await staff_client("agent")
    robert = await Chat.sign_in()
    await robert.say("hi")
    for action, payload in CLICKS:
        await robert.click(action, payload)
    await robert.say("the hub makes a weird buzzing noise")
    maria = await Chat.sign_in("maria.garcia@example.com", "ORD-79007")
    await maria.say("my headphones crackle")
    await Proposal.objects.filter(thread_id=robert.thread_id).aupdate(return_id="RET-00C0FFEE")

    for query in ("Robert", "rjohnson@COMPANY.com", "CUST-1001", "ORD-79001", "79001", "RET-00C0FFEE", "buzzing"):
        assert await _found(agent, query) == [robert.thread_id], query
    assert await _found(agent, "crackle") == [maria.thread_id]
    assert await _found(agent, "no such words anywhere") == []

    rows = (await agent.get("/console/api/conversations", {"q": "buzzing"})).json()["conversations"]
    assert rows[0]["last_message"] == "the hub makes a weird buzzing noise"


async def test_search_reaches_resolved_conversations_and_staff_replies(seeded):
    agent = await staff_client("agent")
    chat = await Chat.sign_in()
    await chat.say("hello")
    url = f"/console/api/conversations/{chat.thread_id}"
    await agent.post(f"{url}/take-over", "{}", content_type="application/json", headers={"X-CSRFToken": CSRF})
    body = json.dumps({"text": "Your parcel is with the courier"})
    await agent.post(f"{url}/messages", body, content_type="application/json", headers={"X-CSRFToken": CSRF})
    await agent.post(f"{url}/resolve", "{}", content_type="application/json", headers={"X-CSRFToken": CSRF})
    assert await _found(agent, "with the courier") == [chat.thread_id]


async def test_bad_queries_get_a_clear_error(seeded):
    agent = await staff_client("agent")
    for query in ("x" * 201, "a\x00b"):
        response = await agent.get("/console/api/conversations", {"q": query})
        assert response.status_code == 400 and response.json()["error"] == "invalid_query"
    assert (await agent.get("/console/api/conversations", {"q": "%_'\""})).status_code == 200  # wildcards are text
