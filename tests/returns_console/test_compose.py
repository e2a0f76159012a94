"""docker-compose.yml is valid (Debian's docker-compose, no engine needed) and wires the stack by environment."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is missing: `make test` installs it from Debian's packages"
    result = subprocess.run(
        [binary, "-f", str(ROOT / "docker-compose.yml"), "config"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_services(compose: dict):
    services = compose["services"]
    assert set(services) == {"web", "worker", "redis", "cosmos"}
    assert "daphne" in services["web"]["command"]
    assert services["worker"]["command"].startswith("celery -A returns_console worker")
    assert services["cosmos"]["image"].startswith("mcr.microsoft.com/cosmosdb/linux/azure-cosmos-emulator")


def test_web_and_worker_share_configuration(compose: dict):
    web, worker = compose["services"]["web"]["environment"], compose["services"]["worker"]["environment"]
    assert web == worker
    assert web["REDIS_URL"] == "redis://redis:6379/0"
    assert web["COSMOS_ENDPOINT"].startswith("https://cosmos:8081")
    assert {"SECRET_KEY", "DATABASE_URL", "COSMOS_KEY", "COSMOS_DATABASE", "ALLOWED_HOSTS"} <= set(web)
