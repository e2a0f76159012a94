"""Daphne runs on uvloop (returns_console/serve.py), or on asyncio's own loop when EVENT_LOOP=asyncio."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

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
