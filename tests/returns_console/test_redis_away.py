"""Redis away: signed-in customers and staff keep working from the database (sessions, pages, the chat, the
console's lists and conversations), and nothing answers with a 500."""

from __future__ import annotations

from collections.abc import Iterator

import aiohttp
import pytest
from yarl import URL

from returns_console import devstack
from tests.chat import protocol
from tests.live import LiveStack, live_stack


@pytest.fixture
def stack_and_redis(tmp_path, cosmos_service) -> Iterator[tuple[LiveStack, devstack.Service]]:  # type: ignore[no-untyped-def]
    redis = devstack.start_redis(tmp_path / "redis")  # its own: this test stops it
    try:
        with live_stack(tmp_path, redis.url, cosmos_service) as stack:
            yield stack, redis
    finally:
        redis.stop()


def _token(session: aiohttp.ClientSession, url: str) -> str:
    return session.cookie_jar.filter_cookies(URL(url))["csrftoken"].value


async def test_with_redis_stopped_signed_in_people_keep_working(stack_and_redis):
    stack, redis = stack_and_redis
    url = stack.url
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as customer,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as agent,
    ):
        await (await customer.get(f"{url}/chat/")).read()
        headers = {"X-CSRFToken": _token(customer, url), "Content-Type": "application/json"}
        signed = await customer.post(
            f"{url}/chat/session", json={"email": "rjohnson@company.com", "order_id": "ORD-79001"}, headers=headers
        )
        assert signed.status == 200
        first = await customer.post(
            f"{url}/chatkit", data=protocol.body(protocol.create("I want to return some items")), headers=headers
        )
        thread = next(e for e in protocol.parse_sse(await first.read()) if e.type == "thread.created").thread.id
        await (await agent.get(f"{url}/admin/login/")).read()
        login = await agent.post(
            f"{url}/admin/login/?next=/console/",
            data={
                "username": "agent",
                "password": stack.env["DEMO_PASSWORD"],
                "csrfmiddlewaretoken": _token(agent, url),
            },
        )
        assert login.status == 200 and str(login.url).endswith("/console/")

        redis.stop()

        turn = await customer.post(
            f"{url}/chatkit", data=protocol.body(protocol.add_message(thread, "the smart home hub")), headers=headers
        )
        assert turn.status == 200
        assert any(e.type == "thread.item.done" for e in protocol.parse_sse(await turn.read()))
        reread = await customer.post(f"{url}/chatkit", data=protocol.body(protocol.get_thread(thread)), headers=headers)
        assert reread.status == 200
        for path in (
            "/console/",
            "/console/api/conversations",
            f"/console/api/conversations/{thread}",
            "/console/api/proposals",
            "/admin/",
        ):
            async with agent.get(f"{url}{path}") as answer:
                assert answer.status == 200, (path, answer.status, (await answer.read())[:200])
        async with agent.get(f"{url}/healthz") as health:
            assert health.status == 503 and (await health.json())["checks"]["redis"]["status"] == "down"
