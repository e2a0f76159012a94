"""End to end on real parts (Daphne, a Celery worker, Redis, the Cosmos emulator): the seed scenario in the chat
files a proposal, an agent approves it over HTTP, the worker commits it, the console reads the stored return,
and the customer's open page is told live with the return id, tracking number and amount."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import aiohttp
import pytest
from yarl import URL

from returns_console.devstack import stop_process
from tests.chat import protocol
from tests.live import LiveStack, live_stack
from tests.processes import start_worker

SEED_TURNS = [
    "I want to return some items",
    "I want to return Smart Home Hub from order ORD-79001",
    "it was completely damaged",
    "I would like a STORE_CREDIT",
    "prepaid label",
    "confirm",
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory, redis_url, cosmos_service) -> Iterator[LiveStack]:  # type: ignore[no-untyped-def]
    with live_stack(tmp_path_factory.mktemp("approval"), redis_url, cosmos_service, worker=True) as running:
        yield running


def _csrf(session: aiohttp.ClientSession, url: str) -> str:
    return session.cookie_jar.filter_cookies(URL(url))["csrftoken"].value


async def _customer_session(session: aiohttp.ClientSession, url: str) -> dict[str, str]:
    async with session.get(f"{url}/chat/") as page:
        assert page.status == 200
    headers = {"X-CSRFToken": _csrf(session, url), "Content-Type": "application/json"}
    body = {"email": "rjohnson@company.com", "order_id": "ORD-79001"}
    async with session.post(f"{url}/chat/session", data=json.dumps(body), headers=headers) as signed:
        assert signed.status == 200
    return {"X-CSRFToken": _csrf(session, url), "Content-Type": "application/json"}


async def _chat(session: aiohttp.ClientSession, url: str, headers: dict[str, str], request: object) -> list:
    async with session.post(f"{url}/chatkit", data=protocol.body(request), headers=headers) as response:
        assert response.status == 200, await response.text()
        return protocol.parse_sse(await response.read())


async def _staff_session(session: aiohttp.ClientSession, url: str, username: str, password: str) -> dict[str, str]:
    async with session.get(f"{url}/admin/login/") as page:
        assert page.status == 200
    form = {"username": username, "password": password, "csrfmiddlewaretoken": _csrf(session, url), "next": "/admin/"}
    async with session.post(f"{url}/admin/login/", data=form, allow_redirects=False) as signed:
        assert signed.status == 302, await signed.text()
    return {"X-CSRFToken": _csrf(session, url), "Content-Type": "application/json"}


async def test_seed_scenario_approved_committed_and_shown_to_the_customer(stack: LiveStack):
    url = stack.url
    ws_url = url.replace("http://", "ws://") + "/ws/chat/"
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as customer,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as agent,
    ):
        chat_headers = await _customer_session(customer, url)
        events = await _chat(customer, url, chat_headers, protocol.create(SEED_TURNS[0]))
        thread_id = next(event.thread.id for event in events if event.type == "thread.created")
        for text in SEED_TURNS[1:]:
            await _chat(customer, url, chat_headers, protocol.add_message(thread_id, text))
        live = await customer.ws_connect(ws_url, headers={"Origin": url})

        staff_headers = await _staff_session(agent, url, "agent", stack.env["DEMO_PASSWORD"])
        async with agent.get(f"{url}/console/api/proposals?state=proposed") as listed:
            proposals = (await listed.json())["proposals"]
        [proposal] = [p for p in proposals if p["thread_id"] == thread_id]
        assert proposal["amounts"]["store_credit"] == "98.99" and proposal["amounts"]["restocking_fee"] == "0.00"

        approve = f"{url}/console/api/proposals/{proposal['id']}/approve"
        async with agent.post(approve, data=json.dumps({"version": proposal["version"]}), headers=staff_headers) as ok:
            assert ok.status == 200, await ok.text()
            # The worker may already have picked it up by the time the answer is written.
            assert (await ok.json())["state"] in ("approved", "committing", "committed")

        deadline = time.monotonic() + 60
        while True:
            async with agent.get(f"{url}/console/api/proposals/{proposal['id']}") as current:
                state = await current.json()
            if state["state"] in ("committed", "failed") or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert state["state"] == "committed", state
        return_id = state["return_id"]

        async with agent.get(f"{url}/console/api/returns/{return_id}") as stored:
            assert stored.status == 200
            document = await stored.json()
        assert document["return_id"] == return_id and document["customer_id"] == "CUST-1001"
        assert document["store_credit_cents"] == 9899 and document["approval_id"] == f"proposal-{proposal['id']}"
        assert [(line["sku"], line["quantity"]) for line in document["lines"]] == [("HUB-SMART-2", 1)]

        # The customer's open page hears it: approved first, then the return, approved and ready, with its details;
        # then a rating card, since that is the end of the conversation.
        cards: list[str] = []
        while not any(return_id in card for card in cards):
            message = await asyncio.wait_for(live.receive_json(), timeout=30)
            if message["type"] == "thread.item" and message["item"]["type"] == "widget":
                assert message["thread_id"] == thread_id
                cards.append(json.dumps(message["item"]["widget"]))
        confirmed = cards[-1]
        assert return_id in confirmed and "98.99" in confirmed and document["tracking_number"] in confirmed
        assert "Approved" in confirmed and f"/chat/returns/{return_id}/label" in confirmed
        rating = await asyncio.wait_for(live.receive_json(), timeout=30)
        assert "How did we do?" in json.dumps(rating["item"]["widget"])
        await live.close()

        # And it is in the conversation for good: a reload shows the same card.
        items = await customer.post(
            f"{url}/chatkit", data=protocol.body(protocol.list_items(thread_id)), headers=chat_headers
        )
        stored_items = json.dumps(await items.json())
        assert return_id in stored_items and "How did we do?" in stored_items


async def test_a_second_agent_approving_the_same_proposal_gets_409_over_http(stack: LiveStack):
    url = stack.url
    thread_id = await _file_by_chat(url, SEED_TURNS)
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as agent,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as supervisor,
    ):
        agent_headers = await _staff_session(agent, url, "agent", stack.env["DEMO_PASSWORD"])
        supervisor_headers = await _staff_session(supervisor, url, "supervisor", stack.env["DEMO_PASSWORD"])
        async with agent.get(f"{url}/console/api/proposals?state=proposed") as listed:
            [proposal] = [p for p in (await listed.json())["proposals"] if p["thread_id"] == thread_id]
        approve = f"{url}/console/api/proposals/{proposal['id']}/approve"
        body = json.dumps({"version": proposal["version"]})

        async def post(session: aiohttp.ClientSession, headers: dict[str, str]) -> int:
            async with session.post(approve, data=body, headers=headers) as response:
                return response.status

        assert sorted(await asyncio.gather(post(agent, agent_headers), post(supervisor, supervisor_headers))) == [
            200,
            409,
        ]


async def _file_by_chat(url: str, turns: list[str]) -> str:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as customer:
        headers = await _customer_session(customer, url)
        events = await _chat(customer, url, headers, protocol.create(turns[0]))
        thread_id = next(event.thread.id for event in events if event.type == "thread.created")
        for text in turns[1:]:
            await _chat(customer, url, headers, protocol.add_message(thread_id, text))
        return thread_id


async def _wait_for_state(session: aiohttp.ClientSession, url: str, proposal_id: int, states: set[str]) -> dict:
    deadline = time.monotonic() + 60
    while True:
        async with session.get(f"{url}/console/api/proposals/{proposal_id}") as current:
            body = await current.json()
        if body["state"] in states or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.2)


async def _status_cards(session: aiohttp.ClientSession, url: str, thread_id: str, until: str) -> list[str]:
    """The conversation's widget cards (as JSON text) once one shows the state ``until`` (or after 30 s)."""
    deadline = time.monotonic() + 30
    while True:
        async with session.get(f"{url}/console/api/conversations/{thread_id}") as answer:
            cards = [json.dumps(i["widget"]) for i in (await answer.json())["items"] if i["type"] == "widget"]
        if any(f'"{until}"' in card for card in cards) or time.monotonic() > deadline:
            return cards
        await asyncio.sleep(0.3)


