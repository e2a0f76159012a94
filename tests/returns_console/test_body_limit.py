"""Request bodies are bounded however they arrive: with a Content-Length, or chunked with none.

A chunked 1.1 MB message to /chatkit used to pass the view's Content-Length check, break every dashboard's socket
and stay in the feed log for a week. The bound is now applied to the bytes as they arrive, before Django reads
them, on a real Daphne server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from returns_console.body_limit import BodyLimit, limit_for
from tests.chat import protocol
from tests.live import LiveStack, live_stack, sign_in_customer

LIMITS = {"/chatkit": 64 * 1024, "/console/api/": 16 * 1024}


def test_the_longest_matching_prefix_sets_the_limit():
    assert limit_for("/chatkit", LIMITS, 1000) == 64 * 1024
    assert limit_for("/console/api/proposals/1/approve", LIMITS, 1000) == 16 * 1024
    assert limit_for("/admin/login/", LIMITS, 1000) == 1000


async def _call(app: BodyLimit, path: str, chunks: list[bytes], headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1} for i, chunk in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "path": path, "headers": headers}
    await app(scope, receive, send)
    return {"sent": sent, "unread": len(messages)}


async def test_a_chunked_body_over_the_limit_is_refused_before_the_application_sees_it():
    reached: list[bytes] = []

    async def application(scope: Any, receive: Any, send: Any) -> None:
        reached.append((await receive())["body"])

    app = BodyLimit(application, LIMITS, 1000)
    outcome = await _call(app, "/chatkit", [b"x" * 40_000] * 30, [])
    assert reached == []
    start, body = outcome["sent"]
    assert start["status"] == 413
    assert json.loads(body["body"])["error"] == "too_large"
    assert outcome["unread"] > 0  # it stopped reading at the limit instead of taking all 1.2 MB in


async def test_a_declared_length_over_the_limit_is_refused_without_reading():
    async def application(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("must not be called")

    app = BodyLimit(application, LIMITS, 1000)
    outcome = await _call(app, "/admin/login/", [b"x" * 10], [(b"content-length", b"5000")])
    assert outcome["sent"][0]["status"] == 413 and outcome["unread"] == 1


async def test_a_body_within_the_limit_reaches_the_application_whole_and_later_messages_pass_through():
    received: list[dict[str, Any]] = []

    async def application(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            received.append(message)
            if message["type"] == "http.disconnect":
                return

    app = BodyLimit(application, LIMITS, 1000)
    await _call(app, "/chatkit", [b"a" * 100, b"b" * 100], [])
    assert b"".join(m.get("body", b"") for m in received) == b"a" * 100 + b"b" * 100
    assert received[-1]["type"] == "http.disconnect"  # the disconnect still reaches a streaming response


@pytest.fixture(scope="module")
def stack(tmp_path_factory, redis_url, cosmos_service) -> Iterator[LiveStack]:  # type: ignore[no-untyped-def]
    with live_stack(tmp_path_factory.mktemp("limits"), redis_url, cosmos_service) as running:
        yield running


async def _chunks(data: bytes, size: int = 32 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]
        await asyncio.sleep(0)


async def test_daphne_refuses_a_chunked_message_of_a_megabyte_and_the_customer_carries_on(stack: LiveStack):
    huge = protocol.body(protocol.create("x" * 1_100_000)).encode()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        token = await sign_in_customer(session, stack.url)
        headers = {"X-CSRFToken": token, "Content-Type": "application/json"}
        async with session.post(f"{stack.url}/chatkit", data=_chunks(huge), headers=headers) as refused:
            assert refused.request_info.headers.get("Transfer-Encoding") == "chunked"
            assert refused.status == 413
            assert (await refused.json())["error"] == "too_large"
        async with session.post(f"{stack.url}/chatkit", data=huge, headers=headers) as declared:
            assert declared.status == 413
        # The same customer carries on: a normal message is answered.
        ok = protocol.body(protocol.create("I want to return some items"))
        async with session.post(f"{stack.url}/chatkit", data=ok, headers=headers) as answered:
            assert answered.status == 200
            assert b"thread.created" in await answered.read()


async def test_daphne_refuses_a_chunked_admin_post_over_the_default_limit(stack: LiveStack):
    big = _chunks(b"a" * (1024 * 1024 + 10))
    async with aiohttp.ClientSession() as session, session.post(f"{stack.url}/admin/login/", data=big) as refused:
        assert refused.status == 413
