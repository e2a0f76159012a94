"""The copilot: a summary, a reply to edit and the policy, from templates offline and from the model when one
is configured (a contract test against our fake OpenAI server); it never speaks to the customer itself."""

from __future__ import annotations

import json

import pytest

from returns_console.console import events
from tests.chat.conversation import Conversation as Chat
from tests.chat.engine.llm.fake_openai import FakeOpenAI, Step
from tests.customers.seeded import file_seed_proposal
from tests.returns_console.console.conftest import CSRF, staff_client

pytestmark = pytest.mark.django_db(transaction=True)


async def _items(chat: Chat) -> int:
    from tests.chat import protocol

    listed = await chat.client.post(
        "/chatkit", data=protocol.body(protocol.list_items(chat.thread_id)), content_type="application/json"
    )
    return len(json.loads(listed.content)["data"])


async def test_offline_the_copilot_drafts_from_the_conversation_and_sends_nothing(seeded):
    chat = await Chat.sign_in()
    await chat.say("is there a restocking fee if I changed my mind?")
    before = await _items(chat)
    agent = await staff_client("agent")
    response = await agent.get(f"/console/api/conversations/{chat.thread_id}/copilot")
    assert response.status_code == 200
    draft = response.json()
    assert set(draft) == {"summary", "suggested_reply", "policy_note", "engine", "as_of_seq"}
    assert draft["engine"] == "templates"
    assert draft["summary"].startswith("Robert Johnson (Platinum)") and "restocking fee" in draft["summary"]
    assert draft["suggested_reply"].startswith("Hi Robert,") and "Restocking fee" in draft["suggested_reply"]
    assert draft["policy_note"].startswith("Restocking fee")
    assert draft["as_of_seq"] == await events.last_seq(chat.thread_id)
    assert await _items(chat) == before  # the customer saw nothing


async def test_a_waiting_proposal_gets_a_reply_about_its_review(seeded):
    chat = await Chat.sign_in()
    await chat.say("I want to return Smart Home Hub from order ORD-79001")
    proposal = await file_seed_proposal(seeded, thread_id=chat.thread_id)
    draft = (await (await staff_client("agent")).get(f"/console/api/conversations/{chat.thread_id}/copilot")).json()
    assert f"request #{proposal.pk} (waiting for review)" in draft["summary"] and "98.99" in draft["summary"]
    assert f"return request #{proposal.pk}" in draft["suggested_reply"]


async def test_only_staff_and_only_known_conversations(seeded):
    from django.test import AsyncClient

    chat = await Chat.sign_in()
    assert (await AsyncClient().get(f"/console/api/conversations/{chat.thread_id}/copilot")).status_code == 401
    assert (await chat.client.get(f"/console/api/conversations/{chat.thread_id}/copilot")).status_code == 401
    agent = await staff_client("agent")
    assert (await agent.get("/console/api/conversations/thr_nope/copilot")).status_code == 404
    url = f"/console/api/conversations/{chat.thread_id}/copilot"
    assert (await agent.post(url, headers={"X-CSRFToken": CSRF})).status_code == 405


async def test_with_a_model_the_model_writes_it_from_the_same_data(seeded, services_settings):
    """Contract test: the copilot's request to an OpenAI-compatible server, and its answer used as the draft."""
    chat = await Chat.sign_in()
    await chat.say("my hub arrived cracked")
    with FakeOpenAI() as fake:
        services_settings.OPENAI_API_KEY = "sk-test"
        services_settings.OPENAI_BASE_URL = f"{fake.url}/v1"
        answer = {
            "summary": "Robert's hub is cracked.",
            "suggested_reply": "Hi Robert, so sorry!",
            "policy_note": "Damaged items ship free.",
        }
        fake.script(Step(text=json.dumps(answer)))
        draft = (await (await staff_client("agent")).get(f"/console/api/conversations/{chat.thread_id}/copilot")).json()
        sent = fake.requests[0].body
    assert (draft["summary"], draft["suggested_reply"], draft["policy_note"]) == tuple(answer.values())
    assert draft["engine"].startswith("llm: ")
    assert sent["response_format"] == {"type": "json_object"}
    assert (
        "my hub arrived cracked" in sent["messages"][1]["content"]
        and "Robert Johnson" in sent["messages"][1]["content"]
    )


async def test_a_failing_model_leaves_the_templates_to_answer(seeded, services_settings):
    chat = await Chat.sign_in()
    await chat.say("hello")
    with FakeOpenAI() as fake:
        services_settings.OPENAI_API_KEY = "sk-test"
        services_settings.OPENAI_BASE_URL = f"{fake.url}/v1"
        services_settings.LLM_MAX_RETRIES = 0
        fake.script(Step(status=500))
        draft = (await (await staff_client("agent")).get(f"/console/api/conversations/{chat.thread_id}/copilot")).json()
    assert draft["engine"] == "templates" and draft["suggested_reply"].startswith("Hi Robert,")
