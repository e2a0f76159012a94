"""What supervisors read on the insights page: tables over a period, from proposals, the audit log, conversations,
ratings and feedback. Selectors only: nothing here writes.

Each table is a list of rows with fixed columns, so the page, the JSON endpoint and the CSV export say the same.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import (
    Avg,
    Count,
    Max,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import Coalesce

from chat.engine.flow import FlowStep
from chat.models import Attention, Conversation, ConversationRating, ConversationStatus, Feedback
from customers import clock
from customers.domain import Reason
from customers.errors import InvalidRequest
from customers.models import AuditAction, AuditEntry, Proposal, ProposalLine, ProposalState

MAX_DAYS = 366
DEFAULT_DAYS = 30
APPROVED_STATES = (ProposalState.APPROVED, ProposalState.COMMITTING, ProposalState.COMMITTED, ProposalState.FAILED)
# A product is looked at once it comes back this often in a period: two returns are no trend.
HIGHLIGHT_MIN_RETURNS = 3
HIGHLIGHT_DAMAGED_SHARE = 30.0  # percent
HIGHLIGHT_RISE = 15.0  # percentage points against the period before


@dataclass(frozen=True)
class Period:
    """Whole days in the store's calendar, first and last included."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return clock.start_of_store_day(self.first)

    @property
    def end(self) -> datetime:
        return clock.start_of_store_day(self.last + timedelta(days=1))

    def before(self) -> Period:
        """The period of the same length just before this one: what "up from" compares with."""
        days = (self.last - self.first).days + 1
        return Period(self.first - timedelta(days=days), self.first - timedelta(days=1))

    def as_json(self) -> dict[str, str]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


def period_from(raw_from: str | None, raw_to: str | None) -> Period:
    """``from``/``to`` as YYYY-MM-DD (either may be left out: the last 30 days to today)."""
    try:
        last = date.fromisoformat(raw_to) if raw_to else clock.store_today()
        first = date.fromisoformat(raw_from) if raw_from else last - timedelta(days=DEFAULT_DAYS - 1)
    except ValueError:
        raise InvalidRequest('"from" and "to" are dates written YYYY-MM-DD.') from None
    if first > last:
        raise InvalidRequest('"from" must not be after "to".')
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidRequest(f"A period is at most {MAX_DAYS} days.")
    return Period(first, last)


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {"columns": list(self.columns), "rows": self.rows}


def _proposals(period: Period) -> QuerySet[Proposal]:
    return Proposal.objects.filter(created_at__gte=period.start, created_at__lt=period.end)


