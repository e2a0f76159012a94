"""Benchmark: customers chatting while staff dashboards watch, and approvals reaching the customer.

    .venv/bin/python bench/console.py [--customers 50] [--dashboards 10]

N customers (each their own account and order, paced like people as in bench/chat.py) click through a return
while M staff dashboards are connected to /ws/console/. For every item a customer receives over SSE, the lag until
each dashboard receives the same item is measured (customer event -> dashboard receipt; both clocks are this
process's). Beside it: the raw Redis pub/sub round trip on the same Redis, measured in the same run (the floor).
Then an agent approves each customer's proposal over HTTP and the time until that customer's open page
(/ws/chat/) shows the confirmed return is measured (approve -> worker commit -> customer sees it).
Targets: mirror lag p99 <= 2x the Redis round trip + 5 ms at 50 customers x 10 dashboards; approve -> customer
sees it p50 < 300 ms. Uses REDIS_URL / COSMOS_ENDPOINT when set, else starts the local ones.

The servers are laid out as `make run` and docker-compose lay them out: Daphne processes for pages and the chat,
and one of their own for the websockets (``--socket-processes 0`` has the web processes serve the sockets too,
to measure what that costs: a dashboard's feed then queues behind chat turns on a busy process).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis
from yarl import URL

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.chat import GREETING, Pacing, click_request, clicks, pct, prepared_env  # noqa: E402
from returns_console import devstack  # noqa: E402

PASSWORD = "bench-console-pw"
SKU, ITEM_NAME, PRICE = "HUB-SMART-2", "Smart Home Hub", 8999


def bench_identity(index: int) -> tuple[str, str, str]:
    return f"BENCH-{index:05d}", f"bench{index}@example.com", f"ORD-8{index:05d}"


async def seed_bench_customers(count: int, units: int = 1) -> None:
    """One customer and one delivered order (``units`` hubs) per simulated customer, so every approval can really
    commit."""
    from customers.cosmos.repository import open_repository
    from customers.demo import PRODUCTS, DemoData, seed_demo_data
    from customers.domain import Customer, Order, OrderLine, Tier

    now = datetime.now(UTC)
    customers, orders = [], []
    for index in range(count):
        customer_id, email, order_id = bench_identity(index)
        customers.append(Customer(customer_id, f"Bench Customer {index}", email, Tier.GOLD))
        line = OrderLine("1", SKU, ITEM_NAME, PRICE, units)
        orders.append(Order(order_id, customer_id, now - timedelta(days=5), (now - timedelta(days=3)).date(), (line,)))
    async with open_repository() as repo:
        await seed_demo_data(repo, DemoData(tuple(PRODUCTS), tuple(customers), tuple(orders)))


def csrf(session: aiohttp.ClientSession, base: str) -> str:
    return session.cookie_jar.filter_cookies(URL(base))["csrftoken"].value


async def staff_session(base: str) -> tuple[aiohttp.ClientSession, dict[str, str]]:
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with session.get(f"{base}/admin/login/") as page:
        await page.read()
    form = {"username": "supervisor", "password": PASSWORD, "csrfmiddlewaretoken": csrf(session, base), "next": "/"}
    async with session.post(f"{base}/admin/login/", data=form, allow_redirects=False) as signed:
        if signed.status != 302:
            raise RuntimeError(f"staff sign-in {signed.status}")
    return session, {"X-CSRFToken": csrf(session, base), "Content-Type": "application/json"}


# What a dashboard here notes, as it appears in a frame's JSON (the feed's is compact): frames with none of it are
# not parsed. The load generator shares the machine with the servers, so its CPU is kept to what it measures.
NOTED = ('"action":"created"', '"kind":"chat"', "presence")


class Dashboard:
    """One staff page on /ws/console/. A dashboard gets every conversation's list events but chat events only for
    the conversation it has open; like agents picking up new work, dashboard ``index`` of ``count`` opens each
    new conversation whose id hashes to it (the list tells every dashboard of it) and keeps it open until its
    next one. It notes when each item first reached it, and which conversation it had open when."""

    def __init__(self, index: int, count: int) -> None:
        self.index, self.count = index, count
        self.seen: dict[str, float] = {}
        self.views: list[list] = []  # [conversation, open from, open until or None]
        self._asked: str | None = None

    async def follow(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Read the socket until it closes (no per-read timeout: cancelling a read can drop a frame)."""
        from returns_console.console.events import events_in

        async for message in ws:
            now = time.perf_counter()
            if message.type != aiohttp.WSMsgType.TEXT or not any(mark in message.data for mark in NOTED):
                continue
            frame = json.loads(message.data)
            if frame.get("type") == "presence" and frame["conversation"] == self._asked:
                self.views.append([self._asked, now, None])  # open from here: what comes next is expected live
                self._asked = None
            for data in events_in(frame):
                created = data.get("kind") == "conversation" and data.get("action") == "created"
                if created and zlib.crc32(data["conversation"].encode()) % self.count == self.index:
                    if self.views and self.views[-1][2] is None:
                        self.views[-1][2] = now  # the server moves it on as soon as it reads this
                    self._asked = data["conversation"]
                    await ws.send_json({"type": "viewing", "conversation": self._asked})
                item = data.get("event", {}).get("item") if data.get("kind") == "chat" else None
                if item:
                    self.seen.setdefault(item["id"], now)

    async def watch(
        self, session: aiohttp.ClientSession, base: str, sockets: str, ready: asyncio.Event, stop: asyncio.Event
    ) -> None:
        url = sockets.replace("http", "ws") + "/ws/console/"
        async with session, session.ws_connect(url, headers={"Origin": base}, max_msg_size=0) as ws:
            ready.set()
            closer = asyncio.create_task(self._close_when(stop, ws))
            await self.follow(ws)
            await closer

    @staticmethod
    async def _close_when(stop: asyncio.Event, ws: aiohttp.ClientWebSocketResponse) -> None:
        await stop.wait()
        await ws.close()


