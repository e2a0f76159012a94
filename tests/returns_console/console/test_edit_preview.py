"""The edit form's live total: what an edit comes to by the rules, and whether the customer must agree to it;
previewing changes nothing."""

from __future__ import annotations

import json

import pytest

from customers.models import Proposal
from tests.chat.conversation import Conversation as Chat
from tests.returns_console.console.conftest import CSRF, staff_client

pytestmark = pytest.mark.django_db(transaction=True)


async def _preview(client, proposal: Proposal, body: dict) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    response = await client.post(
        f"/console/api/proposals/{proposal.pk}/preview",
        data=json.dumps(body),
        content_type="application/json",
        headers={"X-CSRFToken": CSRF},
    )
    return response.status_code, response.json()


async def _hub_for_store_credit() -> Proposal:
    """Robert (Platinum) returns both hubs for store credit: 2 x 89.99 + 10% bonus."""
    chat = await Chat.sign_in()
    for text in (
        "I want to return both smart hubs from ORD-79001",
        "they are damaged",
        "store credit",
        "prepaid label",
        "confirm",
    ):
        await chat.say(text)
    return await Proposal.objects.aget(thread_id=chat.thread_id)


async def test_the_preview_says_the_new_total_and_when_the_customer_must_agree(seeded):
    supervisor = await staff_client("supervisor")
    proposal = await _hub_for_store_credit()
    confirmed = proposal.quote["store_credit_cents"] + proposal.quote["refund_cents"]

    status, same = await _preview(supervisor, proposal, {})
    assert status == 200 and same["customer_gets_cents"] == same["confirmed_cents"] == confirmed
    assert same["needs_customer"] is None

    status, fewer = await _preview(supervisor, proposal, {"quantities": {"HUB-SMART-2": 1}})
    assert status == 200 and fewer["customer_gets_cents"] < confirmed
    assert "instead of" in fewer["needs_customer"]  # less back than they confirmed

    status, other = await _preview(supervisor, proposal, {"resolution": "Full Refund"})
    assert status == 200 and "asked for Store Credit, not Full Refund" in other["needs_customer"]
    assert other["amounts_cents"]["refund"] > 0 and other["amounts_cents"]["store_credit"] == 0

    status, lower = await _preview(
        supervisor, proposal, {"amount_override_cents": confirmed - 500, "reason_for_change": "one scratched box"}
    )
    assert status == 200 and lower["customer_gets_cents"] == confirmed - 500 and lower["needs_customer"]

    fresh = await Proposal.objects.aget(pk=proposal.pk)
    assert (fresh.version, fresh.state, fresh.quote) == (proposal.version, proposal.state, proposal.quote)


async def test_a_preview_that_breaks_the_rules_says_why(seeded):
    agent = await staff_client("agent")
    proposal = await _hub_for_store_credit()
    for body, words in (
        ({"quantities": {"HUB-SMART-2": 5}}, ""),
        ({"quantities": {"NOPE": 1}}, "not part of this proposal"),
        ({"resolution": "Bitcoin"}, "Unknown resolution"),
        ({"amount_override_cents": -1, "reason_for_change": "x"}, "negative"),
        ({"amount_override_cents": 100}, "written reason"),
    ):
        status, answer = await _preview(agent, proposal, body)
        assert status in (400, 403, 422) and answer["error"] and words in answer["message"], (body, answer)
    response = await agent.get(f"/console/api/proposals/{proposal.pk}/preview")
    assert response.status_code == 405
