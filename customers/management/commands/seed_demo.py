"""python manage.py seed_demo: demo catalog, customers and orders in Cosmos DB, demo staff and policy."""

from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from customers.clock import store_today
from customers.cosmos.repository import open_repository
from customers.demo import SeedReport, build_demo_data, seed_demo_data
from customers.models import ReturnPolicySettings
from customers.services.staff import ensure_demo_staff


class Command(BaseCommand):
    help = "Load demo data (idempotent: creates only what is missing)."

    def handle(self, *args: Any, **options: Any) -> None:
        data = build_demo_data(store_today())
        report = asyncio.run(self._seed(data))
        if not ReturnPolicySettings.objects.exists():
            ReturnPolicySettings.objects.create()
        staff = ensure_demo_staff(settings.DEMO_PASSWORD)
        self.stdout.write(
            f"Demo data: {len(data.customers)} customers, {len(data.orders)} orders, {len(data.products)} products "
            f"({report.created} documents created, {report.existing} already there"
            f"{f', {report.redated} orders moved to today' if report.redated else ''}); "
            f"staff created: {', '.join(staff) or 'none (already there)'}."
        )

    async def _seed(self, data: Any) -> SeedReport:
        async with open_repository() as repo:
            return await seed_demo_data(repo, data)
