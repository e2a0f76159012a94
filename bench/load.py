"""Benchmark: sustained load, customers returning items again and again while staff dashboards watch.

    .venv/bin/python bench/load.py [--duration 600] [--customers 200] [--dashboards 50] [--profile DIR]

N customers (each their own account and order, seeded as bench/console.py seeds them) click through the path of a
return (greeting, item, reason, resolution, shipping, confirm: 6 turns), paced like people (--think seconds between
clicks), and start again in a new thread as soon as one is filed, for the whole --duration. M staff dashboards stay
connected to /ws/console/ from a process of their own, and an agent approves what waits in the queue every
AGENT_PAUSE seconds through the console API (the worker commits it), as staff work a queue. The servers are laid
out as `make run` lays them out: Daphne processes for pages and the chat, one of their own for the websockets, a
Celery worker, Redis and the Cosmos emulator (started here unless REDIS_URL / COSMOS_ENDPOINT are set).

Measured after a warm-up (--warmup, default a tenth of the run, 10-60 s), over the rest of the run:
- throughput (turns completed per second) and the time to a turn's END, the last SSE byte (what the person
  waits for), p50/p90/p99; the first byte beside it;
- errors by kind: any HTTP status but 200 on a turn (a 429 from the per-customer rate limit on /chatkit,
  CHAT_RATE_BURST / CHAT_RATE_PER_MINUTE, left at their defaults: people's pacing stays under it, so a 429 here
  is an error too), an error event in the stream, a timeout, a dropped connection, an item a dashboard never got
  (none in the SETTLE_SECONDS after the last turn, when the machine is idle and nothing is left queued);
- mirror lag: customer receives an item -> each dashboard that has its conversation open receives it (1 item in
  MIRROR_SAMPLE, by id; bench.console.Dashboard: each dashboard opens the new conversations that hash to it),
  and how many came later than LATE_SECONDS (latency, in the lag figures; not lost);
- each server process's resident memory (VmRSS, psutil) at the end of the warm-up and at the end, growth and
  peak, and the CPU it used in the window (for web processes: CPU ms per turn);
- the floor, in the same run: a bare SSE endpoint (bench/floor_sse.py) on its own Daphne driven by a small crowd
  with the same pacing during the load, and the Redis pub/sub round trip before it; the chat's p50 turn end over
  the floor's.
Targets: 0 errors; memory growth under 20% for every server process; p99 turn end under 1 s (at 200 customers).

--profile DIR runs the web processes under cProfile (CPU time of every thread; cleared at the end of the warm-up,
written at the end of the run) and prints where their CPU went, per turn: top functions and time by area. The
profiler makes the web processes about 3x slower, so read the shares, not the absolute figures.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import cProfile
import json
import marshal
import multiprocessing
import os
import pstats
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MIRROR_SAMPLE = 4  # mirror lag is timed for the items whose id hashes to 0 modulo this
TURN_TIMEOUT = 120.0
UNITS_PER_ORDER = 10_000  # every customer returns a hub again and again: the approved ones must not run out
SPEED_EVERY = 30.0  # seconds between samples of the machine's speed (bench.chat.python_speed)
SETTLE_SECONDS = 10.0  # after the last turn: an item on no dashboard by then is lost, not queued
LATE_SECONDS = 3.0  # a mirrored item later than this is counted (and in the lag percentiles)
AGENT_PAUSE = 2.0  # seconds between an agent's looks at the queue
SIGN_IN_AT_ONCE = 4  # sign-ins in flight (the sign-in limiter counts attempts per address before judging them)


def sampled(item_id: str) -> bool:
    return zlib.crc32(item_id.encode()) % MIRROR_SAMPLE == 0


# --- the profiled web process (`--profile`) ----------------------------------------------------------------------


def serve_profiled(out: str, daphne_args: list[str]) -> None:
    """Daphne in this process with a cProfile.Profile per thread; SIGUSR1 clears them, SIGUSR2 writes them merged."""
    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()

    def start_here(*_: Any) -> None:
        profile = cProfile.Profile(time.thread_time)  # CPU of this thread: waiting costs nothing
        with lock:
            profiles.append(profile)
        profile.enable()  # replaces this hook for the thread

    def clear(*_: Any) -> None:
        with lock:
            for profile in profiles:
                profile.clear()

    def write(*_: Any) -> None:
        merged: dict = {}
        with lock:
            for profile in profiles:
                profile.snapshot_stats()  # without disable(): the other threads go on
                for key, (cc, nc, tt, ct, callers) in profile.stats.items():
                    if key in merged:
                        mcc, mnc, mtt, mct, mcallers = merged[key]
                        for caller, value in callers.items():
                            old = mcallers.get(caller)
                            mcallers[caller] = tuple(a + b for a, b in zip(old, value, strict=True)) if old else value
                        merged[key] = (mcc + cc, mnc + nc, mtt + tt, mct + ct, mcallers)
                    else:
                        merged[key] = (cc, nc, tt, ct, dict(callers))
        Path(out + ".tmp").write_bytes(marshal.dumps(merged))
        os.replace(out + ".tmp", out)

    threading.setprofile(start_here)
    signal.signal(signal.SIGUSR1, clear)
    signal.signal(signal.SIGUSR2, write)
    start_here()
    from returns_console.serve import prepared_daphne

    prepared_daphne()().run(daphne_args)


AREAS = (  # (area, substrings of the file path or function name), first match wins
    ("ChatKit library", ("/chatkit/",)),
    ("pydantic (validation, dumps)", ("/pydantic", "pydantic_core")),
    ("Cosmos SDK + azure-core", ("/azure/",)),
    ("aiohttp / HTTP client", ("/aiohttp/", "/yarl/", "/multidict/")),
    ("channel layer + Redis client", ("/channels_redis/", "/redis/", "/msgpack/", "/channels/")),
    ("Django ORM + sqlite", ("/django/db/", "sqlite3")),
    ("Django sessions/auth/middleware", ("/django/contrib/", "/django/middleware/", "/django/utils/")),
    ("Django request/response + asgiref", ("/django/", "/asgiref/")),
    ("guided engine (understanding, flow)", ("/chat/engine/",)),
    ("app: chat (store, server, widgets, views)", ("/chat/",)),
    ("app: customers (domain, services, cosmos repo)", ("/customers/",)),
    ("app: returns_console", ("/returns_console/",)),
    ("JSON (json module)", ("/json/", "json.", "_json")),
    ("logging", ("/logging/",)),
    ("Daphne + Twisted", ("/daphne/", "/twisted/", "/autobahn/", "/zope/", "/txaio/")),
    ("asyncio + threads + selectors", ("/asyncio/", "/concurrent/", "threading.py", "selectors.py", "queue.py")),
    ("uuid/hashlib/hmac/base64", ("uuid.py", "hmac.py", "hashlib", "base64.py", "_hashlib", "_sha", "_blake")),
    ("typing/copy/dataclasses/enum/re", ("typing.py", "copy.py", "dataclasses.py", "enum.py", "/re/", "_sre")),
)


def area_of(key: tuple[str, int, str]) -> str:
    filename, _, name = key
    where = filename if filename != "~" else name
    for area, marks in AREAS:
        if any(mark in where for mark in marks):
            return area
    return "other builtins" if filename == "~" else "other Python"


def profile_report(stats_files: list[Path], turns: int, measured_cpu: float) -> list[str]:
    """Top functions by self and cumulative time, and self time by area, as ms per turn."""
    stats = pstats.Stats(str(stats_files[0]))
    for extra in stats_files[1:]:
        stats.add(str(extra))
    raw = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for _, _, tt, _, _ in raw.values())
    per_turn = 1000.0 / max(1, turns)
    lines = [
        f"Profile of the web processes (cProfile, thread CPU time, every thread): {total:.1f} s over {turns} turns"
        f" = {total * per_turn:.2f} ms/turn under the profiler (they used {measured_cpu * per_turn:.2f} ms of CPU"
        " per turn, profiler included)",
        "  self time by area (a builtin counts for its caller's area)   ms/turn   share",
    ]
    areas: dict[str, float] = collections.defaultdict(float)
    for key, (_, _, tt, _, callers) in raw.items():
        # A builtin (socket.send, isinstance, sqlite3's execute...) counts for the area of the Python code calling it.
        shares = {caller: value[2] for caller, value in callers.items()} if key[0] == "~" else {}
        if sum(shares.values()) <= 0:
            areas[area_of(key)] += tt
            continue
        for caller, caller_tt in shares.items():
            areas[area_of(caller)] += tt * caller_tt / sum(shares.values())
    for area, seconds in sorted(areas.items(), key=lambda pair: -pair[1]):
        lines.append(f"  {area:<58} {seconds * per_turn:>8.2f} {seconds / total:>7.1%}")

    def label(key: tuple[str, int, str]) -> str:
        filename, line, name = key
        for marker in ("site-packages/", "/work/main/", "/lib/python3"):
            if marker in filename:
                filename = filename.split(marker, 1)[1]
        return f"{filename}:{line}({name})" if filename != "~" else name

    for title, column in (("self", 2), ("cumulative", 3)):
        lines.append(f"  top 15 by {title} time                                                 ms/turn  calls/turn")
        ranked = sorted(raw.items(), key=lambda pair: -pair[1][column])
        if column == 3:  # skip the frames every turn runs inside (the loop, the reactor, the thread's run)
            skip = ("asyncio/", "twisted/", "threading.py", "concurrent/", "daphne/", "selectors", "_contextvars")
            ranked = [pair for pair in ranked if not any(s in label(pair[0]) for s in skip)]
        for key, value in ranked[:15]:
            lines.append(f"  {label(key)[-68:]:<68} {value[column] * per_turn:>8.2f} {value[1] / max(1, turns):>8.1f}")
    return lines


# --- the load ------------------------------------------------------------------------------------------------------


class Tally:
    """What the customers did: (started, first byte, end, ended) per turn, errors by kind, items for the mirror."""

    def __init__(self) -> None:
        self.turns: list[tuple[float, float, float, float]] = []
        self.kinds: list[str] = []  # what each turn of self.turns was: its action, or the greeting
        self.errors: collections.Counter[str] = collections.Counter()
        self.returns = 0
        self.approved = 0
        # sampled item id -> (turn started, received at, conversation, turn ended)
        self.received: dict[str, tuple[float, float, str, float]] = {}


def error_kind(error: BaseException) -> str:
    if isinstance(error, asyncio.TimeoutError):
        return f"turn took over {TURN_TIMEOUT:g} s"
    text = str(error)
    if isinstance(error, RuntimeError) and text.startswith(("HTTP", "sign-in", "error event")):
        return text[:60]
    return f"{type(error).__name__}: {text[:60]}" if text else type(error).__name__


async def timed_turn(session: Any, url: str, body: dict, headers: dict, tally: Tally, kind: str) -> list[dict]:
    """One turn over SSE: first byte, last byte, and when each sampled item arrived (for the mirror lag)."""
    started = time.perf_counter()
    first = None
    parsed: list[dict] = []
    pending = b""
    async with asyncio.timeout(TURN_TIMEOUT), session.post(url, data=json.dumps(body), headers=headers) as response:
        if response.status != 200:
            said = await response.read()
            with contextlib.suppress(ValueError, AttributeError):
                said = json.loads(said).get("error", "")
            raise RuntimeError(f"HTTP {response.status} {said}")
        async for chunk in response.content.iter_any():
            now = time.perf_counter()
            first = first or now - started
            pending += chunk
            *complete, pending = pending.split(b"\n\n")
            for block in complete:
                if block.startswith(b"data: "):
                    event = json.loads(block[6:])
                    parsed.append(event)
                    if event["type"] == "thread.item.done" and sampled(event["item"]["id"]):
                        item = event["item"]
                        tally.received.setdefault(item["id"], (started, now, item["thread_id"], now))
    ended = time.perf_counter()
    for event in parsed:
        if event["type"] == "thread.item.done" and event["item"]["id"] in tally.received:
            started_at, at, thread, _ = tally.received[event["item"]["id"]]
            tally.received[event["item"]["id"]] = (started_at, at, thread, ended)
    tally.turns.append((started, first or ended - started, ended - started, ended))
    tally.kinds.append(kind)
    if any(event["type"] == "error" for event in parsed):
        raise RuntimeError("error event in the stream")
    return parsed


async def customer_loop(
    index: int, base: str, pacing: Any, deadline: float, tally: Tally, sign_ins: asyncio.Semaphore
) -> None:
    import aiohttp

    from bench.chat import GREETING, click_request, clicks
    from bench.console import bench_identity, csrf

    _, email, order_id = bench_identity(index)
    url = f"{base}/chatkit"
    await pacing.arrive()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        headers: dict[str, str] = {}
        while not headers and time.perf_counter() < deadline:
            try:
                async with sign_ins:
                    async with session.get(f"{base}/chat/") as page:
                        await page.read()
                    headers = {"X-CSRFToken": csrf(session, base), "Content-Type": "application/json"}
                    body = json.dumps({"email": email, "order_id": order_id})
                    async with session.post(f"{base}/chat/session", data=body, headers=headers) as signed:
                        if signed.status != 200:
                            raise RuntimeError(f"sign-in HTTP {signed.status}")
                    headers["X-CSRFToken"] = csrf(session, base)
            except Exception as failed:
                headers = {}
                tally.errors[error_kind(failed)] += 1
                await pacing.read_answer()
        while time.perf_counter() < deadline:
            try:
                parsed = await timed_turn(session, url, GREETING, headers, tally, "greeting")
                thread_id = next(e["thread"]["id"] for e in parsed if e["type"] == "thread.created")
                for action, payload in clicks(order_id):
                    await pacing.read_answer()
                    if time.perf_counter() >= deadline:
                        return
                    request = click_request(thread_id, parsed, action, payload)
                    parsed = await timed_turn(session, url, request, headers, tally, action)
                tally.returns += 1
            except Exception as failed:
                tally.errors[error_kind(failed)] += 1
            await pacing.read_answer()


async def agent_loop(base: str, deadline: float, tally: Tally) -> None:
    """An agent working the queue as customers file: each waiting proposal is approved through the console API
    and committed by the worker, as staff would, so no customer piles up open requests for the same units."""
    import aiohttp

    from bench.console import staff_session

    staff, headers = await staff_session(base)
    try:
        while time.perf_counter() < deadline:
            try:
                async with staff.get(f"{base}/console/api/proposals?state=proposed") as listed:
                    waiting = (await listed.json())["proposals"]
                for proposal in waiting:
                    url = f"{base}/console/api/proposals/{proposal['id']}/approve"
                    body = json.dumps({"version": proposal["version"]})
                    async with staff.post(url, data=body, headers=headers) as approved:
                        if approved.status == 200:
                            tally.approved += 1
                        else:
                            tally.errors[f"approval HTTP {approved.status}"] += 1
            except (TimeoutError, aiohttp.ClientError) as failed:
                tally.errors[f"agent: {error_kind(failed)}"] += 1
            await asyncio.sleep(AGENT_PAUSE)
    finally:
        await staff.close()


async def floor_loop(url: str, pacing: Any, deadline: float, ends: list[tuple[float, float]]) -> None:
    import aiohttp

    from bench.chat import timed_stream

    await pacing.arrive()
    async with aiohttp.ClientSession() as session:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            with contextlib.suppress(Exception):
                _, end, _ = await timed_stream(session, url, "{}", {"Content-Type": "application/json"})
                ends.append((started, end))
            await pacing.read_answer()


def dashboards_process(base: str, sockets: str, count: int, ready: Any, stop: Any, results: Any) -> None:
    """Staff dashboards in a process of their own (bench.console.Dashboard: each opens the new conversations
    that hash to it), signed in one after another (the staff sign-in throttle counts attempts in flight)."""

    from bench.console import Dashboard, staff_session
    from returns_console.serve import use_fast_loop

    async def main() -> None:
        url = sockets.replace("http", "ws") + "/ws/console/"
        opened = []
        for _ in range(count):
            session, _ = await staff_session(base)
            opened.append((session, await session.ws_connect(url, headers={"Origin": base}, max_msg_size=0)))
        dashboards = [Dashboard(index, count) for index in range(count)]
        watchers = [asyncio.create_task(d.follow(ws)) for d, (_, ws) in zip(dashboards, opened, strict=True)]
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        dropped = sum(1 for watcher in watchers if watcher.done())  # a socket that ended before we closed it
        for session, ws in opened:
            await ws.close()
            await session.close()
        await asyncio.gather(*watchers, return_exceptions=True)
        results.put(([d.seen for d in dashboards], [d.views for d in dashboards], dropped))

    use_fast_loop()  # the load generator shares the machine with the servers: its own CPU is kept small
    asyncio.run(main())


# --- processes: memory and CPU -------------------------------------------------------------------------------------


class Watched:
    def __init__(self, name: str, pid: int, judged: bool = True) -> None:
        import psutil

        self.name, self.pid, self.judged = name, pid, judged
        self.process = psutil.Process(pid)
        self.rss_start = self.rss_end = self.peak = 0
        self.cpu_start = self.cpu_end = 0.0

    def rss(self) -> int:
        try:
            rss = self.process.memory_info().rss
        except Exception:
            return 0
        self.peak = max(self.peak, rss)
        return rss

    def cpu(self) -> float:
        try:
            times = self.process.cpu_times()
        except Exception:
            return 0.0
        return times.user + times.system

    def mark_start(self) -> None:
        self.rss_start, self.cpu_start = self.rss(), self.cpu()

    def mark_end(self) -> None:
        self.rss_end, self.cpu_end = self.rss(), self.cpu()

    @property
    def growth(self) -> float:
        return (self.rss_end - self.rss_start) / self.rss_start if self.rss_start else float("nan")


class WatchedServer(Watched):
    """A server that works in child processes (PostgreSQL's backends): CPU of the live ones and of those gone."""

    def cpu(self) -> float:
        try:
            times = self.process.cpu_times()
            live = sum(sum(child.cpu_times()[:2]) for child in self.process.children())
        except Exception:
            return 0.0
        return times.user + times.system + times.children_user + times.children_system + live


def postmaster_pid() -> int | None:
    """The local PostgreSQL server's main process, if one runs on this machine."""
    import psutil

    names = {"postgres", "postmaster"}
    for process in psutil.process_iter(["name", "ppid"]):
        with contextlib.suppress(psutil.Error):
            if process.info["name"] in names and psutil.Process(process.info["ppid"]).name() not in names:
                return process.pid
    return None


def machine_cpu() -> tuple[float, float]:
    import psutil

    times = psutil.cpu_times()
    return times.idle + getattr(times, "iowait", 0.0), sum(times)


# --- the run -------------------------------------------------------------------------------------------------------


async def run(args: argparse.Namespace, base: str, sockets: str, floor: str, env: dict, watched: list[Watched]) -> dict:
    from bench.chat import Pacing, python_speed
    from bench.console import expected_live, redis_round_trips

    redis_floor = await redis_round_trips(env["REDIS_URL"], 300)
    speeds: list[float] = []
    context = multiprocessing.get_context("spawn")
    ready, stop, results = context.Event(), context.Event(), context.Queue()
    watcher = context.Process(target=dashboards_process, args=(base, sockets, args.dashboards, ready, stop, results))
    watcher.start()
    if not await asyncio.to_thread(ready.wait, 300):
        raise RuntimeError("the dashboards did not connect")
    import psutil

    load_generator = [
        Watched("bench (customers)", os.getpid(), False),
        Watched("bench (dashboards)", watcher.pid, False),
    ]

    pacing = Pacing((args.think[0], args.think[1]), args.ramp)
    tally = Tally()
    floor_ends: list[tuple[float, float]] = []
    began = time.perf_counter()
    warm_end, deadline = began + args.warmup, began + args.duration
    sign_ins = asyncio.Semaphore(SIGN_IN_AT_ONCE)
    tasks = [
        asyncio.create_task(customer_loop(index, base, pacing, deadline, tally, sign_ins))
        for index in range(args.customers)
    ]
    tasks.append(asyncio.create_task(agent_loop(base, deadline, tally)))
    tasks += [
        asyncio.create_task(floor_loop(floor + "/", pacing, deadline, floor_ends)) for _ in range(args.floor_clients)
    ]

    async def sample_memory() -> None:
        while True:
            for process in watched:
                process.rss()
            await asyncio.sleep(5)

    async def sample_speed() -> None:
        while True:
            speeds.append(await asyncio.to_thread(python_speed))
            await asyncio.sleep(SPEED_EVERY)

    sampler = asyncio.create_task(sample_memory())
    speed_sampler = asyncio.create_task(sample_speed())
    await asyncio.sleep(max(0.0, warm_end - time.perf_counter()))
    for number, child in enumerate(psutil.Process(args.worker_pid).children(recursive=True), 1):
        watched.insert(watched.index(args.worker_entry) + number, Watched(f"celery worker pool {number}", child.pid))
    for process in watched + load_generator:
        process.mark_start()
    for pid in args.profiled_pids:
        os.kill(pid, signal.SIGUSR1)
    machine_start = machine_cpu()
    await asyncio.sleep(max(0.0, deadline - time.perf_counter()))
    for process in watched + load_generator:
        process.mark_end()
    machine_end = machine_cpu()
    for pid in args.profiled_pids:
        os.kill(pid, signal.SIGUSR2)
    sampler.cancel()
    speed_sampler.cancel()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            tally.errors[f"customer stopped: {error_kind(outcome)}"] += 1
    await asyncio.sleep(SETTLE_SECONDS)  # the last mirrored items land
    stop.set()
    seen, views, dropped = await asyncio.to_thread(results.get, True, 120)
    watcher.join(30)

    window = deadline - warm_end
    measured = [turn for turn in tally.turns if warm_end <= turn[0] < deadline]
    by_kind: dict[str, list[float]] = collections.defaultdict(list)
    for turn, kind in zip(tally.turns, tally.kinds, strict=True):
        if warm_end <= turn[0] < deadline:
            by_kind[kind].append(turn[2])
    completed = sum(1 for turn in tally.turns if warm_end <= turn[3] <= deadline)
    ends = [turn[2] for turn in measured]
    firsts = [turn[1] for turn in measured]
    floor_window = [end for started, end in floor_ends if warm_end <= started < deadline]
    expected = [
        (item_id, at, index)
        for item_id, (started, at, conversation, ended) in tally.received.items()
        if warm_end <= started < deadline
        for index, opened in enumerate(views)
        if expected_live(opened, conversation, started, ended)
    ]
    lags = [seen[index][item_id] - at for item_id, at, index in expected if item_id in seen[index]]
    missed = len(expected) - len(lags)
    if missed:
        tally.errors[f"an item on no dashboard {SETTLE_SECONDS:g} s after the last turn (lost)"] += missed
    if dropped:
        tally.errors["a dashboard's socket closed"] += dropped
    idle = machine_end[0] - machine_start[0]
    busy = (machine_end[1] - machine_start[1]) - idle
    ours = sum(p.cpu_end - p.cpu_start for p in watched + load_generator)
    return {
        "tally": tally,
        "window": window,
        "completed": completed,
        "measured": len(measured),
        "ends": ends,
        "by_kind": by_kind,
        "firsts": firsts,
        "floor": floor_window,
        "redis": redis_floor,
        "speeds": speeds,
        "lags": lags,
        "mirror_expected": len(expected),
        "load_generator": load_generator,
        "busy": busy,
        "others": busy - ours,
        "cores": psutil.cpu_count() or 1,
    }


def ms(samples: list[float], fraction: float) -> float:
    from bench.chat import pct

    return pct(samples, fraction) * 1000


def report(args: argparse.Namespace, row: dict, watched: list[Watched]) -> tuple[list[str], bool]:
    tally: Tally = row["tally"]
    ends, floor = row["ends"], row["floor"]
    errors = sum(tally.errors.values())
    end_p50, end_p99 = ms(ends, 0.5), ms(ends, 0.99)
    floor_p50 = ms(floor, 0.5)
    web_cpu = sum(p.cpu_end - p.cpu_start for p in watched if p.name.startswith("web "))
    lines = [
        f"Load: {args.customers} customers ({args.think[0]:g}-{args.think[1]:g} s between clicks, a new return after"
        f" each) + {args.dashboards} dashboards for {args.duration:g} s (warm-up {args.warmup:g} s, measured"
        f" {row['window']:.0f} s); Daphne: {args.web_processes} for pages and chat, "
        + (f"{args.socket_processes} for the websockets" if args.socket_processes else "websockets on the same")
        + f"; 1 worker; {row['cores']} cores"
        + ("; web processes under cProfile" if args.profile else ""),
        f"  turns completed {row['completed']} = {row['completed'] / row['window']:.1f} turns/s;"
        f" returns filed (whole run) {tally.returns}, approved by an agent {tally.approved}",
        f"  turn end (last SSE byte)   p50 {end_p50:8.1f} ms  p90 {ms(ends, 0.9):8.1f} ms  p99 {end_p99:8.1f} ms"
        f"  ({row['measured']} turns started in the window)",
        f"  turn first byte            p50 {ms(row['firsts'], 0.5):8.1f} ms  p90 {ms(row['firsts'], 0.9):8.1f} ms"
        f"  p99 {ms(row['firsts'], 0.99):8.1f} ms",
        *(
            f"    {kind:<24} p50 {ms(ends_of, 0.5):8.1f} ms  p90 {ms(ends_of, 0.9):8.1f} ms  p99"
            f" {ms(ends_of, 0.99):8.1f} ms  ({len(ends_of)} turns)"
            for kind, ends_of in row["by_kind"].items()
        ),
        f"  floor: bare SSE endpoint, {args.floor_clients} clients, same pacing, during the load"
        f"  p50 {floor_p50:6.1f} ms  p99 {ms(floor, 0.99):6.1f} ms;  chat p50 turn end / floor p50:"
        f" {end_p50 / floor_p50 if floor_p50 else float('nan'):.0f}x",
        f"  Redis pub/sub round trip (before the load)   p50 {ms(row['redis'], 0.5):6.2f} ms"
        f"  p99 {ms(row['redis'], 0.99):6.2f} ms",
        f"  mirror lag customer -> dashboard (1 item in {MIRROR_SAMPLE})  p50 {ms(row['lags'], 0.5):7.1f} ms"
        f"  p90 {ms(row['lags'], 0.9):7.1f} ms  p99 {ms(row['lags'], 0.99):7.1f} ms"
        f"  ({len(row['lags'])} of {row['mirror_expected']} deliveries;"
        f" {sum(lag > LATE_SECONDS for lag in row['lags'])} later than {LATE_SECONDS:g} s)",
        f"  errors {errors}" + "".join(f"\n    {count:>6}  {kind}" for kind, count in tally.errors.most_common()),
        f"  {'process':<22} {'pid':>7} {'RSS start':>10} {'RSS end':>10} {'growth':>8} {'peak':>9}"
        f" {'CPU s':>8} {'CPU ms/turn':>11}",
    ]
    per_turn = 1000.0 / max(1, row["completed"])
    for process in watched + row["load_generator"]:
        cpu, start, end = process.cpu_end - process.cpu_start, process.rss_start / 2**20, process.rss_end / 2**20
        lines.append(
            f"  {process.name:<22} {process.pid:>7} {start:>8.1f}MB {end:>8.1f}MB {process.growth:>+7.1%}"
            f" {process.peak / 2**20:>7.1f}MB {cpu:>8.1f} {cpu * per_turn:>11.2f}"
            + ("" if process.judged else "  (not judged)")
        )
    lines.append(
        f"  CPU in the window: {row['busy']:.0f} s busy of {row['cores'] * row['window']:.0f} s;"
        f" web processes {web_cpu * per_turn:.1f} ms per turn; other programs on this machine {row['others']:.0f} s"
    )
    speeds = row["speeds"] or [float("nan")]
    work = statistics.median(speeds)
    lines.append(
        f"  this machine's speed: a fixed piece of Python work (bench.chat.python_speed, every {SPEED_EVERY:g} s) took"
        f" {work:.1f} ms of CPU (median of {len(speeds)}; {min(speeds):.1f}-{max(speeds):.1f}); per turn, in units"
        f" of it: web {web_cpu * per_turn / work:.3f}, the machine all told {row['busy'] * per_turn / work:.3f}"
    )
    grown = [p for p in watched if p.judged and not p.growth < 0.20]
    ok_errors, ok_memory, ok_p99 = errors == 0, not grown, end_p99 < 1000
    lines.append(
        f"targets: 0 errors: {'met' if ok_errors else 'NOT met'};"
        f" memory growth < 20% per process: {'met' if ok_memory else 'NOT met'}"
        + (f" ({', '.join(f'{p.name} {p.growth:+.0%}' for p in grown)})" if grown else "")
        + f"; p99 turn end < 1000 ms: {'met' if ok_p99 else 'NOT met'} ({end_p99:.0f} ms at {args.customers} customers)"
    )
    return lines, ok_errors and ok_memory and ok_p99


def start_profiled_web(env: dict, port: int, processes: int, log: Path, out: Path) -> list[Any]:
    """devstack.start_web with each Daphne process run by serve_profiled (this file)."""
    from returns_console import devstack

    listeners = devstack.listen_each(port, processes)
    try:
        return [
            devstack.spawn(
                [
                    sys.executable,
                    __file__,
                    "--serve-profiled",
                    str(out / f"web{number}.prof"),
                    *devstack.DAPHNE_OPTIONS,
                    "--fd",
                    str(listener.fileno()),
                    devstack.ASGI_APP,
                ],
                env,
                log,
                pass_fds=[listener.fileno()],
            )
            for number, listener in enumerate(listeners, 1)
        ]
    finally:
        for listener in listeners:
            listener.close()


def main() -> int:
    if sys.argv[1:2] == ["--serve-profiled"]:
        serve_profiled(sys.argv[2], sys.argv[3:])
        return 0
    from returns_console import devstack
    from returns_console.serve import use_fast_loop

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load")
    parser.add_argument("--warmup", type=float, help="seconds before measuring (default a tenth of the run, 10-60)")
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--dashboards", type=int, default=50)
    parser.add_argument("--think", type=float, nargs=2, default=[1.0, 3.0], metavar=("MIN", "MAX"))
    parser.add_argument("--ramp", type=float, default=10.0, help="customers arrive over this many seconds")
    parser.add_argument("--floor-clients", type=int, default=10)
    parser.add_argument("--web-processes", type=int, default=devstack.web_processes())
    parser.add_argument("--socket-processes", type=int, default=1, help="0: the web processes serve the sockets")
    parser.add_argument("--logs", type=Path, help="keep the servers' logs here")
    parser.add_argument("--profile", type=Path, help="run the web processes under cProfile, stats written here")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL"),
        help="a PostgreSQL server to run on (a database is created and dropped); default a SQLite file",
    )
    args = parser.parse_args()
    if args.warmup is None:
        args.warmup = max(10.0, min(60.0, args.duration / 10), args.ramp)
    if args.warmup >= args.duration:
        parser.error("--warmup must be shorter than --duration")
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        logs = args.logs or tmp
        with contextlib.ExitStack() as stack:
            from bench.chat import bench_database, prepared_env
            from bench.console import PASSWORD, seed_bench_customers

            services = stack.enter_context(devstack.started_services(tmp / "logs"))
            database_url = stack.enter_context(bench_database(tmp, args.database_url))
            service_env = {name: value for service in services for name, value in service.env.items()}
            queue = f"bench-{uuid.uuid4().hex[:6]}"
            # DEMO_PASSWORD: the staff accounts' password, which staff_session signs in with
            env = prepared_env(tmp, service_env, database_url, CELERY_QUEUE=queue, DEMO_PASSWORD=PASSWORD)
            shared = ("COSMOS_DATABASE", "DATABASE_URL", "REDIS_URL", "COSMOS_ENDPOINT", "COSMOS_KEY", "SECRET_KEY")
            os.environ.update({k: env[k] for k in shared if k in env})
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "returns_console.settings")
            import django

            django.setup()
            asyncio.run(seed_bench_customers(args.customers, units=UNITS_PER_ORDER))
            port, floor_port = devstack.free_port(), devstack.free_port()
            socket_port = devstack.free_port() if args.socket_processes else port
            if args.socket_processes:
                env["WEBSOCKET_PORT"] = str(socket_port)
                env["ALLOWED_HOSTS"] = devstack.allowed_hosts_with_page_port(devstack.DEFAULT_ALLOWED_HOSTS, port)
            if args.profile:
                args.profile.mkdir(parents=True, exist_ok=True)
                for old in args.profile.glob("web*.prof"):
                    old.unlink()
                webs = start_profiled_web(env, port, args.web_processes, logs / "web.log", args.profile)
            else:
                webs = devstack.start_web(env, port, args.web_processes, logs / "web.log")
            socket_servers = (
                devstack.start_web(env, socket_port, args.socket_processes, logs / "sockets.log")
                if args.socket_processes
                else []
            )
            worker = devstack.spawn(devstack.worker_command("WARNING", env["CELERY_QUEUE"]), env, logs / "worker.log")
            floor = devstack.spawn(
                [*devstack.DAPHNE_COMMAND, "-b", "127.0.0.1", "-p", str(floor_port), "bench.floor_sse:app"],
                env,
                logs / "floor.log",
            )
            args.profiled_pids = [web.pid for web in webs] if args.profile else []
            try:
                devstack.wait_for_port(port, webs[0], "daphne")
                devstack.wait_for_port(socket_port, (socket_servers or webs)[0], "daphne")
                devstack.wait_for_port(floor_port, floor, "floor daphne")
                watched = [Watched(f"web {n}", web.pid) for n, web in enumerate(webs, 1)]
                watched += [Watched(f"sockets {n}", s.pid) for n, s in enumerate(socket_servers, 1)]
                args.worker_pid, args.worker_entry = worker.pid, Watched("celery worker", worker.pid)
                watched.append(args.worker_entry)
                watched += [Watched(f"{s.name} ({Path(s.process.args[0]).name})", s.process.pid) for s in services]
                watched.append(Watched("floor daphne", floor.pid, judged=False))
                if args.database_url and (postmaster := postmaster_pid()):
                    watched.append(WatchedServer("PostgreSQL (all its processes)", postmaster, judged=False))
                base, sockets = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{socket_port}"
                use_fast_loop()
                row = asyncio.run(run(args, base, sockets, f"http://127.0.0.1:{floor_port}", env, watched))
                if args.profile:
                    files = [args.profile / f"web{n}.prof" for n in range(1, len(webs) + 1)]
                    deadline = time.monotonic() + 120
                    while not all(f.exists() for f in files) and time.monotonic() < deadline:
                        time.sleep(0.5)
            finally:
                for process in [*webs, *socket_servers, worker, floor]:
                    devstack.stop_process(process)
    lines, ok = report(args, row, watched)
    if not services or len(services) < 2:
        lines.insert(1, "  (REDIS_URL / COSMOS_ENDPOINT set: those servers are not this run's and are not listed)")
    print("\n".join(lines))
    if args.profile:
        web_cpu = sum(p.cpu_end - p.cpu_start for p in watched if p.name.startswith("web "))
        print("\n".join(profile_report(files, row["completed"], web_cpu)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
