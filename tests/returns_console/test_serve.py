"""Daphne runs on uvloop (returns_console/serve.py), or on asyncio's own loop when EVENT_LOOP=asyncio, and hands
the application a POST's body as it came."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from returns_console import devstack

ROOT = Path(__file__).resolve().parents[2]

# What the reactor Daphne installs on import runs on, in a fresh process as `python -m returns_console.serve` has it.
PROBE = (
    "from returns_console.serve import use_fast_loop; use_fast_loop(); import daphne.server; "
    "from twisted.internet import reactor; print(type(reactor._asyncioEventloop).__module__)"
)


@pytest.mark.parametrize(("setting", "loop"), [(None, "uvloop"), ("asyncio", "asyncio.unix_events")])
def test_daphnes_reactor_runs_on_the_chosen_loop(setting: str | None, loop: str):
    env = {k: v for k, v in os.environ.items() if k != "EVENT_LOOP"} | ({"EVENT_LOOP": setting} if setting else {})
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == loop


@pytest.fixture
def daphne_port(tmp_path: Path) -> Iterator[int]:
    """``python -m returns_console.serve`` on a free port, serving an application that echoes the body."""
    port = devstack.free_port()
    log = tmp_path / "daphne.log"
    command = [sys.executable, "-m", "returns_console.serve", "-b", "127.0.0.1", "-p", str(port)]
    process = devstack.spawn([*command, "tests.returns_console.echo_body:app"], {"PYTHONPATH": str(ROOT)}, log)
    try:
        devstack.wait_for_port(port, process, "daphne", log=log)
        yield port
    finally:
        devstack.stop_process(process)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b"--no-boundary-given\r\nnot a form"),
        ("application/x-www-form-urlencoded", b"email=a%40b.example&order_id=ORD-1"),
    ],
)
def test_a_posted_form_reaches_the_application_as_sent(daphne_port: int, content_type: str, body: bytes):
    """Twisted does not parse a form body Daphne hands over raw anyway (Django parses forms itself). Parsing it
    cost every POST a read of its Content-Type through the email package, and a multipart body Twisted could not
    read was answered 400 by Twisted before the application could say why."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{daphne_port}/", data=body, headers={"Content-Type": content_type}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        assert response.read() == body
