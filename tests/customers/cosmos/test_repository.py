"""The Cosmos repository against a real emulator: not-found, etags, partitions, batches, seeding."""

from __future__ import annotations

import pytest
from azure.cosmos.exceptions import CosmosBatchOperationError

from customers.cosmos.repository import CosmosRepository
from customers.errors import ConcurrencyConflict, NotFound
from tests.customers.seeded import demo_data, seed


async def test_missing_items_are_not_found(repo: CosmosRepository):
    with pytest.raises(NotFound):
        await repo.get_customer("CUST-404")
    with pytest.raises(NotFound):
        await repo.get_order("CUST-404", "ORD-404")
    with pytest.raises(NotFound):
        await repo.get_return("CUST-404", "RET-404")
    with pytest.raises(NotFound):
        await repo.customer_id_for_email("nobody@example.com")
    with pytest.raises(NotFound):
        await repo.get_product("NOPE-1")


async def test_seed_is_idempotent_and_lookups_are_point_reads(repo: CosmosRepository):
    await seed(repo)
    from customers.demo import seed_demo_data

    again = await seed_demo_data(repo, demo_data())
    assert again.created == 0 and again.existing > 100
    assert await repo.customer_id_for_email("RJohnson@Company.com ") == "CUST-1001"
    assert await repo.customer_id_for_order("ord-79001") == "CUST-1001"
    customer = await repo.get_customer("CUST-1001")
    assert customer.name == "Robert Johnson"


async def test_reads_are_scoped_to_the_customers_partition(repo: CosmosRepository):
    await seed(repo)
    with pytest.raises(NotFound):
        await repo.get_order("CUST-1002", "ORD-79001")  # Robert's order, asked for in Maria's partition
    with pytest.raises(NotFound):
        await repo.get_order("CUST-1001", "CUST-1001")  # a customer document is not an order
    robert_orders = {order.order_id for order in await repo.list_orders("CUST-1001")}
    expected = {order.order_id for order in demo_data().orders if order.customer_id == "CUST-1001"}
    assert robert_orders == expected and "ORD-79001" in robert_orders


async def test_stale_etag_is_a_conflict(repo: CosmosRepository):
    await seed(repo)
    raw = await repo.customer_data.read_item("ORD-79001", partition_key="CUST-1001")
    first = await repo.replace_guarded(repo.customer_data, {**raw, "note": "first"}, raw["_etag"])
    assert first["_etag"] != raw["_etag"]
    with pytest.raises(ConcurrencyConflict):
        await repo.replace_guarded(repo.customer_data, {**raw, "note": "second"}, raw["_etag"])
    stored = await repo.customer_data.read_item("ORD-79001", partition_key="CUST-1001")
    assert stored["note"] == "first"


async def test_batch_is_all_or_nothing(repo: CosmosRepository):
    await seed(repo)
    raw = await repo.customer_data.read_item("ORD-79001", partition_key="CUST-1001")
    operations = [
        ("create", ({"id": "NEW-1", "customer_id": "CUST-1001", "type": "probe"},)),
        ("replace", ("ORD-79001", {**raw, "note": "changed"}), {"if_match_etag": raw["_etag"]}),
        ("create", ({"id": "CUST-1001", "customer_id": "CUST-1001", "type": "probe"},)),  # exists: fails
    ]
    with pytest.raises(CosmosBatchOperationError) as failed:
        await repo.execute_batch("CUST-1001", operations)
    assert failed.value.error_index == 2
    assert failed.value.operation_responses[2]["statusCode"] == 409
    with pytest.raises(NotFound):
        await repo.get_order("CUST-1001", "NEW-1")
    unchanged = await repo.customer_data.read_item("ORD-79001", partition_key="CUST-1001")
    assert "note" not in unchanged and unchanged["_etag"] == raw["_etag"]


