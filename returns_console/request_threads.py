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

from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import django
from asgiref.sync import ThreadSensitiveContext
from django.core.handlers.asgi import ASGIHandler

MAX_IDLE_THREADS = 32
STARTED_THREADS = 8  # made before the process serves, so its first busy moment makes none on the loop


def _executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(1, thread_name_prefix="request")


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
