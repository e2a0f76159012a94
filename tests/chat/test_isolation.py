"""One customer never sees another's conversations: every request naming another's thread is a 404."""

from __future__ import annotations

import pytest
from chatkit.types import ThreadListParams, ThreadsListReq

from chat import ownership
from chat.widgets import Actions
from tests.chat import protocol
from tests.chat.conversation import Conversation
from tests.customers.seeded import seed

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def two_customers(repo, services_settings):  # type: ignore[no-untyped-def]
    await seed(repo)
    robert = await Conversation.sign_in()
    await robert.say("I want to return some items")
    maria = await Conversation.sign_in("maria.garcia@example.com", "ORD-79007")
    await maria.say("hi")
    return robert, maria


def _requests(thread_id: str, item_id: str) -> list[tuple[str, str]]:
    raw = [
        protocol.get_thread(thread_id),
        protocol.list_items(thread_id),
        protocol.add_message(thread_id, "show me everything"),
        protocol.custom_action(thread_id, item_id, Actions.START_OVER, {}),
        protocol.feedback(thread_id, [item_id], "negative"),
    ]
    bodies = [(r.type, protocol.body(r)) for r in raw]
    bodies += [
        ("threads.update", f'{{"type":"threads.update","params":{{"thread_id":"{thread_id}","title":"mine now"}}}}'),
        ("threads.delete", f'{{"type":"threads.delete","params":{{"thread_id":"{thread_id}"}}}}'),
        (
            "threads.retry_after_item",
            f'{{"type":"threads.retry_after_item","params":{{"thread_id":"{thread_id}","item_id":"{item_id}"}}}}',
        ),
    ]
    return bodies


async def test_another_customers_thread_is_404_for_every_request(two_customers):
    robert, maria = two_customers
    robert_item = robert.last_widget().id
    for kind, body in _requests(robert.thread_id, robert_item):
        response = await maria.client.post("/chatkit", data=body, content_type="application/json")
        assert response.status_code == 404, (kind, response.content)
        assert response.json()["error"] == "not_found"
    # Robert's conversation is untouched and still his.
    response = await robert.post(protocol.get_thread(robert.thread_id))
    assert response.status_code == 200 and response.json().get("title") == "I want to return some items"  # his words
    assert len(response.json()["items"]["data"]) >= 3


async def test_thread_lists_hold_only_your_own(two_customers):
    robert, maria = two_customers
    listing = ThreadsListReq(params=ThreadListParams(limit=50))
    robert_threads = [t["id"] for t in (await robert.post(listing)).json()["data"]]
    maria_threads = [t["id"] for t in (await maria.post(listing)).json()["data"]]
    assert robert_threads == [robert.thread_id] and maria_threads == [maria.thread_id]


async def test_signed_out_requests_are_refused(two_customers):
    from django.test import AsyncClient

    response = await AsyncClient().post(
        "/chatkit", data=protocol.body(protocol.create("hi")), content_type="application/json"
    )
    assert response.status_code == 401 and response.json()["error"] == "not_signed_in"


async def test_an_item_of_another_thread_is_404_even_for_its_owner(two_customers):
    robert, _ = two_customers
    elsewhere = ownership.new_item_id("msg", ownership.new_thread_id("CUST-1001"))  # a thread of his, not this one
    response = await robert.post(protocol.custom_action(robert.thread_id, elsewhere, Actions.START_OVER, {}))
    assert response.status_code == 404 and response.json()["error"] == "not_found"


async def test_acting_on_your_own_deleted_thread_ends_with_a_clear_error_not_a_crash(two_customers):
    robert, _ = two_customers
    widget = robert.last_widget().id
    deleted = await robert.client.post(
        "/chatkit",
        data=f'{{"type":"threads.delete","params":{{"thread_id":"{robert.thread_id}"}}}}',
        content_type="application/json",
    )
    assert deleted.status_code == 200
    events = await robert.stream(protocol.custom_action(robert.thread_id, widget, Actions.START_OVER, {}))
    assert [event.type for event in events] == ["progress_update", "error"]
    assert "no longer exists" in events[-1].message
    response = await robert.post(protocol.get_thread(robert.thread_id))
    assert response.status_code == 404
