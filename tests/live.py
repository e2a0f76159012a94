"""A live stack for tests that meet the app as users do: Daphne (and optionally a Celery worker) in
subprocesses, on a migrated SQLite database and a seeded Cosmos database of their own."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from returns_console import devstack
from tests.processes import ROOT, app_env, start_worker


@dataclass
class LiveStack:
    url: str
    env: dict[str, str]
    logs: Path


@contextmanager
def live_stack(
    tmp: Path,
    redis_url: str,
    cosmos_env: dict[str, str],
    extra_env: dict[str, str] | None = None,
    *,
    worker: bool = False,
    sockets: bool = False,
) -> Iterator[LiveStack]:
    """Daphne (and, with ``worker``, a Celery worker on a queue of its own) on a fresh SQLite database and
    Cosmos database, seeded with the demo data and staff. With ``sockets``, the websockets are served by a
    Daphne process of their own on WEBSOCKET_PORT, as `make run` lays it out (logs: daphne.log, sockets.log)."""
    env = app_env(tmp, redis_url, cosmos_env, f"live-{uuid.uuid4().hex[:8]}")
    env.update({"DATABASE_URL": f"sqlite:///{tmp / 'live.sqlite3'}", "DEMO_PASSWORD": "live-test-pw", "DEBUG": "false"})
    env.update(extra_env or {})
    port, socket_port = devstack.free_port(), devstack.free_port()
    if sockets:
        env["WEBSOCKET_PORT"] = str(socket_port)
        # The sockets' process accepts pages from the web port (returns_console/origin.py), as in `make run`.
        hosts = env.get("ALLOWED_HOSTS") or os.environ.get("ALLOWED_HOSTS", devstack.DEFAULT_ALLOWED_HOSTS)
        env["ALLOWED_HOSTS"] = devstack.allowed_hosts_with_page_port(hosts, port)
    full_env = {**os.environ, **env}
    for command in (["migrate", "--noinput"], ["seed_demo"]):
        subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *command], env=full_env, check=True, capture_output=True
        )
    webs = devstack.start_web(full_env, port, 1, tmp / "daphne.log")
    if sockets:
        webs += devstack.start_web(full_env, socket_port, 1, tmp / "sockets.log")
    workers = [start_worker(env, env["CELERY_QUEUE"], tmp / "worker.log")] if worker else []
    try:
        for process, listening in zip(webs, (port, socket_port), strict=False):
            devstack.wait_for_port(listening, process, "daphne")
        yield LiveStack(f"http://127.0.0.1:{port}", env, tmp)
    finally:
        for process in [*webs, *workers]:
            devstack.stop_process(process)


async def sign_in_customer(
    session: aiohttp.ClientSession, url: str, email: str = "rjohnson@company.com", order_id: str = "ORD-79001"
) -> str:
    """Open the chat page and sign in over HTTP as a browser would; returns the CSRF token for later posts."""
    from yarl import URL

    async with session.get(f"{url}/chat/") as page:
        assert page.status == 200
    token = session.cookie_jar.filter_cookies(URL(url))["csrftoken"].value
    async with session.post(
        f"{url}/chat/session", json={"email": email, "order_id": order_id}, headers={"X-CSRFToken": token}
    ) as response:
        assert response.status == 200, await response.text()
    return token
