"""`manage.py seed_demo` loads Cosmos, creates staff with limits and the policy row, and is idempotent."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from customers.cosmos.repository import CosmosRepository
from customers.models import ReturnPolicySettings, StaffProfile

pytestmark = pytest.mark.django_db(transaction=True)


async def _counts(repo: CosmosRepository) -> tuple[int, int]:
    rows = [row async for row in repo.customer_data.query_items("SELECT c.type FROM c")]
    return sum(r["type"] == "customer" for r in rows), sum(r["type"] == "order" for r in rows)


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


async def test_seed_demo_twice(repo, services_settings):
    from asgiref.sync import sync_to_async

    services_settings.DEMO_PASSWORD = "pw-for-test"
    first = await sync_to_async(_seed)()
    second = await sync_to_async(_seed)()
    assert "staff created: agent, supervisor, admin" in first
    assert "0 documents created" in second and "already there" in second
    customers, orders = await _counts(repo)
    assert customers >= 20 and orders >= 60

    def staff() -> dict:
        profiles = {
            p.user.username: (p.approval_limit, p.user.is_staff, p.user.is_superuser)
            for p in StaffProfile.objects.select_related("user")
        }
        return {
            "profiles": profiles,
            "login": authenticate(username="agent", password="pw-for-test") is not None,
            "policies": ReturnPolicySettings.objects.count(),
        }

    found = await sync_to_async(staff)()
    assert found["profiles"] == {
        "agent": (Decimal("200.00"), True, False),
        "supervisor": (None, True, False),
        "admin": (None, True, True),
    }
    assert found["login"] and found["policies"] == 1