def expected_live(views: list[list], conversation: str, turn_started: float, turn_ended: float) -> bool:
    """Whether a dashboard with these ``views`` should have got a turn's items live: it had the conversation open
    (the server said so) before the turn began and until the turn ended (a turn's events reach dashboards in a
    burst at its end). Not the moment the customer read an item: a load generator's busy moment can read an item
    late, after a dashboard opened the conversation but long after the server had announced it. What came before a
    dashboard opened a conversation it reads from the API."""
    return any(
        c == conversation and since <= turn_started and (until is None or until >= turn_ended)
        for c, since, until in views
    )


class Customer:
    def __init__(self, index: int) -> None:
        self.customer_id, self.email, self.order_id = bench_identity(index)
        # item id -> [when this customer's SSE delivered it, turn end, turn start]
        self.received: dict[str, list[float]] = {}
        self.thread_id = ""
        self.confirmed_at: float | None = None
        self.approved_at: float | None = None
        self.answered_at: float | None = None  # when the approve request came back

    async def chat(self, base: str, pacing: Pacing, session: aiohttp.ClientSession) -> None:
        await pacing.arrive()
        async with session.get(f"{base}/chat/") as page:
            await page.read()
        headers = {"X-CSRFToken": csrf(session, base), "Content-Type": "application/json"}
        body = {"email": self.email, "order_id": self.order_id}
        async with session.post(f"{base}/chat/session", data=json.dumps(body), headers=headers) as signed:
            if signed.status != 200:
                raise RuntimeError(f"sign-in {signed.status}")
        headers["X-CSRFToken"] = csrf(session, base)
        parsed = await self._turn(session, base, GREETING, headers)
        self.thread_id = next(e["thread"]["id"] for e in parsed if e["type"] == "thread.created")
        for action, payload in clicks(self.order_id):
            await pacing.read_answer()
            request = click_request(self.thread_id, parsed, action, payload)
            parsed = await self._turn(session, base, request, headers)

    async def _turn(self, session: aiohttp.ClientSession, base: str, body: dict, headers: dict) -> list[dict]:
        """One request; each item is timed when its complete SSE event has arrived."""
        parsed: list[dict] = []
        pending = b""
        started = time.perf_counter()
        async with session.post(f"{base}/chatkit", data=json.dumps(body), headers=headers) as response:
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")
            async for chunk in response.content.iter_any():
                now = time.perf_counter()
                pending += chunk
                *complete, pending = pending.split(b"\n\n")
                for block in complete:
                    if block.startswith(b"data: "):
                        event = json.loads(block[6:])
                        parsed.append(event)
                        if event["type"] == "thread.item.done":
                            self.received.setdefault(event["item"]["id"], [now, now, started])
        ended = time.perf_counter()
        for event in parsed:
            if event["type"] == "thread.item.done":
                self.received[event["item"]["id"]][1] = ended
        return parsed

    async def wait_for_confirmation(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            data = json.loads(message.data)
            # The committed return's message (chat.decisions.decision_message); the card said "Confirmed" once.
            if data.get("type") == "thread.item" and "approved and ready" in json.dumps(data["item"]):
                self.confirmed_at = time.perf_counter()
                return


async def redis_round_trips(url: str, samples: int) -> list[float]:
    client = aioredis.from_url(url)
    pubsub = client.pubsub()
    channel = f"bench-floor-{uuid.uuid4().hex[:6]}"
    await pubsub.subscribe(channel)
    await pubsub.get_message(timeout=1)  # the subscribe confirmation
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        await client.publish(channel, b"x")
        while (await pubsub.get_message(timeout=1)) is None:
            pass
        times.append(time.perf_counter() - started)
    await pubsub.aclose()
    await client.aclose()
    return times


def dashboards_process(base: str, sockets: str, count: int, ready: Any, stop: Any, results: Any) -> None:
    """The dashboards in a process of their own, so their receipt times are not held up by the customers'
    clients (perf_counter is the system's monotonic clock, comparable across processes)."""

    async def main() -> None:
        dashboards = [Dashboard(index, count) for index in range(count)]
        stopping = asyncio.Event()
        readies = [asyncio.Event() for _ in dashboards]
        # Signed in one after another: the staff sign-in throttle counts attempts in flight.
        sessions = [(await staff_session(base))[0] for _ in dashboards]
        watchers = [
            asyncio.create_task(d.watch(s, base, sockets, r, stopping))
            for d, s, r in zip(dashboards, sessions, readies, strict=True)
        ]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), timeout=30)
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        stopping.set()
        await asyncio.gather(*watchers, return_exceptions=True)
        results.put([(d.seen, d.views) for d in dashboards])

    asyncio.run(main())


