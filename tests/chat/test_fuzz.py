"""Hostile and malformed requests to /chatkit and /chat/session: every one a 4xx with a JSON reason, none a 500."""

from __future__ import annotations

import json
import random

import pytest

from chat.widgets import Actions
from tests.chat import protocol
from tests.chat.conversation import Conversation
from tests.customers.seeded import seed

pytestmark = pytest.mark.django_db(transaction=True)

TYPES = [
    "threads.create",
    "threads.add_user_message",
    "threads.custom_action",
    "threads.get_by_id",
    "threads.list",
    "threads.update",
    "threads.delete",
    "items.list",
    "items.feedback",
    "threads.retry_after_item",
    "threads.add_client_tool_output",
    "threads.add_structured_input",
    "attachments.create",
    "attachments.delete",
    "input.transcribe",
    "threads.sync_custom_action",
    "nope",
    "",
    None,
    7,
]
WEIRD = [
    None,
    0,
    -1,
    1.5,
    True,
    "",
    "x" * 3000,
    [],
    {},
    [1, 2],
    {"a": {"b": {"c": []}}},
    "\u0000",
    "🙂" * 50,
    "' OR 1=1 --",
]


def _bodies(rng: random.Random, thread_id: str, item_id: str) -> list[bytes]:
    bodies: list[bytes] = [
        b"",
        b"{",
        b"null",
        b"[]",
        b"42",
        b'"text"',
        b"\xff\xfe\x00",
        b'{"type": "threads.create"}',
        b'{"type": "threads.create", "params": {}}',
        b'{"params": {"input": {}}}',
        json.dumps({"type": "threads.create", "params": {"input": {"content": "hello"}}}).encode(),
        json.dumps(
            {"type": "threads.create", "params": {"input": {"content": [{"type": "image", "url": "x"}]}}}
        ).encode(),
        b"[" * 5000 + b"]" * 5000,
        json.dumps(
            {"type": "threads.create", "params": {"input": {"content": [{"type": "input_text", "text": "a" * 70000}]}}}
        ).encode(),
    ]
    for kind in TYPES:
        for weird in WEIRD:
            bodies.append(json.dumps({"type": kind, "params": weird}).encode())
            bodies.append(
                json.dumps({"type": kind, "params": {"thread_id": weird, "item_id": weird, "input": weird}}).encode()
            )
    for _ in range(40):  # unknown ids in well-formed requests
        unknown = f"thr_{rng.getrandbits(32):08x}"
        bodies.append(protocol.body(protocol.add_message(unknown, "hi")).encode())
        bodies.append(
            protocol.body(
                protocol.custom_action(thread_id, f"msg_{rng.getrandbits(32):08x}", Actions.CONFIRM, {})
            ).encode()
        )
    bodies.append(protocol.body(protocol.feedback(thread_id, [item_id, "msg_missing"], "positive")).encode())
    return bodies


def _is_valid_and_known(body: bytes) -> bool:
    """Requests the protocol accepts (extra fields are ignored) that name nothing unknown: not bad input."""
    from chatkit.types import ChatKitReq
    from pydantic import TypeAdapter, ValidationError

    try:
        parsed = TypeAdapter(ChatKitReq).validate_json(body)
    except ValidationError:
        return False
    return getattr(parsed.params, "thread_id", None) is None and parsed.type in ("threads.list",)


async def test_hundreds_of_bad_requests_are_all_4xx_and_the_server_survives(repo, services_settings):
    await seed(repo)
    chat = await Conversation.sign_in()
    await chat.say("I want to return some items")
    rng = random.Random(4)
    bodies = [body for body in _bodies(rng, chat.thread_id, chat.last_widget().id) if not _is_valid_and_known(body)]
    assert len(bodies) >= 300
    statuses: dict[int, int] = {}
    for body in bodies:
        response = await chat.client.post("/chatkit", data=body, content_type="application/json")
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert 400 <= response.status_code < 500, (body[:200], response.status_code)
        assert response["Content-Type"] == "application/json"
        assert response.json()["message"]
    assert set(statuses) <= {400, 404, 413}
    # Still healthy: the same customer carries on.
    await chat.say("I want to return Smart Home Hub from order ORD-79001")
    assert chat.widget_keys() == ["reasons"]


async def test_valid_requests_with_hostile_text_get_answers_not_errors(repo, services_settings):
    await seed(repo)
    chat = await Conversation.sign_in()
    for text in [
        "<script>alert(1)</script>",
        "'; DROP TABLE returns; --",
        "\u202eevil",
        "🙂" * 200,
        "a" * 4000,
        "ORD-99999",
    ]:
        events = await chat.say(text)
        assert not [e for e in events if e.type == "error"], text
        assert chat.done_items()


async def test_session_endpoint_fuzz(repo, services_settings):
    await seed(repo)
    chat = await Conversation.sign_in()
    for weird in [*WEIRD, b"{", b"[]"]:
        for body in (
            [weird]
            if isinstance(weird, bytes)
            else [json.dumps({"email": weird, "order_id": weird}), json.dumps(weird)]
        ):
            response = await chat.client.post("/chat/session", data=body, content_type="application/json")
            assert response.status_code in (400, 401, 429), (body, response.status_code)
