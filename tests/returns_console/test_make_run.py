"""`make run` boots the whole stack from the repository, reports healthy, and stops every child on Ctrl-C; a
child that dies is started again, and what the emulator acknowledged is there after a second `make run`."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from customers.cosmos.client import EMULATOR_KEY, CosmosConfig, cosmos_client
from returns_console.devstack import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]


# /healthz shows its checks only to a monitor with the token (or staff): `make run` gets it from the environment.
HEALTHZ_TOKEN = "make-run-test-" + "0123456789abcdef" * 2


def _health(port: int) -> dict | None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/healthz", headers={"Authorization": f"Bearer {HEALTHZ_TOKEN}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        return json.load(error)
    except OSError:
        return None


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_make_run_boots_healthy_and_stops_cleanly(tmp_path: Path):
    port, socket_port = free_port(), free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "WEBSOCKET_PORT": str(socket_port),
        "VAR_DIR": str(tmp_path / "var"),
        "DEMO_PASSWORD": "smoke-test-pw",
        "HEALTHZ_TOKEN": HEALTHZ_TOKEN,
    }
    log = tmp_path / "make-run.log"
    make = _make_run(env, log)
    try:
        body = _wait_healthy(port, make, log, timeout=180)
        text = log.read_text()
        assert all(check["status"] == "ok" for check in body["checks"].values())
        assert f"http://127.0.0.1:{port}/healthz" in text and "smoke-test-pw" in text
        assert "rjohnson@company.com" in text
        assert "reconcile: the console's records and Cosmos agree" in text  # checked at every start
        # Websockets have a Daphne process of their own, and the pages say where it is.
        assert f"ws://127.0.0.1:{socket_port}/ws/" in text and _port_open(socket_port)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/chat/", timeout=5) as page:
            assert f'<meta name="websocket-port" content="{socket_port}">' in page.read().decode()
        _ctrl_c(make, log)
    finally:
        stop_process(make)
    assert not _port_open(port) and not _port_open(socket_port)
    assert _processes_with(f"VAR_DIR={tmp_path / 'var'}") == []


def _processes_with(marker: str) -> list[str]:
    """Processes whose environment carries ``marker``: every child of this `make run`, however deep."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker.encode() in (proc / "environ").read_bytes().split(b"\0"):
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue
    return found


