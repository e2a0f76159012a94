"""The returns tools as an MCP server for staff's own AI clients, met as such a client meets it: the `mcp` package's
client over streamable HTTP against a real Daphne (with Redis and the Cosmos emulator), a token made with
`manage.py mcp_token`. Proposals filed this way wait in the console's queue like the chat's; every call is audited;
no token, a wrong one or a revoked one gets 401."""

from __future__ import annotations

import asyncio
import json
import secrets
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing
from typing import Any

import aiohttp
import pytest
from asgiref.sync import sync_to_async
from chatkit.types import ThreadListParams, ThreadsListReq
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from yarl import URL

from returns_console.body_limit import limit_for
from returns_console.mcp_auth import BearerAuth, McpRouter
from returns_console.mcp_server import http_app
from tests.chat import protocol
from tests.live import LiveStack, live_stack, sign_in_customer
from tests.processes import manage

TOOLS = {
    "lookup_customer",
    "list_orders",
    "returnable_items",
    "check_eligibility",
    "refund_quote",
    "search_policy",
    "return_status",
    "propose_return",
}
SEED_RETURN = {
    "customer_id": "CUST-1001",
    "order_id": "ORD-79001",
    "items": [{"sku": "HUB-SMART-2", "quantity": 1}],
    "reason": "Damaged/Defective",
    "resolution": "Store Credit",
    "shipping": "Prepaid Shipping Label",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory, redis_url, cosmos_service) -> Iterator[LiveStack]:  # type: ignore[no-untyped-def]
    with live_stack(tmp_path_factory.mktemp("mcp"), redis_url, cosmos_service) as running:
        yield running


def _token(stack: LiveStack, username: str = "agent") -> str:
    """A new token, made as an admin would from the shell; it is all the command prints on stdout."""
    return manage(stack.env, "mcp_token", username, "--name", "test client").stdout.strip()


def _db(stack: LiveStack) -> sqlite3.Connection:
    """The live server's own database (tests/live.py gives it a SQLite file of its own)."""
    return sqlite3.connect(stack.env["DATABASE_URL"].removeprefix("sqlite:///"))


def _calls(stack: LiveStack, token: str) -> list[dict[str, Any]]:
    """The audit entries of the MCP calls made with ``token`` (found by its prefix: the token is never stored)."""
    prefix = token.split("_")[1]
    with closing(_db(stack)) as db:
        rows = db.execute(
            "SELECT e.actor_label, u.username, e.customer_id, e.proposal_id, e.after, e.note "
            "FROM customers_auditentry e LEFT JOIN auth_user u ON u.id = e.actor_id "
            "WHERE e.action = 'mcp_call' ORDER BY e.id"
        ).fetchall()
    entries = [
        {
            "actor": actor,
            "user": user,
            "customer_id": customer,
            "proposal_id": proposal,
            "after": json.loads(after),
            "note": note,
        }
        for actor, user, customer, proposal, after, note in rows
    ]
    found = [entry for entry in entries if entry["after"]["token_prefix"] == prefix]
    assert all(token not in json.dumps(entry) for entry in found)
    return found


def _filed_with(stack: LiveStack, token: str) -> list[tuple[int, str]]:
    """The proposals filed through MCP with ``token`` (their submission keys name its prefix)."""
    with closing(_db(stack)) as db:
        query = "SELECT id, state FROM customers_proposal WHERE submission_key LIKE ? ORDER BY id"
        return db.execute(query, [f"mcp-{token.split('_')[1]}-%"]).fetchall()


