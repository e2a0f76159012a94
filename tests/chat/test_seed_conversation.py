"""The seed scenario end to end over the ChatKit protocol: typed, clicked, and the fee for a Standard customer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from chatkit.types import ProgressUpdateEvent, ThreadItemUpdatedEvent

from chat.formats import short_date
from chat.widgets import Actions
from customers.clock import store_today
from customers.models import Proposal
from tests.chat.conversation import Conversation
from tests.customers.seeded import seed

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def seeded(repo, services_settings):  # type: ignore[no-untyped-def]
    await seed(repo)
    return repo


async def _only_proposal() -> Proposal:
    proposals = [p async for p in Proposal.objects.all()]
    assert len(proposals) == 1
    return proposals[0]


@pytest.mark.any_day
async def test_seed_scenario_typed(seeded):
    chat = await Conversation.sign_in()
    events = await chat.say("I want to return some items")
    assert any(isinstance(e, ProgressUpdateEvent) for e in events)
    assert chat.widget_keys() == ["customer", "items"]
    windows = [caption for caption in chat.captions() if "left to return" in caption]
    today = store_today()
    assert windows[:3] == [
        f"{days} days left to return (until {short_date(today + timedelta(days=days))})." for days in (10, 25, 25)
    ]
    await chat.say("I want to return Smart Home Hub from order ORD-79001")
    assert chat.widget_keys() == ["reasons"]
    assert "Smart Home Hub" in chat.text()
    await chat.say("it was completely damaged")
    assert chat.widget_keys() == ["resolutions"]
    await chat.say("I would like a STORE_CREDIT")
    assert chat.widget_keys() == ["shipping"]
    await chat.say("prepaid label")
    assert chat.widget_keys() == ["summary"]
    assert [label for label, action, _ in chat.buttons() if action != Actions.SET_QUANTITY] == [
        "Confirm",
        "Change",
        "Cancel",
    ]
    await chat.say("confirm")
    assert chat.widget_keys() == ["status"]
    proposal = await _only_proposal()
    assert proposal.lines == [{"sku": "HUB-SMART-2", "name": "Smart Home Hub", "quantity": 1, "unit_price_cents": 8999}]
    assert (proposal.reason, proposal.resolution, proposal.shipping) == (
        "Damaged/Defective",
        "Store Credit",
        "Prepaid Shipping Label",
    )
    assert proposal.quote["store_credit_cents"] == 9899 and proposal.quote["restocking_fee_cents"] == 0
    assert proposal.quote["bonus_cents"] == 900
    assert proposal.evidence["eligibility"][0]["days_left"] == 25
    assert proposal.evidence["policy"]["restocking_fee_percent"] == "15"
    assert proposal.state == "proposed" and proposal.customer_id == "CUST-1001"
    assert f"#{proposal.pk}" in chat.last_widget().copy_text


@pytest.mark.any_day
async def test_seed_scenario_clicked(seeded):
    chat = await Conversation.sign_in()
    await chat.say("hi")
    hub = next(b for b in chat.buttons() if b[2].get("sku") == "HUB-SMART-2")
    assert hub[:2] == ("Return This", Actions.SELECT_ITEM)
    await chat.click(Actions.SELECT_ITEM, hub[2])
    await chat.click(Actions.SELECT_REASON, {"reason": "Damaged/Defective"})
    options = {payload["resolution"] for _, action, payload in chat.buttons() if action == Actions.SELECT_RESOLUTION}
    assert options == {"Full Refund", "Exchange", "Store Credit", "Keep with Discount"}
    await chat.click(Actions.SELECT_RESOLUTION, {"resolution": "Store Credit"})
    await chat.click(Actions.SELECT_SHIPPING, {"shipping": "Prepaid Shipping Label"})
    await chat.click(Actions.CONFIRM, {})
    proposal = await _only_proposal()
    assert (proposal.lines[0]["quantity"], proposal.quote["store_credit_cents"]) == (1, 9899)
    # Confirming the same summary again files nothing new.
    await chat.click(Actions.CONFIRM, {})
    assert await Proposal.objects.acount() == 1


async def test_text_streams_as_deltas(seeded):
    chat = await Conversation.sign_in()
    events = await chat.say("I want to return some items")
    assert sum(isinstance(e, ThreadItemUpdatedEvent) for e in events) >= 3


async def test_standard_customer_changed_mind_pays_the_fee(seeded):
    chat = await Conversation.sign_in("james.smith@example.com", "ORD-79003")  # James Smith, Standard
    await chat.say("I want to return the 65W GaN Charger from ORD-79003")
    await chat.say("I changed my mind")
    await chat.say("full refund")
    await chat.say("drop it off")
    await chat.say("yes")
    proposal = await _only_proposal()
    assert proposal.customer_tier == "Standard"
    assert proposal.quote["restocking_fee_cents"] == 675  # 15% of 44.99
    assert proposal.quote["refund_cents"] == 4499 - 675


@pytest.mark.any_day
async def test_ineligible_items_are_explained_not_offered(seeded):
    chat = await Conversation.sign_in("james.smith@example.com", "ORD-79003")
    await chat.say("return the clearance TV")
    assert "final-sale" in chat.text()
    assert await Proposal.objects.acount() == 0


@pytest.mark.parametrize(
    ("question", "policy"),
    [
        ("how long do I have to return a TV?", "65in OLED TV return window"),
        ("is there a restocking fee?", "Restocking fee"),
        ("what is your return policy?", "Return windows"),
    ],
)
async def test_policy_questions_are_answered_from_search_naming_the_policy(seeded, question, policy):
    chat = await Conversation.sign_in()
    events = await chat.say(question)
    assert any(isinstance(e, ProgressUpdateEvent) and "policy" in e.text for e in events)
    assert f"From our “{policy}” policy:" in chat.text()


async def test_a_question_mid_flow_keeps_the_return_where_it_was(seeded):
    chat = await Conversation.sign_in()
    await chat.say("I want to return Smart Home Hub from order ORD-79001")
    await chat.say("is there a restocking fee?")
    assert "Restocking fee" in chat.text()
    await chat.say("it was completely damaged")
    assert chat.widget_keys() == ["resolutions"]


async def test_retry_after_an_item_answers_again(seeded):
    from chatkit.types import ThreadRetryAfterItemParams, ThreadsRetryAfterItemReq

    chat = await Conversation.sign_in()
    await chat.say("I want to return Smart Home Hub from order ORD-79001")
    user_item = next(e.item for e in chat.events if e.type == "thread.item.done" and e.item.type == "user_message")
    events = await chat.stream(
        ThreadsRetryAfterItemReq(params=ThreadRetryAfterItemParams(thread_id=chat.thread_id, item_id=user_item.id))
    )
    assert not [e for e in events if e.type == "error"]
    assert chat.widget_keys() == ["reasons"]
