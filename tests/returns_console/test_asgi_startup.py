"""A new web process does its one-off work at start, before it takes connections, not on its event loop
while its first customers wait: views imported, ChatKit's models completed, start-up objects kept out of the
collector's full passes, and HTTP requests on pooled threads."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.processes import ROOT

PROBE = """
import gc, json, sys
import returns_console.asgi as asgi
from pydantic import BaseModel
print(json.dumps({
    "chat_views_imported": "chat.views" in sys.modules and "returns_console.console.api" in sys.modules,
    "incomplete_chatkit_models": [m.__qualname__ for m in asgi._incomplete_models(BaseModel)],
    "frozen": gc.get_freeze_count(),
    "handler": type(asgi.django_asgi_app).__name__,
}))
"""


def test_the_asgi_module_prepares_the_process_before_serving():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "returns_console.settings", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout.strip().splitlines()[-1])
    assert state["chat_views_imported"]
    assert state["incomplete_chatkit_models"] == []
    assert state["frozen"] > 10_000
    assert state["handler"] == "PooledThreadsASGIHandler"