def _make_run(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as output:
        return subprocess.Popen(
            ["make", "run"], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )


def _wait_healthy(port: int, make: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> dict:
    body = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and make.poll() is None:
        body = _health(port)
        if body and body["status"] == "ok":
            return body
        time.sleep(0.3)
    raise AssertionError(f"{body}\n{log.read_text()[-4000:]}")


def _wait_for_text(log: Path, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert text in log.read_text(), log.read_text()[-4000:]


def _ctrl_c(make: subprocess.Popen[bytes], log: Path) -> None:
    os.killpg(make.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    # make re-raises the SIGINT once its child has exited; the stack itself stops cleanly ("Stopped.").
    assert make.wait(60) in (0, -signal.SIGINT), log.read_text()[-4000:]
    assert "Stopped." in log.read_text()


def _children_of_make_run(marker: str) -> dict[int, str]:
    """pid -> command line of the direct children of the `make run` supervisor (devstack) whose environment carries
    ``marker``. (Children are found by parent: Redis rewrites its title over its environment.)"""
    table: dict[int, tuple[int, str]] = {}
    supervisors = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (proc / "environ").read_bytes().split(b"\0")
            if "returns_console.devstack run" in command and marker.encode() in environ:
                supervisors.append(int(proc.name))
        except (OSError, IndexError, ValueError):
            continue
        table[int(proc.name)] = (parent, command)
    assert len(supervisors) == 1, supervisors
    return {pid: command for pid, (parent, command) in table.items() if parent == supervisors[0]}


async def _cosmos(endpoint: str, write: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Writes ``write`` (when given) into the app's customer container; returns it and Robert's order as stored."""
    async with cosmos_client(CosmosConfig(endpoint, EMULATOR_KEY, "returns", verify_tls=False)) as client:
        container = client.get_database_client("returns").get_container_client("customer_data")
        if write is not None:
            await container.create_item(write)
        stored = await container.read_item("durability-check", partition_key="CUST-1001")
        order = await container.read_item("ORD-79001", partition_key="CUST-1001")
        return stored, order


def _emulator_url(log: Path) -> str:
    found = re.findall(r"cosmos +(http://127\.0\.0\.1:\d+) \(local emulator", log.read_text())
    assert found, log.read_text()[-4000:]
    return found[-1]


@pytest.mark.timeout(150)
def test_make_run_restarts_dead_children_and_keeps_cosmos_data_across_runs(tmp_path: Path):
    if os.environ.get("COSMOS_ENDPOINT"):
        pytest.skip("make run uses the account in COSMOS_ENDPOINT and starts no emulator")
    port, socket_port = free_port(), free_port()
    var_dir = tmp_path / "var"
    # One web process, so a request after killing it can only be answered by the one started again.
    env = {**os.environ, "PORT": str(port), "WEBSOCKET_PORT": str(socket_port), "VAR_DIR": str(var_dir)}
    env["WEB_PROCESSES"] = "1"
    env["HEALTHZ_TOKEN"] = HEALTHZ_TOKEN
    marker = f"VAR_DIR={var_dir}"
    first_log, second_log = tmp_path / "first-run.log", tmp_path / "second-run.log"
    restarted: dict[int, str] = {}
    make = _make_run(env, first_log)
    try:
        _wait_healthy(port, make, first_log)
        endpoint = _emulator_url(first_log)
        document = {"id": "durability-check", "customer_id": "CUST-1001", "type": "check", "note": "kept"}
        written, order = asyncio.run(_cosmos(endpoint, document))

        # SIGKILL every child: the worker, both Daphne processes (started again on the same listening sockets),
        # Redis and the emulator (started again on the same ports, the emulator with its data).
        doomed = _children_of_make_run(marker)
        commands = " | ".join(doomed.values())
        assert len(doomed) == 5 and all(
            name in commands for name in ("celery", "returns_console.serve", "redis", "emulator.js")
        )
        for pid in doomed:
            os.kill(pid, signal.SIGKILL)
        for name in ("worker", "web 1", "sockets", "redis", "cosmos"):
            _wait_for_text(first_log, f"{name} exited with code -9; restarting in 1 s")
        worker_log = var_dir / "log" / "worker.log"
        deadline = time.monotonic() + 60
        while worker_log.read_text().count(" ready.") < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert worker_log.read_text().count(" ready.") >= 2, "the worker never came back"
        body = _wait_healthy(port, make, first_log, timeout=60)
        assert all(check["status"] == "ok" for check in body["checks"].values()), body
        assert _port_open(socket_port)
        again = _children_of_make_run(marker)
        assert len(again) == 5 and not set(again) & set(doomed)
        restarted.update(again)
        assert asyncio.run(_cosmos(endpoint, None)) == (written, order)  # the emulator came back with its data
        _ctrl_c(make, first_log)

        # A second `make run` on the same VAR_DIR finds everything the first one's emulator acknowledged.
        make = _make_run(env, second_log)
        _wait_healthy(port, make, second_log)
        assert "(0 documents created," in second_log.read_text(), second_log.read_text()[-4000:]
        stored, order_again = asyncio.run(_cosmos(_emulator_url(second_log), None))
        assert stored == written and order_again == order  # etags and _ts included
        assert (var_dir / "cosmos" / "snapshot").exists()
        _ctrl_c(make, second_log)
    finally:
        stop_process(make)
    assert not _port_open(port) and not _port_open(socket_port)
    assert _processes_with(marker) == []
    assert [command for pid, command in restarted.items() if Path(f"/proc/{pid}").exists()] == []