async def test_a_partition_query_sees_its_partition_as_it_changes(repo: CosmosRepository):
    """The emulator answers a partition's query from an index of that partition (its cost does not grow with the
    rest of the container): what is created, replaced, deleted or undone by a failed batch shows there at once."""
    await seed(repo)

    async def probes(customer_id: str) -> list[tuple[str, str]]:
        query = "SELECT * FROM c WHERE c.type = 'probe'"
        rows = [row async for row in repo.customer_data.query_items(query, partition_key=customer_id)]
        return sorted((row["id"], row.get("note", "")) for row in rows)

    assert await probes("CUST-1001") == []
    await repo.customer_data.create_item({"id": "P-1", "customer_id": "CUST-1001", "type": "probe"})
    assert await probes("CUST-1001") == [("P-1", "")]
    assert await probes("CUST-1002") == []
    await repo.customer_data.replace_item(
        "P-1", {"id": "P-1", "customer_id": "CUST-1001", "type": "probe", "note": "b"}
    )
    assert await probes("CUST-1001") == [("P-1", "b")]

    failing = [
        ("create", ({"id": "P-2", "customer_id": "CUST-1001", "type": "probe"},)),
        ("delete", ("P-1",)),
        ("create", ({"id": "CUST-1001", "customer_id": "CUST-1001", "type": "probe"},)),  # exists: all undone
    ]
    with pytest.raises(CosmosBatchOperationError):
        await repo.execute_batch("CUST-1001", failing)
    assert await probes("CUST-1001") == [("P-1", "b")]

    await repo.execute_batch("CUST-1001", [("create", ({"id": "P-2", "customer_id": "CUST-1001", "type": "probe"},))])
    await repo.customer_data.delete_item("P-1", partition_key="CUST-1001")
    assert await probes("CUST-1001") == [("P-2", "")]


async def test_get_products_skips_unknown_skus(repo: CosmosRepository):
    await seed(repo)
    products = await repo.get_products(["HUB-SMART-2", "NOPE-1", "HUB-SMART-2"])
    assert list(products) == ["HUB-SMART-2"] and products["HUB-SMART-2"].return_window_days == 45


async def test_customers_and_products_are_read_again_once_older_than_the_caller_accepts(repo: CosmosRepository):
    """The chat accepts copies of a customer and of products read up to some seconds ago (two of a click's Cosmos
    requests); a caller asking for max_age 0 always reads, and what it reads replaces the copy."""
    import asyncio
    from dataclasses import replace

    from customers.cosmos import documents as docs
    from customers.domain import Tier

    await seed(repo)
    robert = await repo.get_customer("CUST-1001", max_age=60)
    hub = (await repo.get_products(["HUB-SMART-2", "NOPE-1"], max_age=60))["HUB-SMART-2"]
    await repo.upsert(repo.customer_data, docs.customer_document(replace(robert, tier=Tier.SILVER)))
    await repo.upsert(repo.products, docs.product_document(replace(hub, final_sale=True)))

    assert (await repo.get_customer("CUST-1001", max_age=60)).tier == robert.tier  # the copy
    assert list(await repo.get_products(["HUB-SMART-2", "NOPE-1"], max_age=60)) == ["HUB-SMART-2"]
    assert (await repo.get_products(["HUB-SMART-2"], max_age=60))["HUB-SMART-2"].final_sale is False
    assert (await repo.get_customer("CUST-1001")).tier == Tier.SILVER  # read now
    assert (await repo.get_products(["HUB-SMART-2"]))["HUB-SMART-2"].final_sale is True
    assert (await repo.get_customer("CUST-1001", max_age=60)).tier == Tier.SILVER  # the copy is the new read
    assert (await repo.get_products(["HUB-SMART-2"], max_age=60))["HUB-SMART-2"].final_sale is True
    await repo.upsert(repo.customer_data, docs.customer_document(replace(robert, tier=Tier.GOLD)))
    await asyncio.sleep(0.01)
    assert (await repo.get_customer("CUST-1001", max_age=0.005)).tier == Tier.GOLD  # the copy is too old
