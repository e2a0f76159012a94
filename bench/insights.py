"""Benchmark: every insights table over 100,000 returns, against a plain count of the same rows.

    .venv/bin/python bench/insights.py [--returns 100000] [--repeat 15] [--database-url URL]

Generates a year of returns (proposals with their lines and quotes, decisions, commits in the audit log,
conversations, ratings and thumbs) in a fresh database (a temporary SQLite file unless --database-url or
DATABASE_URL names one; a PostgreSQL database is created and dropped), then times each table of
``returns_console.console.insights`` for the last 30 days and for the whole year: p50/p95 in milliseconds, and
the floor, ``SELECT COUNT(*)`` of the period's proposals, measured in the same run. Target: p95 under 300 ms per
chart on this machine.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_MS = 300.0
PRODUCTS = [
    ("HUB-SMART-2", "Smart Home Hub", 8999),
    ("DSP-UHD-55", "Ultra HD Smart Display", 29999),
    ("CBL-USBC-6FT-3PK", "USB-C Cable 6ft (3-Pack)", 1499),
    ("MOUSE-ERGO", "Ergonomic Wireless Mouse", 5999),
    ("EARB-SPORT", "Sport Earbuds", 7999),
    ("MON-27-4K", "27in 4K Monitor", 39999),
    ("ROUTER-MESH-3", "Mesh Wi-Fi Router (3-Pack)", 29999),
    ("WATCH-FIT-2", "Fitness Watch 2", 19999),
]
REASONS = ["Damaged/Defective", "Wrong Item", "Not as Described", "Changed My Mind", "Found Better Price"]
RESOLUTIONS = ["Full Refund", "Exchange", "Store Credit", "Keep with Discount"]
STATES = ["committed"] * 7 + ["rejected", "proposed", "approved"]


def setup(database_url: str | None) -> str:
    """Point Django at a fresh database and migrate it; returns what to show as the database."""
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp(prefix='insights-bench-')}/bench.sqlite3"
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "returns_console.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    call_command("migrate", verbosity=0)
    return engine


def generate(count: int, seed: int = 12026) -> None:
    """A year of returns: proposals (lines, quote, state, decision), commit audit entries, conversations, ratings."""
    from django.contrib.auth import get_user_model

    from chat.engine.flow import FlowStep
    from chat.models import AssistantTurn, Conversation, ConversationRating, Feedback
    from customers import clock
    from customers.models import AuditAction, AuditEntry, Proposal, ProposalLine

    rng = random.Random(seed)
    agents = [
        get_user_model().objects.create_user(f"agent{i}", is_staff=True, first_name=f"Agent {i}") for i in range(8)
    ]
    now = clock.now()
    proposals, conversations, ratings, thumbs, turns = [], [], [], [], []
    steps = [step.value for step in FlowStep if step is not FlowStep.FILED]
    for index in range(count):
        sku, name, price = rng.choice(PRODUCTS)
        reason = "Damaged/Defective" if sku == "HUB-SMART-2" and rng.random() < 0.4 else rng.choice(REASONS)
        state = rng.choice(STATES)
        filed = now - timedelta(seconds=rng.uniform(0, 365 * 86400))
        decided = filed + timedelta(seconds=rng.uniform(60, 6 * 3600)) if state != "proposed" else None
        amount = price * rng.randint(1, 2)
        thread = f"thr_bench{index:08d}"
        proposals.append(
            Proposal(
                customer_id=f"CUST-{rng.randint(1, 20000):05d}",
                customer_name=f"Customer {index % 20000}",
                customer_tier=rng.choice(["Standard", "Silver", "Gold", "Platinum"]),
                order_id=f"ORD-{100000 + index}",
                thread_id=thread,
                submission_key=f"k{index}",
                lines=[{"sku": sku, "name": name, "quantity": 1, "unit_price_cents": price}],
                reason=reason,
                resolution=rng.choice(RESOLUTIONS),
                shipping="Prepaid Shipping Label",
                quote=(quote := {"refund_cents": amount, "store_credit_cents": 0, "bonus_cents": 0}),
                **Proposal.money_columns(quote),  # bulk_create does not call save(), which keeps them
                evidence={},
                state=state,
                decided_by=rng.choice(agents) if decided else None,
                decided_at=decided,
                customer_message="The photo shows no damage." if state == "rejected" else "",
            )
        )
        conversations.append(Conversation(thread_id=thread, customer_id=proposals[-1].customer_id))
        turns.append(AssistantTurn(thread_id=thread, customer_id="x", engine="guided", step=FlowStep.FILED))
        if index % 3 == 0:  # a conversation that stopped without a return, after three turns
            gone = f"thr_gone{index:08d}"
            conversations.append(Conversation(thread_id=gone, customer_id=proposals[-1].customer_id))
            turns += [
                AssistantTurn(thread_id=gone, customer_id="x", engine="guided", step=step)
                for step in rng.sample(steps, 3)
            ]
        if index % 7 == 0:
            ratings.append(
                ConversationRating(thread_id=thread, customer_id="x", rating=rng.randint(1, 5), engine="guided")
            )
        if index % 11 == 0:
            thumbs.append(Feedback(customer_id="x", thread_id=thread, item_ids=["m"], kind="positive", engine="guided"))
    Proposal.objects.bulk_create(proposals, batch_size=2000)
    # created_at is set on insert by the clock field: spread the rows over the year, as they were filed.
    # The waits as services.decisions and services.commit_progress keep them (commits are logged now, below).
    committed = int(len(proposals) * 0.7)
    for index, proposal in enumerate(proposals):
        proposal.created_at = proposal.decided_at - timedelta(minutes=5) if proposal.decided_at else now
        proposal.decision_seconds = 300.0 if proposal.decided_at else None
        proposal.commit_seconds = (now - proposal.created_at).total_seconds() if index < committed else None
    Proposal.objects.bulk_update(proposals, ["created_at", "decision_seconds", "commit_seconds"], batch_size=1000)
    # bulk_create does not call save(), which keeps the line rows.
    ProposalLine.objects.bulk_create(
        [row for proposal in proposals for row in ProposalLine.rows(proposal)], batch_size=2000
    )
    stored = [(proposal.pk, proposal.thread_id) for proposal in proposals]
    Conversation.objects.bulk_create(conversations, batch_size=2000)
    # Each conversation started when its return was filed (an abandoned one with the return filed before it).
    # As chat.receivers and chat.turns keep them: when the return was filed, the step of the last turn.
    started = {proposal.thread_id: proposal.created_at for proposal in proposals}
    last_step = {turn.thread_id: turn.step for turn in turns}
    for conversation in conversations:
        conversation.created_at = started[conversation.thread_id.replace("thr_gone", "thr_bench")]
        conversation.last_step = last_step[conversation.thread_id]
        if conversation.thread_id in started:
            conversation.return_filed_at = conversation.created_at
    Conversation.objects.bulk_update(conversations, ["created_at", "last_step", "return_filed_at"], batch_size=1000)
    AssistantTurn.objects.bulk_create(turns, batch_size=2000)
    ConversationRating.objects.bulk_create(ratings, batch_size=2000)
    Feedback.objects.bulk_create(thumbs, batch_size=2000)
    entries = [
        AuditEntry(action=AuditAction.COMMITTED, actor_label="worker", proposal_id=pk, thread_id=thread)
        for pk, thread in stored[:committed]
    ]
    AuditEntry.objects.bulk_create(entries, batch_size=2000)


def timed(work, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--returns", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    args = parser.parse_args()
    engine = setup(args.database_url)
    started = time.perf_counter()
    generate(args.returns)
    print(f"{args.returns:,} returns generated in {time.perf_counter() - started:.0f} s ({engine})")

    from customers import clock
    from customers.models import Proposal
    from returns_console.console.insights import TABLES, Period, highlights

    today = clock.store_today()
    periods = {
        "30 days": Period(today - timedelta(days=29), today),
        "365 days": Period(today - timedelta(days=364), today),
    }
    missed = 0
    for label, period in periods.items():
        rows = Proposal.objects.filter(created_at__gte=period.start, created_at__lt=period.end)
        floor = timed(lambda: rows.count(), args.repeat)  # noqa: B023
        print(f"\n{label}: {rows.count():,} proposals; floor (COUNT) p50 {statistics.median(floor):.1f} ms")
        print(f"{'table':<18} {'p50 ms':>8} {'p95 ms':>8} {'x floor':>8}  target p95 < {TARGET_MS:.0f} ms")
        work = {**{name: (lambda build=build: build(period)) for name, build in TABLES.items()}}  # noqa: B023
        work["highlights"] = lambda: highlights(period)  # noqa: B023
        for name, job in work.items():
            samples = timed(job, args.repeat)
            worst = p95(samples)
            missed += worst >= TARGET_MS
            ratio = statistics.median(samples) / max(statistics.median(floor), 0.01)
            verdict = "ok" if worst < TARGET_MS else "MISSED"
            print(f"{name:<18} {statistics.median(samples):>8.1f} {worst:>8.1f} {ratio:>8.0f}  {verdict}")
    print(f"\n{'all tables within target' if not missed else f'{missed} table(s) missed the target'}")


if __name__ == "__main__":
    main()
