"""At the end of a conversation the customer is asked for a 1-5 rating with an optional comment: stored once
per conversation, told to the dashboards, listed in admin with its conversation. A side question in the middle of
a return offers the way back to the step the customer was on."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from chat.models import ConversationRating
from chat.signals import conversation_event
from chat.widgets import Actions
from tests.chat.conversation import Conversation
from tests.customers.seeded import seed

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def chat(repo, services_settings):  # type: ignore[no-untyped-def]
    await seed(repo)
    return await Conversation.sign_in()


@pytest.fixture
def told() -> list[dict]:
    events: list[dict] = []

    async def receiver(sender, thread_id, customer_id, event, **kwargs):  # type: ignore[no-untyped-def]
        if event.get("type") == "customer.rating":
            events.append(event)

    conversation_event.connect(receiver, weak=False, dispatch_uid="test-ratings")
    yield events
    conversation_event.disconnect(dispatch_uid="test-ratings")


async def test_saying_done_asks_for_a_rating_and_a_comment_follows(chat, told, admin_client):
    await chat.say("where is my return?")
    await chat.say("thanks, that's all")
    assert chat.widget_keys() == ["rating"]
    assert [label for label, _, _ in chat.buttons()] == ["1", "2", "3", "4", "5"]

    await chat.click(Actions.RATE, {"rating": 4})
    assert "Thank you for rating us 4 out of 5" in chat.text()
    await chat.say("quick and easy, the bot understood me")
    assert "passed that on to the team" in chat.text()
    rating = await ConversationRating.objects.aget()
    assert (rating.thread_id, rating.customer_id, rating.rating) == (chat.thread_id, "CUST-1001", 4)
    assert rating.comment == "quick and easy, the bot understood me" and rating.engine == "guided"
    assert [(e["rating"], e["comment"]) for e in told] == [(4, ""), (4, "quick and easy, the bot understood me")]

    await chat.say("bye")  # rated already: not asked again
    assert chat.widget_keys() == []
    listing = await sync_to_async(admin_client.get)("/admin/chat/conversationrating/")
    page = listing.content.decode()
    assert listing.status_code == 200 and "quick and easy" in page and "Robert Johnson" in page


async def test_a_request_after_rating_is_answered_not_taken_as_a_comment(chat):
    await chat.say("I'm done")
    await chat.click(Actions.RATE, {"rating": 2})
    await chat.say("where is my return?")
    assert "don't have any returns" in chat.text()
    assert (await ConversationRating.objects.aget()).comment == ""


@pytest.mark.parametrize("comment", ["quick answers", "great service"])
async def test_a_short_comment_the_trained_model_would_misread_is_kept_as_the_comment(chat, comment):
    await chat.say("I'm done")
    await chat.click(Actions.RATE, {"rating": 5})
    await chat.say(comment)
    assert "passed that on to the team" in chat.text()
    assert (await ConversationRating.objects.aget()).comment == comment


@pytest.mark.parametrize("rating", [0, 6, "5", True, None, 4.5])
async def test_a_rating_outside_1_to_5_is_refused_and_nothing_is_stored(chat, rating):
    await chat.say("that is all")
    await chat.click(Actions.RATE, {"rating": rating})
    assert "whole number from 1 to 5" in chat.text()
    assert await ConversationRating.objects.acount() == 0


async def test_a_side_question_mid_return_offers_the_way_back(chat):
    await chat.say("I want to return Smart Home Hub from order ORD-79001")
    assert chat.widget_keys() == ["reasons"]
    await chat.say("can opened items be returned?")
    assert "Opened or used items" in chat.text()
    assert "Shall we carry on with your return of" in str(chat.last_widget().widget)
    await chat.click(Actions.RESUME, {})
    assert chat.widget_keys() == ["reasons"]  # the step the customer was on
