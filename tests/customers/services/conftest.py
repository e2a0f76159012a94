"""A seeded Cosmos database and the demo staff, for the decision and reconciliation services."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from customers.services.staff import ensure_demo_staff
from tests.customers.seeded import seed


@pytest.fixture
async def seeded(repo, services_settings):  # type: ignore[no-untyped-def]
    await seed(repo)
    await sync_to_async(ensure_demo_staff)("services-test-pw")
    return repo