async def run(
    base: str, sockets: str, redis_url: str, customers_count: int, dashboards_count: int, pacing: Pacing
) -> dict:
    """``base`` serves pages and the chat; ``sockets`` the websockets (the same server, or processes of their own)."""
    floor = await redis_round_trips(redis_url, 300)
    context = multiprocessing.get_context("spawn")
    ready, stop, results = context.Event(), context.Event(), context.Queue()
    watcher = context.Process(target=dashboards_process, args=(base, sockets, dashboards_count, ready, stop, results))
    watcher.start()
    if not await asyncio.to_thread(ready.wait, 60):
        raise RuntimeError("the dashboards did not connect")

    customers = [Customer(index) for index in range(customers_count)]
    sessions = [aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) for _ in customers]
    results_queue = results
    results = await asyncio.gather(
        *(c.chat(base, pacing, s) for c, s in zip(customers, sessions, strict=True)), return_exceptions=True
    )
    errors = [r for r in results if isinstance(r, BaseException)]
    await asyncio.sleep(1.0)  # let the last mirrored events land
    stop.set()
    dashboards = [Dashboard(index, dashboards_count) for index in range(dashboards_count)]
    for dashboard, (seen, views) in zip(dashboards, await asyncio.to_thread(results_queue.get, True, 60), strict=True):
        dashboard.seen, dashboard.views = seen, views
    watcher.join(10)

    due = [
        (at, item_id, index, dashboard)
        for customer in customers
        for item_id, (at, ended, started) in customer.received.items()
        for index, dashboard in enumerate(dashboards)
        if expected_live(dashboard.views, customer.thread_id, started, ended)
    ]
    samples = [(at, d.seen[item_id] - at, index) for at, item_id, index, d in due if item_id in d.seen]
    lags = [lag for _, lag, _ in samples]
    expected = len(due)

    # Approvals: an agent approves each proposal; the customer's open page must show the confirmed return.
    staff, staff_headers = await staff_session(base)
    async with staff.get(f"{base}/console/api/proposals?state=proposed") as listed:
        by_thread = {p["thread_id"]: p for p in (await listed.json())["proposals"]}
    open_pages = []
    for customer, session in zip(customers, sessions, strict=True):
        if customer.thread_id in by_thread:
            ws = await session.ws_connect(sockets.replace("http", "ws") + "/ws/chat/", headers={"Origin": base})
            open_pages.append((customer, ws, by_thread[customer.thread_id]))

    async def approve(customer: Customer, ws: aiohttp.ClientWebSocketResponse, proposal: dict) -> None:
        await pacing.arrive()
        waiting = asyncio.create_task(customer.wait_for_confirmation(ws))
        customer.approved_at = time.perf_counter()
        url = f"{base}/console/api/proposals/{proposal['id']}/approve"
        async with staff.post(url, data=json.dumps({"version": proposal["version"]}), headers=staff_headers) as ok:
            if ok.status != 200:
                raise RuntimeError(f"approve {ok.status}")
        customer.answered_at = time.perf_counter()
        await asyncio.wait_for(waiting, timeout=30)

    approvals = await asyncio.gather(*(approve(*entry) for entry in open_pages), return_exceptions=True)
    approve_errors = [r for r in approvals if isinstance(r, BaseException)]
    seen_after = [c.confirmed_at - c.approved_at for c, _, _ in open_pages if c.confirmed_at and c.approved_at]
    answered = [c.answered_at - c.approved_at for c, _, _ in open_pages if c.answered_at and c.approved_at]
    for _, ws, _ in open_pages:
        await ws.close()
    for session in [*sessions, staff]:
        await session.close()
    return {
        "errors": len(errors) + len(approve_errors),
        "first_error": repr((errors + approve_errors)[0])[:160] if errors or approve_errors else "",
        "mirrored": len(lags),
        "expected": expected,
        "lag_p50": statistics.median(lags) * 1000 if lags else float("nan"),
        "lag_p90": pct(lags, 0.90) * 1000,
        "lag_p99": pct(lags, 0.99) * 1000,
        "floor_p50": statistics.median(floor) * 1000,
        "floor_p99": pct(floor, 0.99) * 1000,
        "approve_p50": statistics.median(seen_after) * 1000 if seen_after else float("nan"),
        "approve_p99": pct(seen_after, 0.99) * 1000,
        "approvals": len(seen_after),
        "answer_p50": statistics.median(answered) * 1000 if answered else float("nan"),
        "samples": samples,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--dashboards", type=int, default=10)
    parser.add_argument("--think", type=float, nargs=2, default=[1.0, 3.0], metavar=("MIN", "MAX"))
    parser.add_argument("--ramp", type=float, default=3.0)
    parser.add_argument("--web-processes", type=int, default=devstack.web_processes())
    parser.add_argument("--logs", type=Path)
    parser.add_argument(
        "--socket-processes",
        type=int,
        default=1,
        help="Daphne processes of their own for the websockets, as make run starts (0: the web processes serve them)",
    )
    parser.add_argument("--samples", type=Path, help="write (customer receipt, lag, dashboard) rows as JSON")
    args = parser.parse_args()
    pacing = Pacing((args.think[0], args.think[1]), args.ramp)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        logs = args.logs or tmp
        with devstack.backing_services(tmp / "logs") as service_env:
            env = prepared_env(tmp, service_env, CELERY_QUEUE=f"bench-{uuid.uuid4().hex[:6]}", DEMO_PASSWORD=PASSWORD)
            shared = ("COSMOS_DATABASE", "DATABASE_URL", "REDIS_URL", "COSMOS_ENDPOINT", "COSMOS_KEY", "SECRET_KEY")
            os.environ.update({k: env[k] for k in shared if k in env})
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "returns_console.settings")
            import django

            django.setup()
            asyncio.run(seed_bench_customers(args.customers))
            port = devstack.free_port()
            socket_port = devstack.free_port() if args.socket_processes else port
            if args.socket_processes:
                env["WEBSOCKET_PORT"] = str(socket_port)
                env["ALLOWED_HOSTS"] = devstack.allowed_hosts_with_page_port(devstack.DEFAULT_ALLOWED_HOSTS, port)
            webs = devstack.start_web(env, port, args.web_processes, logs / "web.log")
            if args.socket_processes:
                webs += devstack.start_web(env, socket_port, args.socket_processes, logs / "sockets.log")
            worker = devstack.spawn(devstack.worker_command("WARNING", env["CELERY_QUEUE"]), env, logs / "worker.log")
            try:
                devstack.wait_for_port(port, webs[0], "daphne")
                devstack.wait_for_port(socket_port, webs[-1], "daphne")
                base, sockets = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{socket_port}"
                row = asyncio.run(run(base, sockets, env["REDIS_URL"], args.customers, args.dashboards, pacing))
            finally:
                for process in [*webs, worker]:
                    devstack.stop_process(process)
    if args.samples:
        args.samples.write_text(json.dumps(row["samples"]))
    target_lag = 2 * row["floor_p99"] + 5
    print(
        f"Console: {args.customers} customers ({args.think[0]:g}-{args.think[1]:g} s between clicks) x "
        f"{args.dashboards} dashboards; Daphne: {args.web_processes} for pages and chat, "
        + (f"{args.socket_processes} for the websockets" if args.socket_processes else "websockets on the same")
        + "; 1 worker (concurrency 2)"
    )
    print(f"  errors {row['errors']} {row['first_error']}")
    print(f"  mirrored item deliveries {row['mirrored']} of {row['expected']}")
    print(
        f"  mirror lag (customer event -> dashboard)  p50 {row['lag_p50']:6.2f} ms  p99 {row['lag_p99']:6.2f} ms"
        f"  (p90 {row['lag_p90']:.2f} ms)"
    )
    print(f"  Redis pub/sub round trip (floor)          p50 {row['floor_p50']:6.2f} ms  p99 {row['floor_p99']:6.2f} ms")
    print(
        f"  approve -> customer sees the return       p50 {row['approve_p50']:6.1f} ms"
        f"  p99 {row['approve_p99']:6.1f} ms  ({row['approvals']} approvals; the approve request itself"
        f" p50 {row['answer_p50']:.1f} ms)"
    )
    lag_ok = row["lag_p99"] <= target_lag
    approve_ok = row["approve_p50"] < 300
    complete = row["errors"] == 0 and row["mirrored"] == row["expected"]
    print(
        f"targets: mirror lag p99 <= 2 x {row['floor_p99']:.2f} + 5 = {target_lag:.2f} ms:"
        f" {'met' if lag_ok else 'NOT met'};"
        f" approve -> customer p50 < 300 ms: {'met' if approve_ok else 'NOT met'};"
        f" every event mirrored, no errors: {'yes' if complete else 'NO'}"
    )
    return 0 if lag_ok and approve_ok and complete else 1


if __name__ == "__main__":
    sys.exit(main())
