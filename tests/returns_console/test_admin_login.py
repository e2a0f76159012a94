"""Staff sign in at /admin/login/ (the console sends them there too): repeated failures lock the username and the
client address for a window, even against the right password, and passwords must pass Django's validators."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import AsyncClient

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct-horse-battery"
LOCKED = "Too many failed sign-ins"


@pytest.fixture(autouse=True)
def _limits_on_test_redis(settings, redis_url: str) -> None:
    settings.REDIS_URL = redis_url
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # the throttle is under test
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter("returns:ratelimit:staff-login:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
async def staff() -> str:
    username = f"agent-{uuid.uuid4().hex[:8]}"
    await sync_to_async(get_user_model().objects.create_user)(username, password=PASSWORD, is_staff=True)
    return username


class _ClientAt(AsyncClient):
    """A test client at an address of its own: ASGI requests take REMOTE_ADDR from the scope's ``client``, which
    ``AsyncClient(REMOTE_ADDR=...)`` does not set."""

    def __init__(self, address: str) -> None:
        super().__init__()
        self.address = address

    def _base_scope(self, **request):  # type: ignore[no-untyped-def]
        return {**super()._base_scope(**request), "client": [self.address, 0]}


def _client() -> AsyncClient:
    return _ClientAt(f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}")


async def _sign_in(client: AsyncClient, username: str, password: str, next_url: str = "/admin/"):  # type: ignore[no-untyped-def]
    return await client.post(f"/admin/login/?next={next_url}", {"username": username, "password": password})


async def _signed_in(client: AsyncClient) -> bool:
    return (await client.get("/admin/")).status_code == 200


async def test_the_right_password_signs_in_and_successes_never_lock(staff):
    client = _client()
    for _ in range(8):
        response = await _sign_in(client, staff, PASSWORD)
        assert response.status_code == 302 and response["Location"] == "/admin/"
    assert await _signed_in(client)


async def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(staff):
    client = _client()
    for _ in range(5):
        wrong = await _sign_in(client, staff, "guess")
        assert wrong.status_code == 200 and "Please enter the correct username and password" in wrong.text
    locked = await _sign_in(client, staff, PASSWORD)
    assert locked.status_code == 429 and int(locked["Retry-After"]) > 0
    assert LOCKED in locked.text and 'name="password"' in locked.text  # the admin's own form, with the reason
    assert not await _signed_in(client)


async def test_the_account_lock_follows_the_username_across_addresses(staff):
    for _ in range(5):
        assert (await _sign_in(_client(), staff.upper(), "guess")).status_code == 200
    assert (await _sign_in(_client(), staff, PASSWORD)).status_code == 429


async def test_twenty_failures_from_one_address_lock_that_address_only(staff):
    client = _client()
    for n in range(20):  # a new username each time: only the address bucket fills
        assert (await _sign_in(client, f"nobody-{n}", "guess")).status_code == 200
    assert (await _sign_in(client, staff, PASSWORD)).status_code == 429
    assert (await _sign_in(_client(), staff, PASSWORD)).status_code == 302


async def test_parallel_guesses_get_no_more_tries_than_the_limit(staff):
    client = _client()
    responses = await asyncio.gather(*(_sign_in(client, staff, f"guess-{n}") for n in range(40)))
    statuses = [response.status_code for response in responses]
    assert statuses.count(200) == 5 and statuses.count(429) == 35


async def test_the_console_sign_in_is_the_same_throttled_form(staff):
    client = _client()
    page = await client.get("/console/")
    assert page.status_code == 302 and page["Location"].startswith("/admin/login/?next=/console/")
    for _ in range(5):
        await _sign_in(client, staff, "guess", next_url="/console/")
    assert (await _sign_in(client, staff, PASSWORD, next_url="/console/")).status_code == 429


async def test_limits_and_window_come_from_settings(staff, settings):
    settings.STAFF_LOGIN_FAILURES_PER_USER = 2
    settings.STAFF_LOGIN_WINDOW_SECONDS = 1
    client = _client()
    assert [(await _sign_in(client, staff, "guess")).status_code for _ in range(3)] == [200, 200, 429]
    await asyncio.sleep(2.1)  # the window has passed: the right password works again
    assert (await _sign_in(client, staff, PASSWORD)).status_code == 302


async def test_without_redis_staff_sign_in_is_refused_politely(staff, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    client = _client()
    response = await _sign_in(client, staff, PASSWORD)
    assert response.status_code == 503 and "briefly unavailable" in response.text
    assert not await _signed_in(client)


@pytest.mark.parametrize("weak", ["12345678901", "password123", "agent-bob-1"])
def test_weak_passwords_are_refused_by_the_validators(weak):
    user = get_user_model()(username="agent-bob-1", email="bob@example.com")
    with pytest.raises(ValidationError):
        validate_password(weak, user)


def test_a_strong_password_passes_the_validators():
    validate_password("plum-orbit-cascade-42")
