"""The edit form's live total: what an edit comes to by the rules, and whether the customer must agree to it;
previewing changes nothing."""

from __future__ import annotations

import asyncio
import json

import pytest

from customers.models import AuditAction, AuditEntry, Proposal
from tests.chat.conversation import Conversation as Chat
from tests.returns_console.console.conftest import filed_by_chat, post_json, staff_client

pytestmark = pytest.mark.django_db(transaction=True)


async def _preview(client, proposal: Proposal, body: dict) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    return await post_json(client, f"/console/api/proposals/{proposal.pk}/preview", body)


async def _hub_for_store_credit() -> tuple[Chat, Proposal]:
    """Robert (Platinum) returns both hubs for store credit: 2 x 89.99 + 10% bonus."""
    return await filed_by_chat(
        "I want to return both smart hubs from ORD-79001",
        "they are damaged",
        "store credit",
        "prepaid label",
        "confirm",
    )


async def test_the_preview_says_the_new_total_and_when_the_customer_must_agree(seeded):
    supervisor = await staff_client("supervisor")
    _, proposal = await _hub_for_store_credit()
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
    _, proposal = await _hub_for_store_credit()
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


async def _edit(client, proposal: Proposal, body: dict) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    return await post_json(client, f"/console/api/proposals/{proposal.pk}/edit", {"version": proposal.version, **body})


async def _offered(supervisor, repo) -> tuple[Chat, Proposal, dict]:  # type: ignore[no-untyped-def]
    """Robert's store-credit return, offered back as a full refund; the worker's telling of it done here."""
    from chat.decisions import tell_customer

    chat, proposal = await _hub_for_store_credit()
    status, body = await _edit(
        supervisor, proposal, {"resolution": "Full Refund", "reason_for_change": "card refund is faster"}
    )
    assert status == 200, body
    await tell_customer(repo, await Proposal.objects.aget(pk=proposal.pk))  # what chat.tell_customer runs
    return chat, proposal, body


async def _offer_card(chat: Chat, proposal_id: int):  # type: ignore[no-untyped-def]
    """The suggestion as the customer's page gets it: posted into their thread (by the worker, or eagerly)."""
    from tests.chat import protocol

    for _ in range(100):
        response = await chat.post(protocol.list_items(chat.thread_id, limit=100))
        items = response.json()["data"]
        cards = [i for i in items if i["type"] == "widget" and i["widget"].get("key") == "offer"]
        if cards:
            return cards[-1]
        await asyncio.sleep(0.1)
    raise AssertionError("the customer was never shown the suggested change")


async def test_a_change_the_customer_must_agree_to_is_offered_and_approved_when_they_accept(seeded):
    supervisor = await staff_client("supervisor")
    chat, proposal, body = await _offered(supervisor, seeded)
    assert body["state"] == "proposed" and body["offer"]["resolution"] == "Full Refund"  # not approved yet
    card = await _offer_card(chat, proposal.pk)
    assert "Full Refund instead of Store Credit" in json.dumps(await _thread_texts(chat))

    chat.newest_widget = chat_widget(card)
    await chat.click("returns.accept_offer", {"proposal_id": proposal.pk})
    assert "the change is accepted" in " ".join(_texts(chat))
    accepted = await Proposal.objects.aget(pk=proposal.pk)
    assert accepted.state in ("approved", "committing", "committed") and accepted.resolution == "Full Refund"
    assert accepted.offer is None and accepted.decided_by_id is not None  # approved as the supervisor who offered
    assert await AuditEntry.objects.filter(proposal_id=proposal.pk, action=AuditAction.OFFER).acount() == 1


async def test_a_customer_who_keeps_their_request_leaves_it_waiting_for_review(seeded):
    supervisor = await staff_client("supervisor")
    chat, proposal, _ = await _offered(supervisor, seeded)
    chat.newest_widget = chat_widget(await _offer_card(chat, proposal.pk))
    await chat.click("returns.decline_offer", {"proposal_id": proposal.pk})
    assert "keep your request as you made it" in " ".join(_texts(chat))
    kept = await Proposal.objects.aget(pk=proposal.pk)
    assert (kept.state, kept.resolution, kept.offer) == ("proposed", "Store Credit", None)
    await chat.click("returns.accept_offer", {"proposal_id": proposal.pk})  # a stale button changes nothing
    assert "no longer open" in " ".join(_texts(chat))


async def test_another_customer_cannot_answer_an_offer(seeded):
    supervisor = await staff_client("supervisor")
    _, proposal, _ = await _offered(supervisor, seeded)
    maria = await Chat.sign_in("maria.garcia@example.com", "ORD-79007")
    await maria.say("hi")
    await maria.click("returns.accept_offer", {"proposal_id": proposal.pk})
    assert "was not found" in " ".join(_texts(maria))
    assert (await Proposal.objects.aget(pk=proposal.pk)).offer is not None


def _texts(chat: Chat) -> list[str]:
    return ["".join(p.text for p in item.content) for item in chat.done_items() if item.type == "assistant_message"]


async def _thread_texts(chat: Chat) -> list[str]:
    from tests.chat import protocol

    items = (await chat.post(protocol.list_items(chat.thread_id, limit=100))).json()["data"]
    return ["".join(part.get("text", "") for part in i.get("content", [])) for i in items]


def chat_widget(card: dict):  # type: ignore[no-untyped-def]
    from chatkit.types import WidgetItem

    return WidgetItem.model_validate(card)
