"""The `make run` supervisor: a dead child is started again after a pause that doubles while it keeps dying and
starts over once it has stayed up; the emulator comes back on its port with its data. Real processes, each
stopped by its pid."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from azure.cosmos import PartitionKey

from customers.cosmos.client import EMULATOR_KEY, CosmosConfig, cosmos_client
from returns_console import devstack

pytestmark = pytest.mark.timeout(60)


def python_child(code: str) -> Callable[[], subprocess.Popen[bytes]]:
    return lambda: devstack.spawn([sys.executable, "-c", code])


@pytest.fixture
def supervised() -> Iterator[list[devstack.Supervised]]:
    children: list[devstack.Supervised] = []
    yield children
    for child in children:
        child.stop()


def supervise_until(child: devstack.Supervised, done: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        child.check(time.monotonic())
        time.sleep(0.02)
    assert done()


def collect_restarts(capsys: pytest.CaptureFixture[str], into: list[str]) -> int:
    """Adds the supervisor's restart messages printed since the last call to ``into``; returns how many so far."""
    into.extend(line for line in capsys.readouterr().err.splitlines() if "restarting in" in line)
    return len(into)


def test_a_child_that_keeps_dying_waits_longer_each_time(
    supervised: list[devstack.Supervised], capsys: pytest.CaptureFixture[str]
):
    child = devstack.Supervised("crasher", python_child("raise SystemExit(3)"))
    supervised.append(child)
    child.start()
    lines: list[str] = []
    supervise_until(child, lambda: collect_restarts(capsys, lines) >= 3, timeout=10)
    assert lines[:3] == [
        "crasher exited with code 3; restarting in 1 s",
        "crasher exited with code 3; restarting in 2 s",
        "crasher exited with code 3; restarting in 4 s",
    ]
    for _ in range(10):
        child._schedule(time.monotonic(), "exited")
    assert child.delay == devstack.MAX_RESTART_DELAY  # capped at 30 s


def test_a_child_that_stayed_up_a_while_is_restarted_after_one_second_again(
    supervised: list[devstack.Supervised], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(devstack, "STABLE_AFTER", 0.3)
    child = devstack.Supervised("sleeper", python_child("import time; time.sleep(0.5)"))
    supervised.append(child)
    child.start()
    lines: list[str] = []
    supervise_until(child, lambda: collect_restarts(capsys, lines) >= 2, timeout=10)
    assert lines[:2] == ["sleeper exited with code 0; restarting in 1 s"] * 2


def test_a_child_that_cannot_start_is_tried_again(
    supervised: list[devstack.Supervised], capsys: pytest.CaptureFixture[str]
):
    attempts: list[float] = []

    def launch() -> subprocess.Popen[bytes]:
        attempts.append(time.monotonic())
        if len(attempts) == 2:
            raise devstack.StartupError("port busy")
        return devstack.spawn(
            [sys.executable, "-c", "raise SystemExit(1)" if len(attempts) == 1 else "import time; time.sleep(60)"]
        )

    child = devstack.Supervised("flaky", launch)
    supervised.append(child)
    child.start()
    supervise_until(child, lambda: len(attempts) == 3, timeout=10)
    lines: list[str] = []
    collect_restarts(capsys, lines)
    assert lines == [
        "flaky exited with code 1; restarting in 1 s",
        "flaky did not start (port busy); restarting in 2 s",
    ]
    assert child.process is not None and child.process.poll() is None


async def test_the_emulator_comes_back_on_its_port_with_its_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    service = devstack.start_cosmos_emulator(tmp_path / "log", data_dir=tmp_path / "var" / "cosmos")
    child = devstack.supervised_service(service)
    config = CosmosConfig(service.url, EMULATOR_KEY, "kept", verify_tls=False)
    try:
        async with cosmos_client(config) as client:
            database = await client.create_database_if_not_exists("kept")
            container = await database.create_container_if_not_exists(id="c", partition_key=PartitionKey("/pk"))
            written = await container.create_item({"id": "one", "pk": "a"})
        first = service.process
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        deadline = time.monotonic() + 20
        while service.process is first and time.monotonic() < deadline:
            child.check(time.monotonic())
            await asyncio.sleep(0.05)
        assert service.process is not first and service.process.poll() is None
        assert f"cosmos exited with code -9; restarting in 1 s (with its data in {tmp_path / 'var' / 'cosmos'})" in (
            capsys.readouterr().err
        )
        async with cosmos_client(config) as client:  # the same endpoint the app's processes were given
            container = client.get_database_client("kept").get_container_client("c")
            assert await container.read_item("one", partition_key="a") == written
    finally:
        service.stop()