@asynccontextmanager
async def mcp_client(url: str, token: str, path: str = "/mcp/") -> AsyncIterator[ClientSession]:
    async with (
        create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}) as http,
        streamable_http_client(f"{url}{path}", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def _call(session: ClientSession, tool: str, arguments: dict[str, Any]) -> tuple[bool, Any]:
    """(is_error, structured result or the error's text)."""
    result = await session.call_tool(tool, arguments)
    if result.is_error:
        return True, " ".join(getattr(part, "text", "") for part in result.content)
    return False, result.structured_content


def _csrf(session: aiohttp.ClientSession, url: str) -> str:
    return session.cookie_jar.filter_cookies(URL(url))["csrftoken"].value


async def _staff(session: aiohttp.ClientSession, url: str, username: str, password: str) -> None:
    async with session.get(f"{url}/admin/login/") as page:
        assert page.status == 200
    form = {"username": username, "password": password, "csrfmiddlewaretoken": _csrf(session, url), "next": "/admin/"}
    async with session.post(f"{url}/admin/login/", data=form, allow_redirects=False) as signed:
        assert signed.status == 302, await signed.text()


async def test_staff_ai_client_lists_the_tools_reads_and_files_one_proposal_for_review(stack: LiveStack):
    token = _token(stack)
    async with mcp_client(stack.url, token) as mcp:
        tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
        assert set(tools) == TOOLS
        assert tools["list_orders"].annotations.read_only_hint is True
        assert tools["propose_return"].annotations.read_only_hint is False
        assert set(tools["propose_return"].input_schema["required"]) == {
            "customer_id",
            "order_id",
            "items",
            "reason",
            "resolution",
        }

        error, found = await _call(mcp, "lookup_customer", {"email": "RJohnson@company.com"})
        assert not error and found["customer"]["customer_id"] == "CUST-1001"
        assert found["customer"]["tier"] == "Platinum" and "ORD-79001" in [o["order_id"] for o in found["orders"]]
        error, by_order = await _call(mcp, "lookup_customer", {"order_id": "ord-79001"})
        assert not error and by_order["customer"] == found["customer"]

        error, items = await _call(mcp, "returnable_items", {"customer_id": "CUST-1001", "order_id": "ORD-79001"})
        assert not error and "HUB-SMART-2" in [item["sku"] for item in items["items"]]
        error, quote = await _call(mcp, "refund_quote", SEED_RETURN)
        assert not error and quote["store_credit_cents"] == 9899 and quote["restocking_fee_cents"] == 0

        error, first = await _call(mcp, "propose_return", SEED_RETURN)
        assert not error, first
        proposal = first["proposal"]
        assert proposal["state"] == "proposed" and proposal["total_cents"] == 9899 and not first["already_filed"]
        assert "Waiting for review" in first["next"]
        # The same call again (an AI client retrying) files nothing new.
        error, again = await _call(mcp, "propose_return", SEED_RETURN)
        assert not error and again["already_filed"] and again["proposal"]["id"] == proposal["id"]

        error, status = await _call(mcp, "return_status", {"customer_id": "CUST-1001"})
        assert not error and [w["request"] for w in status["waiting_for_review"]] == [proposal["id"]]

    # Staff see it in the console's queue, in a conversation of the customer's that the console lists.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as agent:
        await _staff(agent, stack.url, "supervisor", stack.env["DEMO_PASSWORD"])
        async with agent.get(f"{stack.url}/console/api/proposals?state=proposed") as listed:
            queued = [p for p in (await listed.json())["proposals"] if p["id"] == proposal["id"]]
        assert len(queued) == 1 and queued[0]["thread_id"] == proposal["thread_id"]
        async with agent.get(f"{stack.url}/console/api/conversations?filter=waiting") as listed:
            rows = {row["thread_id"]: row for row in (await listed.json())["conversations"]}
        row = rows[proposal["thread_id"]]
        assert row["customer"]["id"] == "CUST-1001" and row["proposals_waiting"] == 1
        async with agent.get(f"{stack.url}/console/api/conversations/{proposal['thread_id']}") as opened:
            assert opened.status == 200, await opened.text()

    # The customer finds that conversation in their chat, where the decision will be posted.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as customer:
        csrf = await sign_in_customer(customer, stack.url)
        request = ThreadsListReq(params=ThreadListParams(limit=20, order="desc"))
        headers = {"X-CSRFToken": csrf, "Content-Type": "application/json"}
        async with customer.post(f"{stack.url}/chatkit", data=protocol.body(request), headers=headers) as threads:
            listed = (await threads.json())["data"]
        assert {"id": proposal["thread_id"], "title": "Return request from our team"}.items() <= {
            "id": listed[0]["id"],
            "title": listed[0]["title"],
        }.items()

    # One audit entry per call, with the staff member, tool, customer and arguments; the proposal's is linked.
    calls = _calls(stack, token)
    assert [c["after"]["tool"] for c in calls] == [
        "lookup_customer",
        "lookup_customer",
        "returnable_items",
        "refund_quote",
        "propose_return",
        "propose_return",
        "return_status",
    ]
    assert {c["user"] for c in calls} == {"agent"} and {c["customer_id"] for c in calls} == {"CUST-1001"}
    assert all(c["after"]["outcome"] == "ok" for c in calls)
    assert calls[4]["after"]["arguments"] == SEED_RETURN and calls[4]["proposal_id"] == proposal["id"]
    assert _filed_with(stack, token) == [(proposal["id"], "proposed")]


async def test_a_proposal_joins_the_customers_latest_conversation_and_never_uses_assistant_mode(stack: LiveStack):
    token = _token(stack)
    async with (
        mcp_client(stack.url, token) as mcp,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as shopper,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as supervisor,
    ):
        error, found = await _call(mcp, "lookup_customer", {"order_id": "ORD-79003"})
        assert not error
        customer = found["customer"]
        error, items = await _call(mcp, "returnable_items", {"customer_id": customer["customer_id"]})
        assert not error
        cheap = sorted(items["items"], key=lambda item: item["unit_price_cents"])
        assert len(cheap) >= 2 and cheap[0]["unit_price_cents"] <= 10_000  # within the auto-approval ceiling

        # The customer chats first; a supervisor lets the assistant approve returns on its own there.
        csrf = await sign_in_customer(shopper, stack.url, customer["email"], cheap[0]["order_id"])
        headers = {"X-CSRFToken": csrf, "Content-Type": "application/json"}
        body = protocol.body(protocol.create("Hello, I need help with a return"))
        async with shopper.post(f"{stack.url}/chatkit", data=body, headers=headers) as answered:
            events = protocol.parse_sse(await answered.read())
        thread_id = next(event.thread.id for event in events if event.type == "thread.created")
        await _staff(supervisor, stack.url, "supervisor", stack.env["DEMO_PASSWORD"])
        staff_headers = {"X-CSRFToken": _csrf(supervisor, stack.url), "Content-Type": "application/json"}
        conversation = f"{stack.url}/console/api/conversations/{thread_id}"
        async with supervisor.post(f"{conversation}/mode", json={"mode": "assistant"}, headers=staff_headers) as set_:
            assert set_.status == 200, await set_.text()

        def request(line: dict[str, Any]) -> dict[str, Any]:
            return {
                "customer_id": customer["customer_id"],
                "order_id": line["order_id"],
                "items": [{"sku": line["sku"], "quantity": 1}],
                "reason": "Wrong Item Received",
                "resolution": "Full Refund",
                "shipping": "Customer Drop-off",
            }

        error, filed = await _call(mcp, "propose_return", request(cheap[0]))
        assert not error, filed
        # In that conversation, and waiting for a person: assistant mode is the conversation's assistant's, not ours.
        assert filed["proposal"]["thread_id"] == thread_id and filed["proposal"]["state"] == "proposed"

        # A resolved conversation is reopened by the next request filed in it, so it is back on the open list.
        async with supervisor.post(f"{conversation}/resolve", json={}, headers=staff_headers) as resolved:
            assert resolved.status == 200, await resolved.text()
        error, second = await _call(mcp, "propose_return", request(cheap[1]))
        assert not error, second
        assert second["proposal"]["thread_id"] == thread_id and second["proposal"]["id"] != filed["proposal"]["id"]
        async with supervisor.get(conversation) as opened:
            assert (await opened.json())["status"] == "reopened"
    assert [state for _, state in _filed_with(stack, token)] == ["proposed", "proposed"]


async def test_the_same_request_sent_twice_at_once_files_one_proposal(stack: LiveStack):
    token = _token(stack)
    async with mcp_client(stack.url, token) as first, mcp_client(stack.url, token) as second:
        error, items = await _call(first, "returnable_items", {"customer_id": "CUST-1001", "order_id": "ORD-79001"})
        assert not error
        line = next(item for item in items["items"] if item["sku"] != "HUB-SMART-2")
        arguments = {**SEED_RETURN, "items": [{"sku": line["sku"], "quantity": 1}], "reason": "Not As Described"}
        answers = await asyncio.gather(
            _call(first, "propose_return", arguments), _call(second, "propose_return", arguments)
        )
    assert [error for error, _ in answers] == [False, False], answers
    assert answers[0][1]["proposal"]["id"] == answers[1][1]["proposal"]["id"]
    assert sorted(answer["already_filed"] for _, answer in answers) == [False, True]
    assert len(_filed_with(stack, token)) == 1


async def test_bad_arguments_are_tool_errors_in_words_and_audited(stack: LiveStack):
    token = _token(stack)
    async with mcp_client(stack.url, token, path="/mcp") as mcp:  # the address without its slash works too
        refusals = {
            "bad customer id": ("list_orders", {"customer_id": "CUST 1001; DROP"}, "is not a customer id"),
            "unknown customer": ("return_status", {"customer_id": "CUST-0000"}, "No customer has the id CUST-0000"),
            "bad reason": ({**SEED_RETURN, "reason": "Bored of it"}, "reason must be one of"),
            "another's order": ({**SEED_RETURN, "order_id": "ORD-79003"}, "is not one of this customer's orders"),
            "too many": ({**SEED_RETURN, "items": [{"sku": "HUB-SMART-2", "quantity": 7}]}, None),
            "wrong type": ({**SEED_RETURN, "items": "two hubs"}, "items"),
            "unknown email": ("lookup_customer", {"email": "nobody@example.com"}, "No customer was found"),
        }
        for name, case in refusals.items():
            tool, arguments, expected = case if len(case) == 3 else ("propose_return", *case)
            error, message = await _call(mcp, tool, arguments)
            assert error, (name, message)
            assert isinstance(message, str) and message and "Traceback" not in message, (name, message)
            if expected:
                assert expected in message, (name, message)
        error, unknown = await _call(mcp, "approve_return", {"proposal_id": 1})
        assert error and "approve_return" in unknown

    calls = _calls(stack, token)
    assert len(calls) == len(refusals) + 1
    assert all(c["after"]["outcome"] == "refused" and c["after"]["message"] for c in calls)
    assert calls[0]["after"]["arguments"] == {"customer_id": "CUST 1001; DROP"} and calls[0]["customer_id"] == ""
    assert calls[-1]["after"]["tool"] == "approve_return"
    assert _filed_with(stack, token) == []


async def test_no_token_a_wrong_token_or_a_revoked_token_gets_401(stack: LiveStack):
    token = _token(stack, "supervisor")
    prefix = token.split("_")[1]
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}

    async def post(path: str = "/mcp/", authorization: str | None = None) -> tuple[int, dict[str, Any], str]:
        sent = {**headers, **({"Authorization": authorization} if authorization else {})}
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{stack.url}{path}", json=initialize, headers=sent) as response,
        ):
            return response.status, await response.json(content_type=None), response.headers.get("WWW-Authenticate", "")

    assert (await post(authorization=f"Bearer {token}"))[0] == 200
    for path in ("/mcp/", "/mcp"):
        status, body, challenge = await post(path)
        assert status == 401 and body["error"] == "unauthorized" and "mcp_token" in body["message"]
        assert challenge.startswith("Bearer")
    for wrong in (f"Bearer rcmcp_{prefix}_{'x' * 32}", "Bearer nonsense", f"Basic {token}", token):
        status, body, challenge = await post(authorization=wrong)
        assert status == 401 and body["error"] == "unauthorized", wrong

    manage(stack.env, "mcp_token", "supervisor", "--revoke", prefix)
    status, body, challenge = await post(authorization=f"Bearer {token}")
    assert status == 401 and "revoked" in body["message"] and 'error="invalid_token"' in challenge
    with pytest.raises(Exception):  # noqa: B017 - the client gives up, however it words it
        async with mcp_client(stack.url, token):
            pass
    assert _calls(stack, token) == []  # refused before any tool could run