def _percentile(ordered: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of sorted values."""
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))], 1)


def _money_sum(column: str, when: Q) -> Coalesce:
    """A money column (the quote's amounts, kept beside it) summed by the database."""
    return Coalesce(Sum(column, filter=when), 0)


def by_reason(period: Period) -> Table:
    """Returns by the reason given: how many, how many approved or rejected, and the money."""
    approved = Q(state__in=APPROVED_STATES)
    rows = list(
        _proposals(period)
        .values("reason")
        .annotate(
            proposals=Count("id"),
            approved=Count("id", filter=approved),
            rejected=Count("id", filter=Q(state=ProposalState.REJECTED)),
            refund_cents=_money_sum("refund_cents", approved),
            store_credit_cents=_money_sum("store_credit_cents", approved),
        )
        .order_by("-proposals", "reason")
    )
    return Table(("reason", "proposals", "approved", "rejected", "refund_cents", "store_credit_cents"), rows)


def _product_counts(period: Period) -> dict[str, dict[str, Any]]:
    """Per product: the period's proposals with it, the units, and how many of those were damaged/defective
    (from the line rows kept beside each proposal's JSON lines: customers.models.ProposalLine)."""
    found = (
        ProposalLine.objects.filter(filed_at__gte=period.start, filed_at__lt=period.end)
        .values("sku")
        .annotate(
            name=Max("name"),
            proposals=Count("id"),
            units=Sum("quantity"),
            damaged=Count("id", filter=Q(reason=Reason.DAMAGED)),
        )
    )
    return {
        row["sku"]: {
            "sku": row["sku"],
            "name": row["name"] or "",
            "proposals": row["proposals"],
            "units": int(row["units"] or 0),
            "damaged": row["damaged"],
        }
        for row in found
    }


def _damaged_share(row: dict[str, Any]) -> float:
    return round(100 * row["damaged"] / row["proposals"], 1) if row["proposals"] else 0.0


def by_product(period: Period) -> Table:
    """The products that come back most, and how often because they arrived damaged or defective."""
    rows = [{**row, "damaged_share": _damaged_share(row)} for row in _product_counts(period).values()]
    rows.sort(key=lambda row: (-row["proposals"], row["sku"]))
    return Table(("sku", "name", "proposals", "units", "damaged", "damaged_share"), rows)


def resolutions(period: Period) -> Table:
    """What customers chose, and what it cost: refunds, store credit with its bonus, fees kept."""
    everything = Q()
    rows = list(
        _proposals(period)
        .filter(state__in=APPROVED_STATES)
        .values("resolution")
        .annotate(
            approved=Count("id"),
            refund_cents=_money_sum("refund_cents", everything),
            store_credit_cents=_money_sum("store_credit_cents", everything),
            bonus_cents=_money_sum("bonus_cents", everything),
            fees_cents=_money_sum("fees_cents", everything),
        )
        .order_by("-approved", "resolution")
    )
    columns = ("resolution", "approved", "refund_cents", "store_credit_cents", "bonus_cents", "fees_cents")
    return Table(columns, rows)


def decision_times(period: Period) -> Table:
    """How long customers wait: from filing to a decision and to the committed return (p50/p90, in seconds),
    and how many decisions a rule made rather than a person. The waits are kept on each proposal when they
    happen, so a year is read from one index."""
    filed = _proposals(period)
    to_decision = list(filed.filter(decision_seconds__isnull=False).values_list("decision_seconds", flat=True))
    to_commit = list(filed.filter(commit_seconds__isnull=False).values_list("commit_seconds", flat=True))
    auto = filed.filter(decision_seconds__isnull=False, decided_by_rule__isnull=False).count()
    rows = [
        {"measure": "filed to decision", "count": len(to_decision), **_spread(to_decision)},
        {"measure": "filed to committed", "count": len(to_commit), **_spread(to_commit)},
        {"measure": "decided by a rule", "count": auto, "p50_seconds": None, "p90_seconds": None},
        {"measure": "decided by a person", "count": len(to_decision) - auto, "p50_seconds": None, "p90_seconds": None},
    ]
    return Table(("measure", "count", "p50_seconds", "p90_seconds"), rows)


def _spread(values: list[float]) -> dict[str, float | None]:
    ordered = sorted(values)
    return {"p50_seconds": _percentile(ordered, 0.5), "p90_seconds": _percentile(ordered, 0.9)}


AGENT_ACTIONS = {
    AuditAction.APPROVE: "approvals",
    AuditAction.EDIT: "edits",
    AuditAction.OVERRIDE: "overrides",
    AuditAction.REJECT: "rejections",
    AuditAction.ESCALATE: "escalations",
}


def agents(period: Period) -> Table:
    """Per member of staff: approvals, edits, amount overrides, rejections and escalations (from the audit log)."""
    entries = (
        AuditEntry.objects.filter(
            created_at__gte=period.start, created_at__lt=period.end, action__in=list(AGENT_ACTIONS), actor__isnull=False
        )
        .values("actor_label", "action")
        .annotate(n=Count("id"))
    )
    rows: dict[str, dict[str, Any]] = {}
    for entry in entries:
        row = rows.setdefault(
            entry["actor_label"], {"agent": entry["actor_label"], **dict.fromkeys(AGENT_ACTIONS.values(), 0)}
        )
        row[AGENT_ACTIONS[entry["action"]]] += entry["n"]
    columns = ("agent", *AGENT_ACTIONS.values())
    return Table(columns, sorted(rows.values(), key=lambda row: row["agent"]))


def rejection_reasons(period: Period) -> Table:
    """What customers were told when a return was rejected, most common first."""
    told = Counter(
        " ".join(message.split())
        for message in _proposals(period)
        .filter(state=ProposalState.REJECTED)
        .values_list("customer_message", flat=True)
    )
    return Table(("message", "rejections"), [{"message": m, "rejections": n} for m, n in told.most_common(50)])


_FILED = Q(return_filed_at__isnull=False)  # kept on the row when the return is filed (chat.receivers)
_PERSON = ~Q(attention=Attention.NONE) | Q(mode="human")
_RESOLVED = Q(status=ConversationStatus.RESOLVED)
# How a conversation started in the period ended, each a condition on its row ("started": all of them).
OUTCOMES: dict[str, Q] = {
    "started": Q(),
    "return filed": _FILED,
    "handed to a person": _PERSON,
    "resolved by staff without a return": _RESOLVED & ~_FILED,
    "ended without a return": ~_FILED & ~_PERSON & ~_RESOLVED,
}


def _started(period: Period) -> QuerySet[Conversation]:
    return Conversation.objects.filter(created_at__gte=period.start, created_at__lt=period.end)


def outcomes(period: Period) -> Table:
    """How conversations started in the period ended: with a return filed, with a person asked for, resolved by
    staff without a return, or with nothing filed (where customers give up)."""
    counted = _started(period).aggregate(  # one pass over the period's conversations
        **{f"n{index}": Count("id", filter=when or None) for index, when in enumerate(OUTCOMES.values())}
    )
    rows = [{"outcome": outcome, "conversations": counted[f"n{index}"]} for index, outcome in enumerate(OUTCOMES)]
    return Table(("outcome", "conversations"), rows)


NO_STEP = "no step recorded"  # no assistant turn yet, or only turns from before steps were recorded


def _stopped(period: Period) -> QuerySet[Conversation]:
    """Conversations started in the period with no return filed (each knows the step of its last turn)."""
    return _started(period).exclude(_FILED)


def stalls(period: Period) -> Table:
    """Where conversations that filed no return stopped: the step of their last turn (choosing what to return,
    a reason, a resolution, shipping, or at an unconfirmed summary), and how many of them a person took."""
    counted = {
        row.pop("last_step") or NO_STEP: row
        for row in _stopped(period)
        .values("last_step")
        .annotate(conversations=Count("id"), handed_to_person=Count("id", filter=_PERSON))
    }
    order = [step.value for step in FlowStep if step is not FlowStep.FILED] + [NO_STEP]
    rows = [
        {"step": step, **counted[step]}
        for step in sorted(counted, key=lambda step: order.index(step) if step in order else len(order))
    ]
    return Table(("step", "conversations", "handed_to_person"), rows)


def engines(period: Period) -> Table:
    """Customers' ratings and thumbs by the assistant engine that served them."""
    rated = (
        ConversationRating.objects.filter(updated_at__gte=period.start, updated_at__lt=period.end)
        .values("engine")
        .annotate(ratings=Count("id"), average=Avg("rating"))
    )
    thumbs = (
        Feedback.objects.filter(created_at__gte=period.start, created_at__lt=period.end)
        .values("engine")
        .annotate(
            up=Count("id", filter=Q(kind=Feedback.Kind.POSITIVE)),
            down=Count("id", filter=Q(kind=Feedback.Kind.NEGATIVE)),
        )
    )
    rows: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"ratings": 0, "average_rating": None, "thumbs_up": 0, "thumbs_down": 0}
    )
    for row in rated:
        rows[row["engine"] or "unknown"].update(ratings=row["ratings"], average_rating=round(row["average"], 2))
    for row in thumbs:
        rows[row["engine"] or "unknown"].update(thumbs_up=row["up"], thumbs_down=row["down"])
    table = [{"engine": engine, **values} for engine, values in sorted(rows.items())]
    return Table(("engine", "ratings", "average_rating", "thumbs_up", "thumbs_down"), table)


