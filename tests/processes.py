"""Starting real server processes (Celery worker, Daphne) for tests, and waiting until they are ready."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def spawn_worker(env: dict[str, str], queue: str, log: Path):  # type: ignore[no-untyped-def]
    """A worker on a database that is already migrated (``start_worker`` migrates first, which takes seconds): for
    starting one again right after another died. Waits until it is ready."""
    args = [sys.executable, "-m", "celery", "-A", "returns_console", "worker", "-P", "solo", "-Q", queue]
    args += ["--loglevel", "INFO", "--without-mingle", "--without-gossip", "-n", f"{queue}@%h"]
    process = devstack.spawn(args, env={**os.environ, **env}, log=log)
    wait_for_log(log, "ready.", process)
    return process


def manage(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``python manage.py ARGS`` as a child of the app with ``env``; its output is captured."""
    done = devstack.manage(args, env, check=False, capture=True)
    if check and done.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


_APP_CALL = """
import importlib, json, sys
import django
django.setup()
module, name = sys.argv[1].split(":")
result = getattr(importlib.import_module(module), name)(*json.loads(sys.argv[2]))
with open(sys.argv[3], "w") as out:
    json.dump(result, out)
"""


@dataclass
class AppCall:
    """A function running in a child process of the app (see ``start_in_app``)."""

    process: subprocess.Popen[bytes]
    result_file: Path
    log: Path

    def result(self, timeout: float = 120.0) -> Any:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            devstack.stop_process(self.process)
            raise AssertionError(f"{self.log.name}: no result after {timeout} s") from None
        if self.process.returncode != 0:
            raise AssertionError(
                f"{self.log.name}: exited {self.process.returncode}:\n{self.log.read_text(errors='replace')[-3000:]}"
            )
        return json.loads(self.result_file.read_text())


def start_in_app(env: dict[str, str], function: str, *args: Any, log: Path) -> AppCall:
    """Call ``"module:function"`` with JSON ``args`` in a child process of the app (Django set up from ``env``, so
    it works on the same database and Cosmos as the app's other processes, through the app's own services).
    Returns at once; ``.result()`` waits for the function's JSON result."""
    result_file = log.with_suffix(".result.json")
    result_file.unlink(missing_ok=True)
    process = devstack.spawn(
        [sys.executable, "-c", _APP_CALL, function, json.dumps(args), str(result_file)],
        env={**os.environ, **env},
        log=log,
    )
    return AppCall(process, result_file, log)


def run_in_app(env: dict[str, str], function: str, *args: Any, log: Path, timeout: float = 120.0) -> Any:
    """``start_in_app`` and wait for the result."""
    return start_in_app(env, function, *args, log=log).result(timeout)
