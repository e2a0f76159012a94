"""Reads and writes of the system of record on Cosmos DB (``azure.cosmos.aio``).

Containers (created if missing):
- ``customer_data`` partitioned by ``/customer_id``: customer, orders, returns, ledger entries.
- ``products`` partitioned by ``/sku``: the catalog; point reads by SKU.
- ``lookups`` partitioned by ``/id``: ``email:<address>`` and ``order:<id>`` -> customer id, so sign-in and
  order lookups are point reads instead of cross-partition queries.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from azure.core import MatchConditions
from azure.cosmos import PartitionKey
from azure.cosmos.aio import ContainerProxy, CosmosClient, DatabaseProxy
from azure.cosmos.exceptions import (
    CosmosAccessConditionFailedError,
    CosmosResourceExistsError,
    CosmosResourceNotFoundError,
)

from customers.cosmos import documents as docs
from customers.cosmos.client import CosmosConfig, cosmos_client
from customers.domain import Customer, LedgerEntry, Order, Product, ReturnRecord
from customers.errors import ConcurrencyConflict, NotFound

CUSTOMER_DATA = "customer_data"
PRODUCTS = "products"
LOOKUPS = "lookups"

CONTAINERS: dict[str, str] = {CUSTOMER_DATA: "/customer_id", PRODUCTS: "/sku", LOOKUPS: "/id"}

# Customers and products as last read, for callers that accept them up to some seconds old (the chat's turns:
# two of a click's Cosmos requests). Orders, returns and the ledger are never kept: they change with every
# commit, in another process. (database, kind, id) -> (read at, value); None for a SKU not in the catalog.
_reference: OrderedDict[tuple[str, str, str], tuple[float, Any]] = OrderedDict()
REFERENCE_ENTRIES = 20_000


def forget_reference_data() -> None:
    _reference.clear()


def email_key(email: str) -> str:
    return f"email:{email.strip().lower()}"


def order_key(order_id: str) -> str:
    return f"order:{order_id.strip().upper()}"


class CosmosRepository:
    def __init__(self, client: CosmosClient, database: DatabaseProxy) -> None:
        self.client = client
        self.database = database
        self.customer_data: ContainerProxy = database.get_container_client(CUSTOMER_DATA)
        self.products: ContainerProxy = database.get_container_client(PRODUCTS)
        self.lookups: ContainerProxy = database.get_container_client(LOOKUPS)

    # --- schema ---------------------------------------------------------------------------------
    async def ensure_schema(self) -> None:
        await self.client.create_database_if_not_exists(self.database.id)
        for name, path in CONTAINERS.items():
            await self.database.create_container_if_not_exists(id=name, partition_key=PartitionKey(path=path))

    async def ping(self) -> None:
        """One cheap authenticated round trip: reading the database's properties."""
        await self.database.read()

    # --- reads ----------------------------------------------------------------------------------
    async def _point_read(self, container: ContainerProxy, item_id: str, partition: str, what: str) -> dict[str, Any]:
        try:
            return await container.read_item(item=item_id, partition_key=partition)
        except CosmosResourceNotFoundError as error:
            raise NotFound(f"{what} {item_id} was not found.") from error

    async def _partition_query(self, partition: str, doc_type: str, order_by: str) -> list[dict[str, Any]]:
        query = f"SELECT * FROM c WHERE c.customer_id = @customer_id AND c.type = @type ORDER BY c.{order_by}"
        items = self.customer_data.query_items(
            query=query,
            parameters=[{"name": "@customer_id", "value": partition}, {"name": "@type", "value": doc_type}],
            partition_key=partition,
        )
        return [item async for item in items]

    async def all_of_type(self, doc_type: str) -> list[dict[str, Any]]:
        """Every customer document of a type, across partitions: for the reconciler, never a hot path."""
        items = self.customer_data.query_items(
            query="SELECT * FROM c WHERE c.type = @type", parameters=[{"name": "@type", "value": doc_type}]
        )
        return [item async for item in items]

    def _kept(self, kind: str, key: str, max_age: float) -> tuple[bool, Any]:
        """(found, value) from the reference cache when it was read at most ``max_age`` seconds ago."""
        hit = _reference.get((self.database.id, kind, key)) if max_age > 0 else None
        if hit is None or time.monotonic() - hit[0] > max_age:
            return False, None
        return True, hit[1]

    def _keep(self, kind: str, key: str, value: Any) -> None:
        kept = (self.database.id, kind, key)
        _reference[kept] = (time.monotonic(), value)
        _reference.move_to_end(kept)
        while len(_reference) > REFERENCE_ENTRIES:
            _reference.popitem(last=False)

    async def get_customer(self, customer_id: str, *, max_age: float = 0.0) -> Customer:
        """``max_age``: a copy read that many seconds ago will do (a customer's name and tier rarely change)."""
        found, customer = self._kept("customer", customer_id, max_age)
        if not found:
            doc = await self._customer_document(customer_id, customer_id, docs.CUSTOMER, "Customer")
            customer = docs.customer_from_document(doc)
            self._keep("customer", customer_id, customer)
        return customer

    async def customer_id_for_email(self, email: str) -> str:
        doc = await self._point_read(self.lookups, email_key(email), email_key(email), "Customer with email")
        return str(doc["customer_id"])

    async def customer_id_for_order(self, order_id: str) -> str:
        doc = await self._point_read(self.lookups, order_key(order_id), order_key(order_id), "Order")
        return str(doc["customer_id"])

    async def _customer_document(self, customer_id: str, item_id: str, doc_type: str, what: str) -> dict[str, Any]:
        """A document of one type in the customer's partition; an id of another type is simply not found."""
        doc = await self._point_read(self.customer_data, item_id, customer_id, what)
        if doc.get("type") != doc_type:
            raise NotFound(f"{what} {item_id} was not found.")
        return doc

    async def get_order(self, customer_id: str, order_id: str) -> Order:
        return docs.order_from_document(await self._customer_document(customer_id, order_id, docs.ORDER, "Order"))

    async def list_orders(self, customer_id: str, *, max_age: float = 0.0) -> list[Order]:
        """``max_age``: this process's copy read that many seconds ago will do (a commit in another process
        changes what is left to return, so only where what was shown is enough: see customer_overview)."""
        found, orders = self._kept("orders", customer_id, max_age)
        if not found:
            rows = await self._partition_query(customer_id, docs.ORDER, "ordered_at")
            orders = [docs.order_from_document(row) for row in rows]
            self._keep("orders", customer_id, orders)
        return list(orders)

    async def get_return(self, customer_id: str, return_id: str) -> ReturnRecord:
        return docs.return_from_document(await self._customer_document(customer_id, return_id, docs.RETURN, "Return"))

    async def get_return_document(self, customer_id: str, return_id: str) -> dict[str, Any]:
        """The return exactly as stored, without Cosmos's own system properties (_rid, _self, _ts...)."""
        doc = await self._customer_document(customer_id, return_id, docs.RETURN, "Return")
        return {key: value for key, value in doc.items() if not key.startswith("_")}

    async def list_returns(self, customer_id: str) -> list[ReturnRecord]:
        rows = await self._partition_query(customer_id, docs.RETURN, "created_at")
        return [docs.return_from_document(row) for row in rows]

    async def list_ledger(self, customer_id: str) -> list[LedgerEntry]:
        rows = await self._partition_query(customer_id, docs.LEDGER_ENTRY, "created_at")
        return [docs.ledger_from_document(row) for row in rows]

    async def credit_balance_cents(self, customer_id: str) -> int:
        return sum(entry.amount_cents for entry in await self.list_ledger(customer_id))

    async def get_product(self, sku: str) -> Product:
        return docs.product_from_document(await self._point_read(self.products, sku, sku, "Product"))

    async def all_products(self) -> list[Product]:
        """The whole catalog (for pushing it to a search index)."""
        return [docs.product_from_document(doc) async for doc in self.products.query_items("SELECT * FROM c")]

    async def get_products(self, skus: Sequence[str], *, max_age: float = 0.0) -> dict[str, Product]:
        """One batched point read for many SKUs; SKUs that do not exist are simply absent from the result.
        ``max_age``: copies read that many seconds ago will do (the catalog rarely changes)."""
        products: dict[str, Product | None] = {}
        missing: list[str] = []
        for sku in dict.fromkeys(skus):
            found, product = self._kept("product", sku, max_age)
            if found:
                products[sku] = product
            else:
                missing.append(sku)
        if missing:
            read = {
                doc["sku"]: docs.product_from_document(doc)
                for doc in await self.products.read_items(items=[(sku, sku) for sku in missing])
            }
            for sku in missing:
                products[sku] = read.get(sku)
                self._keep("product", sku, products[sku])
        return {sku: product for sku, product in products.items() if product is not None}

    # --- writes ---------------------------------------------------------------------------------
    async def create_if_missing(self, container: ContainerProxy, doc: dict[str, Any]) -> bool:
        """Create a document unless its id exists; True when it was created. Used by idempotent seeding."""
        try:
            await container.create_item(body=doc)
            return True
        except CosmosResourceExistsError:
            return False

    async def upsert(self, container: ContainerProxy, doc: dict[str, Any]) -> dict[str, Any]:
        return await container.upsert_item(body=doc)

    async def replace_guarded(self, container: ContainerProxy, doc: dict[str, Any], etag: str) -> dict[str, Any]:
        """Replace only if nobody changed the document since it was read (optimistic concurrency)."""
        try:
            return await container.replace_item(
                item=doc["id"], body=doc, etag=etag, match_condition=MatchConditions.IfNotModified
            )
        except CosmosAccessConditionFailedError as error:
            raise ConcurrencyConflict(
                f"{doc.get('type', 'Document')} {doc['id']} was changed by someone else."
            ) from error
        except CosmosResourceNotFoundError as error:
            raise NotFound(f"{doc.get('type', 'Document')} {doc['id']} was not found.") from error

    async def execute_batch(self, customer_id: str, operations: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
        """One transactional batch in the customer's partition: all operations apply, or none."""
        return list(await self.customer_data.execute_item_batch(batch_operations=operations, partition_key=customer_id))


@asynccontextmanager
async def open_repository(config: CosmosConfig | None = None) -> AsyncIterator[CosmosRepository]:
    config = config or CosmosConfig.from_settings()
    async with cosmos_client(config) as client:
        yield CosmosRepository(client, client.get_database_client(config.database))
