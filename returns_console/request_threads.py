"""Django's ASGI handler with the request's thread lent from a pool instead of made for the request.

Django gives every HTTP request a thread of its own for its sync work (and always has some: closing the
response runs the request_finished receivers there). asgiref makes that thread on the request's first sync
call and, when the request ends, starts a second thread to shut it down; ``Thread.start()`` holds the event
loop until the new thread has been scheduled, several milliseconds on a busy machine, during which no other
connection of the process moves. bench/console.py showed these waits as the largest stalls behind the
dashboards' mirror. Here each request borrows a single-thread executor from a pool and gives it back, which
is the thread-per-request model of WSGI servers; asgiref supports lending an executor to a context
(``ThreadSensitiveContext(executor=...)``, caller-owned, reusable).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import django
from asgiref.sync import ThreadSensitiveContext
from django.core.handlers.asgi import ASGIHandler
from django.db import connections

MAX_IDLE_THREADS = 32
STARTED_THREADS = 8  # made before the process serves, so its first busy moment makes none on the loop


class RequestExecutor(ThreadPoolExecutor):
    """One request's thread. Each sync call gives its pooled database connection back when it ends.

    Django returns a request's connection only when the request ends, and a chat turn streams for as long as
    its Cosmos reads and writes take: holding a pooled connection through those waits would let a few dozen
    turns in flight drain a pool of ten. Channels' ``database_sync_to_async`` gives connections back after
    each call for the same reason; here the request's own thread does it, outside transactions, and only
    for pooled connections (closing a SQLite connection would mean opening it again).
    """

    def __init__(self) -> None:
        super().__init__(1, thread_name_prefix="request")

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        return super().submit(_then_release_pooled, fn, *args, **kwargs)


def _then_release_pooled(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    finally:
        release_pooled_connections()


def release_pooled_connections() -> None:
    """Give this thread's idle pooled connections back to their pools (a no-op for other backends)."""
    for connection in connections.all(initialized_only=True):
        pooled = getattr(connection, "pool", None) is not None
        if pooled and connection.connection is not None and not connection.in_atomic_block:
            connection.close()


def _executor() -> ThreadPoolExecutor:
    return RequestExecutor()


class RequestThreads:
    """Single-thread executors, each lent to one request at a time."""

    def __init__(self, max_idle: int = MAX_IDLE_THREADS, started: int = 0) -> None:
        self._idle = [_executor() for _ in range(started)]
        for executor in self._idle:
            executor.submit(int).result()  # an executor starts its thread on its first task
        self._max_idle = max_idle

    @asynccontextmanager
    async def lend(self) -> AsyncIterator[None]:
        executor = self._idle.pop() if self._idle else _executor()
        try:
            async with ThreadSensitiveContext(executor=executor):
                yield
        finally:
            if len(self._idle) < self._max_idle:
                self._idle.append(executor)
            else:
                executor.shutdown(wait=False)  # a burst is over: keep only what a busy moment needs


class PooledThreadsASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        self.threads = RequestThreads(started=STARTED_THREADS)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        async with self.threads.lend():
            await self.handle(scope, receive, send)


def get_asgi_application() -> PooledThreadsASGIHandler:
    """``django.core.asgi.get_asgi_application`` with the pooled handler."""
    django.setup(set_prefix=False)
    return PooledThreadsASGIHandler()
