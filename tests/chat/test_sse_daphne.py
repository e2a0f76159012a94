"""SSE framing and streaming read from a real Daphne server: events arrive as produced, not all at the end."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import aiohttp
import pytest
from yarl import URL

from tests.chat import protocol
from tests.live import LiveStack, live_stack, sign_in_customer


@pytest.fixture(scope="module")
def stack(tmp_path_factory, redis_url, cosmos_service) -> Iterator[LiveStack]:  # type: ignore[no-untyped-def]
    with live_stack(tmp_path_factory.mktemp("sse"), redis_url, cosmos_service) as running:
        yield running


async def test_sse_events_stream_from_daphne(stack: LiveStack):
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        token = await sign_in_customer(session, stack.url)
        body = protocol.body(protocol.create("I want to return some items"))
        started = time.perf_counter()
        arrivals: list[float] = []
        raw = b""
        async with session.post(
            f"{stack.url}/chatkit", data=body, headers={"X-CSRFToken": token, "Content-Type": "application/json"}
        ) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/event-stream")
            assert response.headers["Cache-Control"] == "no-cache"
            async for chunk in response.content.iter_any():
                arrivals.append(time.perf_counter() - started)
                raw += chunk
        events = protocol.parse_sse(raw)
        types = [event.type for event in events]
        # The customer hears from us before the conversation is even created, then the thread arrives.
        assert types[:2] == ["progress_update", "thread.created"] and "thread.item.done" in types
        assert raw.endswith(b"\n\n") and all(block.startswith(b"data: ") for block in raw.strip().split(b"\n\n"))
        # Streamed, not buffered: the first bytes came in a separate read, before the last ones.
        assert len(arrivals) > 1 and arrivals[0] < arrivals[-1]


async def test_csrf_and_sign_in_are_required_on_the_real_server(stack: LiveStack):
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.post(f"{stack.url}/chatkit", data=protocol.body(protocol.create("hi"))) as response:
            assert response.status == 403  # no CSRF token
        async with session.get(f"{stack.url}/chat/") as page:
            assert page.status == 200
        token = session.cookie_jar.filter_cookies(URL(stack.url))["csrftoken"].value
        async with session.post(
            f"{stack.url}/chatkit", data=protocol.body(protocol.create("hi")), headers={"X-CSRFToken": token}
        ) as response:
            assert response.status == 401 and (await response.json())["error"] == "not_signed_in"


async def test_concurrent_customers_on_one_server(stack: LiveStack):
    async def one() -> int:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            token = await sign_in_customer(session, stack.url)
            async with session.post(
                f"{stack.url}/chatkit",
                data=protocol.body(protocol.create("I want to return Smart Home Hub from order ORD-79001")),
                headers={"X-CSRFToken": token, "Content-Type": "application/json"},
            ) as response:
                events = protocol.parse_sse(await response.read())
                return sum(event.type == "thread.item.done" for event in events)

    done_counts = await asyncio.gather(*(one() for _ in range(10)))
    assert all(count >= 3 for count in done_counts)
