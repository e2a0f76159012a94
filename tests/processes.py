"""Starting real server processes (Celery worker, Daphne) for tests, and waiting until they are ready."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from returns_console import devstack

ROOT = Path(__file__).resolve().parent.parent


def app_env(tmp_path: Path, redis_url: str, cosmos_env: dict[str, str], database: str) -> dict[str, str]:
    """Environment for a child process of the app, isolated to this test's Redis and Cosmos database."""
    return {
        **cosmos_env,
        "DJANGO_SETTINGS_MODULE": "returns_console.settings",
        "REDIS_URL": redis_url,
        "COSMOS_DATABASE": database,
        "VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.sqlite3'}",
        "CELERY_VISIBILITY_TIMEOUT": "3",
        "CELERY_QUEUE": f"q-{uuid.uuid4().hex[:8]}",  # what the app enqueues reaches only this test's worker
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
    }


def wait_for_log(log: Path, needle: str, process, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and needle in log.read_text(errors="replace"):
            return
        if process.poll() is not None:
            raise AssertionError(
                f"process exited ({process.returncode}); log:\n{log.read_text(errors='replace')[-3000:]}"
            )
        time.sleep(0.1)
    raise AssertionError(f"{needle!r} not in {log} after {timeout} s:\n{log.read_text(errors='replace')[-3000:]}")


def migrate(env: dict[str, str]) -> None:
    """The children's database: proposals live there, and the worker records each commit on them."""
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )


def start_worker(env: dict[str, str], queue: str, log: Path):  # type: ignore[no-untyped-def]
    migrate(env)
    args = [sys.executable, "-m", "celery", "-A", "returns_console", "worker", "-P", "solo", "-Q", queue]
    args += ["--loglevel", "INFO", "--without-mingle", "--without-gossip", "-n", f"{queue}@%h"]
    process = devstack.spawn(args, env={**os.environ, **env}, log=log)
    wait_for_log(log, "ready.", process)
    return process
