"""Nothing half-known: the console's records (proposals in the Django database) against Cosmos DB.

Run by ``python manage.py reconcile`` and at the start of ``make run``. Every kind of divergence has a name, so
an operator (and a test) can tell a crash between two writes from a commit that never landed:

- ``missing_return``: a proposal says committed (or cancelled) as a return that Cosmos does not have;
- ``unrecorded_return``: Cosmos has a return no committed or cancelled proposal knows of (the worker died
  between writing it and recording it: the sweep re-sends the commit, which records it);
- ``status_mismatch``: the proposal says cancelled and the return does not, or the other way round;
- ``order_return_ids``: an order and its returns disagree about which returns it has;
- ``quantity_mismatch``: a line's returned quantity is not what came back outside the console plus the
  quantities of its returns that are not cancelled;
- ``ledger_mismatch``: a return's store credit and its ledger entries (credit, and reversal once cancelled)
  disagree.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from asgiref.sync import sync_to_async

from customers.cosmos import documents as docs
from customers.cosmos.repository import CosmosRepository
from customers.domain import ReturnRecord, ReturnStatus
from customers.models import Proposal, ProposalState
from customers.services.commit import ledger_entry_id_for
from customers.services.reversal import reversal_entry_id


@dataclass(frozen=True)
class Divergence:
    kind: str
    subject: str  # the return, order line or proposal it is about
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.subject}: {self.detail}"


@dataclass(frozen=True)
class Reconciliation:
    divergences: tuple[Divergence, ...]
    proposals: int
    returns: int
    orders: int

    @property
    def clean(self) -> bool:
        return not self.divergences

    def summary(self) -> str:
        checked = f"{self.proposals} recorded commits, {self.returns} returns, {self.orders} orders checked"
        if self.clean:
            return f"reconcile: the console's records and Cosmos agree ({checked})"
        return f"reconcile: {len(self.divergences)} difference(s) between the console's records and Cosmos ({checked})"


def _recorded() -> dict[str, Proposal]:
    """Proposals that claim a return, by return id."""
    rows = Proposal.objects.filter(state__in=(ProposalState.COMMITTED, ProposalState.CANCELLED)).exclude(return_id="")
    return {proposal.return_id: proposal for proposal in rows}


async def reconcile(repo: CosmosRepository) -> Reconciliation:
    recorded = await sync_to_async(_recorded)()
    returns = {doc["return_id"]: docs.return_from_document(doc) for doc in await repo.all_of_type(docs.RETURN)}
    orders = [docs.order_from_document(doc) for doc in await repo.all_of_type(docs.ORDER)]
    ledger = {doc["id"]: int(doc["amount_cents"]) for doc in await repo.all_of_type(docs.LEDGER_ENTRY)}
    found: list[Divergence] = []

    for return_id, proposal in recorded.items():
        record = returns.get(return_id)
        if record is None:
            found.append(
                Divergence(
                    "missing_return",
                    return_id,
                    f"proposal #{proposal.pk} is {proposal.state}, Cosmos has no such return",
                )
            )
        elif (proposal.state == ProposalState.CANCELLED) != (record.status is ReturnStatus.CANCELLED):
            found.append(
                Divergence(
                    "status_mismatch",
                    return_id,
                    f"proposal #{proposal.pk} is {proposal.state}, the return is {record.status}",
                )
            )
    for return_id, record in returns.items():
        if return_id not in recorded:
            found.append(
                Divergence(
                    "unrecorded_return", return_id, f"no committed proposal records it (approval {record.approval_id})"
                )
            )
        found += _ledger_divergences(record, ledger)

    active: dict[tuple[str, str], int] = defaultdict(int)  # (order id, line id) -> quantity in live returns
    for record in returns.values():
        if record.status is not ReturnStatus.CANCELLED:
            for line in record.lines:
                active[(record.order_id, line.line_id)] += line.quantity
    by_order: dict[str, set[str]] = defaultdict(set)
    for record in returns.values():
        by_order[record.order_id].add(record.return_id)
    for order in orders:
        listed = set(order.return_ids)
        if listed != by_order.get(order.order_id, set()):
            missing = sorted(listed - set(returns))
            unlisted = sorted(by_order.get(order.order_id, set()) - listed)
            found.append(
                Divergence(
                    "order_return_ids",
                    order.order_id,
                    f"lists returns Cosmos lacks: {missing or 'none'}; returns it does not list: {unlisted or 'none'}",
                )
            )
        for line in order.lines:
            expected = line.returned_outside + active[(order.order_id, line.line_id)]
            if line.returned_quantity != expected:
                found.append(
                    Divergence(
                        "quantity_mismatch",
                        f"{order.order_id} {line.sku}",
                        f"returned quantity {line.returned_quantity}, but its returns add up to {expected}",
                    )
                )
    return Reconciliation(tuple(found), len(recorded), len(returns), len(orders))


def _ledger_divergences(record: ReturnRecord, ledger: dict[str, int]) -> list[Divergence]:
    expected = {}
    if record.store_credit_cents > 0:
        expected[ledger_entry_id_for(record.approval_id)] = record.store_credit_cents
        if record.status is ReturnStatus.CANCELLED:
            expected[reversal_entry_id(record.return_id)] = -record.store_credit_cents
    wrong = {entry: cents for entry, cents in expected.items() if ledger.get(entry) != cents}
    if not wrong:
        return []
    shown = ", ".join(f"{entry} should be {cents} (is {ledger.get(entry)})" for entry, cents in wrong.items())
    return [Divergence("ledger_mismatch", record.return_id, shown)]
