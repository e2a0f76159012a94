"""python manage.py reconcile: the console's records against Cosmos DB; exit status 1 when they differ."""

from __future__ import annotations

import asyncio
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from customers.cosmos.repository import open_repository
from customers.services.reconciliation import Reconciliation, reconcile


class Command(BaseCommand):
    help = "Compare committed proposals, returns, orders' returned quantities and the ledger; report differences."

    def handle(self, *args: Any, **options: Any) -> None:
        result = asyncio.run(self._reconcile())
        for divergence in result.divergences:
            self.stdout.write(f"  {divergence}")
        if not result.clean:
            raise CommandError(result.summary(), returncode=1)
        self.stdout.write(result.summary())

    async def _reconcile(self) -> Reconciliation:
        async with open_repository() as repo:
            return await reconcile(repo)
