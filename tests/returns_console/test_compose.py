"""docker-compose.yml is valid (Debian's docker-compose, no engine needed) and wires the stack by environment."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from returns_console.devstack import DAPHNE_OPTIONS

ROOT = Path(__file__).resolve().parents[2]
# What an operator must provide: the file ships no secret of its own.
REQUIRED = {"SECRET_KEY": "s" * 10 + "0123456789abcdefghijklmnopqrstuvwxyz-_", "REDIS_PASSWORD": "0123abcd" * 4}
SERVE = ["python", "-m", "returns_console.serve"]  # Daphne on uvloop (returns_console/serve.py)


def _config(**env: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is missing: `make test` installs it from Debian's packages"
    # Only what is passed here, so no variable of the machine running the tests fills a gap.
    clean = {k: v for k, v in os.environ.items() if k not in {*REQUIRED, "DEMO_PASSWORD", "PORT", "ALLOWED_HOSTS"}}
    return subprocess.run(
        [binary, "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean | env,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def compose() -> dict:
    result = _config(**REQUIRED)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_services(compose: dict):
    services = compose["services"]
    assert set(services) == {"web", "sockets", "worker", "redis", "cosmos"}
    assert "exec python -m returns_console.serve " in services["web"]["command"]  # Daphne on uvloop
    assert services["sockets"]["command"].startswith("python -m returns_console.serve ")
    assert services["worker"]["command"].startswith("celery -A returns_console worker")
    assert services["cosmos"]["image"].startswith("mcr.microsoft.com/cosmosdb/linux/azure-cosmos-emulator")


def test_web_sockets_and_worker_share_configuration(compose: dict):
    services = compose["services"]
    web, worker = services["web"]["environment"], services["worker"]["environment"]
    assert web == worker == services["sockets"]["environment"]
    assert web["REDIS_URL"] == f"redis://:{REQUIRED['REDIS_PASSWORD']}@redis:6379/0"
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


# --- no known credentials ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_secret_key_and_redis_password_are_required(missing: str):
    result = _config(**{k: v for k, v in REQUIRED.items() if k != missing})
    assert result.returncode != 0 and f"set {missing}" in result.stderr


def test_the_secret_key_is_the_operators(compose: dict):
    for service in ("web", "sockets", "worker"):
        assert compose["services"][service]["environment"]["SECRET_KEY"] == REQUIRED["SECRET_KEY"]
    assert "change-me" not in (ROOT / "docker-compose.yml").read_text()


def test_redis_wants_the_password_and_every_client_carries_it(compose: dict):
    services = compose["services"]
    redis = services["redis"]
    assert redis["environment"]["REDIS_PASSWORD"] == REQUIRED["REDIS_PASSWORD"]
    assert "ports" not in redis
    app = services["web"]["environment"]
    with_password = f"redis://:{REQUIRED['REDIS_PASSWORD']}@redis:6379/0"
    assert app["REDIS_URL"] == app["CELERY_BROKER_URL"] == app["CELERY_RESULT_BACKEND"] == with_password


def test_redis_is_started_with_requirepass_from_its_environment(compose: dict, tmp_path: Path):
    """The container's command, run by sh with a stand-in redis-server that prints what it was given."""
    args = _run_with_stand_ins(
        compose["services"]["redis"]["command"],
        tmp_path,
        {"redis-server": ""},
        {
            "REDIS_PASSWORD": "pw-from-env-0123456789",
        },
    )
    assert args["redis-server"] == [["--save", "", "--appendonly", "no", "--requirepass", "pw-from-env-0123456789"]]


def test_the_cosmos_emulator_is_not_published_to_the_host(compose: dict):
    assert "ports" not in compose["services"]["cosmos"]


@pytest.mark.parametrize(("password", "seeded"), [("", False), ("demo-pw-for-test", True)])
def test_demo_staff_only_with_a_demo_password(compose: dict, tmp_path: Path, password: str, seeded: bool):
    """The web container's start-up script, run by sh with a stand-in for python."""
    assert compose["services"]["web"]["environment"]["DEMO_PASSWORD"] == ""  # no default password
    assert _config(**REQUIRED, DEMO_PASSWORD=password).returncode == 0
    command = compose["services"]["web"]["command"]
    ran = _run_with_stand_ins(command, tmp_path, {"python": ""}, {"DEMO_PASSWORD": password})
    assert ["manage.py", "migrate", "--noinput"] in ran["python"]
    assert (["manage.py", "seed_demo"] in ran["python"]) is seeded
    assert len([args for args in ran["python"] if args[:2] == SERVE[1:]]) == 1


# --- Daphne ---------------------------------------------------------------------------------------------------------


def test_every_daphne_bounds_slow_clients_as_make_run_does(compose: dict, tmp_path: Path):
    web = _run_with_stand_ins(compose["services"]["web"]["command"], tmp_path, {"python": ""}, {})
    [served] = [args[2:] for args in web["python"] if args[:2] == SERVE[1:]]
    sockets = shlex.split(compose["services"]["sockets"]["command"])
    dockerfile = (ROOT / "Dockerfile").read_text()
    [cmd] = re.findall(r"^CMD (\[.*?\])$", dockerfile, flags=re.MULTILINE | re.DOTALL)
    image = json.loads(cmd.replace("\\\n", ""))
    assert sockets[:3] == image[:3] == SERVE
    for args in (served, sockets[3:], image[3:]):
        assert [a for a in args if a.startswith("--") and "=" in a] == list(DAPHNE_OPTIONS)
        assert args[-1] == "returns_console.asgi:application" and "0.0.0.0" in args


def _run_with_stand_ins(
    command: str | list[str], tmp: Path, programs: dict[str, str], env: dict[str, str]
) -> dict[str, list[list[str]]]:
    """Runs a service's command with stand-ins for ``programs`` that record their arguments; returns them."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in programs:
        stand_in = bin_dir / name
        stand_in.write_text(f'#!/usr/bin/env python3\nimport json, sys\nprint(json.dumps(["{name}", sys.argv[1:]]))\n')
        stand_in.chmod(0o755)
    args = shlex.split(command) if isinstance(command, str) else list(command)
    args = [arg.replace("$$", "$") for arg in args]  # compose's escape for a literal $
    assert args[:2] == ["sh", "-c"] or args[0] in programs, args
    done = subprocess.run(
        args, env={"PATH": f"{bin_dir}:/usr/bin:/bin", **env}, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    ran: dict[str, list[list[str]]] = {name: [] for name in programs}
    for line in done.stdout.splitlines():
        name, argv = json.loads(line)
        ran[name].append(argv)
    return ran
