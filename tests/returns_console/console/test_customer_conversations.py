"""One customer is one person: the conversation's detail lists all of that customer's conversations, and no
one else's, and the chat names each conversation after what the customer first said."""

from __future__ import annotations

import json

import pytest

from tests.chat.conversation import Conversation as Chat
from tests.returns_console.console.conftest import staff_client

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_conversation_lists_its_customers_other_conversations_newest_first(seeded):
    agent = await staff_client("agent")
    first = await Chat.sign_in()
    await first.say("where is my return?")
    second = await Chat.sign_in()  # signed in again, then "New conversation"
    await second.say("the hub makes a weird buzzing noise")
    maria = await Chat.sign_in("maria.garcia@example.com", "ORD-79007")
    await maria.say("my headphones crackle")

    detail = (await agent.get(f"/console/api/conversations/{first.thread_id}")).json()
    listed = detail["customer_conversations"]
    assert [c["thread_id"] for c in listed] == [second.thread_id, first.thread_id]
    assert listed[0]["last_message"] == "the hub makes a weird buzzing noise"
    assert listed[1]["status"] == "open" and listed[1]["closed"] is False and listed[1]["started_at"]
    maria_detail = (await agent.get(f"/console/api/conversations/{maria.thread_id}")).json()
    assert [c["thread_id"] for c in maria_detail["customer_conversations"]] == [maria.thread_id]


async def test_the_customers_conversations_are_listed_with_titles_newest_first_and_only_their_own(seeded):
    first = await Chat.sign_in()
    await first.say("  where is   my return? ")
    second = await Chat.sign_in()
    await second.say("My Smart Home Hub arrived with a cracked case and it will not power on at all, please help")
    maria = await Chat.sign_in("maria.garcia@example.com", "ORD-79007")
    await maria.say("my headphones crackle")

    body = json.dumps({"type": "threads.list", "params": {"limit": 10, "order": "desc"}})
    response = await second.client.post("/chatkit", data=body, content_type="application/json")
    assert response.status_code == 200, response.content
    page = response.json()
    assert [thread["id"] for thread in page["data"]] == [second.thread_id, first.thread_id]
    titles = [thread["title"] for thread in page["data"]]
    assert titles[1] == "Where is my return?"
    assert titles[0].startswith("My Smart Home Hub arrived with a cracked") and titles[0].endswith("…")
    assert len(titles[0]) <= 60


async def test_the_customers_rating_is_shown_to_staff_on_the_conversation(seeded):
    from chat.widgets import Actions

    agent = await staff_client("agent")
    chat = await Chat.sign_in()
    await chat.say("that's all, thanks")
    url = f"/console/api/conversations/{chat.thread_id}"
    assert (await agent.get(url)).json()["rating"] is None
    await chat.click(Actions.RATE, {"rating": 5})
    await chat.say("lovely service")
    rating = (await agent.get(url)).json()["rating"]
    assert (rating["rating"], rating["comment"], rating["engine"]) == (5, "lovely service", "guided")
