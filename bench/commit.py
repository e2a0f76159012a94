"""Benchmark: commit_return throughput and latency against the Cosmos emulator, beside raw point writes.

    .venv/bin/python bench/commit.py [--commits 300]

The floor is the same emulator's raw point-write (upsert) throughput, measured in the same run with the
same client and concurrency. A commit is one point read of the order plus one transactional batch of
two or three operations, so about half the raw rate is the ceiling; the target is >= 40%.
Uses COSMOS_ENDPOINT/COSMOS_KEY when set, else starts the local emulator.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from customers.cosmos import documents as docs
from customers.cosmos.client import CosmosConfig
from customers.cosmos.repository import CosmosRepository, open_repository
from customers.domain import Customer, Order, OrderLine, Reason, Resolution, Shipping, Tier
from customers.policy import DEFAULT_POLICY
from customers.services.commit import ApprovedReturn, ReturnLineRequest, commit_return
from customers.services.quote import QuoteLine, refund_quote
from returns_console import devstack

CONCURRENCY = (1, 8, 32)
TARGET_RATIO = 0.40


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run_concurrently(
    count: int, concurrency: int, job: Callable[[int], Awaitable[object]]
) -> tuple[float, list[float]]:
    """Run ``count`` jobs with ``concurrency`` in flight; return (ops per second, latencies in ms)."""
    latencies: list[float] = []
    next_index = iter(range(count))

    async def lane() -> None:
        for index in next_index:
            started = time.perf_counter()
            await job(index)
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return count / (time.perf_counter() - started), latencies


async def prepare_orders(repo: CosmosRepository, prefix: str, count: int) -> list[ApprovedReturn]:
    """One customer per 16 orders (commits share partitions as real traffic does), one returnable line each."""
    delivered = datetime.now(UTC).date() - timedelta(days=3)
    quote = refund_quote(
        [QuoteLine("BENCH-1", "Bench item", 1, 4999)],
        Reason.DAMAGED,
        Resolution.STORE_CREDIT,
        Shipping.PREPAID_LABEL,
        Tier.GOLD,
        DEFAULT_POLICY,
    )
    approvals = []
    writes = []
    for index in range(count):
        customer_id = f"BC-{prefix}-{index // 16}"
        order_id = f"ORD-{index:08d}"
        if index % 16 == 0:
            writes.append(docs.customer_document(Customer(customer_id, "Bench", f"{customer_id}@bench", Tier.GOLD)))
        line = OrderLine(f"{order_id}-L1", "BENCH-1", "Bench item", 4999, 1)
        order = Order(order_id, customer_id, datetime.now(UTC), delivered, (line,))
        writes.append(docs.order_document(order))
        approvals.append(
            ApprovedReturn(
                f"bench-{prefix}-{index}",
                customer_id,
                order_id,
                (ReturnLineRequest("BENCH-1", 1),),
                Reason.DAMAGED,
                Resolution.STORE_CREDIT,
                Shipping.PREPAID_LABEL,
                quote,
                "bench",
            )
        )
    semaphore = asyncio.Semaphore(32)

    async def write(doc: dict) -> None:
        async with semaphore:
            await repo.customer_data.upsert_item(doc)

    await asyncio.gather(*(write(doc) for doc in writes))
    return approvals


async def bench(config: CosmosConfig, commits: int) -> bool:
    rows = []
    async with open_repository(config) as repo:
        await repo.ensure_schema()
        try:
            for concurrency in CONCURRENCY:
                raw_rate, raw_lat = await run_concurrently(
                    commits,
                    concurrency,
                    lambda i, c=concurrency: repo.customer_data.upsert_item(
                        {"id": f"raw-{c}-{i}", "customer_id": f"RAW-{i % 64}", "type": "probe", "n": i}
                    ),
                )
                approvals = await prepare_orders(repo, f"c{concurrency}", commits)
                rate, lat = await run_concurrently(
                    commits, concurrency, lambda i, a=approvals: commit_return(repo, a[i])
                )
                rows.append((concurrency, rate, lat, raw_rate, raw_lat))
        finally:
            await repo.client.delete_database(config.database)
    print(f"commit_return vs raw point writes, {commits} operations per row, endpoint {config.endpoint}")
    print(
        f"{'conc':>4} {'commits/s':>10} {'p50 ms':>8} {'p99 ms':>8} | "
        f"{'writes/s':>9} {'p50 ms':>8} {'p99 ms':>8} | ratio"
    )
    ok = True
    for concurrency, rate, lat, raw_rate, raw_lat in rows:
        ratio = rate / raw_rate
        ok &= ratio >= TARGET_RATIO
        print(
            f"{concurrency:>4} {rate:>10.1f} {statistics.median(lat):>8.2f} {percentile(lat, 0.99):>8.2f} | "
            f"{raw_rate:>9.1f} {statistics.median(raw_lat):>8.2f} {percentile(raw_lat, 0.99):>8.2f} | {ratio:>5.0%}"
        )
    print(f"target: commits/s >= {TARGET_RATIO:.0%} of raw writes/s at every concurrency: {'met' if ok else 'NOT met'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commits", type=int, default=400)
    args = parser.parse_args()
    database = f"bench-{uuid.uuid4().hex[:8]}"
    if os.environ.get("COSMOS_ENDPOINT"):
        config = CosmosConfig(
            os.environ["COSMOS_ENDPOINT"],
            os.environ.get("COSMOS_KEY", ""),
            database,
            os.environ.get("COSMOS_VERIFY_TLS", "true").lower() == "true",
        )
        return 0 if asyncio.run(bench(config, args.commits)) else 1
    with tempfile.TemporaryDirectory() as logs:
        emulator = devstack.start_cosmos_emulator(Path(logs))
        try:
            config = CosmosConfig(emulator.url, devstack.EMULATOR_KEY, database, verify_tls=False)
            return 0 if asyncio.run(bench(config, args.commits)) else 1
        finally:
            emulator.stop()


if __name__ == "__main__":
    sys.exit(main())