# --- the front door, in process ----------------------------------------------------------------------
async def _asgi(
    app: Any, path: str, headers: dict[str, str], scheme: str = "http", client: tuple[str, int] = ("127.0.0.1", 1)
) -> tuple[int, dict[str, Any], dict]:
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "scheme": scheme,
        "client": client,
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(message for message in sent if message["type"] == "http.response.start")
    body = b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")
    response_headers = {name.decode(): value.decode() for name, value in start["headers"]}
    return start["status"], json.loads(body) if body else {}, response_headers


async def _reached(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 299, "headers": []})
    await send({"type": "http.response.body", "body": json.dumps({"path": scope["path"]}).encode()})


async def test_only_mcp_paths_go_to_the_mcp_server():
    async def django(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 298, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    router = McpRouter(django, _reached)
    for path, status in {"/mcp": 299, "/mcp/": 299, "/mcp/x": 299, "/mcpx": 298, "/console/": 298}.items():
        assert (await _asgi(router, path, {"host": "localhost"}))[0] == status, path
    assert (await _asgi(http_app, "/mcp/other", {"host": "localhost"}))[:2] == (
        404,
        {"error": "not_found", "message": "The MCP endpoint is /mcp/."},
    )
    limits = django_settings.REQUEST_BODY_LIMITS
    assert limit_for("/mcp", limits, 1) == limit_for("/mcp/", limits, 1) == 64 * 1024


async def test_other_hosts_other_sites_pages_and_plain_http_under_https_only_are_refused(settings):  # type: ignore[no-untyped-def]
    settings.ALLOWED_HOSTS = ["returns.example.com"]
    auth = BearerAuth(_reached)
    status, body, _ = await _asgi(auth, "/mcp/", {"host": "evil.example.net"})
    assert status == 400 and body["error"] == "bad_host"
    page = {"host": "returns.example.com", "origin": "https://evil.example.net"}
    status, body, _ = await _asgi(auth, "/mcp/", page, scheme="https")
    assert status == 403 and body["error"] == "forbidden_origin"
    # No token: 401 once the request is for us, from our own pages or from no page at all (a desktop client).
    for headers in (
        {"host": "returns.example.com"},
        {"host": "returns.example.com", "origin": "https://returns.example.com"},
    ):
        status, body, sent = await _asgi(auth, "/mcp/", headers, scheme="https")
        assert status == 401 and sent["www-authenticate"] == 'Bearer realm="returns-console"' and body["message"]

    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    status, body, _ = await _asgi(auth, "/mcp/", {"host": "returns.example.com", "authorization": "Bearer x"})
    assert status == 403 and body["error"] == "https_required" and "https://returns.example.com/mcp/" in body["message"]
    behind_proxy = {"host": "returns.example.com", "x-forwarded-proto": "https"}
    assert (await _asgi(auth, "/mcp/", behind_proxy))[0] == 401


@pytest.mark.django_db(transaction=True)
async def test_token_guesses_and_a_runaway_client_are_slowed_with_429(settings, redis_url):  # type: ignore[no-untyped-def]
    """Wrong tokens count per client address, a working token's requests per minute; beyond either, 429 with
    Retry-After, in Redis so every server process shares the count."""
    from customers.services import mcp_tokens

    settings.REDIS_URL = redis_url
    settings.MCP_FAILED_TOKENS_PER_ADDRESS, settings.MCP_CALLS_PER_MINUTE = 3, 2
    agent = await sync_to_async(get_user_model().objects.create_user)("limited", password="x", is_staff=True)
    plain, _ = await sync_to_async(mcp_tokens.create_token)(agent)
    auth = BearerAuth(_reached)
    guesser = f"198.51.100.{secrets.randbelow(250) + 1}"

    async def post(token: str, address: str) -> tuple[int, dict[str, Any], dict]:
        headers = {"host": "localhost", "authorization": f"Bearer {token}"}
        return await _asgi(auth, "/mcp/", headers, client=(address, 40000))

    for _ in range(3):
        assert (await post("rcmcp_0000_wrong", guesser))[0] == 401
    status, body, headers = await post("rcmcp_0000_wrong", guesser)
    assert status == 429 and body["error"] == "too_many_failures" and int(headers["retry-after"]) > 0
    assert (await post(plain, guesser))[0] == 429  # even the right token, until the window ends

    honest = f"203.0.113.{secrets.randbelow(250) + 1}"
    assert [(await post(plain, honest))[0] for _ in range(2)] == [299, 299]  # reached the MCP server
    status, body, headers = await post(plain, honest)
    assert status == 429 and body["error"] == "rate_limited" and "2 requests a minute" in body["message"]
    assert 0 < int(headers["retry-after"]) <= 60
