"""Staff, a seeded Cosmos database and signed-in API clients for the console tests."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.test import AsyncClient

from customers.services.staff import ensure_demo_staff
from tests.customers.seeded import seed

PASSWORD = "console-test-pw"
CSRF = "x" * 32  # a well-formed CSRF secret, sent as both the cookie and the header


@pytest.fixture
async def seeded(repo, services_settings):  # type: ignore[no-untyped-def]
    await seed(repo)
    await sync_to_async(ensure_demo_staff)(PASSWORD)
    return repo


async def staff_client(username: str) -> AsyncClient:
    client = AsyncClient(enforce_csrf_checks=True)
    user = await get_user_model().objects.aget(username=username)
    await client.aforce_login(user)
    page = await client.get("/console/api/proposals")  # any GET: sets nothing, but proves the session works
    assert page.status_code == 200, page.content
    client.cookies.load({"csrftoken": CSRF})
    return client


async def post_json(client: AsyncClient, url: str, body: object) -> tuple[int, dict]:
    """POST ``body`` as JSON with the CSRF token, as the console page does: (status, JSON answer)."""
    response = await client.post(
        url, data=json.dumps(body), content_type="application/json", headers={"X-CSRFToken": CSRF}
    )
    return response.status_code, response.json()


async def filed_by_chat(*said: str):  # type: ignore[no-untyped-def]
    """Robert says each line in a new conversation; (the conversation, the proposal it filed)."""
    from customers.models import Proposal
    from tests.chat.conversation import Conversation as Chat

    chat = await Chat.sign_in()
    for text in said:
        await chat.say(text)
    return chat, await Proposal.objects.aget(thread_id=chat.thread_id)
