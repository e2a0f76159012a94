"""Running repository coroutines from synchronous code (Celery tasks, management commands).

A worker process keeps one event loop and one Cosmos client for its whole life: opening a client costs
several round trips, which would otherwise be paid by every task.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import weakref
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from customers.cosmos.client import CosmosConfig, open_client
from customers.cosmos.repository import CosmosRepository, open_repository

T = TypeVar("T")


class ProcessRepository:
    def __init__(self) -> None:
        self._pid: int | None = None
        self._runner: asyncio.Runner | None = None
        self._context: AbstractAsyncContextManager[CosmosRepository] | None = None
        self._repo: CosmosRepository | None = None

    def run(self, work: Callable[[CosmosRepository], Awaitable[T]]) -> T:
        if self._pid != os.getpid() or self._runner is None or self._repo is None:
            self._open()
        assert self._runner is not None and self._repo is not None
        return self._runner.run(_await(work(self._repo)))

    def _open(self) -> None:
        # After a fork the parent's loop and sockets are unusable: start afresh in this process.
        self._pid = os.getpid()
        self._runner = asyncio.Runner()
        self._context = open_repository()
        try:
            self._repo = self._runner.run(self._context.__aenter__())
        except BaseException:
            # Cosmos unreachable: leave nothing half-open; the next task tries again.
            self._runner.close()
            self._runner = self._context = None
            raise

    def close(self) -> None:
        if self._runner is None or self._pid != os.getpid():
            return
        if self._context is not None:
            self._runner.run(self._context.__aexit__(None, None, None))
        self._runner.close()
        self._runner = self._repo = self._context = None


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable


process_repository = ProcessRepository()
atexit.register(process_repository.close)


_loop_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str, bool], Any]] = (
    weakref.WeakKeyDictionary()
)


_open_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


async def loop_repository(config: CosmosConfig | None = None) -> CosmosRepository:
    """The repository for async code (Daphne, consumers): one Cosmos client per event loop and account,
    opened on first use and kept, since a client is bound to the loop its HTTP session was made on."""
    config = config or CosmosConfig.from_settings()
    clients = _loop_clients.setdefault(asyncio.get_running_loop(), {})
    key = (config.endpoint, config.key, config.verify_tls)
    if key not in clients:
        async with _open_locks.setdefault(
            asyncio.get_running_loop(), asyncio.Lock()
        ):  # the first requests of a process arrive together: open one client, not many
            if key not in clients:
                clients[key] = await open_client(config)
    client = clients[key]
    return CosmosRepository(client, client.get_database_client(config.database))