TABLES: dict[str, Callable[[Period], Table]] = {
    "by_reason": by_reason,
    "by_product": by_product,
    "resolutions": resolutions,
    "decision_times": decision_times,
    "agents": agents,
    "rejection_reasons": rejection_reasons,
    "outcomes": outcomes,
    "stalls": stalls,
    "engines": engines,
}


def highlights(period: Period) -> list[str]:
    """What to look at, computed: products coming back damaged far more than in the period before."""
    now, before = _product_counts(period), _product_counts(period.before())
    found: list[tuple[float, str]] = []
    for sku, row in now.items():
        if row["proposals"] < HIGHLIGHT_MIN_RETURNS:
            continue
        share = _damaged_share(row)
        earlier = _damaged_share(before[sku]) if sku in before else 0.0
        if share >= HIGHLIGHT_DAMAGED_SHARE and share - earlier >= HIGHLIGHT_RISE:
            found.append(
                (share - earlier, f"{row['name'] or sku}: {share:.0f}% damaged in this period, up from {earlier:.0f}%")
            )
    return [text for _, text in sorted(found, reverse=True)]


def insights(period: Period) -> dict[str, Any]:
    return {
        "period": period.as_json(),
        "tables": {name: build(period).as_json() for name, build in TABLES.items()},
        "highlights": highlights(period),
    }


