"""Policy answers come from the policy in force and answer the question asked: a general question gets the
policy, not one product's line; refund timing is in the policy; a side question mid-return offers the way back."""

from __future__ import annotations

from decimal import Decimal

import pytest

from customers.models import ReturnPolicySettings
from tests.chat.conversation import Conversation
from tests.customers.seeded import seed

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def chat(repo, services_settings):  # type: ignore[no-untyped-def]
    await seed(repo)
    return await Conversation.sign_in("james.smith@example.com", "ORD-79004")  # Standard tier: pays fees


async def test_an_admins_change_is_what_both_the_quotes_and_the_answers_say(chat):
    await chat.say("is there a restocking fee?")
    assert "15% restocking fee" in chat.text()
    await chat.say("how long until I get my refund?")
    assert "within 5 business days" in chat.text()

    await ReturnPolicySettings.objects.acreate(
        name="January", restocking_fee_percent=Decimal("20"), refund_business_days=3, pickup_cost=Decimal("4.50")
    )  # as saved in Django admin: the process forgets its cached policy
    await chat.say("is there a restocking fee?")
    assert "20% restocking fee" in chat.text() and "15%" not in chat.text()
    await chat.say("how long until I get my refund?")
    assert "within 3 business days" in chat.text()
    await chat.say("what does a pickup cost?")
    assert "Schedule a pickup: $4.50" in chat.text()

    await chat.say("I want to return the sport earbuds from ORD-79004, I changed my mind")
    fee_line = next(caption for caption in chat.captions() if "fee" in caption.lower())
    assert "$16.00" in fee_line  # 20% of 79.99, not 15%


@pytest.mark.parametrize(
    ("question", "policy"),
    [
        ("can opened items be returned?", "Opened or used items"),
        ("how long until I get my refund?", "Refunds"),
        ("how long do refunds take?", "Refunds"),
        ("can the open-box earbuds be returned?", "Open-Box Earbuds return window"),  # names the product
    ],
)
async def test_a_general_question_is_answered_by_the_policy_not_a_products_line(chat, question, policy):
    await chat.say(question)
    assert f"From our “{policy}” policy:" in chat.text()
