"""python manage.py index_search: push the policies and the product catalog (with vectors) to Azure AI Search."""

from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from customers.cosmos.repository import open_repository
from customers.domain import Product
from customers.search.azure import AzurePolicySearch
from customers.search.catalog import catalog_search
from customers.search.documents import all_documents


class Command(BaseCommand):
    help = "Create or update the Azure AI Search indexes (policies, catalog with vectors) and upload their documents."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.AZURE_SEARCH_ENDPOINT:
            raise CommandError("AZURE_SEARCH_ENDPOINT is not set: the embedded index is built in each process.")
        policies = all_documents()
        AzurePolicySearch(settings.AZURE_SEARCH_ENDPOINT, settings.AZURE_SEARCH_INDEX, settings.AZURE_SEARCH_KEY).index(
            policies
        )
        self.stdout.write(f"{len(policies)} policies pushed to {settings.AZURE_SEARCH_INDEX}.")
        catalog = catalog_search()
        if catalog is None:
            self.stdout.write(
                "No catalog index: set AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_EMBEDDING_DEPLOYMENT for semantic lookup."
            )
            return
        products = asyncio.run(self._products())
        pushed = catalog.index(products)
        self.stdout.write(f"{pushed} products pushed to {settings.AZURE_SEARCH_CATALOG_INDEX} with their vectors.")

    async def _products(self) -> list[Product]:
        async with open_repository() as repo:
            return await repo.all_products()
