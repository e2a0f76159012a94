"""commit_return against a real Cosmos emulator: exactly once, all or nothing, no overselling."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from azure.cosmos.exceptions import CosmosBatchOperationError

from customers.cosmos.repository import CosmosRepository
from customers.domain import Resolution, ReturnStatus
from customers.errors import InvalidRequest, NotFound, NotReturnable
from customers.services.commit import (
    ReturnLineRequest,
    commit_return,
    ledger_entry_id_for,
    parse_approved_return,
    return_id_for,
)
from tests.customers.seeded import approval, seed


async def _returned(repo: CosmosRepository, order_id: str = "ORD-79001", customer_id: str = "CUST-1001") -> dict:
    order = await repo.get_order(customer_id, order_id)
    return {line.sku: line.returned_quantity for line in order.lines}


async def test_seed_scenario_commits_one_return_with_credit(repo: CosmosRepository):
    await seed(repo)
    result = await commit_return(repo, approval("proposal-1"))
    assert result.created
    record = result.record
    assert record.return_id == return_id_for("proposal-1")
    assert (record.status, record.store_credit_cents, record.refund_cents) == (ReturnStatus.APPROVED, 9899, 0)
    assert record.tracking_number and record.tracking_number in record.instructions
    stored = await repo.get_return("CUST-1001", record.return_id)
    assert stored.lines[0].sku == "HUB-SMART-2" and stored.lines[0].quantity == 1
    assert await _returned(repo) == {"DSP-UHD-55": 0, "HUB-SMART-2": 1, "CBL-USBC-6FT-3PK": 0}
    ledger = await repo.list_ledger("CUST-1001")
    assert [(entry.entry_id, entry.amount_cents) for entry in ledger] == [(ledger_entry_id_for("proposal-1"), 9899)]
    assert await repo.credit_balance_cents("CUST-1001") == 9899


async def test_refund_writes_no_ledger_entry(repo: CosmosRepository):
    await seed(repo)
    await commit_return(repo, approval("p-refund", resolution=Resolution.FULL_REFUND))
    assert await repo.list_ledger("CUST-1001") == []


async def test_recommit_of_the_same_approval_returns_the_first_return(repo: CosmosRepository):
    await seed(repo)
    first = await commit_return(repo, approval("proposal-1"))
    second = await commit_return(repo, approval("proposal-1"))
    assert (first.created, second.created) == (True, False)
    assert second.record.return_id == first.record.return_id
    assert len(await repo.list_returns("CUST-1001")) == 1
    assert (await _returned(repo))["HUB-SMART-2"] == 1
    assert len(await repo.list_ledger("CUST-1001")) == 1


async def test_recommit_after_the_last_unit_went_is_still_idempotent(repo: CosmosRepository):
    await seed(repo)
    await commit_return(repo, approval("p-both", quantity=2))
    again = await commit_return(repo, approval("p-both", quantity=2))
    assert not again.created and (await _returned(repo))["HUB-SMART-2"] == 2


async def test_twenty_commits_race_for_the_last_unit(repo: CosmosRepository):
    await seed(repo)
    await commit_return(repo, approval("p-first"))  # one of two hubs gone; one left
    attempts = [commit_return(repo, approval(f"racer-{n}")) for n in range(20)]
    outcomes = await asyncio.gather(*attempts, return_exceptions=True)
    winners = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
    losers = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(loser, NotReturnable) for loser in losers), losers
    assert "no longer returnable" in losers[0].message
    assert len(await repo.list_returns("CUST-1001")) == 2
    assert (await _returned(repo))["HUB-SMART-2"] == 2


async def test_twenty_runs_of_one_approval_make_one_return(repo: CosmosRepository):
    await seed(repo)
    outcomes = await asyncio.gather(*(commit_return(repo, approval("proposal-7")) for _ in range(20)))
    assert sum(outcome.created for outcome in outcomes) == 1
    assert {outcome.record.return_id for outcome in outcomes} == {return_id_for("proposal-7")}
    assert len(await repo.list_returns("CUST-1001")) == 1
    assert (await _returned(repo))["HUB-SMART-2"] == 1


async def test_concurrent_commits_on_different_lines_all_succeed(repo: CosmosRepository):
    await seed(repo)
    approvals = [
        approval("p-display", sku="DSP-UHD-55", unit_price_cents=29999),
        approval("p-hub", sku="HUB-SMART-2"),
        approval("p-cable", sku="CBL-USBC-6FT-3PK", unit_price_cents=1499),
    ]
    results = await asyncio.gather(*(commit_return(repo, a) for a in approvals))
    assert all(result.created for result in results)
    assert await _returned(repo) == {"DSP-UHD-55": 1, "HUB-SMART-2": 1, "CBL-USBC-6FT-3PK": 1}


async def test_a_failing_write_leaves_nothing_behind(repo: CosmosRepository):
    await seed(repo)
    # A ledger entry already holds the id this commit needs: the batch must fail as a whole.
    await repo.customer_data.create_item(
        {"id": ledger_entry_id_for("p-doomed"), "customer_id": "CUST-1001", "type": "probe"}
    )
    with pytest.raises(CosmosBatchOperationError):
        await commit_return(repo, approval("p-doomed"))
    assert await repo.list_returns("CUST-1001") == []
    assert (await _returned(repo))["HUB-SMART-2"] == 0


async def test_unknown_sku_and_foreign_order_write_nothing(repo: CosmosRepository):
    await seed(repo)
    with pytest.raises(InvalidRequest, match="not on order ORD-79001"):
        await commit_return(repo, replace(approval("p-x"), lines=(ReturnLineRequest("NOPE-123", 1),)))
    with pytest.raises(NotFound):
        await commit_return(repo, approval("p-y", customer_id="CUST-1002"))  # not Maria's order
    with pytest.raises(NotReturnable):
        await commit_return(repo, approval("p-z", quantity=3))
    assert await repo.list_returns("CUST-1001") == []
    assert await repo.list_returns("CUST-1002") == []
    assert (await _returned(repo))["HUB-SMART-2"] == 0


def _payload(**changes):
    payload = approval("p-json").to_payload()
    payload.update(changes)
    return payload


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("not an object", "JSON object"),
        (_payload(order_id="79001"), "not an order number"),
        (_payload(order_id="ORD-79001; DROP"), "not an order number"),
        (_payload(order_id=None), "'order_id' is required"),
        (_payload(lines=[]), "non-empty list"),
        (_payload(lines=[{"sku": "HUB-SMART-2", "quantity": 0}]), "at least 1"),
        (_payload(lines=[{"sku": "HUB-SMART-2", "quantity": -2}]), "at least 1"),
        (_payload(lines=[{"sku": "HUB-SMART-2", "quantity": 1.5}]), "whole number"),
        (_payload(lines=[{"sku": "HUB-SMART-2", "quantity": True}]), "whole number"),
        (_payload(lines=[{"sku": "hub smart", "quantity": 1}]), "not a valid SKU"),
        (_payload(lines=[{"sku": "HUB-SMART-2", "quantity": 1}] * 2), "only once"),
        (_payload(lines=["HUB-SMART-2"]), "'sku' and 'quantity'"),
        (_payload(reason="Bored"), "'reason' must be one of"),
        (_payload(shipping="Teleport"), "'shipping' must be one of"),
        (_payload(quote=None), "'quote'"),
        (_payload(quote={"resolution": "Store Credit"}), "'quote'"),
        (_payload(resolution="Full Refund"), "different resolution"),
        (_payload(approval_id=""), "'approval_id' is required"),
    ],
)
def test_malformed_approvals_get_clear_errors(payload, message):
    with pytest.raises(InvalidRequest, match=message):
        parse_approved_return(payload)


def test_a_valid_payload_round_trips():
    original = approval("p-json")
    assert parse_approved_return(original.to_payload()) == original
