"""Health checks behind GET /healthz: each dependency answers within a short timeout or is reported down."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from customers.cosmos.repository import open_repository
from customers.services.commit_progress import stalled_approvals
from returns_console.worker_heartbeat import live_workers

CHECK_TIMEOUT_SECONDS = 3.0


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def _redis() -> str:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    client.ping()
    return "pong"


def _worker() -> str:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    count = live_workers(client)
    if count == 0:
        raise RuntimeError("no Celery worker has reported in the last 20 s")
    return f"{count} live"


class StalledCommits(RuntimeError):
    def __init__(self, count: int) -> None:
        super().__init__(f"{count} approval(s) waiting longer than {settings.COMMIT_RESEND_AFTER_SECONDS} s to commit")
        self.count = count


def _commits() -> str:
    """Approvals whose commit is overdue (the sweep re-sends them): any at all means commits are not flowing."""
    stalled = stalled_approvals().count()
    if stalled:
        raise StalledCommits(stalled)
    return f"no approval waiting longer than {settings.COMMIT_RESEND_AFTER_SECONDS} s to commit"


async def _cosmos() -> str:
    async with open_repository() as repo:
        await repo.ping()
    return settings.COSMOS_DATABASE


async def _timed(check: Callable[[], Awaitable[str]]) -> dict[str, Any]:
    started = time.perf_counter()
    extra: dict[str, Any] = {}
    try:
        detail = await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
        status = "ok"
    except TimeoutError:
        status, detail = "down", f"no answer within {CHECK_TIMEOUT_SECONDS:.0f} s"
    except StalledCommits as stalled:
        status, detail, extra = "stalled", str(stalled), {"stalled_approvals": stalled.count}
    except Exception as error:  # any failure of a dependency is a finding, not a crash
        status, detail = "down", f"{type(error).__name__}: {error}"[:300]
    return {"status": status, "detail": detail, "ms": round((time.perf_counter() - started) * 1000, 1), **extra}


async def health_report() -> dict[str, Any]:
    names = ("database", "redis", "cosmos", "worker", "commits")
    checks = await asyncio.gather(
        _timed(sync_to_async(_database)),
        _timed(sync_to_async(_redis, thread_sensitive=False)),
        _timed(_cosmos),
        _timed(sync_to_async(_worker, thread_sensitive=False)),
        _timed(sync_to_async(_commits)),
    )
    if checks[-1]["status"] == "ok":
        checks[-1]["stalled_approvals"] = 0
    results = dict(zip(names, checks, strict=True))
    healthy = all(check["status"] == "ok" for check in checks)
    return {"status": "ok" if healthy else "degraded", "checks": results}
