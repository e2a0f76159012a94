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


async def test_a_later_seed_moves_untouched_demo_orders_to_today_and_keeps_the_ones_with_returns(
    repo, services_settings
):
    """`make run` keeps its data for days now: the seed scenario must not expire in it."""
    from asgiref.sync import sync_to_async

    from customers import clock
    from customers.policy import DEFAULT_POLICY
    from customers.services.assessment import customer_overview
    from customers.services.commit import commit_return
    from tests.customers.seeded import approval

    await sync_to_async(_seed)()
    await commit_return(
        repo, approval("proposal-kept", order_id="ORD-79004", customer_id="CUST-1003", sku="EARB-SPORT")
    )
    kept = (await repo.get_order("CUST-1003", "ORD-79004")).delivered_on

    services_settings.CLOCK_OFFSET_SECONDS += 12 * 86400  # twelve days later, the same var/cosmos
    later = await sync_to_async(_seed)()
    assert "0 documents created" in later and "orders moved to today" in later
    overview = await customer_overview(repo, "CUST-1001", DEFAULT_POLICY, clock.store_today())
    days = [v.eligibility.days_left for v in overview.lines if v.order.order_id == "ORD-79001"]
    assert days == [10, 25, 25]
    assert (await repo.get_order("CUST-1003", "ORD-79004")).delivered_on == kept  # it has a return: history stays
