"""Generated requests (Hypothesis) against the staff console's API: never a 5xx, and a refused request changes
nothing: no proposal state or version, no conversation mode or owner, no audit entry, no message to a customer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from hypothesis import given
from hypothesis import strategies as st

from chat.context import ChatContext
from chat.models import Conversation
from chat.store import CosmosChatStore
from customers.models import AuditEntry, Proposal
from tests.chat.conversation import Conversation as Chat
from tests.chat.test_fuzz_properties import FUZZ, json_value
from tests.returns_console.console.conftest import CSRF, staff_client

pytestmark = pytest.mark.django_db(transaction=True)

PROPOSAL_ACTIONS = ["approve", "edit", "reject", "retry", "close", "escalate", "preview"]
CONVERSATION_ACTIONS = [
    "take-over",
    "hand-back",
    "mode",
    "messages",
    "copilot",
    "saved-replies",
    "items",
    "notes",
    "resolve",
    "reopen",
    "assign",
    "read",
]
TURNS = [
    "I want to return Smart Home Hub from order ORD-79001",
    "it was completely damaged",
    "I would like a STORE_CREDIT",
    "prepaid label",
    "confirm",
]

_worlds: dict[int, dict[str, Any]] = {}


async def _world(seeded: Any) -> dict[str, Any]:
    """A filed proposal in a customer's conversation, and an agent and a supervisor, made once per test."""
    if id(seeded) not in _worlds:
        chat = await Chat.sign_in()
        for text in TURNS:
            await chat.say(text)
        proposal = await Proposal.objects.filter(thread_id=chat.thread_id).afirst()
        assert proposal is not None
        _worlds.clear()
        _worlds[id(seeded)] = {
            "chat": chat,
            "proposal": proposal.pk,
            "staff": [await staff_client("agent"), await staff_client("supervisor")],
        }
    return _worlds[id(seeded)]


async def _state(repo: Any, thread_id: str) -> tuple[Any, ...]:
    proposals = [(p.pk, p.state, p.version, json.dumps(p.lines)) async for p in Proposal.objects.order_by("pk")]
    conversations = [
        (c.thread_id, c.mode, c.assigned_to_id, c.closed_at, c.status, c.attention)
        async for c in Conversation.objects.all()
    ]
    audit = await sync_to_async(AuditEntry.objects.count)()
    store = CosmosChatStore(repo.database)
    items = await store.load_thread_items(
        thread_id, None, 1000, "asc", ChatContext(customer_id="CUST-1001", order_id="")
    )
    return tuple(proposals), tuple(conversations), audit, tuple(item.id for item in items.data)


def _requests(proposal: int, thread_id: str) -> st.SearchStrategy[tuple[str, str, bytes]]:
    proposal_ids = st.sampled_from([str(proposal), str(proposal + 1000), "0", "-1", "abc", "9" * 30])
    thread_ids = st.sampled_from([thread_id, "thr_unknown", "", "%2e%2e", "x" * 300]) | st.text(
        alphabet=st.characters(codec="ascii", exclude_characters="/?#%"), max_size=30
    )
    versions = st.one_of(st.integers(-3, 5), st.text(max_size=5), st.none(), st.floats(allow_nan=False))
    body = st.one_of(
        st.fixed_dictionaries(
            {},
            optional={
                "version": versions,
                "note": st.text(max_size=700) | json_value,
                "message": st.text(max_size=3000) | json_value,
                "text": st.text(max_size=5000) | json_value,
                "mode": st.sampled_from(["assistant", "copilot", "human", "robot", ""]) | json_value,
                "lines": json_value,
                "resolution": st.sampled_from(["Store Credit", "Cash", ""]) | json_value,
                "status": st.sampled_from(["cancelled", "in_transit", "lost"]) | json_value,
                "user": st.sampled_from(["agent", "supervisor", "nobody", ""]) | json_value,
                "quantities": json_value,
                "amount_override_cents": st.integers(-10, 10**6) | json_value,
            },
        ).map(lambda value: json.dumps(value).encode()),
        json_value.map(lambda value: json.dumps(value).encode()),
        st.binary(max_size=100),
    )
    proposal_call = st.tuples(
        st.sampled_from(["POST", "GET"]),
        st.builds(
            lambda pid, action: f"/console/api/proposals/{pid}/{action}",
            proposal_ids,
            st.sampled_from(PROPOSAL_ACTIONS),
        ),
        body,
    )
    conversation_call = st.tuples(
        st.sampled_from(["POST", "GET"]),
        st.builds(
            lambda tid, action: f"/console/api/conversations/{tid}/{action}",
            thread_ids,
            st.sampled_from(CONVERSATION_ACTIONS),
        ),
        body,
    )
    other_call = st.tuples(
        st.sampled_from(["GET", "POST"]),
        st.sampled_from(
            [
                "/console/api/proposals?state=nonsense",
                "/console/api/proposals?state=proposed",
                "/console/api/conversations?filter=%00",
                "/console/api/conversations?filter=mine&q=" + "x" * 500,
                "/console/api/returns/RET-nope",
                "/console/api/returns/RET-nope/advance",
                f"/console/api/proposals/{proposal}",
            ]
        ),
        body,
    )
    return st.one_of(proposal_call, conversation_call, other_call)


@FUZZ
@given(data=st.data())
async def test_generated_console_requests_never_fail_the_server_and_refusals_change_nothing(seeded, data):
    world = await _world(seeded)
    chat = world["chat"]
    method, path, body = data.draw(_requests(world["proposal"], chat.thread_id), label="request")
    client = data.draw(st.sampled_from(world["staff"]), label="who")
    before = await _state(seeded, chat.thread_id)
    if method == "GET":
        response = await client.get(path)
    else:
        response = await client.post(path, data=body, content_type="application/json", headers={"X-CSRFToken": CSRF})
    assert response.status_code < 500, (method, path, body[:200], response.status_code)
    if response.status_code >= 400:
        assert response.json()["message"]
        assert await _state(seeded, chat.thread_id) == before, (method, path, body[:200])
