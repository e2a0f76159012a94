"""Thumbs up/down reach the database through the protocol and are listed, read-only, in Django admin."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from chat.models import Feedback
from tests.chat import protocol
from tests.chat.conversation import Conversation
from tests.customers.seeded import seed

pytestmark = pytest.mark.django_db(transaction=True)


async def test_feedback_is_stored_and_shown_in_admin(repo, services_settings, admin_client):
    await seed(repo)
    chat = await Conversation.sign_in()
    await chat.say("I want to return some items")
    answer = next(item for item in chat.done_items() if item.type == "assistant_message")
    response = await chat.post(protocol.feedback(chat.thread_id, [answer.id], "negative"))
    assert response.status_code == 200
    stored = await Feedback.objects.aget()
    assert (stored.customer_id, stored.thread_id, stored.item_ids, stored.kind) == (
        "CUST-1001",
        chat.thread_id,
        [answer.id],
        "negative",
    )
    # Which message was rated, in its words, and which engine wrote it.
    assert stored.message == answer.content[0].text and stored.engine == "guided"
    listing = await sync_to_async(admin_client.get)("/admin/chat/feedback/")
    page = listing.content.decode()
    assert listing.status_code == 200 and chat.thread_id in page
    assert answer.content[0].text[:60] in page and "Robert Johnson" in page  # the conversation it belongs to
    add = await sync_to_async(admin_client.get)("/admin/chat/feedback/add/")
    assert add.status_code == 403  # feedback comes from customers only


async def test_filed_proposals_are_listed_read_only_in_admin(repo, services_settings, admin_client):
    from customers.models import Proposal

    await seed(repo)
    chat = await Conversation.sign_in()
    await chat.say("return the hub, damaged, store credit, prepaid label")
    await chat.say("confirm")
    proposal = await Proposal.objects.aget()
    listing = await sync_to_async(admin_client.get)("/admin/customers/proposal/?state__exact=proposed")
    page = listing.content.decode()
    assert listing.status_code == 200 and "Robert Johnson" in page and "98.99" in page
    detail = await sync_to_async(admin_client.get)(f"/admin/customers/proposal/{proposal.pk}/change/")
    assert detail.status_code == 200 and "HUB-SMART-2" in detail.content.decode()
    assert (await sync_to_async(admin_client.get)("/admin/customers/proposal/add/")).status_code == 403