def csv_rows(table: Table) -> Iterable[list[Any]]:
    yield list(table.columns)
    for row in table.rows:
        yield [row.get(column) for column in table.columns]


MAX_DRILL = 200
MAX_QUERY_KEY = 500


def _proposal_items(proposals: QuerySet[Proposal]) -> list[dict[str, Any]]:
    return [
        {
            "proposal": p.pk,
            "thread_id": p.thread_id,
            "customer": p.customer_name or p.customer_id,
            "state": p.state,
            "reason": p.reason,
            "resolution": p.resolution,
            "amount_cents": p.total_cents,
            "filed_at": p.created_at.isoformat(),
        }
        for p in proposals.order_by("-created_at")[:MAX_DRILL]
    ]


def _conversation_items(threads: Iterable[str] | QuerySet[Any]) -> list[dict[str, Any]]:
    rows = Conversation.objects.filter(thread_id__in=threads).order_by("-created_at")[:MAX_DRILL]
    return [
        {
            "proposal": None,
            "thread_id": c.thread_id,
            "customer": c.customer_name or c.customer_id,
            "state": c.status,
            "last_message": c.last_message,
            "started_at": c.created_at.isoformat(),
        }
        for c in rows
    ]


def drill(table: str, key: str, period: Period) -> list[dict[str, Any]]:
    """The proposals or conversations behind one bar or row of ``table`` (``key``: that row's first column)."""
    proposals = _proposals(period)
    if table == "by_reason":
        return _proposal_items(proposals.filter(reason=key))
    if table == "by_product":
        return _proposal_items(proposals.filter(line_rows__sku=key).distinct())
    if table == "resolutions":
        return _proposal_items(proposals.filter(resolution=key, state__in=APPROVED_STATES))
    if table == "rejection_reasons":
        rejected = proposals.filter(state=ProposalState.REJECTED)
        ids = [pk for pk, text in rejected.values_list("pk", "customer_message") if " ".join(text.split()) == key]
        return _proposal_items(Proposal.objects.filter(pk__in=ids))
    if table == "decision_times":
        decided = proposals.filter(decided_at__isnull=False)
        if key == "decided by a rule":
            decided = decided.filter(decided_by_rule__isnull=False)
        elif key == "decided by a person":
            decided = decided.filter(decided_by_rule__isnull=True)
        return _proposal_items(decided)
    if table == "agents":
        acted = AuditEntry.objects.filter(
            created_at__gte=period.start, created_at__lt=period.end, actor_label=key, action__in=list(AGENT_ACTIONS)
        )
        return _proposal_items(Proposal.objects.filter(pk__in=acted.values("proposal_id")))
    if table == "outcomes":
        if key not in OUTCOMES:
            return []
        threads = _started(period).filter(OUTCOMES[key]).values_list("thread_id", flat=True)
        return _conversation_items(threads[:MAX_DRILL])
    if table == "stalls":
        stopped = _stopped(period).filter(last_step="" if key == NO_STEP else key)
        return _conversation_items(stopped.values_list("thread_id", flat=True)[:MAX_DRILL])
    if table == "engines":
        rated = ConversationRating.objects.filter(
            updated_at__gte=period.start, updated_at__lt=period.end, engine=key
        ).values_list("thread_id", flat=True)
        return _conversation_items(rated)
    raise InvalidRequest(f"No insights table is called {table[:60]!r}.")
