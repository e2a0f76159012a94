"""Generated requests (Hypothesis) against the customer's endpoints: never a 5xx, and a refused request changes
nothing: no thread, no item, no proposal, no session.

The strategies build requests the way an attacker would: the protocol's shapes with hostile values (other
customers' ids, unknown types, oversized and odd text, wrong types in every field) and raw bytes that are not
JSON at all. Together with tests/returns_console/console/test_api_fuzz.py they run well over 1,000 cases.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat.context import ChatContext
from chat.store import CosmosChatStore
from customers.models import Proposal
from tests.chat.conversation import Conversation
from tests.chat.test_fuzz import TYPES
from tests.customers.seeded import seed

pytestmark = pytest.mark.django_db(transaction=True)

FUZZ = settings(
    max_examples=450,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,  # the same cases on every machine and run: no example database in the checkout
    derandomize=True,
)

json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), st.text(max_size=60)
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


def _requests(own_thread: str, own_item: str, foreign_thread: str, foreign_item: str) -> st.SearchStrategy[bytes]:
    ids = st.sampled_from([own_thread, foreign_thread, "thr_unknown", "", "../" * 10, own_item]) | st.text(max_size=40)
    item_ids = st.sampled_from([own_item, foreign_item, "msg_unknown", ""]) | st.text(max_size=40)
    text = st.text(max_size=300) | st.sampled_from(["", "a" * 4001, "x" * 9000, "\u0000", "'; DROP TABLE x; --"])
    content = st.lists(
        st.fixed_dictionaries({"type": st.sampled_from(["input_text", "image", "file", ""]), "text": text}),
        max_size=3,
    )
    user_input = st.fixed_dictionaries(
        {"content": content | json_value, "attachments": st.just([]) | json_value, "inference_options": json_value}
    )
    params = st.fixed_dictionaries(
        {},
        optional={
            "thread_id": ids | json_value,
            "item_id": item_ids | json_value,
            "item_ids": st.lists(item_ids, max_size=3) | json_value,
            "input": user_input | json_value,
            "title": text | json_value,
            "action": st.fixed_dictionaries({"type": st.text(max_size=20), "payload": json_value}) | json_value,
            "kind": st.sampled_from(["positive", "negative", "meh"]),
            "limit": st.integers(-5, 10**9) | json_value,
            "after": item_ids | json_value,
            "order": st.sampled_from(["asc", "desc", "sideways"]),
        },
    )
    shaped = st.fixed_dictionaries(
        {"type": st.sampled_from(TYPES) | st.text(max_size=20), "params": params | json_value}
    )
    return st.one_of(
        shaped.map(lambda request: json.dumps(request).encode()),
        json_value.map(lambda value: json.dumps(value).encode()),
        st.binary(max_size=200),
    )


async def _state(chats: list[Conversation], repo: Any) -> tuple[Any, ...]:
    """What a request could change: each customer's threads and items, and the proposals."""
    store = CosmosChatStore(repo.database)
    seen: list[Any] = []
    for customer in ("CUST-1001", "CUST-1002"):
        context = ChatContext(customer_id=customer, order_id="")
        threads = await store.load_threads(100, None, "asc", context)
        for thread in threads.data:
            items = await store.load_thread_items(thread.id, None, 1000, "asc", context)
            seen.append((thread.id, thread.title, tuple(item.id for item in items.data)))
    proposals = [(p.pk, p.state, p.version) async for p in Proposal.objects.order_by("pk")]
    return tuple(seen), tuple(proposals)


_worlds: dict[int, tuple[Conversation, Conversation, str, str]] = {}


async def _world(repo: Any) -> tuple[Conversation, Conversation, str, str]:
    """Two signed-in customers with a conversation each, made once per test (Hypothesis calls the test body once
    per case, with the same fixtures)."""
    if id(repo) not in _worlds:
        await seed(repo)
        chat = await Conversation.sign_in()
        await chat.say("I want to return some items")
        other = await Conversation.sign_in("maria.garcia@example.com", "ORD-79104")
        await other.say("hello")
        _worlds.clear()
        _worlds[id(repo)] = (chat, other, chat.done_items()[-1].id, other.done_items()[-1].id)
    return _worlds[id(repo)]


@FUZZ
@given(data=st.data())
async def test_generated_chatkit_requests_never_fail_the_server_and_refusals_change_nothing(
    repo, services_settings, data
):
    chat, other, own_item, foreign_item = await _world(repo)
    body = data.draw(_requests(chat.thread_id, own_item, other.thread_id, foreign_item), label="body")
    before = await _state([chat, other], repo)
    response = await chat.client.post("/chatkit", data=body, content_type="application/json")
    status = response.status_code
    assert status < 500, (body[:300], status)
    if status >= 400:
        assert response["Content-Type"] == "application/json" and response.json()["message"]
        assert await _state([chat, other], repo) == before, body[:300]
    elif response["Content-Type"] == "text/event-stream":
        async for _ in response.streaming_content:
            pass


SIGN_IN_BODIES = st.one_of(
    st.fixed_dictionaries(
        {
            "email": st.sampled_from(["rjohnson@company.com", "RJOHNSON@company.com ", "nobody@example.com"])
            | st.text(max_size=80)
            | json_value,
            "order_id": st.sampled_from(["ORD-79104", "ORD-79001x", "79002", ""]) | st.text(max_size=30) | json_value,
        }
    ).map(json.dumps),
    json_value.map(json.dumps),
    st.text(max_size=100),
)


@FUZZ
@given(body=SIGN_IN_BODIES)
async def test_generated_sign_in_requests_never_fail_the_server_and_never_sign_in_a_stranger(
    repo, services_settings, body
):
    from django.test import AsyncClient

    if not _worlds:
        await seed(repo)
        _worlds[0] = ()  # type: ignore[assignment]
    client = AsyncClient(REMOTE_ADDR="10.77.0.1")
    response = await client.post("/chat/session", data=body, content_type="application/json")
    assert response.status_code < 500, (body[:200], response.status_code)
    if response.status_code >= 400:
        assert response.json()["message"]
        assert "sessionid" not in response.cookies  # no session was started
    else:  # only the customer whose email and order these are
        assert str(json.loads(body)["email"]).strip().lower() == "rjohnson@company.com"
