"""Customers sign in the returns-portal way: email + order number, with CSRF, neutral errors and a rate limit."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from django.test import AsyncClient

from tests.customers.seeded import seed

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def seeded(repo, services_settings):  # type: ignore[no-untyped-def]
    await seed(repo)
    return repo


def _post(client: AsyncClient, body: object, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post("/chat/session", data=data, content_type="application/json", headers=headers)


def _address() -> str:
    """A fresh client address per test, so rate-limit buckets never leak between tests."""
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


async def test_right_pair_signs_in(seeded):
    client = AsyncClient(REMOTE_ADDR=_address())
    response = await _post(client, {"email": "RJohnson@company.com ", "order_id": "ord-79001"})
    assert response.status_code == 200
    assert response.json() == {"customer_id": "CUST-1001", "order_id": "ORD-79001"}


@pytest.mark.parametrize(
    "body",
    [
        {"email": "rjohnson@company.com", "order_id": "ORD-79003"},  # someone else's order
        {"email": "nobody@example.com", "order_id": "ORD-79001"},  # unknown email
        {"email": "rjohnson@company.com", "order_id": "ORD-00000"},  # unknown order
        {"email": "rjohnson@company.com", "order_id": "79001; DROP TABLE"},
    ],
)
async def test_wrong_pairs_get_one_neutral_401(seeded, body):
    response = await _post(AsyncClient(REMOTE_ADDR=_address()), body)
    assert response.status_code == 401
    assert response.json() == {
        "error": "not_recognised",
        "message": "We couldn't find an order with that email and order number.",
    }


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("not json", "invalid_json"),
        ("[1, 2]", "invalid_request"),
        ({"email": "rjohnson@company.com"}, "invalid_request"),
        ({"email": 5, "order_id": ["ORD-79001"]}, "invalid_request"),
        ({"email": "", "order_id": ""}, "invalid_request"),
    ],
)
async def test_malformed_bodies_are_400_with_a_reason(seeded, body, code):
    response = await _post(AsyncClient(REMOTE_ADDR=_address()), body)
    assert response.status_code == 400
    assert response.json()["error"] == code and response.json()["message"]


async def test_csrf_is_enforced(seeded):
    client = AsyncClient(enforce_csrf_checks=True, REMOTE_ADDR=_address())
    refused = await _post(client, {"email": "rjohnson@company.com", "order_id": "ORD-79001"})
    assert refused.status_code == 403
    page = await client.get("/chat/")
    token = page.cookies["csrftoken"].value
    accepted = await _post(
        client, {"email": "rjohnson@company.com", "order_id": "ORD-79001"}, headers={"X-CSRFToken": token}
    )
    assert accepted.status_code == 200


async def test_attempts_are_rate_limited(seeded):
    client = AsyncClient(REMOTE_ADDR=_address())
    statuses = [
        (await _post(client, {"email": "x@example.com", "order_id": f"ORD-{n:05d}"})).status_code for n in range(12)
    ]
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429, 429]
    # The limit is per address and per email: the right pair from this address is refused too, for now.
    assert (await _post(client, {"email": "rjohnson@company.com", "order_id": "ORD-79001"})).status_code == 429


async def test_get_is_not_allowed(seeded):
    assert (await AsyncClient().get("/chat/session")).status_code == 405


async def test_without_the_rate_limiter_sign_in_is_refused_politely(seeded, services_settings):
    services_settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = await _post(
        AsyncClient(REMOTE_ADDR=_address()), {"email": "rjohnson@company.com", "order_id": "ORD-79001"}
    )
    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"


async def test_parallel_wrong_guesses_never_get_more_tries_than_the_limit(seeded):
    """The check and the count are one step in Redis: 40 guesses at once get exactly 10 evaluated."""
    client = AsyncClient(REMOTE_ADDR=_address())
    guesses = [_post(client, {"email": "x@example.com", "order_id": f"ORD-{n:05d}"}) for n in range(40)]
    statuses = [response.status_code for response in await asyncio.gather(*guesses)]
    assert statuses.count(401) == 10 and statuses.count(429) == 30
    assert (await _post(client, {"email": "x@example.com", "order_id": "ORD-00001"})).status_code == 429


async def test_successes_give_their_try_back(seeded):
    client = AsyncClient(REMOTE_ADDR=_address())
    right = {"email": "rjohnson@company.com", "order_id": "ORD-79001"}
    assert [(await _post(client, right)).status_code for _ in range(12)] == [200] * 12
    wrong = [(await _post(client, {**right, "order_id": "ORD-00000"})).status_code for _ in range(11)]
    assert wrong == [401] * 10 + [429]


async def test_behind_a_proxy_each_client_is_limited_on_its_own(seeded, services_settings):
    """Every request arrives from the proxy; the limit follows the address the proxy saw, whatever the client
    prepends to X-Forwarded-For."""
    services_settings.TRUSTED_PROXY_COUNT = 1
    proxy = AsyncClient()  # every request from one peer address, as from a proxy
    guesser, neighbour = _address(), _address()
    statuses = [
        (
            await _post(
                proxy,
                {"email": f"guess-{n}@example.com", "order_id": "ORD-00000"},  # a new email each time: only the address
                headers={"X-Forwarded-For": f"192.0.2.{n}, {guesser}"},  # a fresh spoofed entry each time
            )
        ).status_code
        for n in range(12)
    ]
    assert statuses == [401] * 10 + [429, 429]
    right = {"email": "rjohnson@company.com", "order_id": "ORD-79001"}
    assert (await _post(proxy, right, headers={"X-Forwarded-For": neighbour})).status_code == 200
