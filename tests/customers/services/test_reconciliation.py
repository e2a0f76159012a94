"""`reconcile` finds every kind of divergence between the console's records and Cosmos, and none when they agree."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model

from customers.cosmos import documents as docs
from customers.domain import Resolution
from customers.models import Proposal, ProposalState
from customers.services import commit_progress, decisions
from customers.services.commit import commit_return, ledger_entry_id_for
from customers.services.reconciliation import reconcile
from tests.customers.seeded import approval, file_seed_proposal
from tests.processes import ROOT, app_env, migrate

pytestmark = pytest.mark.django_db(transaction=True)


async def _committed(repo, **kwargs) -> Proposal:  # type: ignore[no-untyped-def]
    proposal = await file_seed_proposal(repo, **kwargs)
    supervisor = await get_user_model().objects.aget(username="supervisor")
    approved = await sync_to_async(decisions.approve)(proposal_id=proposal.pk, user=supervisor, version=1)
    result = await commit_return(repo, commit_progress.approved_return(approved))
    return await sync_to_async(commit_progress.mark_committed)(approved.approval_id, result.record.return_id)


async def _kinds(repo) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(d.kind for d in (await reconcile(repo)).divergences)


async def test_agreeing_records_are_clean_demo_returns_from_before_included(seeded):
    await _committed(seeded)
    credit = await _committed(seeded, sku="CBL-USBC-6FT-3PK")
    await decisions.cancel_return(
        repo=seeded, proposal_id=credit.pk, user=await get_user_model().objects.aget(username="agent")
    )
    result = await reconcile(seeded)
    assert result.clean, [str(d) for d in result.divergences]
    assert (result.proposals, result.returns) == (2, 2) and result.orders >= 60


async def test_a_recorded_commit_whose_return_is_missing(seeded):
    proposal = await file_seed_proposal(seeded)
    await Proposal.objects.filter(pk=proposal.pk).aupdate(state=ProposalState.COMMITTED, return_id="RET-NOPE")
    assert await _kinds(seeded) == ["missing_return"]


async def test_a_return_nobody_recorded(seeded):
    await commit_return(seeded, approval("proposal-9999"))  # the worker died before recording it
    assert await _kinds(seeded) == ["unrecorded_return"]


async def test_a_cancel_recorded_on_one_side_only(seeded):
    proposal = await _committed(seeded)
    await Proposal.objects.filter(pk=proposal.pk).aupdate(state=ProposalState.CANCELLED)
    assert await _kinds(seeded) == ["status_mismatch"]


async def test_an_order_that_forgot_its_return_and_its_quantity(seeded):
    proposal = await _committed(seeded)
    order = await seeded.get_order("CUST-1001", "ORD-79001")
    forgotten = replace(
        order,
        return_ids=(),
        lines=tuple(replace(line, returned_quantity=line.returned_outside) for line in order.lines),
    )
    await seeded.upsert(seeded.customer_data, docs.order_document(forgotten))
    kinds = await _kinds(seeded)
    assert kinds == ["order_return_ids", "quantity_mismatch"], proposal.return_id


async def test_store_credit_without_its_ledger_entry(seeded):
    proposal = await _committed(seeded, resolution=Resolution.STORE_CREDIT)
    await seeded.customer_data.delete_item(ledger_entry_id_for(proposal.approval_id), partition_key="CUST-1001")
    assert await _kinds(seeded) == ["ledger_mismatch"]


async def test_the_command_reports_each_difference_and_exits_1(seeded, cosmos_service, cosmos_database, tmp_path):
    """`manage.py reconcile` as an operator runs it, in its own process against the same Cosmos database."""
    env = {**os.environ, **app_env(tmp_path, "redis://127.0.0.1:1/0", cosmos_service, cosmos_database)}
    migrate(env)
    command = [sys.executable, str(ROOT / "manage.py"), "reconcile"]
    clean = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert clean.returncode == 0 and "reconcile: the console's records and Cosmos agree" in clean.stdout
    await commit_return(seeded, approval("proposal-8888"))  # a return the (empty) console never recorded
    differs = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert differs.returncode == 1
    assert "unrecorded_return: RET-" in differs.stdout and "reconcile: 1 difference(s)" in differs.stderr
