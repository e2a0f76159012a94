"""`make run` boots the whole stack from the repository, reports healthy, and stops every child on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from returns_console.devstack import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]


def _health(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
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
    }
    log = tmp_path / "make-run.log"
    with open(log, "wb") as output:
        make = subprocess.Popen(
            ["make", "run"], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        body = None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and make.poll() is None:
            body = _health(port)
            if body and body["status"] == "ok":
                break
            time.sleep(0.5)
        text = log.read_text()
        assert body and body["status"] == "ok", f"{body}\n{text[-4000:]}"
        assert all(check["status"] == "ok" for check in body["checks"].values())
        assert f"http://127.0.0.1:{port}/healthz" in text and "smoke-test-pw" in text
        assert "rjohnson@company.com" in text
        # Websockets have a Daphne process of their own, and the pages say where it is.
        assert f"ws://127.0.0.1:{socket_port}/ws/" in text and _port_open(socket_port)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/chat/", timeout=5) as page:
            assert f'<meta name="websocket-port" content="{socket_port}">' in page.read().decode()
        os.killpg(make.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        # make re-raises the SIGINT once its child has exited; the stack itself stops cleanly ("Stopped.").
        assert make.wait(60) in (0, -signal.SIGINT), log.read_text()[-4000:]
    finally:
        stop_process(make)
    assert "Stopped." in log.read_text()
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
