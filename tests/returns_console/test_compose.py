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
    assert set(services) == {"web", "sockets", "worker", "redis", "cosmos"}
    assert "daphne" in services["web"]["command"]
    assert services["sockets"]["command"].startswith("daphne")
    assert services["worker"]["command"].startswith("celery -A returns_console worker")
    assert services["cosmos"]["image"].startswith("mcr.microsoft.com/cosmosdb/linux/azure-cosmos-emulator")


def test_web_sockets_and_worker_share_configuration(compose: dict):
    services = compose["services"]
    web, worker = services["web"]["environment"], services["worker"]["environment"]
    assert web == worker == services["sockets"]["environment"]
    assert web["REDIS_URL"] == "redis://redis:6379/0"
    assert web["COSMOS_ENDPOINT"].startswith("https://cosmos:8081")
    assert {"SECRET_KEY", "DATABASE_URL", "COSMOS_KEY", "COSMOS_DATABASE", "ALLOWED_HOSTS"} <= set(web)


def test_pages_open_their_sockets_on_the_sockets_service(compose: dict):
    published = compose["services"]["sockets"]["ports"][0]
    assert str(published["published"]) == compose["services"]["web"]["environment"]["WEBSOCKET_PORT"] == "8001"


def test_the_cosmos_emulator_keeps_its_data_in_a_named_volume(compose: dict):
    cosmos = compose["services"]["cosmos"]
    assert cosmos["environment"]["AZURE_COSMOS_EMULATOR_ENABLE_DATA_PERSISTENCE"] == "true"
    # The Linux emulator image keeps its data under /tmp/cosmos/appdata. docker-compose 1.29 prints mounts in the
    # short form "source:target:mode"; newer versions as mappings.
    mounts = {}
    for volume in cosmos["volumes"]:
        if isinstance(volume, str):
            source, target, *_ = volume.split(":")
            volume = {"source": source, "target": target}
        mounts[volume["target"]] = volume["source"]
    assert mounts["/tmp/cosmos/appdata"] in compose["volumes"]  # a named volume, not a path on the host