@pytest.fixture
def idle_stack(tmp_path, redis_url, cosmos_service) -> Iterator[LiveStack]:  # type: ignore[no-untyped-def]
    """A stack whose worker starts only when the test says (``start_worker``): approvals wait in the queue."""
    with live_stack(tmp_path, redis_url, cosmos_service) as running:
        yield running


async def test_a_commit_that_cannot_land_goes_to_the_supervisors_queue(idle_stack: LiveStack, request):
    """Two requests for the last unit, both approved: one commits, the other fails for good and waits for a
    supervisor. Retrying cannot help a unit that is gone, so it is refused with the reason; the supervisor
    closes it with a message, and the customer hears of it once (one notice of the failure, one of the close)."""
    stack = idle_stack
    url = stack.url
    turns = [
        "I want to return USB-C Cable 6ft from order ORD-79001",
        "it was completely damaged",
        "I would like a STORE_CREDIT",
        "prepaid label",
        "confirm",
    ]
    threads = [await _file_by_chat(url, turns), await _file_by_chat(url, turns)]
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as agent,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as supervisor,
    ):
        agent_headers = await _staff_session(agent, url, "agent", stack.env["DEMO_PASSWORD"])
        supervisor_headers = await _staff_session(supervisor, url, "supervisor", stack.env["DEMO_PASSWORD"])
        async with agent.get(f"{url}/console/api/proposals?state=proposed") as listed:
            proposals = [p for p in (await listed.json())["proposals"] if p["thread_id"] in threads]
        assert len(proposals) == 2 and {p["lines"][0]["sku"] for p in proposals} == {"CBL-USBC-6FT-3PK"}
        # Both are approved while the unit is still there (the worker is not running yet, so nothing has
        # committed); once the first commits, the second cannot land.
        for proposal in proposals:
            approve = f"{url}/console/api/proposals/{proposal['id']}/approve"
            async with agent.post(approve, data=json.dumps({"version": 1}), headers=agent_headers) as ok:
                assert ok.status == 200
        worker = start_worker(stack.env, stack.env["CELERY_QUEUE"], stack.logs / "worker.log")
        request.addfinalizer(lambda: stop_process(worker))
        outcomes = [await _wait_for_state(agent, url, p["id"], {"committed", "failed"}) for p in proposals]
        assert sorted(o["state"] for o in outcomes) == ["committed", "failed"]
        failed = next(o for o in outcomes if o["state"] == "failed")
        assert failed["failure"]["code"] == "not_returnable" and failed["return_id"] is None

        async with supervisor.get(f"{url}/console/api/proposals?state=failed") as queue:
            assert failed["id"] in [p["id"] for p in (await queue.json())["proposals"]]
        async with supervisor.get(f"{url}/console/api/conversations?filter=failed") as rows:
            assert failed["thread_id"] in [r["thread_id"] for r in (await rows.json())["conversations"]]

        # The customer hears of the failure (a notice posted by the worker) before anyone acts on it; a notice still
        # queued when the supervisor closes it is superseded by the close, never shown after it.
        await _status_cards(supervisor, url, failed["thread_id"], until="Delayed")
        retry = f"{url}/console/api/proposals/{failed['id']}/retry"
        async with agent.post(retry, data="{}", headers=agent_headers) as refused:
            assert refused.status == 403 and (await refused.json())["error"] == "supervisors_only"
        async with supervisor.post(retry, data="{}", headers=supervisor_headers) as hopeless:
            assert hopeless.status == 409 and "Retrying cannot help" in (await hopeless.json())["message"]

        close = f"{url}/console/api/proposals/{failed['id']}/close"
        message = json.dumps({"version": failed["version"], "message": "The last cable was returned already."})
        async with agent.post(close, data=message, headers=agent_headers) as refused:
            assert refused.status == 403
        async with supervisor.post(close, data=message, headers=supervisor_headers) as closed:
            assert closed.status == 200 and (await closed.json())["state"] == "closed"
        async with supervisor.post(close, data=message, headers=supervisor_headers) as twice:
            assert twice.status == 409

        cards = await _status_cards(supervisor, url, failed["thread_id"], until="Closed")
        told = [state for card in cards for state in ("Delayed", "Closed") if f'"{state}"' in card]
        assert told == ["Delayed", "Closed"]
